#!/usr/bin/env bash
# Postfix without leaving a mail daemon running: smtp-sink and smtp-source for `make bench`,
# and the programs Tests/servers/postfix_bounces.py runs as a private instance for `make test`
# ("No configuration": no /etc/postfix/main.cf, and policy-rc.d keeps the system's Postfix
# from starting).
set -euo pipefail
command -v smtp-sink >/dev/null 2>&1 || [ -x /usr/sbin/smtp-sink ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -qq postfix >/dev/null 2>&1 || {
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq postfix >/dev/null
}
# Stop it in case an init system started it anyway: bench and tests need only the programs.
$sudo postfix stop >/dev/null 2>&1 || true
