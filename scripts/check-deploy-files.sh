#!/usr/bin/env bash
# Checks the deploy files of contrib/ against an installed hogmail, and starts nginx with the
# example site for the install test:
#   - systemd-analyze verify accepts the three unit files (ExecStart pointed at the installed
#     binary, man page found);
#   - nginx -t accepts contrib/nginx/hogmail.conf, with only what a test must change changed:
#     ports (free ones on 127.0.0.1 instead of 80/443, no IPv6), a throwaway certificate, and
#     the port `hogmail serve` listens on; then nginx is started in the background.
# Usage: check-deploy-files.sh REPO PREFIX WORKDIR HTTPS_PORT SERVE_PORT   (WORKDIR/nginx.pid)
set -euo pipefail
repo=$1 prefix=$2 dir=$3 https_port=$4 serve_port=$5
mkdir -p "$dir/units" "$dir/logs"
for unit in "$repo"/contrib/systemd/*; do
  sed "s#/usr/local/bin/hogmail#$prefix/bin/hogmail#g" "$unit" >"$dir/units/$(basename "$unit")"
done
if ! MANPATH="$prefix/share/man" SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$dir"/units/* 2>"$dir/verify.log"; then
  cat "$dir/verify.log" >&2
  echo "systemd-analyze verify refused the unit files (above)" >&2
  exit 1
fi
# Lines about this machine's own units are not ours to judge; anything about ours is.
if grep -E '^hogmail-' "$dir/verify.log" >&2; then echo "systemd-analyze verify found problems in the unit files (above)" >&2; exit 1; fi

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=newsletter.example.com" \
  -addext "subjectAltName=DNS:newsletter.example.com" -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
http_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "/listen \[::\]/d" \
    -e "s/listen 80;/listen 127.0.0.1:$http_port;/" \
    -e "s/listen 443 ssl http2;/listen 127.0.0.1:$https_port ssl http2;/" \
    -e "s#/etc/letsencrypt/live/newsletter.example.com/fullchain.pem#$dir/cert.pem#" \
    -e "s#/etc/letsencrypt/live/newsletter.example.com/privkey.pem#$dir/key.pem#" \
    -e "s#http://127.0.0.1:8080#http://127.0.0.1:$serve_port#" \
    "$repo/contrib/nginx/hogmail.conf" >"$dir/site.conf"
cat >"$dir/nginx.conf" <<CONF
user root;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections 64; }
http {
    access_log $dir/logs/access.log;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    include $dir/site.conf;
}
CONF
nginx -t -q -p "$dir" -c "$dir/nginx.conf" || { echo "nginx -t refused contrib/nginx/hogmail.conf" >&2; exit 1; }
nginx -p "$dir" -c "$dir/nginx.conf"
for _ in $(seq 50); do [ -s "$dir/nginx.pid" ] && break; sleep 0.1; done
[ -s "$dir/nginx.pid" ] || { echo "nginx did not start: $(cat "$dir/logs/error.log")" >&2; exit 1; }
