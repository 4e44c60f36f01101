#!/bin/bash
# Runs a built tsvs image's tree where `podman run` cannot (docs/cli.md): the image is
# mounted by buildah and chrooted into inside a fresh network namespace; the daemon
# starts with metrics and the image's environment (TSVS_BPF_OBJ: the fast path's BPF
# object, loaded by the image's bpftool), tsvsadm and the ipvsadm symlink add and list
# a service, and /metrics is fetched. Root; hold /tmp/tsvs-e2e.lock (it builds a namespace).
#   test/cli/container/run-in-netns.sh [IMAGE]        (default localhost/tsvs:test)
set -euo pipefail
image=${1:-localhost/tsvs:test}
ns=tsvsimage$$
c=$(buildah from "$image")
mnt=$(buildah mount "$c")
pid=
cleanup() {
  # ip netns exec waits on the daemon as its child: stop the daemon, then ip ends
  if [ -n "$pid" ]; then
    kill -TERM $(pgrep -P "$pid") 2>/dev/null || true
    wait "$pid" || true
  fi
  umount "$mnt/proc" "$mnt/dev" "$mnt/sys" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  buildah umount "$c" >/dev/null
  buildah rm "$c" >/dev/null
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
mount --bind /proc "$mnt/proc"
mount --bind /dev "$mnt/dev"
mount --bind /sys "$mnt/sys"
inside() { ip netns exec "$ns" chroot "$mnt" "$@"; }
# the image's ENV (chroot does not apply it)
mapfile -t envs < <(buildah inspect --format '{{range .OCIv1.Config.Env}}{{println .}}{{end}}' "$image" | grep .)
inside env "${envs[@]}" /usr/sbin/tsvs daemon --no-state --metrics 9101 2>"${TMPDIR:-/tmp}/tsvs-image-daemon.log" &
pid=$!
for _ in $(seq 50); do inside test -S /run/tsvs/control.sock && break; sleep 0.2; done
inside /usr/sbin/tsvsadm --version
inside /usr/sbin/tsvsadm -A -t 10.9.9.9:80 -s rr
inside /usr/sbin/tsvsadm -a -t 10.9.9.9:80 -r 10.9.8.1:80 -m
inside /usr/sbin/ipvsadm -L -n
ip netns exec "$ns" curl -s http://127.0.0.1:9101/metrics | grep -E '^(node_ipvs_backend_weight|tsvs_build_info|tsvs_fastpath_(active|info))'
