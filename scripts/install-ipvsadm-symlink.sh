#!/bin/sh
# Install tsvsadm under the name `ipvsadm`: a symlink <dir>/ipvsadm -> the built
# dist/src/cli/tsvsadm.js, so scripts written for ipvsadm drive tsvs unchanged.
#
#   scripts/install-ipvsadm-symlink.sh [--force] <dir>      e.g. /usr/local/sbin
#
# An existing <dir>/ipvsadm that is not a symlink (the real ipvsadm) is left alone
# unless --force is given. Build first: npm run build.
set -eu

force=0
if [ "${1:-}" = "--force" ]; then
  force=1
  shift
fi
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 [--force] <directory>" >&2
  exit 2
fi
dir=$1
root=$(cd "$(dirname "$0")/.." && pwd)
target="$root/dist/src/cli/tsvsadm.js"
if [ ! -f "$target" ]; then
  echo "install-ipvsadm-symlink: $target is not built (run: npm run build)" >&2
  exit 1
fi
chmod 755 "$target"
mkdir -p "$dir"
link="$dir/ipvsadm"
if [ -e "$link" ] && [ ! -L "$link" ] && [ "$force" -ne 1 ]; then
  echo "install-ipvsadm-symlink: $link exists and is not a symlink (use --force to replace it)" >&2
  exit 1
fi
ln -sfn "$target" "$link"
echo "$link -> $target"
