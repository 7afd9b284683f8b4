#!/usr/bin/env bash
# Postfix's smtp-sink and smtp-source for `make bench`, without leaving a mail daemon running.
set -euo pipefail
command -v smtp-sink >/dev/null 2>&1 || [ -x /usr/sbin/smtp-sink ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
created_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  created_policy=1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -qq postfix >/dev/null
[ -n "$created_policy" ] && $sudo rm -f /usr/sbin/policy-rc.d
# Stop it in case an init system started it anyway: the benchmark only needs the tools.
$sudo postfix stop >/dev/null 2>&1 || true
