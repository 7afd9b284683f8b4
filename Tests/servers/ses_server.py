#!/usr/bin/env python3
"""moto's SES implementation on 127.0.0.1 for HogMail's SES tests.

Prints `READY <port>` once it listens; runs until killed.
"""
import socket
import time

from moto.server import ThreadedMotoServer


def main():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print("READY %d" % port, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
