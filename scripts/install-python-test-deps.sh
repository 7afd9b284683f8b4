#!/usr/bin/env bash
# The Python packages the end-to-end tests start servers with (aiosmtpd for SMTP), if missing.
set -euo pipefail
python3 -c 'import aiosmtpd, moto.server, flask, flask_cors' 2>/dev/null && exit 0
echo "Installing Python packages for the tests: aiosmtpd, moto[server]"
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore aiosmtpd 'moto[server]' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check aiosmtpd 'moto[server]'
