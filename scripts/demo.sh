#!/usr/bin/env bash
# README's main job (`npm run demo`): bring in what the lab demo needs on a fresh
# machine (Debian packages; npm install has built the addon and the code), then run it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deb-install.sh iproute2 iptables curl iputils-ping
npx tsc -p tsconfig.json
exec node dist/src/cli/tsvs.js demo "$@"
