#!/usr/bin/env bash
# The install test of `make test`: `make install` into a temporary DESTDIR, the build folders
# moved aside, then the installed binary used for real from a folder outside the repository:
# init, build, lint, rules, preview (one request), serve behind nginx with TLS (subscribe →
# confirm → one-click, the client's own address recorded), send to aiosmtpd, status. Also:
# `ldd` shows only system libraries, `man` reads the page, bash completes `hogmail su`, and
# systemd-analyze accepts the unit files of contrib/systemd.
# Every server listens on 127.0.0.1 only and is stopped (SIGKILL) on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d /tmp/hogmail-install-test.XXXXXX)
dest="$work/dest"
pids=()
moved=()
cleanup() {
  [ -f "$work/nginx/nginx.conf" ] && nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -s stop 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for folder in "${moved[@]}"; do [ -e "$repo/$folder.aside" ] && mv "$repo/$folder.aside" "$repo/$folder"; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "install test: $*" >&2; exit 1; }
step() { echo "install test: $*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for_line() { # FILE PATTERN: waits up to 20 s for a line matching PATTERN
  for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  fail "timed out waiting for '$2' in $1: $(cat "$1" 2>/dev/null)"
}

step "make install DESTDIR=$dest (debug configuration, to keep make test quick)"
make --no-print-directory install DESTDIR="$dest" PREFIX=/usr/local INSTALL_CONFIGURATION=debug >"$work/install.log" 2>&1 \
  || { cat "$work/install.log"; fail "make install failed"; }
prefix="$dest/usr/local"
hogmail="$prefix/bin/hogmail"
for file in bin/hogmail share/man/man1/hogmail.1 share/bash-completion/completions/hogmail \
            share/zsh/site-functions/_hogmail share/fish/vendor_completions.d/hogmail.fish; do
  [ -s "$prefix/$file" ] || fail "make install did not install $file"
done

step "the binary needs no Swift runtime and no build folder"
if ldd "$hogmail" | grep -E 'libswift|libFoundation|/\.build' ; then fail "the binary links Swift's runtime or the build folder (above)"; fi
for folder in .build .build-install; do
  if [ -e "$folder" ]; then mv "$folder" "$folder.aside"; moved+=("$folder"); fi
done

"$hogmail" --version | grep -E '^hogmail [0-9]+\.[0-9]+\.[0-9]+ \(commit [0-9a-f]{12}\)$' >/dev/null || fail "--version says: $("$hogmail" --version)"
"$hogmail" --help | grep "subscribers" >/dev/null || fail "--help lists no subscribers command"
MANPATH="$prefix/share/man" man -P cat hogmail 2>/dev/null | grep "subscribers" >/dev/null || fail "man hogmail does not show the page"
completion=$(bash -c "source '$prefix/share/bash-completion/completions/hogmail'
  COMP_WORDS=(hogmail su); COMP_CWORD=1; COMP_LINE='hogmail su'; COMP_POINT=10
  _hogmail hogmail su hogmail >/dev/null 2>&1; printf '%s ' \"\${COMPREPLY[@]}\"")
[[ " $completion " == *" subscribers "* ]] || fail "bash completes 'hogmail su' to '$completion', not subscribers"

export HOGMAIL_SECRET=$(printf 's%.0s' {1..40})
project="$work/newsletter"
cd "$work"
step "init, build, lint, rules from $work"
"$hogmail" init "$project" >/dev/null
cd "$project"
smtp_dir="$work/smtp"
python3 "$repo/Tests/servers/smtp_server.py" "$smtp_dir" >"$work/smtp.log" 2>&1 &
pids+=($!)
disown "$!"
wait_for_line "$work/smtp.log" READY
smtp_port=$(sed -n 's/^READY //p' "$work/smtp.log")
serve_port=$(free_port)
python3 - "$smtp_port" <<'EOF'
import re, sys
text = open("hogmail.yml").read()
text = text.replace("kind: outbox", "kind: smtp")
text = re.sub(r"url: smtp://127\.0\.0\.1:\d+", f"url: smtp://127.0.0.1:{sys.argv[1]}", text)
text = text.replace("tls: required", "tls: none").replace("    username:", "    # username:")
text += "\nserve:\n  trusted_proxies: [127.0.0.1]\n"
open("hogmail.yml", "w").write(text)
EOF
rm -f issues/*.md
cat >issues/001-hello.md <<'EOF'
---
title: Hello from an installed HogMail
date: 2026-01-07
---

The first issue, sent by the binary that `make install` put in place.

## Good reads

- [The HogMail archive](https://example.com/archive/) – where every issue lives.
EOF
"$hogmail" build >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "build failed"; }
[ -s out/1/email.eml ] || fail "build wrote no out/1/email.eml"
"$hogmail" lint >/dev/null || fail "lint failed"
"$hogmail" rules | grep "unsubscribe" >/dev/null || fail "rules lists no unsubscribe rule"

step "preview answers one request"
preview_port=$(free_port)
"$hogmail" preview --port "$preview_port" >"$work/preview.log" 2>&1 &
pids+=($!)
disown "$!"
wait_for_line "$work/preview.log" "Previewing"
page=$(curl -sS "http://127.0.0.1:$preview_port/drafts/001-hello.md" 2>&1 || true)
grep -q "Hello from an installed HogMail" <<<"$page" || fail "the preview did not show the draft: $page $(cat "$work/preview.log")"

step "serve behind nginx (TLS): subscribe → confirm → send → one-click"
"$hogmail" serve --port "$serve_port" >"$work/serve.log" 2>&1 &
pids+=($!)
disown "$!"
wait_for_line "$work/serve.log" "Serving"
https_port=$(free_port)
PATH="$PATH" bash "$repo/scripts/check-deploy-files.sh" "$repo" "$prefix" "$work/nginx" "$https_port" "$serve_port" &
nginx_starter=$!
wait "$nginx_starter" || fail "the deploy files do not check out (above)"
base="https://newsletter.example.com:$https_port"
client=(curl -sS --interface 127.0.0.2 --cacert "$work/nginx/cert.pem" --resolve "newsletter.example.com:$https_port:127.0.0.1")
status=$("${client[@]}" -o /dev/null -w '%{http_code}' -H 'X-Forwarded-For: 6.6.6.6' \
  --data-urlencode "email=ada@example.com" --data-urlencode "name=Ada" "$base/subscribe")
[ "$status" = 200 ] || fail "POST /subscribe through nginx answered $status"
for _ in $(seq 100); do ls "$smtp_dir"/*.eml >/dev/null 2>&1 && break; sleep 0.1; done
confirmation=$(cat "$smtp_dir"/*.eml | python3 -c 'import sys, quopri; print(quopri.decodestring(sys.stdin.buffer.read()).decode())')
path=$(grep -oE '/confirm\?token=[A-Za-z0-9._-]+' <<<"$confirmation" | head -1)
[ -n "$path" ] || fail "no confirmation link reached aiosmtpd"
"${client[@]}" -f "$base$path" | grep "Confirm my subscription" >/dev/null || fail "GET of the confirmation link did not show the button"
"${client[@]}" -f -X POST --data "" "$base$path" | grep "You are subscribed" >/dev/null || fail "POST of the confirmation link did not confirm"
ip=$("$hogmail" subscribers export ada@example.com | python3 -c 'import json, sys; print(json.load(sys.stdin)["subscriber"]["consent"]["ip"])')
[ "$ip" = 127.0.0.2 ] || fail "the consent record names $ip, not the client's address 127.0.0.2"
"${client[@]}" -o /dev/null -w '%{http_code}' "$base/admin" | grep 404 >/dev/null || fail "nginx passes routes that are not public"

rm -f "$smtp_dir"/*.eml
# This machine has no way out, so the issue's link (example.com) cannot be checked before the send.
"$hogmail" send 1 --yes --allow-dead-links >"$work/send.log" 2>&1 || { cat "$work/send.log"; fail "send failed"; }
message=$(cat "$smtp_dir"/*.eml)
grep -q "Hello from an installed HogMail" <<<"$message" || fail "aiosmtpd did not receive the issue"
unsubscribe=$(python3 -c 'import email, sys; m = email.message_from_string(sys.stdin.read()); print(m["List-Unsubscribe"])' <<<"$message" \
  | grep -oE 'https://[^>]+' | head -1)
unsubscribe_path=${unsubscribe#https://newsletter.example.com}
one_click=$("${client[@]}" -o /dev/null -w '%{http_code}' --data "List-Unsubscribe=One-Click" "$base$unsubscribe_path")
[ "$one_click" = 200 ] || fail "the one-click POST through nginx answered $one_click"
"$hogmail" subscribers list | grep "ada@example.com *unsubscribed" >/dev/null || fail "one-click did not unsubscribe"
"$hogmail" status | grep "1" >/dev/null || fail "status shows nothing"

step "make uninstall removes exactly what was installed"
for folder in "${moved[@]}"; do mv "$repo/$folder.aside" "$repo/$folder"; done
moved=()
cd "$repo"
touch "$prefix/bin/other-tool"
make --no-print-directory uninstall DESTDIR="$dest" PREFIX=/usr/local >/dev/null
[ ! -e "$prefix/bin/hogmail" ] && [ ! -e "$prefix/share/man/man1/hogmail.1" ] || fail "uninstall left hogmail behind"
[ -e "$prefix/bin/other-tool" ] || fail "uninstall removed a file it did not install"
echo "install test: every step passed."
