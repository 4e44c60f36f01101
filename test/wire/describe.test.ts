import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describe } from '../../src/wire/describe.js';
import { formatIpv4, formatIpv6 } from '../../src/wire/addr.js';
import { writeIpv4Header } from '../../src/wire/ipv4.js';
import * as V from './vectors.js';

const d = (p: Uint8Array): string => describe(p, 0, p.length);

test('TCP segments read like tcpdump: endpoints, flags, seq, ack when ACK is set, payload length', () => {
  assert.equal(d(V.TCP_SYN_V4), 'TCP 10.0.0.2:58062 > 10.0.0.1:80 [S] seq=506968795 len=0');
  assert.equal(
    d(V.TCP_SYNACK_V4),
    'TCP 10.0.0.1:80 > 10.0.0.2:58062 [S.] seq=472493872 ack=506968796 len=0',
  );
  assert.equal(
    d(V.TCP_GET_V4),
    'TCP 10.0.0.2:58062 > 10.0.0.1:80 [P.] seq=506968796 ack=472493873 len=72',
  );
  assert.equal(d(V.TCP_SYN_V6), 'TCP [fd00::2]:51410 > [fd00::1]:80 [S] seq=3809301624 len=0');
});

test('UDP datagrams show endpoints and payload length', () => {
  assert.equal(d(V.UDP_DNS_V4), 'UDP 10.0.0.2:42793 > 10.0.0.1:53 len=52');
  assert.equal(d(V.UDP_HBH_DST_V6), 'UDP [fd00::2]:59051 > [fd00::1]:9999 len=9');
});

test('ICMP errors show the quoted flow', () => {
  assert.equal(
    d(V.ICMP_PORT_UNREACH_V4),
    'ICMP 10.0.0.1 > 10.0.0.2 dest-unreach port-unreach {UDP 10.0.0.2:42793 > 10.0.0.1:53}',
  );
  assert.equal(
    d(V.ICMPV6_PORT_UNREACH),
    'ICMP6 fd00::1 > fd00::2 dest-unreach port-unreach {UDP [fd00::2]:57334 > [fd00::1]:53}',
  );
  assert.equal(d(V.ICMP_ECHO_RR_V4), 'ICMP 10.0.0.2 > 10.0.0.1 echo-request id=5492 seq=1');
  const cut = V.ICMP_PORT_UNREACH_V4.slice(0, 40);
  cut[3] = 40;
  cut[10] = cut[11] = 0;
  assert.equal(d(cut), 'ICMP 10.0.0.1 > 10.0.0.2 dest-unreach port-unreach {quote TRUNCATED_L3}');
});

test('fragments are marked, later ones with their offset', () => {
  assert.equal(
    d(V.ICMP_FRAG_FIRST_V4),
    'ICMP 10.0.0.2 > 10.0.0.1 echo-request id=5494 seq=1 frag first',
  );
  assert.equal(d(V.ICMP_FRAG_LAST_V4), 'IP 10.0.0.2 > 10.0.0.1 ICMP frag off=272 len=36');
  assert.equal(d(V.ICMPV6_FRAG_LAST), 'IP6 fd00::2 > fd00::1 ICMP6 frag off=1232 len=26');
});

test('other protocols and malformed packets still get one line', () => {
  const gre = new Uint8Array(24);
  writeIpv4Header(gre, 0, 0, 24, 0, 0, 64, 47, 0xc0a80001, 0xc0a80002);
  assert.equal(d(gre), 'IP 192.168.0.1 > 192.168.0.2 proto=47 len=4');
  assert.equal(describe(V.TCP_SYN_V4, 0, 10), 'invalid TRUNCATED_L3 len=10');
  const bad = V.TCP_SYN_V4.slice();
  bad[32] = 0x40;
  assert.equal(d(bad), 'IP 10.0.0.2 > 10.0.0.1 TCP invalid BAD_TCP_DOFF len=60');
  assert.equal(describe(V.TCP_SYN_V4, 50, 20), 'invalid BAD_BOUNDS len=20');
});

test('addresses are printed in their canonical forms (RFC 5952 for IPv6)', () => {
  assert.equal(formatIpv4(0xc0a80a05), '192.168.10.5');
  assert.equal(formatIpv6([0x20010db8, 0, 0, 1]), '2001:db8::1');
  assert.equal(formatIpv6([0, 0, 0, 0]), '::');
  assert.equal(formatIpv6([0, 0, 0, 1]), '::1');
  assert.equal(
    formatIpv6([0x20010db8, 0x00010000, 0x00010001, 0x00010001]),
    '2001:db8:1:0:1:1:1:1',
  );
  assert.equal(formatIpv6([0x20010db8, 0, 0x00010000, 0]), '2001:db8:0:0:1::');
  assert.equal(formatIpv6([0x20010000, 0, 0x00010000, 0]), '2001::1:0:0:0');
  assert.equal(formatIpv6([0, 0, 0xffff, 0x0a000001]), '::ffff:10.0.0.1');
  assert.equal(formatIpv6([0xfe800000, 0, 0x04bf71ff, 0xfeb2b1cd]), 'fe80::4bf:71ff:feb2:b1cd');
});
