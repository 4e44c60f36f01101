import { test } from 'node:test';
import assert from 'node:assert/strict';
import { read16, read32 } from '../../src/wire/bytes.js';
import { icmpChecksumOk, ipv4HeaderChecksumOk, l4ChecksumOk } from '../../src/wire/checksum.js';
import {
  ICMP_DEST_UNREACH,
  ICMP_ERROR_MAX_V4,
  ICMP_ERROR_MAX_V6,
  ICMP_FRAG_NEEDED,
  ICMP_PARAMETERPROB,
  ICMP_PORT_UNREACH,
  ICMP_TIME_EXCEEDED,
  ICMPV6_DEST_UNREACH,
  ICMPV6_PKT_TOOBIG,
  ICMPV6_PORT_UNREACH,
  ICMPV6_TIME_EXCEED,
  buildIcmpError,
  icmpIsError,
  icmpMtu,
  icmpv6IsError,
  icmpv6Mtu,
} from '../../src/wire/icmp.js';
import { writeIpv4Header } from '../../src/wire/ipv4.js';
import { PacketView, icmpErrorAllowed } from '../../src/wire/packet.js';
import * as V from './vectors.js';
import * as icmp from '../../src/wire/icmp.js';

const SRC4 = Uint32Array.of(0x0a000001, 0, 0, 0); // 10.0.0.1
const SRC6 = Uint32Array.of(0xfd000000, 0, 0, 1); // fd00::1

test('the ICMP port unreachable built for a real DNS query is byte-identical to the one Linux sent', () => {
  const out = new Uint8Array(1500);
  const n = buildIcmpError(out, 0, out.length, V.UDP_DNS_V4, 0, 80, 4, 3, 3, 0, SRC4, 0x9f21);
  assert.equal(n, V.ICMP_PORT_UNREACH_V4.length);
  assert.deepEqual(out.subarray(0, n), V.ICMP_PORT_UNREACH_V4);
  const m = buildIcmpError(out, 0, out.length, V.UDP_NOCSUM_V4, 0, 39, 4, 3, 3, 0, SRC4, 0x9f3a);
  assert.deepEqual(out.subarray(0, m), V.ICMP_PORT_UNREACH_SHORT_V4);
});

test('the ICMPv6 port unreachable built for a real DNS query equals Linux’s apart from the flow label', () => {
  const out = new Uint8Array(1500);
  const n = buildIcmpError(out, 0, out.length, V.UDP_DNS_V6, 0, 100, 6, 1, 4, 0, SRC6);
  const linux = V.ICMPV6_PORT_UNREACH.slice();
  linux[1] = linux[2] = linux[3] = 0; // Linux sets an automatic flow label; tsvs sends 0
  assert.equal(n, linux.length);
  assert.deepEqual(out.subarray(0, n), linux);
});

test('fragmentation needed carries the next-hop MTU in bytes 6-7 and quotes at most 548 bytes', () => {
  const big = new Uint8Array(1500);
  writeIpv4Header(big, 0, 0, 1500, 7, 0x4000, 64, 6, 0x0a000002, 0x0a000364);
  big.set(V.TCP_GET_V4.subarray(20, 60), 20);
  const out = new Uint8Array(2048);
  const n = buildIcmpError(
    out,
    10,
    2000,
    big,
    0,
    1500,
    4,
    ICMP_DEST_UNREACH,
    ICMP_FRAG_NEEDED,
    1480,
    SRC4,
  );
  assert.equal(n, ICMP_ERROR_MAX_V4);
  const pv = new PacketView();
  assert.equal(pv.parse(out, 10, n), 0);
  assert.equal(pv.proto, 1);
  assert.equal(pv.ttl, 64);
  assert.equal(out[10 + 1], 0xc0);
  assert.equal(read16(out, 10 + 6), 0); // DF clear, offset 0
  assert.equal(pv.saddr[0], 0x0a000001);
  assert.equal(pv.daddr[0], 0x0a000002);
  assert.equal(pv.icmpType, 3);
  assert.equal(pv.icmpCode, 4);
  assert.equal(icmpMtu(out, pv.l4off), 1480);
  assert.equal(read16(out, pv.l4off + 4), 0);
  assert.ok(ipv4HeaderChecksumOk(out, 10, 20));
  assert.ok(icmpChecksumOk(out, pv.l4off, pv.l4len));
  assert.ok(pv.l4ChecksumOk());
  const e = new PacketView();
  assert.equal(e.parseEmbedded(out, pv.l4off + 8, pv.l4len - 8), 0);
  assert.equal(e.ipLen, 1500);
  assert.equal(e.l3len, 548);
  assert.equal(e.sport, 58062);
  assert.equal(e.dport, 80);
});

test('time exceeded and parameter problem put their info in the right place', () => {
  const out = new Uint8Array(600);
  let n = buildIcmpError(out, 0, 600, V.TCP_SYN_V4, 0, 60, 4, ICMP_TIME_EXCEEDED, 0, 0, SRC4);
  assert.equal(n, 28 + 60);
  assert.equal(read32(out, 24), 0);
  n = buildIcmpError(out, 0, 600, V.TCP_SYN_V4, 0, 60, 4, ICMP_PARAMETERPROB, 0, 8, SRC4);
  assert.equal(out[24], 8);
  assert.equal(read16(out, 25) | out[27], 0);
  assert.ok(icmpChecksumOk(out, 20, n - 20));
});

test('packet too big carries the 32-bit MTU and a 1280-byte packet is quoted only up to 1280 in total', () => {
  const out = new Uint8Array(2000);
  const n = buildIcmpError(
    out,
    0,
    2000,
    V.ICMPV6_FRAG_FIRST,
    0,
    1280,
    6,
    ICMPV6_PKT_TOOBIG,
    0,
    1400,
    SRC6,
  );
  assert.equal(n, ICMP_ERROR_MAX_V6);
  const pv = new PacketView();
  assert.equal(pv.parse(out, 0, n), 0);
  assert.equal(pv.proto, 58);
  assert.equal(pv.ttl, 64);
  assert.equal(pv.icmpType, 2);
  assert.equal(icmpv6Mtu(out, pv.l4off), 1400);
  assert.deepEqual(Array.from(pv.saddr), Array.from(SRC6));
  assert.deepEqual(Array.from(pv.daddr), [0xfd000000, 0, 0, 2]);
  assert.ok(pv.l4ChecksumOk());
  assert.ok(l4ChecksumOk(out, 6, 8, 24, 58, 40, n - 40));
  const e = new PacketView();
  assert.equal(e.parseEmbedded(out, 48, n - 48), 0);
  assert.equal(e.frag, 1);
  assert.equal(e.l3len, 1232);
});

test('trailing bytes after the original IP length are not quoted', () => {
  const padded = new Uint8Array(100);
  padded.set(V.UDP_NOCSUM_V4);
  const out = new Uint8Array(200);
  assert.equal(buildIcmpError(out, 0, 200, padded, 0, 100, 4, 3, 3, 0, SRC4), 28 + 39);
  const p6 = new Uint8Array(120);
  p6.set(V.UDP_DNS_V6);
  assert.equal(buildIcmpError(out, 0, 200, p6, 0, 120, 6, 1, 4, 0, SRC6), 48 + 100);
});

test('no room for the headers returns 0; a little room truncates the quote', () => {
  const out = new Uint8Array(100);
  assert.equal(buildIcmpError(out, 0, 27, V.UDP_DNS_V4, 0, 80, 4, 3, 3, 0, SRC4), 0);
  assert.equal(buildIcmpError(out, 80, 100, V.UDP_DNS_V4, 0, 80, 4, 3, 3, 0, SRC4), 0); // cap clipped to 20
  assert.equal(buildIcmpError(out, 0, 47, V.UDP_DNS_V6, 0, 100, 6, 1, 4, 0, SRC6), 0);
  const n = buildIcmpError(out, 0, 56, V.UDP_DNS_V4, 0, 80, 4, 3, 3, 0, SRC4);
  assert.equal(n, 56);
  assert.equal(read16(out, 2), 56);
  assert.ok(icmpChecksumOk(out, 20, 36));
});

test('an original of the wrong family or too short is refused', () => {
  const out = new Uint8Array(600);
  assert.equal(buildIcmpError(out, 0, 600, V.UDP_DNS_V6, 0, 100, 4, 3, 3, 0, SRC4), 0);
  assert.equal(buildIcmpError(out, 0, 600, V.UDP_DNS_V4, 0, 80, 6, 1, 4, 0, SRC6), 0);
  assert.equal(buildIcmpError(out, 0, 600, V.UDP_DNS_V4, 0, 19, 4, 3, 3, 0, SRC4), 0);
  assert.equal(buildIcmpError(out, 0, 600, V.UDP_DNS_V4, 0, 81, 4, 3, 3, 0, SRC4), 0);
});

test('building in place over the original (same buffer, overlapping) gives the same bytes', () => {
  for (const [orig, af, src] of [
    [V.UDP_DNS_V4, 4, SRC4],
    [V.UDP_DNS_V6, 6, SRC6],
  ] as const) {
    const ref = new Uint8Array(400);
    const n = buildIcmpError(
      ref,
      0,
      400,
      orig,
      0,
      orig.length,
      af,
      af === 4 ? 3 : 1,
      af === 4 ? 3 : 4,
      0,
      src,
    );
    const buf = new Uint8Array(400);
    buf.set(orig, 0);
    assert.equal(
      buildIcmpError(
        buf,
        0,
        400,
        buf,
        0,
        orig.length,
        af,
        af === 4 ? 3 : 1,
        af === 4 ? 3 : 4,
        0,
        src,
      ),
      n,
    );
    assert.deepEqual(buf.subarray(0, n), ref.subarray(0, n));
    // original after the output position: a forward copy
    const buf2 = new Uint8Array(400);
    buf2.set(orig, 30);
    assert.equal(
      buildIcmpError(
        buf2,
        0,
        400,
        buf2,
        30,
        orig.length,
        af,
        af === 4 ? 3 : 1,
        af === 4 ? 3 : 4,
        0,
        src,
      ),
      n,
    );
    assert.deepEqual(buf2.subarray(0, n), ref.subarray(0, n));
    // two views of one ArrayBuffer
    const ab = new Uint8Array(400);
    ab.set(orig, 10);
    const a = new Uint8Array(ab.buffer, 10);
    const b = new Uint8Array(ab.buffer, 0);
    assert.equal(
      buildIcmpError(b, 0, 390, a, 0, orig.length, af, af === 4 ? 3 : 1, af === 4 ? 3 : 4, 0, src),
      n,
    );
    assert.deepEqual(b.subarray(0, n), ref.subarray(0, n));
  }
});

test('error type predicates', () => {
  for (const t of [3, 4, 5, 11, 12]) assert.ok(icmpIsError(t), `type ${t}`);
  for (const t of [0, 8, 13, 14]) assert.equal(icmpIsError(t), false, `type ${t}`);
  assert.ok(icmpv6IsError(ICMPV6_DEST_UNREACH) && icmpv6IsError(ICMPV6_TIME_EXCEED));
  assert.equal(icmpv6IsError(128), false);
  assert.equal(ICMP_PORT_UNREACH, 3);
  assert.equal(ICMPV6_PORT_UNREACH, 4);
});

test('icmpErrorAllowed: never about ICMP errors, later fragments, multicast or broadcast', () => {
  const pv = new PacketView();
  const allowed = (p: Uint8Array, t: number): boolean => {
    assert.equal(pv.parse(p, 0, p.length), 0);
    return icmpErrorAllowed(pv, t);
  };
  assert.ok(allowed(V.TCP_SYN_V4, 3));
  assert.ok(allowed(V.ICMP_ECHO_RR_V4, 3)); // echo request is informational
  assert.equal(allowed(V.ICMP_PORT_UNREACH_V4, 3), false);
  assert.equal(allowed(V.ICMP_FRAG_LAST_V4, 11), false);
  assert.ok(allowed(V.ICMP_FRAG_FIRST_V4, 11));
  const mc = V.UDP_DNS_V4.slice();
  mc[16] = 239;
  assert.equal(allowed(mc, 3), false);
  const bc = V.UDP_DNS_V4.slice();
  bc.fill(255, 16, 20);
  assert.equal(allowed(bc, 3), false);
  const zs = V.UDP_DNS_V4.slice();
  zs.fill(0, 12, 16);
  assert.equal(allowed(zs, 3), false);
  assert.ok(allowed(V.UDP_DNS_V6, 1));
  assert.equal(allowed(V.ICMPV6_PORT_UNREACH, 1), false);
  assert.ok(allowed(V.ICMPV6_FRAG_FIRST, 2)); // echo request
  const m6 = V.UDP_DNS_V6.slice();
  m6[24] = 0xff;
  assert.equal(allowed(m6, 1), false);
  assert.ok(allowed(m6, 2)); // packet too big may answer multicast (RFC 4443 §2.4(e))
  const u6 = V.UDP_DNS_V6.slice();
  u6.fill(0, 8, 24);
  assert.equal(allowed(u6, 2), false);
  pv.parse(V.UDP_DNS_V4, 0, 10);
  assert.equal(icmpErrorAllowed(pv, 3), false);
});

test('ICMP accessors on real packets', () => {
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
