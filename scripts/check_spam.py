#!/usr/bin/env python3
"""Runs SpamAssassin on built messages, with local rules only (no network tests), and fails
when a rule of the kinds a correct generator never triggers hits: MISSING_*, INVALID_*,
MIME_*, MPART_ALT_DIFF*, HTML_TAG_BALANCE_*, *_ILLEGAL_CHARS, DATE_IN_*. Prints each score.

Usage: check_spam.py [--expect-hits FILE.eml] FILE.eml…
  --expect-hits FILE: FILE is broken on purpose and must trip at least one such rule
  (proves the check can fail).
"""
import re
import subprocess
import sys

FORBIDDEN = re.compile(r"^(MISSING_|INVALID_|MIME_|MPART_ALT_DIFF|HTML_TAG_BALANCE_|DATE_IN_)|_ILLEGAL_CHARS$")


def analyse(path):
    with open(path, "rb") as message:
        result = subprocess.run(["spamassassin", "-L", "-t"], stdin=message, capture_output=True, check=True)
    report = result.stdout.decode("utf-8", "replace")
    score = re.search(r"Content analysis details:\s+\((-?[\d.]+) points", report)
    hits = re.findall(r"^\s*-?\d+\.\d+\s+([A-Z0-9_]+)\s", report.split("Content analysis details", 1)[-1], re.M)
    return (float(score.group(1)) if score else None), list(dict.fromkeys(hits))


def main(arguments):
    expected_bad = []
    files = []
    while arguments:
        argument = arguments.pop(0)
        if argument == "--expect-hits":
            expected_bad.append(arguments.pop(0))
        else:
            files.append(argument)
    failures = 0
    for path in files:
        score, hits = analyse(path)
        forbidden = [h for h in hits if FORBIDDEN.search(h)]
        print("%s: SpamAssassin score %s (%s)%s" % (path, score, ", ".join(hits) or "no rules hit",
                                                      "; FORBIDDEN: " + ", ".join(forbidden) if forbidden else ""))
        failures += bool(forbidden) or score is None
    for path in expected_bad:
        score, hits = analyse(path)
        forbidden = [h for h in hits if FORBIDDEN.search(h)]
        print("%s (broken on purpose): %s" % (path, ", ".join(forbidden) or "NOT CAUGHT"))
        failures += not forbidden
    print("spam check: %d file%s, %d failure%s" % (len(files) + len(expected_bad), "" if len(files) + len(expected_bad) == 1 else "s",
                                                   failures, "" if failures == 1 else "s"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
