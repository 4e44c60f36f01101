#!/usr/bin/env bash
# How the byte vectors in vectors.ts were captured (run as root; not part of the tests).
# Two network namespaces joined by a veth pair with checksum offload off, so the checksums
# seen on the wire are final; tcpdump records the client side. Needs iproute2, ethtool,
# tcpdump, socat, curl, dig (dnsutils), ping (iputils-ping), python3.
# Print the packets afterwards with: tcpdump -r /tmp/tsvs-wire.pcap -nn -x
# The CHECKSUM_PARTIAL vector comes from the same curl run on a namespace's loopback
# (`unshare -n`), whose checksum offload cannot be turned off.
set -u
A=tsvswire-a
B=tsvswire-b
PCAP=${1:-/tmp/tsvs-wire.pcap}
cleanup() {
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$A"
ip netns add "$B"
ip link add vwa netns "$A" type veth peer name vwb netns "$B"
ip -n "$A" addr add 10.0.0.2/24 dev vwa
ip -n "$B" addr add 10.0.0.1/24 dev vwb
ip -n "$A" addr add fd00::2/64 dev vwa nodad
ip -n "$B" addr add fd00::1/64 dev vwb nodad
for n in "$A" "$B"; do ip -n "$n" link set lo up; done
ip -n "$A" link set vwa up
ip -n "$B" link set vwb up
ip netns exec "$A" ethtool -K vwa tx off rx off tso off gso off gro off >/dev/null
ip netns exec "$B" ethtool -K vwb tx off rx off tso off gso off gro off >/dev/null
sleep 1
ip netns exec "$A" tcpdump -i vwa -U -w "$PCAP" 2>/dev/null &
TP=$!
sleep 1
ip netns exec "$B" socat TCP4-LISTEN:80,reuseaddr SYSTEM:"echo hi" &
ip netns exec "$B" socat TCP6-LISTEN:80,reuseaddr,ipv6only SYSTEM:"echo hi" &
sleep 0.5
# TCP over IPv4 and IPv6: a whole HTTP exchange
ip netns exec "$A" curl -s http://10.0.0.1/ >/dev/null
ip netns exec "$A" curl -s 'http://[fd00::1]/' >/dev/null
# UDP DNS queries to a closed port: the queries and the ICMP / ICMPv6 port unreachables
ip netns exec "$A" dig @10.0.0.1 example.com A +tries=1 +timeout=1 >/dev/null
ip netns exec "$A" dig @fd00::1 example.com AAAA +tries=1 +timeout=1 >/dev/null
# IPv4 options: record route
ip netns exec "$A" ping -c1 -R 10.0.0.1 >/dev/null
# IPv4 fragments: a small locked route MTU
ip -n "$A" route add 10.0.0.1/32 dev vwa mtu lock 296
ip netns exec "$A" ping -c1 -M dont -s 300 10.0.0.1 >/dev/null
# IPv6 fragments at the minimum MTU
ip -n "$A" link set vwa mtu 1280
ip -n "$B" link set vwb mtu 1280
ip netns exec "$A" ping -6 -c1 -s 1250 fd00::1 >/dev/null
# IPv6 hop-by-hop and destination options headers (PadN only)
ip netns exec "$A" python3 - <<'PY'
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, 54, bytes([0, 0, 1, 4, 0, 0, 0, 0]))  # IPV6_HOPOPTS
s.setsockopt(socket.IPPROTO_IPV6, 59, bytes([0, 1, 1, 12] + [0] * 12))  # IPV6_DSTOPTS
s.sendto(b'hello-ext', ('fd00::1', 9999))
PY
# IPv4 UDP without checksum (SO_NO_CHECK) to a closed port
ip netns exec "$A" python3 - <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 11, 1)  # SO_NO_CHECK
s.sendto(b'no-checksum', ('10.0.0.1', 9998))
PY
sleep 1
kill "$TP"
wait "$TP" 2>/dev/null
