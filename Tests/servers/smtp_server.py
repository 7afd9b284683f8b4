#!/usr/bin/env python3
"""An SMTP server on 127.0.0.1 for HogMail's end-to-end tests (aiosmtpd).

Stores every accepted message as DIR/<n>.eml with the envelope recipient in the
first line (`X-Envelope-To:`) and the envelope sender in the second (`X-Envelope-From:`), and misbehaves on purpose, by a fixed seed:

  --reject-550 SUBSTR   answer `550 5.1.1 user unknown` to RCPT of addresses containing SUBSTR
  --temp-fail RATE      answer `451 4.3.0 try again later` to this share of RCPTs
  --drop RATE           close the connection in the middle of DATA for this share of messages
  --seed N              the seed for the shares above
  --faults SPEC         per (address, attempt), decided by the seed and not by timing, so a
                        test is the same however its connections interleave:
                        `421=0.05,451=0.1,452=0.05,554=0.05,stall=0.05,drop=0.05,dropstored=0.05`
                        421: "service not available" and the connection closed (at RCPT)
                        451, 452: temporary failures (at RCPT); stall: no answer to RCPT for
                        --stall-seconds, then the connection closed; 554: rejected (after DATA);
                        drop: connection closed mid-DATA, nothing stored; dropstored: the message
                        is stored, then the connection closed before the reply (the only case in
                        which a correct sender may deliver twice). Each fault is logged to
                        DIR/faults.log as `fault address`.
  --stall-seconds S     how long a stall lasts (default 5)

Prints `READY <port>` once it listens; runs until killed.
"""
import argparse
import asyncio
import itertools
import os
import random
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, folder, args):
        self.folder = folder
        self.args = args
        self.random = random.Random(args.seed)
        self.counter = itertools.count(1)
        self.faults = []
        total = 0.0
        for item in filter(None, args.faults.split(",")):
            name, share = item.split("=")
            total += float(share)
            self.faults.append((total, name))
        self.attempts = {}
        self.log = open(os.path.join(folder, "faults.log"), "a", buffering=1)

    def fault(self, address):
        """The fault for this attempt at this address: the same for the same seed, address and attempt."""
        if not self.faults:
            return None
        attempt = self.attempts.get(address, 0)
        draw = random.Random("%d:%s:%d" % (self.args.seed, address, attempt)).random()
        for limit, name in self.faults:
            if draw < limit:
                return name
        return None

    def record(self, name, address):
        self.log.write("%s %s\n" % (name, address))

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.args.reject_550 and self.args.reject_550 in address:
            return "550 5.1.1 <%s>: user unknown" % address
        if self.random.random() < self.args.temp_fail:
            return "451 4.3.0 try again later"
        fault = self.fault(address)
        if fault in ("421", "451", "452", "stall"):
            self.attempts[address] = self.attempts.get(address, 0) + 1
            self.record(fault, address)
            if fault == "421":
                asyncio.get_event_loop().call_later(0.05, server.transport.close)
                return "421 4.7.0 too busy, closing the connection"
            if fault == "451":
                return "451 4.3.0 try again later"
            if fault == "452":
                return "452 4.2.2 insufficient system storage"
            await asyncio.sleep(self.args.stall_seconds)
            server.transport.close()
            return "421 4.4.2 timed out"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        address = envelope.rcpt_tos[0] if envelope.rcpt_tos else ""
        fault = self.fault(address)
        self.attempts[address] = self.attempts.get(address, 0) + 1
        if fault in ("554", "drop", "dropstored"):
            self.record(fault, address)
        if fault == "554":
            return "554 5.7.1 message rejected by policy"
        if fault == "drop" or self.random.random() < self.args.drop:
            server.transport.close()
            return "421 4.4.2 connection dropped"
        number = next(self.counter)
        path = os.path.join(self.folder, "%06d.eml" % number)
        with open(path + ".tmp", "wb") as out:
            out.write(("X-Envelope-To: %s\r\n" % ",".join(envelope.rcpt_tos)).encode())
            out.write(("X-Envelope-From: %s\r\n" % envelope.mail_from).encode())
            out.write(envelope.original_content)
        os.rename(path + ".tmp", path)
        if fault == "dropstored":
            server.transport.close()
            return "421 4.4.2 connection dropped"
        return "250 2.0.0 queued as %d" % number


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--reject-550", default="")
    parser.add_argument("--temp-fail", type=float, default=0.0)
    parser.add_argument("--drop", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--faults", default="")
    parser.add_argument("--stall-seconds", type=float, default=5.0)
    args = parser.parse_args()
    os.makedirs(args.folder, exist_ok=True)
    port = args.port
    if port == 0:
        import socket
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    controller = Controller(Handler(args.folder, args), hostname="127.0.0.1", port=port,
                            server_kwargs={"data_size_limit": 10 * 1024 * 1024})
    controller.start()
    print("READY %d" % port, flush=True)
    try:
        asyncio.get_event_loop().run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
