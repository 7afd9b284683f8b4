#!/usr/bin/env python3
"""Checks built .eml files the way a receiving program reads them.

Usage: check_email.py FILE.eml...   one line per problem; exit 1 if any file fails.
"""
import email
import re
import sys
from email import policy
from html.parser import HTMLParser

HEADERS_ONCE = ["Date", "From", "To", "Subject", "Message-ID", "MIME-Version",
                "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post"]


class Facts(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.lang, self.tables, self.images, self.links = None, [], [], []
        self._table_stack = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "table":
            self._table_stack.append({"role": a.get("role"), "th": False})
        elif tag == "th" and self._table_stack:
            self._table_stack[-1]["th"] = True
        elif tag == "img":
            self.images.append(a)
        elif tag == "a" and "href" in a:
            self.links.append(a["href"])

    def handle_endtag(self, tag):
        if tag == "table" and self._table_stack:
            self.tables.append(self._table_stack.pop())


def problems(path):
    raw = open(path, "rb").read()
    found = []
    lines = raw.split(b"\r\n")
    if any(b"\r" in line or b"\n" in line for line in lines):
        found.append("a bare CR or LF")
    if any(len(line) > 998 for line in lines):
        found.append("a line over 998 octets")
    message = email.message_from_bytes(raw, policy=policy.default)
    if message.defects:
        found.append(f"defects: {message.defects}")
    for name in HEADERS_ONCE:
        count = len(message.get_all(name) or [])
        if count != 1:
            found.append(f"{name} appears {count} times")
    unsubscribe = str(message.get("List-Unsubscribe", ""))
    https = re.search(r"<(https://[^>]+)>", unsubscribe)
    if not https or not re.search(r"<mailto:[^>]+>", unsubscribe):
        found.append("List-Unsubscribe needs an https and a mailto URL")
    if str(message.get("List-Unsubscribe-Post", "")) != "List-Unsubscribe=One-Click":
        found.append("List-Unsubscribe-Post is not List-Unsubscribe=One-Click")
    if message.get_content_type() != "multipart/alternative":
        return found + [f"top-level type is {message.get_content_type()}"]
    parts = list(message.iter_parts())
    if [p.get_content_type() for p in parts] != ["text/plain", "text/html"]:
        return found + ["parts are not text/plain then text/html"]
    for part in parts:
        if part.defects:
            found.append(f"{part.get_content_type()} defects: {part.defects}")
        if str(part.get("Content-Transfer-Encoding", "")).lower() == "quoted-printable":
            if any(len(line) > 76 for line in part.get_payload(decode=False).splitlines()):
                found.append(f"{part.get_content_type()}: a quoted-printable line over 76")
    text, html = parts[0].get_content(), parts[1].get_content()
    if https and https.group(1) not in text:
        found.append("the text part lacks the unsubscribe URL")
    for line in text.splitlines():
        if len(line) > 78 and not line.startswith("    ") and "://" not in line:
            found.append(f"text line over 78 columns: {line[:40]}…")
    if len(html.encode()) > 90 * 1024:
        found.append(f"HTML is {len(html.encode())} bytes, over 90 KB")
    facts = Facts()
    facts.feed(html)
    if not facts.lang:
        found.append("<html> has no lang")
    layout = [t for t in facts.tables if not t["th"]]
    if any(t["role"] != "presentation" for t in layout):
        found.append("a layout table without role=presentation")
    if any("alt" not in image for image in facts.images):
        found.append("an image without alt")
    odd = [u for u in facts.links + [i.get("src", "") for i in facts.images]
           if not re.match(r"^(https://|http://|mailto:|#)", u)]
    if odd:
        found.append(f"links that are not absolute: {odd[:3]}")
    if https and https.group(1) not in facts.links:
        found.append("the HTML has no unsubscribe link")
    return found


def main():
    failed = 0
    for path in sys.argv[1:]:
        try:
            found = problems(path)
        except Exception as error:  # a file that crashes the parser fails
            found = [f"could not be read: {error!r}"]
        for problem in found:
            print(f"{path}: {problem}")
        failed += bool(found)
    print(f"check_email: {len(sys.argv) - 1 - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
