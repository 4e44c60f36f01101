#!/usr/bin/env bash
# The one test command (README: `npm test`). On a fresh machine it brings in what the
# end-to-end tests need: Debian packages (as root, apt-get update once, then install
# only what is missing), npm dependencies and the native addon, then builds and runs
# every test with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(iproute2 iptables nftables socat curl tcpdump tshark iperf3 nginx-light vsftpd lftp netcat-openbsd ethtool procps iputils-ping util-linux chromium prometheus keepalived dnsmasq openssl systemd wrk python3 groff-base frr bird2 gcc libc6-dev clang llvm libbpf-dev bpftool)

bash scripts/deb-install.sh "${DEB_PACKAGES[@]}"

if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund
fi
npx tsc -p tsconfig.json
exec node --test --test-concurrency=1 --test-reporter=spec "${@:-dist/test/}"
