#!/usr/bin/env bash
# Builds the sample project into a temporary folder and checks every email.eml
# with Python's email package (policy.default): the way another program will read it;
# then with SpamAssassin (local rules only), which must find nothing a correct generator triggers.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
.build/debug/hogmail build --out "$out" >/dev/null
python3 scripts/check_email.py "$out"/*/email.eml
python3 scripts/check_spam.py "$out"/*/email.eml --expect-hits Tests/spam/broken.eml
