#!/usr/bin/env python3
"""Regenerates the Postfix-made fixtures in Tests/HogMailDeliveryTests/Fixtures/bounces/
(postfix-*.eml) with Tests/servers/postfix_bounces.py: one newsletter-like message per test
domain, and one to three failing recipients at once, all from the fixed VERP address
bounces+b1.1.AbCd_-xyz.MACmac@bounce.test; and a reader's reply sent to that address. Run as root: `python3 Tests/servers/postfix_fixtures.py`
(the tests' .venv python, for aiosmtpd). The files are copied byte for byte from the Maildir.
"""
import email
import email.utils
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "HogMailDeliveryTests", "Fixtures", "bounces")
TOKEN = "b1.1.AbCd_-xyz.MACmac"
SENDER = "bounces+%s@bounce.test" % TOKEN

# (fixture name, recipients, the DSN's Action); a DSN is recognised by Action and recipients.
CASES = [
    ("postfix-local-5.1.1.eml", ["alice@dead.test"], "failed"),
    ("postfix-remote-550-5.1.1.eml", ["bob@remote.test"], "failed"),
    ("postfix-rcpt-552-5.2.2.eml", ["carol@full.test"], "failed"),
    ("postfix-data-552-5.2.2.eml", ["dave@fullnow.test"], "failed"),
    ("postfix-delayed-4.2.0.eml", ["erin@slow.test"], "delayed"),
    ("postfix-failed-4.2.0.eml", ["erin@slow.test"], "failed"),
    ("postfix-three-recipients.eml", ["frank@dead.test", "grace@remote.test", "heidi@full.test"],
     "failed"),
]


def message(recipients):
    return ("From: HogMail Newsletter <newsletter@news.example>\r\n"
            "To: %s\r\n"
            "Subject: Issue 7: what we shipped this month\r\n"
            "Date: %s\r\n"
            "Message-ID: <%s.%d@news.example>\r\n"
            "List-Unsubscribe: <https://news.example/unsubscribe/%s>\r\n"
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n"
            "\r\n"
            "Hello,\r\n\r\nThis month we shipped three things.\r\n\r\n-- \r\n"
            "You get this because you subscribed at news.example.\r\n"
            % (", ".join(recipients), email.utils.formatdate(), TOKEN, len(recipients), TOKEN))


REPLY = ("From: Dana Reader <dana@reader.example>\r\n"
         "To: %s\r\n"
         "Subject: Re: Issue 7: what we shipped this month\r\n"
         "Date: %s\r\n"
         "Message-ID: <reply-1@reader.example>\r\n"
         "In-Reply-To: <%s.1@news.example>\r\n"
         "MIME-Version: 1.0\r\n"
         "Content-Type: text/plain; charset=utf-8\r\n"
         "\r\n"
         "Thanks, the second item is just what I needed. Will there be a follow-up?\r\n"
         "\r\n"
         "Dana\r\n")


def dsn_key(data):
    """(Action, the set of Final-Recipient addresses) of a DSN."""
    msg = email.message_from_bytes(data)
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            recipients = part.get_payload()[1:]
            addresses = frozenset(block["Final-Recipient"].split(";", 1)[1].strip().lower()
                                  for block in recipients)
            return recipients[0]["Action"].strip(), addresses
    if str(msg["Subject"]).startswith("Re: "):
        return ("reply", frozenset())
    return None


def main():
    work = tempfile.mkdtemp(prefix="postfix-fixtures-")
    server = subprocess.Popen([sys.executable, os.path.join(HERE, "postfix_bounces.py"), work],
                              stdout=subprocess.PIPE)
    try:
        line = server.stdout.readline().decode()
        if not line.startswith("READY "):
            raise SystemExit("postfix_bounces.py did not start: %r" % line)
        import smtplib
        started = time.monotonic()
        with smtplib.SMTP("127.0.0.1", int(line.split()[1])) as client:
            sent = set()
            for _, recipients, _ in CASES:
                if tuple(recipients) not in sent:
                    sent.add(tuple(recipients))
                    client.sendmail(SENDER, recipients, message(recipients))
            client.sendmail("dana@reader.example", [SENDER],
                            REPLY % (SENDER, email.utils.formatdate(), TOKEN))
        wanted = {(action, frozenset(recipients)): name for name, recipients, action in CASES}
        wanted[("reply", frozenset())] = "postfix-human-reply.eml"
        found = {}
        new = os.path.join(work, "Maildir", "new")
        deadline = time.monotonic() + 60
        while len(found) < len(wanted) and time.monotonic() < deadline:
            for entry in sorted(os.listdir(new)):
                path = os.path.join(new, entry)
                with open(path, "rb") as handle:
                    key = dsn_key(handle.read())
                if key in wanted and key not in found:
                    found[key] = path
            time.sleep(0.2)
        missing = set(wanted) - set(found)
        if missing:
            raise SystemExit("no DSN for %s in %s" % (sorted(missing), new))
        os.makedirs(FIXTURES, exist_ok=True)
        for key, path in found.items():
            shutil.copyfile(path, os.path.join(FIXTURES, wanted[key]))
            print("%s <- %s" % (wanted[key], os.path.basename(path)))
        print("%.1f s from sending to the last DSN" % (time.monotonic() - started))
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
