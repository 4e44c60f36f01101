#!/usr/bin/env bash
# tsvs lab: four network namespaces wired like the kernel's IPVS selftest
# (spec §14.1), so NAT, DR and TUN can run side by side without touching the host.
#
#   usage: scripts/lab.sh up|down|env [--prefix NAME] [--no-vip]
#
#   up     (re)creates the lab (an existing lab with the same prefix is removed first)
#   down   removes everything of that prefix; idempotent, also kills what runs inside
#   env    prints the lab's names and addresses as KEY=VALUE lines (also printed by up)
#
# Namespaces: $P-client, $P-director, $P-rs1, $P-rs2 (P = prefix, default "tsvs").
# Every interface lives inside a namespace (veths are created directly in their
# namespaces), so nothing is added to the host and labs with different prefixes can
# coexist with the same addresses.
#
#                    client LAN 10.201.1.0/24, fd00:201:1::/64 (bridge br0 in $P-client)
#   +--------------------------------------------------------------------------+
#   | $P-client   br0 10.201.1.2  fd00:201:1::2                                 |
#   |   ports: p-dir            p-rs1                p-rs2                      |
#   +-----------|-----------------|--------------------|-----------------------+
#               |                 |                    |
#   +-----------|----------+      | eth1 10.201.1.11   | eth1 10.201.1.12
#   | $P-director  eth0    |      |      fd00:201:1::11|      fd00:201:1::12
#   |  10.201.1.1          |   +--|-------------+   +--|-------------+
#   |  fd00:201:1::1       |   | $P-rs1         |   | $P-rs2         |
#   |  lo: VIP             |   | lo: VIP        |   | lo: VIP        |
#   |  br0 10.201.2.1      |   | eth0           |   | eth0           |
#   |      fd00:201:2::1   |   | 10.201.2.11    |   | 10.201.2.12    |
#   |   ports: p-rs1 p-rs2 |   | fd00:201:2::11 |   | fd00:201:2::12 |
#   +-----------|-----|----+   +--|-------------+   +--|-------------+
#               |     +-----------|--------------------+
#               +-----------------+
#                    server LAN 10.201.2.0/24, fd00:201:2::/64 (bridge br0 in $P-director)
#
#   VIP 10.201.3.100 / fd00:201:3::100; service ports are up to the user.
#
# Routing:
#   client:   default via the director (10.201.1.1 / fd00:201:1::1), so the VIP is
#             reached through the director.
#   director: ip_forward=1 (NAT needs it; DR/TUN tests may turn it off), VIP on lo
#             (the LVS convention; --no-vip leaves it off), rp_filter=0, server LAN on
#             a bridge so the real servers are one L2 hop away (DR).
#   rsN:      VIP on lo with arp_ignore=1, arp_announce=2 (DR/TUN), rp_filter=0.
#             Packets sourced from the RIP (NAT replies) follow a policy rule to
#             table 201 whose default route is the director; packets sourced from the
#             VIP (DR/TUN replies) use the main table, whose connected route sends them
#             straight to the client over eth1. So NAT, DR and TUN all work at once.
#             A TUN real server needs an IPIP decapsulator (`tsvs decap`), not part
#             of the lab. UDP servers that do not bind one address answer from the
#             source routing picks (eth1's): bind them to the RIP (NAT) or VIP (DR/TUN).
set -euo pipefail

PREFIX=tsvs
WITH_VIP=1
CMD=${1:-}
shift || true
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=${2:?--prefix needs a name}; shift 2 ;;
    --prefix=*) PREFIX=${1#--prefix=}; shift ;;
    --no-vip) WITH_VIP=0; shift ;;
    *) echo "lab.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if ! [[ "$PREFIX" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,39}$ ]]; then
  echo "lab.sh: bad prefix '$PREFIX' (letters, digits, _ . -; at most 40)" >&2
  exit 2
fi

NS_CLIENT=$PREFIX-client
NS_DIRECTOR=$PREFIX-director
NS_RS1=$PREFIX-rs1
NS_RS2=$PREFIX-rs2

CLIENT4=10.201.1.2
DIR_CLIENT4=10.201.1.1
DIR_SERVER4=10.201.2.1
RS1_4=10.201.2.11
RS2_4=10.201.2.12
RS1_CLIENT4=10.201.1.11
RS2_CLIENT4=10.201.1.12
VIP4=10.201.3.100
CLIENT6=fd00:201:1::2
DIR_CLIENT6=fd00:201:1::1
DIR_SERVER6=fd00:201:2::1
RS1_6=fd00:201:2::11
RS2_6=fd00:201:2::12
RS1_CLIENT6=fd00:201:1::11
RS2_CLIENT6=fd00:201:1::12
VIP6=fd00:201:3::100

print_env() {
  cat <<EOF
PREFIX=$PREFIX
NS_CLIENT=$NS_CLIENT
NS_DIRECTOR=$NS_DIRECTOR
NS_RS1=$NS_RS1
NS_RS2=$NS_RS2
CLIENT4=$CLIENT4
CLIENT6=$CLIENT6
DIR_CLIENT_IF=eth0
DIR_CLIENT4=$DIR_CLIENT4
DIR_CLIENT6=$DIR_CLIENT6
DIR_SERVER_IF=br0
DIR_SERVER4=$DIR_SERVER4
DIR_SERVER6=$DIR_SERVER6
RS_SERVER_IF=eth0
RS_CLIENT_IF=eth1
RS1_4=$RS1_4
RS1_6=$RS1_6
RS2_4=$RS2_4
RS2_6=$RS2_6
VIP4=$VIP4
VIP6=$VIP6
VIP_ON_DIRECTOR=$WITH_VIP
EOF
}

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
sysw() { nsx "$1" sysctl -qw "$2" >/dev/null; }

down() {
  local ns pid
  for ns in "$NS_CLIENT" "$NS_DIRECTOR" "$NS_RS1" "$NS_RS2"; do
    [ -e "/run/netns/$ns" ] || continue
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
}

# veth pair with each end created directly in its namespace (no host-side names)
veth() { ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"; }

rs_up() {
  local ns=$1 rip4=$2 rip6=$3 cip4=$4 cip6=$5
  sysw "$ns" net.ipv4.conf.all.rp_filter=0
  sysw "$ns" net.ipv4.conf.default.rp_filter=0
  sysw "$ns" net.ipv4.conf.all.arp_ignore=1
  sysw "$ns" net.ipv4.conf.all.arp_announce=2
  sysw "$ns" net.ipv6.conf.all.accept_dad=0
  sysw "$ns" net.ipv6.conf.default.accept_dad=0
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$VIP4/32" dev lo
  ip -n "$ns" addr add "$VIP6/128" dev lo
  for ifc in eth0 eth1; do
    sysw "$ns" "net.ipv4.conf.$ifc.rp_filter=0"
    sysw "$ns" "net.ipv4.conf.$ifc.arp_ignore=1"
    sysw "$ns" "net.ipv4.conf.$ifc.arp_announce=2"
    ip -n "$ns" link set "$ifc" up
  done
  ip -n "$ns" addr add "$rip4/24" dev eth0
  ip -n "$ns" addr add "$rip6/64" dev eth0 nodad
  ip -n "$ns" addr add "$cip4/24" dev eth1
  ip -n "$ns" addr add "$cip6/64" dev eth1 nodad
  # NAT replies (sourced from the RIP) go back through the director
  ip -n "$ns" route add default via "$DIR_SERVER4" dev eth0 table 201
  ip -n "$ns" -6 route add default via "$DIR_SERVER6" dev eth0 table 201
  ip -n "$ns" rule add from "$rip4" table 201 pref 1000
  ip -n "$ns" -6 rule add from "$rip6" table 201 pref 1000
  # anything else (DR/TUN replies from the VIP) leaves directly towards the client
  ip -n "$ns" route add default via "$CLIENT4" dev eth1
  ip -n "$ns" -6 route add default via "$CLIENT6" dev eth1
}

up() {
  down
  local ns
  for ns in "$NS_CLIENT" "$NS_DIRECTOR" "$NS_RS1" "$NS_RS2"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
  done
  # client LAN
  veth "$NS_CLIENT" p-dir "$NS_DIRECTOR" eth0
  veth "$NS_CLIENT" p-rs1 "$NS_RS1" eth1
  veth "$NS_CLIENT" p-rs2 "$NS_RS2" eth1
  # server LAN
  veth "$NS_DIRECTOR" p-rs1 "$NS_RS1" eth0
  veth "$NS_DIRECTOR" p-rs2 "$NS_RS2" eth0

  # client: bridge br0 over its three ports
  sysw "$NS_CLIENT" net.ipv6.conf.all.accept_dad=0
  sysw "$NS_CLIENT" net.ipv6.conf.default.accept_dad=0
  ip -n "$NS_CLIENT" link add br0 type bridge forward_delay 0 stp_state 0
  for p in p-dir p-rs1 p-rs2; do
    ip -n "$NS_CLIENT" link set "$p" master br0 up
  done
  ip -n "$NS_CLIENT" link set br0 up
  ip -n "$NS_CLIENT" addr add "$CLIENT4/24" dev br0
  ip -n "$NS_CLIENT" addr add "$CLIENT6/64" dev br0 nodad
  ip -n "$NS_CLIENT" route add default via "$DIR_CLIENT4" dev br0
  ip -n "$NS_CLIENT" -6 route add default via "$DIR_CLIENT6" dev br0

  # director
  sysw "$NS_DIRECTOR" net.ipv4.ip_forward=1
  sysw "$NS_DIRECTOR" net.ipv6.conf.all.forwarding=1
  sysw "$NS_DIRECTOR" net.ipv4.conf.all.rp_filter=0
  sysw "$NS_DIRECTOR" net.ipv4.conf.default.rp_filter=0
  sysw "$NS_DIRECTOR" net.ipv4.conf.all.send_redirects=0
  sysw "$NS_DIRECTOR" net.ipv4.conf.default.send_redirects=0
  sysw "$NS_DIRECTOR" net.ipv6.conf.all.accept_dad=0
  sysw "$NS_DIRECTOR" net.ipv6.conf.default.accept_dad=0
  ip -n "$NS_DIRECTOR" link set eth0 up
  ip -n "$NS_DIRECTOR" addr add "$DIR_CLIENT4/24" dev eth0
  ip -n "$NS_DIRECTOR" addr add "$DIR_CLIENT6/64" dev eth0 nodad
  ip -n "$NS_DIRECTOR" link add br0 type bridge forward_delay 0 stp_state 0
  for p in p-rs1 p-rs2; do
    ip -n "$NS_DIRECTOR" link set "$p" master br0 up
  done
  ip -n "$NS_DIRECTOR" link set br0 up
  ip -n "$NS_DIRECTOR" addr add "$DIR_SERVER4/24" dev br0
  ip -n "$NS_DIRECTOR" addr add "$DIR_SERVER6/64" dev br0 nodad
  if [ "$WITH_VIP" = 1 ]; then
    ip -n "$NS_DIRECTOR" addr add "$VIP4/32" dev lo
    ip -n "$NS_DIRECTOR" addr add "$VIP6/128" dev lo
  fi

  rs_up "$NS_RS1" "$RS1_4" "$RS1_6" "$RS1_CLIENT4" "$RS1_CLIENT6"
  rs_up "$NS_RS2" "$RS2_4" "$RS2_6" "$RS2_CLIENT4" "$RS2_CLIENT6"
}

case "$CMD" in
  up)
    set -E
    trap 'echo "lab.sh: set-up failed (line $LINENO), removing the partial lab" >&2; trap - ERR; down' ERR
    up
    trap - ERR
    print_env
    ;;
  down) down ;;
  env) print_env ;;
  *)
    echo "usage: $0 up|down|env [--prefix NAME] [--no-vip]" >&2
    exit 2
    ;;
esac
