#!/usr/bin/env bash
# Runs a command beside a private PostgreSQL server: initdb in a temporary folder, the server on
# 127.0.0.1 and a free port, stopped (and its folder removed) when the command ends, however it
# ends. The command finds the server in HOGMAIL_TEST_POSTGRES_URL (a database it may empty at
# will) and HOGMAIL_TEST_POSTGRES_ADMIN_URL (the cluster's `postgres` database, to create more).
#
# PostgreSQL refuses to run as root, so as root the cluster belongs to `nobody`.
#
#   scripts/with-postgres.sh swift test --filter Postgres
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGUMENT...]" >&2; exit 2; }

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "$0: PostgreSQL's server programs are not installed (no /usr/lib/postgresql/*/bin/initdb). Install Debian's postgresql package: apt-get install postgresql" >&2
  exit 1
fi

folder=$(mktemp -d /tmp/hogmail-postgres.XXXXXX)
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  chown nobody:nogroup "$folder"
  as_owner=(runuser -u nobody --)
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

stop() {
  "${as_owner[@]}" "$bin/pg_ctl" -D "$folder/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$folder"
}
trap stop EXIT

"${as_owner[@]}" "$bin/initdb" -D "$folder/data" -U hogmail --auth=trust -E UTF8 --locale=C.UTF-8 >"$folder/initdb.log" 2>&1 || {
  cat "$folder/initdb.log" >&2; exit 1; }
# fsync off: a test cluster that dies with the machine is rebuilt anyway.
"${as_owner[@]}" "$bin/pg_ctl" -D "$folder/data" -l "$folder/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $folder -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null || { cat "$folder/server.log" >&2; exit 1; }
"$bin/createdb" -h 127.0.0.1 -p "$port" -U hogmail hogmail_test

export HOGMAIL_TEST_POSTGRES_URL="postgres://hogmail@127.0.0.1:$port/hogmail_test?sslmode=disable"
export HOGMAIL_TEST_POSTGRES_ADMIN_URL="postgres://hogmail@127.0.0.1:$port/postgres?sslmode=disable"
set +e
"$@"
status=$?
set -e
exit $status
