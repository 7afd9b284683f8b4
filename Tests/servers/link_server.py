#!/usr/bin/env python3
"""A web server on 127.0.0.1 for HogMail's link tests (Python's standard library only).

Pages in several charsets, redirects of every kind, dead ends, slow and endless answers, and
a server that refuses HEAD. It counts what it is asked and measures how many requests each
Host has open at once, so a test can prove the cache and the per-host limit:

  GET /stats        {"requests": {"HEAD /utf8": 1, ...}, "max_concurrent": {"127.0.0.1:PORT": 2, ...},
                     "user_agents": ["HogMail/0.3.0 (+link check; ...)"]}

Routes: /utf8 /latin1 /sjis /og /long-title /no-title, /301 /302 /308 (to /utf8), /loop-a and
/loop-b (to each other), /chain/N (N redirects), /offsite (to http://other.test:PORT/utf8),
/login-redirect (to /login?next=...), /inject (301 to "/landing)*https://evil.example/*"),
/landing... (200), /go/head-refused (302 to /head-refused), /moved (301 to /utf8) and /moved/v2 (200), /404 /410 /500, /slow/NAME?s=SECONDS, /head-refused
(HEAD answers 405), /huge (200 with a 50 MB body, streamed), /never-ends (a body that trickles
forever), /never-ends-get-only (the same, HEAD refused); /huge-no-head and /never-ends-no-head
are the same without a </head>, so a reader cannot stop early.

Prints `READY <port>` once it listens; runs until killed.
"""
import http.server
import json
import socketserver
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
REQUESTS = {}
OPEN = {}
MAX_OPEN = {}
AGENTS = set()

PAGES = {
    "/utf8": ("text/html; charset=utf-8",
              "<!doctype html><html><head><title>\n  Caf\u00e9 &amp; cr\u00e8me:   a [field] guide | Example Blog</title></head><body>hi</body></html>".encode("utf-8")),
    "/latin1": ("text/html; charset=ISO-8859-1",
                "<html><head><title>\u00dcber die Stra\u00dfe &ndash; ein Bericht</title></head></html>".encode("iso-8859-1")),
    "/sjis": ("text/html",
              "<html><head><meta charset=\"Shift_JIS\"><title>\u65e5\u672c\u8a9e\u306e\u30da\u30fc\u30b8 | \u30b5\u30a4\u30c8</title></head></html>".encode("shift_jis")),
    "/og": ("text/html; charset=utf-8",
            b"<html><head><title>Site chrome - Home</title><meta property=\"og:title\" content=\"The &quot;real&quot; headline\"><meta property=\"og:site_name\" content=\"Example\"></head></html>"),
    "/long-title": ("text/html; charset=utf-8", ("<html><head><title>" + "word " * 2000 + "</title></head></html>").encode()),
    "/no-title": ("text/html; charset=utf-8", b"<html><body>No title here.</body></html>"),
    "/login": ("text/html; charset=utf-8", b"<html><head><title>Sign in</title></head></html>"),
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.handle_any(head=True)

    def do_GET(self):
        self.handle_any(head=False)

    def handle_any(self, head):
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        if path == "/stats":
            with LOCK:
                body = json.dumps({"requests": REQUESTS, "max_concurrent": MAX_OPEN, "user_agents": sorted(AGENTS)}).encode()
            return self.answer(200, "application/json", body, head)
        host = self.headers.get("Host", "?")
        with LOCK:
            key = "%s %s" % (self.command, path)
            REQUESTS[key] = REQUESTS.get(key, 0) + 1
            AGENTS.add(self.headers.get("User-Agent", ""))
            OPEN[host] = OPEN.get(host, 0) + 1
            MAX_OPEN[host] = max(MAX_OPEN.get(host, 0), OPEN[host])
        self.host_key = host
        self.left = False
        try:
            self.route(path, urllib.parse.parse_qs(parsed.query), head)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            self.leave()

    def leave(self):
        # Counted as done once its answer starts: the client cannot send its next request
        # before that, and counting at the thread's end would overlap with it.
        if not self.left:
            self.left = True
            with LOCK:
                OPEN[self.host_key] -= 1

    def send_response(self, *args):
        if getattr(self, "host_key", None) is not None:
            self.leave()
        super().send_response(*args)

    def route(self, path, query, head):
        port = self.server.server_address[1]
        if path in PAGES:
            kind, body = PAGES[path]
            return self.answer(200, kind, body, head)
        if path in ("/301", "/302", "/308"):
            return self.redirect(int(path[1:]), "/utf8")
        if path == "/inject":
            # A same-site 301 whose Location would close a Markdown link and open another.
            return self.redirect(301, "/landing)*https://evil.example/*")
        if path.startswith("/landing"):
            return self.answer(200, "text/html; charset=utf-8", b"<title>Landing</title>", head)
        if path == "/go/head-refused":
            return self.redirect(302, "/head-refused")
        if path == "/moved":
            return self.redirect(301, "/utf8")
        if path == "/moved/v2":
            return self.answer(200, "text/html; charset=utf-8", b"<title>Version 2</title>", head)
        if path == "/loop-a":
            return self.redirect(302, "/loop-b")
        if path == "/loop-b":
            return self.redirect(302, "/loop-a")
        if path.startswith("/chain/"):
            left = int(path[len("/chain/"):])
            return self.redirect(302, "/chain/%d" % (left - 1)) if left > 0 else self.answer(200, "text/html", b"<title>end</title>", head)
        if path == "/offsite":
            return self.redirect(301, "http://other.test:%d/utf8" % port)
        if path == "/login-redirect":
            return self.redirect(302, "/login?next=%2Farticle")
        if path in ("/404", "/410", "/500"):
            return self.answer(int(path[1:]), "text/html", b"<title>error</title>", head)
        if path.startswith("/slow"):
            time.sleep(float(query.get("s", ["1"])[0]))
            return self.answer(200, "text/html", b"<title>slow</title>", head)
        if path == "/head-refused" or path == "/never-ends-get-only":
            if head:
                return self.answer(405, "text/plain", b"", head)
            if path == "/head-refused":
                return self.answer(200, "text/html; charset=utf-8", b"<title>GET only</title>", head)
        if path in ("/huge", "/huge-no-head"):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(50 * 1024 * 1024))
            self.end_headers()
            if head:
                return
            first = b"<html><head><title>A very large page</title></head><body>" if path == "/huge" else b"<html><title>A very large page</title><body>"
            self.wfile.write(first)
            chunk = b"x" * 65536
            sent = len(first)
            while sent < 50 * 1024 * 1024:
                piece = chunk[: 50 * 1024 * 1024 - sent]
                self.wfile.write(piece)
                sent += len(piece)
            return
        if path in ("/never-ends", "/never-ends-get-only", "/never-ends-no-head"):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            if head:
                return
            self.wfile.write(b"<html><title>Endless</title><body>" if path == "/never-ends-no-head" else b"<html><head><title>Endless</title></head><body>")
            self.wfile.flush()
            for _ in range(600):
                time.sleep(0.1)
                self.wfile.write(b".")
                self.wfile.flush()
            return
        return self.answer(404, "text/html", b"<title>no such route</title>", head)

    def redirect(self, status, location):
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def answer(self, status, kind, body, head):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 64


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print("READY %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
