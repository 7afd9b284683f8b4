#!/usr/bin/env bash
# The Python packages the end-to-end tests use, if missing: aiosmtpd (SMTP server), moto (SES)
# and selenium (drives Chromium for the preview test).
set -euo pipefail
python3 -c 'import aiosmtpd, moto.server, flask, flask_cors, selenium' 2>/dev/null && exit 0
echo "Installing Python packages for the tests: aiosmtpd, moto[server], selenium"
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore aiosmtpd 'moto[server]' selenium 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check aiosmtpd 'moto[server]' selenium
