#!/usr/bin/env python3
"""A stand-in for Amazon SNS's web side on 127.0.0.1, for HogMail's SES webhook tests.

  sns_server.py FOLDER

GET /NAME.pem answers FOLDER/NAME.pem (the test's throwaway signing certificate); any other
GET answers 200 with a small ConfirmSubscriptionResponse, as SNS does for a SubscribeURL.
Every request's path is appended to FOLDER/requests.log, so a test can tell what was fetched.
Standard library only. Prints `READY <port>` once it listens; runs until killed.
"""
import http.server
import os
import sys

folder = sys.argv[1]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(os.path.join(folder, "requests.log"), "a") as log:
            log.write(self.path + "\n")
        name = self.path.lstrip("/").split("?")[0]
        if name.endswith(".pem"):
            path = os.path.join(folder, os.path.basename(name))
            if not os.path.exists(path):
                self.send_error(404)
                return
            with open(path, "rb") as file:
                body = file.read()
            content_type = "application/x-pem-file"
        else:
            body = b"<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>arn:aws:sns:eu-west-1:123456789012:hogmail:1</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>"
            content_type = "text/xml"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"READY {server.server_address[1]}", flush=True)
server.serve_forever()
