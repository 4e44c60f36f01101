import { test } from 'node:test';
import assert from 'node:assert/strict';
import { read16, write16 } from '../../src/wire/bytes.js';
import { ipv4HeaderChecksumOk } from '../../src/wire/checksum.js';
import { Frag, PacketView, ParseError, parseErrorName } from '../../src/wire/packet.js';
import * as V from './vectors.js';

const pv = new PacketView();

function parseOk(p: Uint8Array, off = 0, len = p.length): PacketView {
  const e = pv.parse(p, off, len);
  assert.equal(e, 0, `parse: ${parseErrorName(e)}`);
  return pv;
}

test('a real IPv4 TCP SYN with options parses to its addresses, ports, seq, flags and lengths', () => {
  const v = parseOk(V.TCP_SYN_V4);
  assert.equal(v.af, 4);
  assert.equal(v.l3off, 0);
  assert.equal(v.l3len, 60);
  assert.equal(v.ihl, 20);
  assert.equal(v.proto, 6);
  assert.equal(v.ttl, 64);
  assert.deepEqual(Array.from(v.saddr), [0x0a000002, 0, 0, 0]);
  assert.deepEqual(Array.from(v.daddr), [0x0a000001, 0, 0, 0]);
  assert.equal(v.saddrOff, 12);
  assert.equal(v.daddrOff, 16);
  assert.equal(v.l4off, 20);
  assert.equal(v.l4len, 40);
  assert.equal(v.hasPorts, true);
  assert.equal(v.sport, 58062);
  assert.equal(v.dport, 80);
  assert.equal(v.seq, 506968795);
  assert.equal(v.ack, 0);
  assert.equal(v.tcpFlags, 0x02);
  assert.equal(v.tcpDoff, 40);
  assert.equal(v.csumOff, 36);
  assert.equal(v.payloadOff, 60);
  assert.equal(v.payloadLen, 0);
  assert.equal(v.frag, Frag.NONE);
  assert.equal(v.fragOff, -1);
  assert.equal(v.icmpType, -1);
});

test('a real IPv4 TCP segment with data reports its payload after the options', () => {
  const v = parseOk(V.TCP_GET_V4);
  assert.equal(v.seq, 506968796);
  assert.equal(v.ack, 472493873);
  assert.equal(v.tcpFlags, 0x18);
  assert.equal(v.tcpDoff, 32);
  assert.equal(v.payloadOff, 52);
  assert.equal(v.payloadLen, 72);
  assert.equal(String.fromCharCode(...V.TCP_GET_V4.subarray(52, 66)), 'GET / HTTP/1.1');
});

test('a SYN-ACK with seq and ack above 2^31 reads them as unsigned', () => {
  const p = V.TCP_SYNACK_V4.slice();
  p.set([0xfe, 0xdc, 0xba, 0x98, 0x87, 0x65, 0x43, 0x21], 24);
  const v = parseOk(p);
  assert.equal(v.seq, 0xfedcba98);
  assert.equal(v.ack, 0x87654321);
});

test('a real IPv6 TCP SYN parses with four-word addresses', () => {
  const v = parseOk(V.TCP_SYN_V6);
  assert.equal(v.af, 6);
  assert.equal(v.ihl, 40);
  assert.equal(v.l3len, 80);
  assert.equal(v.proto, 6);
  assert.equal(v.ttl, 64);
  assert.deepEqual(Array.from(v.saddr), [0xfd000000, 0, 0, 2]);
  assert.deepEqual(Array.from(v.daddr), [0xfd000000, 0, 0, 1]);
  assert.equal(v.saddrOff, 8);
  assert.equal(v.daddrOff, 24);
  assert.equal(v.l4off, 40);
  assert.equal(v.sport, 51410);
  assert.equal(v.dport, 80);
  assert.equal(v.seq, 3809301624);
  assert.equal(v.tcpFlags, 0x02);
  assert.equal(v.csumOff, 56);
});

test('real UDP DNS queries over IPv4 and IPv6 parse to ports and payload', () => {
  let v = parseOk(V.UDP_DNS_V4);
  assert.equal(v.proto, 17);
  assert.equal(v.sport, 42793);
  assert.equal(v.dport, 53);
  assert.equal(v.csumOff, 26);
  assert.equal(v.payloadOff, 28);
  assert.equal(v.payloadLen, 52);
  v = parseOk(V.UDP_DNS_V6);
  assert.equal(v.sport, 57334);
  assert.equal(v.dport, 53);
  assert.equal(v.l4off, 40);
  assert.equal(v.payloadLen, 52);
});

test('an IPv4 header with 40 bytes of options (record route) puts L4 at 60', () => {
  const v = parseOk(V.ICMP_ECHO_RR_V4);
  assert.equal(v.ihl, 60);
  assert.equal(v.l4off, 60);
  assert.equal(v.l4len, 64);
  assert.equal(v.proto, 1);
  assert.equal(v.icmpType, 8);
  assert.equal(v.icmpCode, 0);
  assert.equal(v.csumOff, 62);
  assert.equal(v.hasPorts, false);
});

test('IPv4 fragments: the first has its L4 header, a later one has none', () => {
  let v = parseOk(V.ICMP_FRAG_FIRST_V4);
  assert.equal(v.frag, Frag.FIRST);
  assert.equal(v.icmpType, 8);
  assert.equal(v.l3len, 292);
  v = parseOk(V.ICMP_FRAG_LAST_V4);
  assert.equal(v.frag, Frag.LATER);
  assert.equal(v.proto, 1);
  assert.equal(v.l4off, 20);
  assert.equal(v.l4len, 36);
  assert.equal(v.icmpType, -1);
  assert.equal(v.csumOff, -1);
  assert.equal(v.fragOff, -1);
});

test('a later IPv4 fragment of TCP is not checked for a TCP header and has no ports', () => {
  const p = V.TCP_SYN_V4.slice();
  write16(p, 6, 0x0003); // offset 24 bytes, DF cleared
  p[20 + 12] = 0x10; // garbage data offset must not matter
  const v = parseOk(p);
  assert.equal(v.frag, Frag.LATER);
  assert.equal(v.hasPorts, false);
  assert.equal(v.sport, 0);
});

test('IPv6 fragments from a real 1280-MTU path: first parses the ICMPv6 header, later stops at the fragment header', () => {
  let v = parseOk(V.ICMPV6_FRAG_FIRST);
  assert.equal(v.frag, Frag.FIRST);
  assert.equal(v.fragOff, 40);
  assert.equal(v.proto, 58);
  assert.equal(v.l4off, 48);
  assert.equal(v.l4len, 1232);
  assert.equal(v.icmpType, 128);
  v = parseOk(V.ICMPV6_FRAG_LAST);
  assert.equal(v.frag, Frag.LATER);
  assert.equal(v.fragOff, 40);
  assert.equal(v.proto, 58);
  assert.equal(v.l4off, 48);
  assert.equal(v.l4len, 26);
  assert.equal(v.icmpType, -1);
});

test('real IPv6 hop-by-hop and destination options headers are walked to UDP', () => {
  const v = parseOk(V.UDP_HBH_DST_V6);
  assert.equal(v.proto, 17);
  assert.equal(v.l4off, 64);
  assert.equal(v.l4len, 17);
  assert.equal(v.sport, 59051);
  assert.equal(v.dport, 9999);
  assert.equal(v.payloadLen, 9);
  assert.equal(String.fromCharCode(...V.UDP_HBH_DST_V6.subarray(v.payloadOff)), 'hello-ext');
  assert.ok(v.l4ChecksumOk());
});

test('bytes after the IP length (Ethernet padding) are ignored and a non-zero offset works', () => {
  const buf = new Uint8Array(14 + V.UDP_NOCSUM_V4.length + 7).fill(0xee);
  buf.set(V.UDP_NOCSUM_V4, 14);
  const v = parseOk(buf, 14, buf.length - 14);
  assert.equal(v.l3off, 14);
  assert.equal(v.l3len, 39);
  assert.equal(v.l4off, 34);
  assert.equal(v.l4len, 19);
  assert.equal(v.saddrOff, 26);
  assert.equal(v.payloadLen, 11);
  assert.equal(v.sport, 36050);
  assert.ok(v.l4ChecksumOk());
});

test('an unknown protocol (GRE) parses with l4off set and no ports', () => {
  const p = V.UDP_DNS_V4.slice();
  p[9] = 47;
  const v = parseOk(p);
  assert.equal(v.proto, 47);
  assert.equal(v.l4off, 20);
  assert.equal(v.l4len, 60);
  assert.equal(v.hasPorts, false);
  assert.equal(v.csumOff, -1);
  assert.equal(v.payloadOff, 20);
  assert.equal(v.payloadLen, 60);
});

test('SCTP ports are read from its common header', () => {
  const p = V.UDP_DNS_V4.slice();
  p[9] = 132;
  const v = parseOk(p);
  assert.equal(v.hasPorts, true);
  assert.equal(v.sport, 42793);
  assert.equal(v.payloadOff, 32);
  assert.equal(v.csumOff, -1);
});

test('malformed IPv4 headers give named errors', () => {
  const cases: [string, (p: Uint8Array) => Uint8Array, number][] = [
    ['no bytes', (p) => p.subarray(0, 0), ParseError.TRUNCATED_L3],
    ['19 bytes', (p) => p.subarray(0, 19), ParseError.TRUNCATED_L3],
    ['version 5', (p) => ((p[0] = 0x55), p), ParseError.BAD_VERSION],
    ['version 0', (p) => ((p[0] = 0x05), p), ParseError.BAD_VERSION],
    ['IHL 4', (p) => ((p[0] = 0x44), p), ParseError.BAD_IHL],
    ['IHL 0', (p) => ((p[0] = 0x40), p), ParseError.BAD_IHL],
    ['total length > bytes', (p) => (write16(p, 2, 61), p), ParseError.BAD_TOTAL_LENGTH],
    ['total length < IHL', (p) => (write16(p, 2, 19), p), ParseError.BAD_TOTAL_LENGTH],
    [
      'IHL > total length',
      (p) => ((p[0] = 0x4f), write16(p, 2, 40), p),
      ParseError.BAD_TOTAL_LENGTH,
    ],
    ['cut in the options', (p) => ((p[0] = 0x4f), p.subarray(0, 50)), ParseError.BAD_TOTAL_LENGTH],
    ['TCP cut at 19 bytes', (p) => (write16(p, 2, 39), p), ParseError.TRUNCATED_L4],
    ['TCP data offset 4 words', (p) => ((p[32] = 0x40), p), ParseError.BAD_TCP_DOFF],
    ['TCP data offset beyond segment', (p) => ((p[32] = 0xb0), p), ParseError.BAD_TCP_DOFF],
    ['UDP of 7 bytes', (p) => ((p[9] = 17), write16(p, 2, 27), p), ParseError.TRUNCATED_L4],
    ['ICMP of 7 bytes', (p) => ((p[9] = 1), write16(p, 2, 27), p), ParseError.TRUNCATED_L4],
    ['SCTP of 11 bytes', (p) => ((p[9] = 132), write16(p, 2, 31), p), ParseError.TRUNCATED_L4],
  ];
  for (const [what, mutate, code] of cases) {
    const p = mutate(V.TCP_SYN_V4.slice());
    assert.equal(parseErrorName(pv.parse(p, 0, p.length)), parseErrorName(code), what);
    assert.equal(pv.err, code, what);
  }
  // TCP data offset exactly the segment (60 bytes of header, no payload) is fine
  const p = V.TCP_SYN_V4.slice();
  p[32] = 0xa0;
  assert.equal(pv.parse(p, 0, p.length), 0);
});

test('malformed IPv6 packets give named errors', () => {
  const cut = V.TCP_SYN_V6.subarray(0, 39);
  assert.equal(pv.parse(cut, 0, cut.length), ParseError.TRUNCATED_L3);
  let p = V.TCP_SYN_V6.slice();
  write16(p, 4, 41);
  assert.equal(pv.parse(p, 0, p.length), ParseError.BAD_TOTAL_LENGTH);
  p = V.TCP_SYN_V6.slice();
  write16(p, 4, 19);
  assert.equal(pv.parse(p, 0, p.length), ParseError.TRUNCATED_L4);
  p = V.TCP_SYN_V6.slice();
  p[52] = 0x30;
  assert.equal(pv.parse(p, 0, p.length), ParseError.BAD_TCP_DOFF);
  p = V.UDP_DNS_V6.slice();
  write16(p, 4, 5);
  assert.equal(pv.parse(p, 0, p.length), ParseError.TRUNCATED_L4);
});

test('out-of-range offsets and lengths are BAD_BOUNDS, never an exception', () => {
  const p = V.TCP_SYN_V4;
  const bad: [number, number][] = [
    [0, p.length + 1],
    [-1, 10],
    [1, p.length],
    [0.5, 20],
    [0, 20.5],
    [NaN, 20],
    [0, Infinity],
    [2 ** 32, 0],
  ];
  for (const [off, len] of bad)
    assert.equal(pv.parse(p, off, len), ParseError.BAD_BOUNDS, `${off},${len}`);
  assert.equal(pv.parse(p, p.length, 0), ParseError.TRUNCATED_L3);
});

test('every error code has a name and unknown codes are labelled', () => {
  for (const [name, code] of Object.entries(ParseError)) assert.equal(parseErrorName(code), name);
  assert.equal(parseErrorName(99), 'UNKNOWN(99)');
  assert.equal(new Set(Object.values(ParseError)).size, Object.keys(ParseError).length);
});

test('reusing one view: an IPv4 parse after an IPv6 one clears the upper address words and old ports', () => {
  const v = new PacketView();
  v.parse(V.TCP_SYN_V6, 0, V.TCP_SYN_V6.length);
  v.parse(V.ICMP_ECHO_RR_V4, 0, V.ICMP_ECHO_RR_V4.length);
  assert.deepEqual(Array.from(v.saddr), [0x0a000002, 0, 0, 0]);
  assert.equal(v.sport, 0);
  assert.equal(v.hasPorts, false);
  assert.equal(v.tcpFlags, 0);
  assert.equal(v.fragOff, -1);
});

test('an ICMP port unreachable quoting a whole UDP query: parseEmbedded finds the original flow', () => {
  const outer = parseOk(V.ICMP_PORT_UNREACH_V4);
  assert.equal(outer.icmpType, 3);
  assert.equal(outer.icmpCode, 3);
  assert.equal(outer.l4len, 88);
  const e = new PacketView();
  assert.equal(e.parseEmbedded(outer.buf, outer.l4off + 8, outer.l4len - 8), 0);
  assert.equal(e.embedded, true);
  assert.equal(e.af, 4);
  assert.equal(e.l3off, 28);
  assert.equal(e.proto, 17);
  assert.deepEqual(Array.from(e.saddr), [0x0a000002, 0, 0, 0]);
  assert.deepEqual(Array.from(e.daddr), [0x0a000001, 0, 0, 0]);
  assert.equal(e.saddrOff, 40);
  assert.equal(e.sport, 42793);
  assert.equal(e.dport, 53);
  assert.equal(e.ipLen, 80);
  assert.equal(e.l3len, 80);
  assert.equal(e.csumOff, 28 + 20 + 6);
  assert.ok(ipv4HeaderChecksumOk(e.buf, e.l3off, e.ihl));
});

test('an ICMPv6 port unreachable quoting a UDP query: parseEmbedded finds the original flow', () => {
  const outer = parseOk(V.ICMPV6_PORT_UNREACH);
  assert.equal(outer.icmpType, 1);
  assert.equal(outer.icmpCode, 4);
  const e = new PacketView();
  assert.equal(e.parseEmbedded(outer.buf, outer.l4off + 8, outer.l4len - 8), 0);
  assert.equal(e.af, 6);
  assert.equal(e.proto, 17);
  assert.deepEqual(Array.from(e.saddr), [0xfd000000, 0, 0, 2]);
  assert.equal(e.sport, 57334);
  assert.equal(e.dport, 53);
});

test('a short quote (IP header + 8 bytes, as RFC 792 requires) is enough; the claimed length is kept', () => {
  const e = new PacketView();
  const q = V.TCP_GET_V4.subarray(0, 28);
  assert.equal(e.parseEmbedded(q, 0, 28), 0);
  assert.equal(e.ipLen, 124);
  assert.equal(e.l3len, 28);
  assert.equal(e.l4len, 8);
  assert.equal(e.sport, 58062);
  assert.equal(e.dport, 80);
  assert.equal(e.seq, 506968796);
  assert.equal(e.ack, 0); // not quoted
  assert.equal(e.tcpFlags, 0);
  assert.equal(e.csumOff, -1);
  // the same bytes are not a valid packet on their own
  assert.equal(pv.parse(q, 0, 28), ParseError.BAD_TOTAL_LENGTH);
});

test('a quote cut before the ports reports TRUNCATED_L4 with the addresses, cut in the IP header TRUNCATED_L3', () => {
  const e = new PacketView();
  assert.equal(e.parseEmbedded(V.UDP_DNS_V4, 0, 23), ParseError.TRUNCATED_L4);
  assert.equal(e.proto, 17);
  assert.equal(e.daddr[0], 0x0a000001);
  assert.equal(e.hasPorts, false);
  assert.equal(e.parseEmbedded(V.UDP_DNS_V4, 0, 24), 0);
  assert.equal(e.hasPorts, true);
  assert.equal(e.csumOff, -1);
  assert.equal(e.parseEmbedded(V.UDP_DNS_V4, 0, 12), ParseError.TRUNCATED_L3);
  assert.equal(e.parseEmbedded(V.ICMP_ECHO_RR_V4, 0, 40), ParseError.TRUNCATED_L3); // options cut
  assert.equal(e.parseEmbedded(V.TCP_SYN_V6, 0, 30), ParseError.TRUNCATED_L3);
  assert.equal(e.parseEmbedded(V.UDP_HBH_DST_V6, 0, 50), ParseError.TRUNCATED_L3); // in the DO header
  assert.equal(e.parseEmbedded(V.UDP_HBH_DST_V6, 0, 66), ParseError.TRUNCATED_L4);
  assert.equal(e.parseEmbedded(V.UDP_HBH_DST_V6, 0, 68), 0);
  assert.equal(e.dport, 9999);
});

test('an embedded later fragment parses without ports', () => {
  const e = new PacketView();
  assert.equal(e.parseEmbedded(V.ICMP_FRAG_LAST_V4, 0, 28), 0);
  assert.equal(e.frag, Frag.LATER);
  assert.equal(e.hasPorts, false);
});

test('setSeq/setAck rewrite the header and keep the TCP checksum valid; partial fields are left alone', () => {
  const p = V.TCP_GET_V4.slice();
  const v = parseOk(p);
  v.setSeq(v.seq + 1000);
  v.setAck(0xfffffff0);
  assert.equal(v.seq, 506969796);
  assert.equal(v.ack, 0xfffffff0);
  const again = new PacketView();
  assert.equal(again.parse(p, 0, p.length), 0);
  assert.equal(again.seq, 506969796);
  assert.equal(again.ack, 0xfffffff0);
  assert.ok(again.l4ChecksumOk());
  const q = V.TCP_SYN_PARTIAL_V4.slice();
  const w = parseOk(q);
  w.setSeq(7, false);
  assert.equal(read16(q, 36), 0xfe30);
  // not TCP: no effect
  const u = V.UDP_DNS_V4.slice();
  parseOk(u).setSeq(5);
  assert.deepEqual(u, V.UDP_DNS_V4);
});

test('resize updates IP, UDP lengths and the IPv4 header checksum after a helper grew the payload', () => {
  const buf = new Uint8Array(200);
  buf.set(V.UDP_DNS_V4);
  const v = parseOk(buf, 0, 80);
  v.resize(5);
  assert.equal(v.l3len, 85);
  assert.equal(v.l4len, 65);
  assert.equal(v.payloadLen, 57);
  assert.equal(read16(buf, 2), 85);
  assert.equal(read16(buf, 24), 65);
  assert.ok(ipv4HeaderChecksumOk(buf, 0, 20));
  assert.equal(new PacketView().parse(buf, 0, 200), 0);
  const b6 = new Uint8Array(200);
  b6.set(V.TCP_SYN_V6);
  const w = parseOk(b6, 0, 80);
  w.resize(-4);
  assert.equal(read16(b6, 4), 36);
  assert.equal(w.l3len, 76);
});
