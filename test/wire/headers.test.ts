import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyBytes, read16, read32, write16, write32 } from '../../src/wire/bytes.js';
import { ipv4HeaderChecksumOk } from '../../src/wire/checksum.js';
import * as ip4 from '../../src/wire/ipv4.js';
import * as ip6 from '../../src/wire/ipv6.js';
import * as tcp from '../../src/wire/tcp.js';
import * as udp from '../../src/wire/udp.js';
import * as icmp from '../../src/wire/icmp.js';
import * as V from './vectors.js';

test('IPv4 accessors read the fields of a real SYN', () => {
  const p = V.TCP_SYN_V4;
  assert.equal(ip4.ipv4Version(p, 0), 4);
  assert.equal(ip4.ipv4Ihl(p, 0), 20);
  assert.equal(ip4.ipv4Tos(p, 0), 0);
  assert.equal(ip4.ipv4TotalLength(p, 0), 60);
  assert.equal(ip4.ipv4Id(p, 0), 0x3fe0);
  assert.equal(ip4.ipv4Df(p, 0), true);
  assert.equal(ip4.ipv4Mf(p, 0), false);
  assert.equal(ip4.ipv4FragOffset(p, 0), 0);
  assert.equal(ip4.ipv4Ttl(p, 0), 64);
  assert.equal(ip4.ipv4Proto(p, 0), 6);
  assert.equal(ip4.ipv4Checksum(p, 0), 0xe6d9);
  assert.equal(ip4.ipv4Src(p, 0), 0x0a000002);
  assert.equal(ip4.ipv4Dst(p, 0), 0x0a000001);
  const f = V.ICMP_FRAG_LAST_V4;
  assert.equal(ip4.ipv4FragOffset(f, 0), 272);
  assert.equal(ip4.ipv4FragField(V.ICMP_FRAG_FIRST_V4, 0) & ip4.IPV4_FLAG_MF, ip4.IPV4_FLAG_MF);
  assert.equal(V.ICMP_ECHO_RR_V4[20], ip4.IPOPT_NOOP);
  assert.equal(V.ICMP_ECHO_RR_V4[21], ip4.IPOPT_RR);
});

test('IPv4 setters write what the getters read; writeIpv4Header produces a valid header', () => {
  const p = V.TCP_SYN_V4.slice();
  ip4.setIpv4Tos(p, 0, 0xb8);
  ip4.setIpv4TotalLength(p, 0, 1234);
  ip4.setIpv4Id(p, 0, 0xbeef);
  ip4.setIpv4FragField(p, 0, ip4.IPV4_FLAG_MF | 3);
  ip4.setIpv4Ttl(p, 0, 9);
  ip4.setIpv4Proto(p, 0, 17);
  ip4.setIpv4Src(p, 0, 0xc0000201);
  ip4.setIpv4Dst(p, 0, 0xfffffffe);
  ip4.setIpv4Checksum(p, 0, 0x1111);
  assert.deepEqual(
    [ip4.ipv4Tos(p, 0), ip4.ipv4TotalLength(p, 0), ip4.ipv4Id(p, 0), ip4.ipv4FragOffset(p, 0)],
    [0xb8, 1234, 0xbeef, 24],
  );
  assert.deepEqual(
    [ip4.ipv4Ttl(p, 0), ip4.ipv4Proto(p, 0), ip4.ipv4Checksum(p, 0)],
    [9, 17, 0x1111],
  );
  assert.deepEqual([ip4.ipv4Src(p, 0), ip4.ipv4Dst(p, 0)], [0xc0000201, 0xfffffffe]);
  assert.equal(ip4.ipv4Mf(p, 0), true);
  ip4.ipv4UpdateChecksum(p, 0);
  assert.ok(ipv4HeaderChecksumOk(p, 0, 20));
  const h = new Uint8Array(20);
  ip4.writeIpv4Header(h, 0, 0, 60, 0x3fe0, 0x4000, 64, 6, 0x0a000002, 0x0a000001);
  assert.deepEqual(h, V.TCP_SYN_V4.subarray(0, 20)); // the real SYN's header, rebuilt
});

test('IPv6 accessors and header writer agree with a real SYN', () => {
  const p = V.TCP_SYN_V6;
  assert.equal(ip6.ipv6Version(p, 0), 6);
  assert.equal(ip6.ipv6TrafficClass(p, 0), 0);
  assert.equal(ip6.ipv6FlowLabel(p, 0), 0x0ede7);
  assert.equal(ip6.ipv6PayloadLength(p, 0), 40);
  assert.equal(ip6.ipv6NextHeader(p, 0), 6);
  assert.equal(ip6.ipv6HopLimit(p, 0), 64);
  const w = new Uint32Array(4);
  ip6.readAddr6(p, ip6.IPV6_SRC, w);
  assert.deepEqual(Array.from(w), [0xfd000000, 0, 0, 2]);
  const h = new Uint8Array(40);
  ip6.writeIpv6Header(h, 0, 40, 6, 64, w, [0xfd000000, 0, 0, 1]);
  const expect = p.slice(0, 40);
  expect[1] = expect[2] = expect[3] = 0; // writer uses flow label 0
  assert.deepEqual(h, expect);
  ip6.setIpv6TrafficClass(h, 0, 0xb9);
  assert.equal(ip6.ipv6TrafficClass(h, 0), 0xb9);
  assert.equal(ip6.ipv6Version(h, 0), 6);
  ip6.setIpv6PayloadLength(h, 0, 7);
  ip6.setIpv6NextHeader(h, 0, 17);
  ip6.setIpv6HopLimit(h, 0, 3);
  assert.deepEqual(
    [ip6.ipv6PayloadLength(h, 0), ip6.ipv6NextHeader(h, 0), ip6.ipv6HopLimit(h, 0)],
    [7, 17, 3],
  );
  ip6.writeAddr6(h, ip6.IPV6_DST, [1, 2, 3, 0xffffffff]);
  ip6.readAddr6(h, ip6.IPV6_DST, w);
  assert.deepEqual(Array.from(w), [1, 2, 3, 0xffffffff]);
  assert.ok(ip6.isIpv6ExtHeader(ip6.NEXTHDR_FRAGMENT) && !ip6.isIpv6ExtHeader(ip6.NEXTHDR_ESP));
  assert.equal(ip6.ipv6ExtHeaderLength(V.UDP_HBH_DST_V6, 48, ip6.NEXTHDR_DEST), 16);
});

test('TCP accessors, options and flag strings on a real SYN', () => {
  const p = V.TCP_SYN_V4;
  const o = 20;
  assert.equal(tcp.tcpSport(p, o), 58062);
  assert.equal(tcp.tcpDport(p, o), 80);
  assert.equal(tcp.tcpSeq(p, o), 506968795);
  assert.equal(tcp.tcpAck(p, o), 0);
  assert.equal(tcp.tcpDoff(p, o), 40);
  assert.equal(tcp.tcpFlags(p, o), tcp.TcpFlag.SYN);
  assert.equal(tcp.tcpWindow(p, o), 64240);
  assert.equal(tcp.tcpChecksum(p, o), 0x7378);
  const mss = tcp.tcpOptionFind(p, o, 40, tcp.TCPOPT_MSS);
  assert.equal(mss, 40);
  assert.equal(read16(p, mss + 2), 1460);
  const ws = tcp.tcpOptionFind(p, o, 40, tcp.TCPOPT_WSCALE);
  assert.equal(p[ws + 2], 10);
  const ts = tcp.tcpOptionFind(p, o, 40, tcp.TCPOPT_TIMESTAMP);
  assert.equal(read32(p, ts + 2), 1048890075);
  assert.notEqual(tcp.tcpOptionFind(p, o, 40, tcp.TCPOPT_SACK_PERM), -1);
  assert.equal(tcp.tcpOptionFind(p, o, 40, tcp.TCPOPT_SACK), -1);
  // a malformed option length stops the search instead of running away
  const bad = p.slice();
  bad[41] = 0;
  assert.equal(tcp.tcpOptionFind(bad, o, 40, tcp.TCPOPT_WSCALE), -1);
  assert.equal(tcp.tcpFlagsString(0x02), 'S');
  assert.equal(tcp.tcpFlagsString(0x12), 'S.');
  assert.equal(tcp.tcpFlagsString(0x18), 'P.');
  assert.equal(tcp.tcpFlagsString(0x11), 'F.');
  assert.equal(tcp.tcpFlagsString(0x04), 'R');
  assert.equal(tcp.tcpFlagsString(0xc2), 'SEW');
  assert.equal(tcp.tcpFlagsString(0), 'none');
  assert.deepEqual(
    [
      tcp.TCP_FLAG_FIN,
      tcp.TCP_FLAG_SYN,
      tcp.TCP_FLAG_RST,
      tcp.TCP_FLAG_PSH,
      tcp.TCP_FLAG_ACK,
      tcp.TCP_FLAG_URG,
    ],
    [1, 2, 4, 8, 16, 32],
  );
  const q = p.slice();
  tcp.setTcpSport(q, o, 1);
  tcp.setTcpDport(q, o, 2);
  tcp.setTcpSeq(q, o, 0xffffffff);
  tcp.setTcpAck(q, o, 0x80000000);
  tcp.setTcpFlags(q, o, 0x11);
  tcp.setTcpWindow(q, o, 5);
  tcp.setTcpChecksum(q, o, 6);
  assert.deepEqual(
    [tcp.tcpSport(q, o), tcp.tcpDport(q, o), tcp.tcpSeq(q, o), tcp.tcpAck(q, o)],
    [1, 2, 0xffffffff, 0x80000000],
  );
  assert.deepEqual([tcp.tcpFlags(q, o), tcp.tcpWindow(q, o), tcp.tcpChecksum(q, o)], [0x11, 5, 6]);
});

test('UDP and ICMP accessors on real packets', () => {
  const u = V.UDP_DNS_V4;
  assert.deepEqual(
    [udp.udpSport(u, 20), udp.udpDport(u, 20), udp.udpLength(u, 20), udp.udpChecksum(u, 20)],
    [42793, 53, 60, 0xe69b],
  );
  const q = u.slice();
  udp.setUdpSport(q, 20, 7);
  udp.setUdpDport(q, 20, 8);
  udp.setUdpLength(q, 20, 9);
  udp.setUdpChecksum(q, 20, 10);
  assert.deepEqual(
    [udp.udpSport(q, 20), udp.udpDport(q, 20), udp.udpLength(q, 20), udp.udpChecksum(q, 20)],
    [7, 8, 9, 10],
  );
  const i = V.ICMP_ECHO_RR_V4;
  assert.deepEqual(
    [icmp.icmpType(i, 60), icmp.icmpCode(i, 60), icmp.icmpEchoId(i, 60), icmp.icmpEchoSeq(i, 60)],
    [icmp.ICMP_ECHO, 0, 5492, 1],
  );
  const e = V.ICMP_PORT_UNREACH_V4.slice();
  assert.equal(icmp.icmpChecksum(e, 20), 0x114d);
  icmp.setIcmpType(e, 20, icmp.ICMP_TIME_EXCEEDED);
  icmp.setIcmpCode(e, 20, icmp.ICMP_EXC_TTL);
  icmp.setIcmpChecksum(e, 20, 1);
  assert.deepEqual(
    [icmp.icmpType(e, 20), icmp.icmpCode(e, 20), icmp.icmpChecksum(e, 20)],
    [11, 0, 1],
  );
});

test('byte helpers: big-endian reads/writes and an overlap-safe copy', () => {
  const b = new Uint8Array(8);
  write32(b, 1, 0xdeadbeef);
  assert.equal(read32(b, 1), 0xdeadbeef);
  write16(b, 5, 0x1234);
  assert.equal(read16(b, 5), 0x1234);
  const c = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
  copyBytes(c, 2, c, 0, 5);
  assert.deepEqual(Array.from(c), [1, 2, 1, 2, 3, 4, 5, 8]);
  copyBytes(c, 0, c, 3, 5);
  assert.deepEqual(Array.from(c), [2, 3, 4, 5, 8, 4, 5, 8]);
});
