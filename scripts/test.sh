#!/usr/bin/env bash
# The one test command (README: `npm test`). On a fresh machine it brings in what the
# end-to-end tests need: Debian packages (as root, apt-get update once, then install
# only what is missing), npm dependencies and the native addon, then builds and runs
# every test with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(iproute2 iptables nftables socat curl tcpdump tshark iperf3 nginx-light vsftpd lftp netcat-openbsd ethtool procps iputils-ping util-linux)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # packages that start daemons on install must not hold ports the tests use
    for svc in nginx vsftpd; do
      command -v systemctl >/dev/null 2>&1 && systemctl stop "$svc" >/dev/null 2>&1 || true
      pkill -x "$svc" >/dev/null 2>&1 || true
    done
  else
    echo "test: not root; Debian packages missing (${missing[*]}): end-to-end tests will be skipped" >&2
  fi
fi

if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund
fi
npx tsc -p tsconfig.json
exec node --test --test-concurrency=1 --test-reporter=spec "${@:-dist/test/}"
