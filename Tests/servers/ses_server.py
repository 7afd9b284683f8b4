#!/usr/bin/env python3
"""moto's SES implementation on 127.0.0.1 for HogMail's SES tests.

  --faults SPEC   put a proxy in front of moto that fails some `SendEmail` calls before they
                  reach it, per (destination, attempt) and by --seed, not by timing:
                  `429=0.1,500=0.1,503=0.05,timeout=0.05,403=0` (429 carries `Retry-After: 0`, 403 is SES's answer to bad keys;
                  timeout answers nothing for --stall-seconds, then closes). Nothing that
                  failed reached moto, so nothing may arrive twice. Each fault is logged to
                  --log as `fault address`. Everything else passes through unchanged.

Prints `READY <port>` (the proxy's, with --faults) once it listens; runs until killed.
"""
import argparse
import http.client
import http.server
import json
import random
import socket
import threading
import time

from moto.server import ThreadedMotoServer


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fault_proxy(upstream, args):
    faults = []
    total = 0.0
    for item in filter(None, args.faults.split(",")):
        name, share = item.split("=")
        total += float(share)
        faults.append((total, name))
    attempts = {}
    lock = threading.Lock()
    log = open(args.log, "a", buffering=1) if args.log else None

    class Proxy(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *arguments):
            pass

        def fault_for(self, body):
            if self.command != "POST" or not self.path.startswith("/v2/email/outbound-emails"):
                return None
            try:
                address = json.loads(body)["Destination"]["ToAddresses"][0]
            except (ValueError, KeyError, IndexError):
                return None
            with lock:
                attempt = attempts.get(address, 0)
                attempts[address] = attempt + 1
            draw = random.Random("%d:%s:%d" % (args.seed, address, attempt)).random()
            for limit, name in faults:
                if draw < limit:
                    if log:
                        log.write("%s %s\n" % (name, address))
                    return name
            return None

        def answer(self, status, body, headers=()):
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            fault = self.fault_for(body)
            if fault == "429":
                return self.answer(429, b'{"__type":"TooManyRequestsException","message":"Rate exceeded"}', [("Retry-After", "0")])
            if fault == "403":
                return self.answer(403, b'{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}')
            if fault in ("500", "503"):
                return self.answer(int(fault), b'{"__type":"InternalFailure","message":"try again"}')
            if fault == "timeout":
                time.sleep(args.stall_seconds)
                self.close_connection = True
                return
            connection = http.client.HTTPConnection("127.0.0.1", upstream, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            self.answer(response.status, data, [(k, v) for k, v in response.getheaders()
                                                if k.lower() not in ("content-length", "connection", "transfer-encoding")])
            connection.close()

        do_GET = forward
        do_POST = forward

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return port


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--faults", default="")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stall-seconds", type=float, default=5.0)
    parser.add_argument("--log", default="")
    args = parser.parse_args()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    if args.faults:
        port = fault_proxy(port, args)
    print("READY %d" % port, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
