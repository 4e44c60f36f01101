#!/bin/bash
# A local stand-in for docker.io/library/node:20-bookworm-slim, for machines that
# reach Debian mirrors and npm but no container registry (how the Containerfile was
# built on the build machine, docs/cli.md): Debian bookworm from the mirror by
# mmdebstrap, plus this host's Node 20, its headers (node-gyp finds them
# beside the binary, as in the official image) and npm. Root; needs mmdebstrap, buildah, podman.
#   test/cli/container/build-base.sh && buildah build --isolation chroot \
#     --build-arg BASE=localhost/tsvs-base:node20-bookworm-hostca -t tsvs -f Containerfile .
set -euo pipefail
out=$(mktemp -d)/rootfs.tar
mmdebstrap --variant=minbase --include=ca-certificates bookworm "$out" http://deb.debian.org/debian \
  --customize-hook='cp -a /usr/bin/node "$1/usr/bin/node"' \
  --customize-hook='mkdir -p "$1/usr/lib/node_modules" && cp -a /usr/lib/node_modules/npm "$1/usr/lib/node_modules/npm"' \
  --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/bin/npm" && ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/bin/npx"' \
  --customize-hook='cp -a /usr/include/node "$1/usr/include/node"'
podman import --change 'CMD ["node"]' "$out" localhost/tsvs-base:node20-bookworm
# this host reaches the npm registry through a proxy with its own CA: give the image
# the host's CA bundle (as a mirror of node:20-bookworm-slim in such a network would)
c=$(buildah from localhost/tsvs-base:node20-bookworm)
buildah copy "$c" /etc/ssl/certs/ca-certificates.crt /usr/local/share/host-ca.crt
buildah config --env NODE_EXTRA_CA_CERTS=/usr/local/share/host-ca.crt "$c"
# nodejs.org is out of reach too: node-gyp takes the headers copied above, as this
# host's npm does (nodedir=/usr)
buildah config --env npm_config_nodedir=/usr "$c"
buildah commit "$c" localhost/tsvs-base:node20-bookworm-hostca
buildah rm "$c"
