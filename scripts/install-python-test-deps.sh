#!/usr/bin/env bash
# The Python packages the end-to-end tests start servers with (aiosmtpd for SMTP), if missing.
set -euo pipefail
python3 -c 'import aiosmtpd' 2>/dev/null && exit 0
echo "Installing Python packages for the tests: aiosmtpd"
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore aiosmtpd 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check aiosmtpd
