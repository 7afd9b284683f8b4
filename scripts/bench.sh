#!/usr/bin/env bash
# `make bench`: a release build, the Python baseline's packages in a venv of its own, Postfix's
# smtp-sink/smtp-source, then every figure of the README's "Measured" section, each beside its
# baseline from the same run. Sizes can be made smaller for a quick look:
#   BENCH_RUNS (build runs, 21), BENCH_ASSEMBLY_MESSAGES (200000), BENCH_SEND_MESSAGES (100000),
#   BENCH_SEND_RUNS (3), BENCH_SCALE_SUBSCRIBERS (1000000, for SQLite and for PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product hogmail >/dev/null
swift build -c release --product hogmail-bench >/dev/null
if [ ! -x .bench/venv/bin/python ]; then
  python3 -m venv .bench/venv
  .bench/venv/bin/pip install --quiet markdown jinja2 premailer pyyaml
fi
bash scripts/install-postfix-tools.sh
echo "== build"
.bench/venv/bin/python scripts/bench.py .build/release/hogmail .bench/venv/bin/python "${BENCH_RUNS:-21}"
echo "== message assembly"
taskset -c 0 .build/release/hogmail-bench . "${BENCH_ASSEMBLY_MESSAGES:-200000}" 5
echo "== send"
.bench/venv/bin/python scripts/bench_send.py .build/release/hogmail "${BENCH_SEND_MESSAGES:-100000}" "${BENCH_SEND_RUNS:-3}"
echo "== scale and resume"
.bench/venv/bin/python scripts/bench_scale.py .build/release/hogmail "${BENCH_SCALE_SUBSCRIBERS:-1000000}" 4
echo "== scale and resume, PostgreSQL (a private server; one sender and two)"
bash scripts/install-deps.sh postgresql
bash scripts/with-postgres.sh .bench/venv/bin/python scripts/bench_scale.py .build/release/hogmail "${BENCH_SCALE_SUBSCRIBERS:-1000000}" 4 postgres
