#!/usr/bin/env bash
# Install the Debian packages given as arguments when they are missing (as root:
# `apt-get update` once, then `apt-get install -y`). Used by the test and demo commands
# so that they do all the set-up on a fresh machine.
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "tsvs: not root; Debian packages missing (${missing[*]})" >&2
  exit 0
fi
echo "tsvs: installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# packages that start daemons on install must not hold ports the tests use
for svc in nginx vsftpd keepalived dnsmasq prometheus; do
  command -v systemctl >/dev/null 2>&1 && systemctl stop "$svc" >/dev/null 2>&1 || true
  pkill -x "$svc" >/dev/null 2>&1 || true
done
