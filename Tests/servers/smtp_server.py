#!/usr/bin/env python3
"""An SMTP server on 127.0.0.1 for HogMail's end-to-end tests (aiosmtpd).

Stores every accepted message as DIR/<n>.eml with the envelope recipient in the
first line (`X-Envelope-To:`), and misbehaves on purpose, by a fixed seed:

  --reject-550 SUBSTR   answer `550 5.1.1 user unknown` to RCPT of addresses containing SUBSTR
  --temp-fail RATE      answer `451 4.3.0 try again later` to this share of RCPTs
  --drop RATE           close the connection in the middle of DATA for this share of messages
  --seed N              the seed for the shares above

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

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.args.reject_550 and self.args.reject_550 in address:
            return "550 5.1.1 <%s>: user unknown" % address
        if self.random.random() < self.args.temp_fail:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.random.random() < self.args.drop:
            server.transport.close()
            return "421 4.4.2 connection dropped"
        number = next(self.counter)
        path = os.path.join(self.folder, "%06d.eml" % number)
        with open(path + ".tmp", "wb") as out:
            out.write(("X-Envelope-To: %s\r\n" % ",".join(envelope.rcpt_tos)).encode())
            out.write(envelope.original_content)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 queued as %d" % number


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--reject-550", default="")
    parser.add_argument("--temp-fail", type=float, default=0.0)
    parser.add_argument("--drop", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
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
