#!/usr/bin/env bash
# `make bench`: a release build, the Python baseline's packages in a venv of its own, then the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product hogmail >/dev/null
if [ ! -x .bench/venv/bin/python ]; then
  python3 -m venv .bench/venv
  .bench/venv/bin/pip install --quiet markdown jinja2 premailer pyyaml
fi
.bench/venv/bin/python scripts/bench.py .build/release/hogmail .bench/venv/bin/python "${BENCH_RUNS:-21}"
.bench/venv/bin/python scripts/bench_import.py .build/release/hogmail "${BENCH_IMPORT_ROWS:-1000000}"
bash scripts/install-postfix-tools.sh
.bench/venv/bin/python scripts/bench_send.py .build/release/hogmail "${BENCH_SEND_MESSAGES:-20000}" "${BENCH_SEND_RUNS:-3}"
