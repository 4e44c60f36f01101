import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  csumApplyDiff,
  csumDiff16,
  csumDiff32,
  csumReplace16,
  csumReplace32,
  finishSum,
  fold16,
  icmpChecksumFill,
  icmpChecksumOk,
  ipv4HeaderChecksum,
  ipv4HeaderChecksumOk,
  l4ChecksumFill,
  l4ChecksumOk,
  l4PartialFill,
  partialApplyDiff,
  partialReplace16,
  partialReplace32,
  pseudoSum,
  sumBytes,
} from '../../src/wire/checksum.js';
import { read16, read32, write16, write32 } from '../../src/wire/bytes.js';
import { ipv4DecTtl } from '../../src/wire/ipv4.js';
import { PacketView } from '../../src/wire/packet.js';
import { Rng, naiveChecksum, naiveFold, naivePseudoHeader } from './rand.js';
import * as V from './vectors.js';

/** Folded sum as the reference computes it, over `buf[off..off+len)`. */
function refFold(buf: Uint8Array, off: number, len: number): number {
  return naiveFold(Array.from(buf.subarray(off, off + len)));
}

test('sumBytes folds to the reference sum on 5000 random buffers of odd and even lengths', () => {
  const rng = new Rng(1);
  for (let n = 0; n < 5000; n++) {
    const size = 1 + rng.int(1600);
    const buf = rng.bytes(size);
    const off = rng.int(size);
    const len = rng.int(size - off + 1);
    assert.equal(
      fold16(sumBytes(buf, off, len)),
      refFold(buf, off, len),
      `size ${size} off ${off} len ${len}`,
    );
  }
});

test('sumBytes accumulates: summing two ranges equals summing their concatenation when the split is even', () => {
  const rng = new Rng(2);
  for (let n = 0; n < 2000; n++) {
    const buf = rng.bytes(2 + rng.int(700));
    const split = 2 * rng.int(Math.floor(buf.length / 2) + 1);
    const a = sumBytes(buf, 0, split);
    assert.equal(fold16(sumBytes(buf, split, buf.length - split, a)), refFold(buf, 0, buf.length));
  }
});

test('sumBytes stays exact with a huge accumulator and ignores bytes past the end of the array', () => {
  const buf = Uint8Array.of(0xff, 0xff, 0x12, 0x34, 0x56);
  const big = 2 ** 52 + 12345;
  // 2^52 ≡ 2^(52 mod 16) = 2^4 (mod 0xffff) because 2^16 ≡ 1.
  const expect = naiveFold([0xff, 0xff, 0x12, 0x34, 0x56], [16, 12345]);
  assert.equal(fold16(sumBytes(buf, 0, 5, big)), expect);
  assert.equal(sumBytes(buf, 3, 100), 0x3456);
  assert.equal(sumBytes(buf, 4, 100), 0x5600); // odd trailing byte padded with zero
  assert.ok(Number.isFinite(sumBytes(buf, -4, 10)));
});

test('fold16 keeps the one’s-complement value: result ≡ input (mod 0xffff), in 1..0xffff for non-zero input', () => {
  const rng = new Rng(3);
  assert.equal(fold16(0), 0);
  for (let n = 0; n < 5000; n++) {
    const x = rng.u32() * 2 ** rng.int(21) + rng.u32();
    const f = fold16(x);
    assert.ok(f >= 1 && f <= 0xffff, `fold16(${x}) = ${f}`);
    assert.equal(f % 0xffff, x % 0xffff);
  }
  assert.equal(fold16(0xffff), 0xffff);
  assert.equal(fold16(0x1fffe), 0xffff);
  assert.equal(finishSum(0xffff), 0);
  assert.equal(finishSum(0), 0xffff);
});

test('pseudoSum equals the reference over an explicitly built IPv4 and IPv6 pseudo-header', () => {
  const rng = new Rng(4);
  for (let n = 0; n < 2000; n++) {
    const v6 = (n & 1) === 1;
    const alen = v6 ? 16 : 4;
    const buf = rng.bytes(2 * alen + 7);
    const so = 3;
    const dof = 3 + alen;
    const proto = rng.int(256);
    const l4len = v6 ? rng.u32() : rng.int(65536);
    const ph = naivePseudoHeader(
      buf.subarray(so, so + alen),
      buf.subarray(dof, dof + alen),
      proto,
      l4len,
    );
    assert.equal(fold16(pseudoSum(buf, so, dof, alen, proto, l4len)), naiveFold(ph));
  }
});

test('csumReplace16/32 on a random header equal a full recomputation (3000 rewrites)', () => {
  const rng = new Rng(5);
  for (let n = 0; n < 3000; n++) {
    const len = 2 * (4 + rng.int(40)) + (n & 1); // odd and even lengths
    const buf = rng.bytes(len);
    // checksum field in the first half, rewritten word in the second: never overlapping
    const half = 2 * Math.floor(len / 4);
    const co = 2 * rng.int(half / 2);
    const wo = half + 2 * rng.int(Math.floor((len - half - 4) / 2) + 1);
    write16(buf, co, 0);
    write16(buf, co, naiveChecksum(Array.from(buf)));
    const check = read16(buf, co);
    let updated: number;
    if (n % 2 === 0) {
      const old = read32(buf, wo);
      const nv = rng.u32();
      write32(buf, wo, nv);
      updated = csumReplace32(check, old, nv);
    } else {
      const old = read16(buf, wo);
      const nv = rng.int(65536);
      write16(buf, wo, nv);
      updated = csumReplace16(check, old, nv);
    }
    write16(buf, co, 0);
    assert.equal(updated, naiveChecksum(Array.from(buf)), `case ${n}`);
  }
});

test('one accumulated diff for four address words and a port equals a full recomputation (IPv6 NAT)', () => {
  const rng = new Rng(6);
  for (let n = 0; n < 1000; n++) {
    const pkt = V.TCP_SYN_V6.slice();
    const pv = new PacketView();
    assert.equal(pv.parse(pkt, 0, pkt.length), 0);
    const check = read16(pkt, pv.csumOff);
    let diff = 0;
    for (let i = 0; i < 4; i++) {
      const nw = rng.u32();
      diff = csumDiff32(diff, pv.daddr[i], nw);
      write32(pkt, pv.daddrOff + 4 * i, nw);
    }
    const np = rng.int(65536);
    diff = csumDiff16(diff, pv.dport, np);
    write16(pkt, pv.l4off + 2, np);
    write16(pkt, pv.csumOff, csumApplyDiff(check, diff));
    assert.ok(l4ChecksumOk(pkt, 6, pv.saddrOff, pv.daddrOff, 6, pv.l4off, pv.l4len), `case ${n}`);
  }
});

test('DNAT of a real IPv4 SYN with RFC 1624 updates matches recomputed IP and TCP checksums', () => {
  const pkt = V.TCP_SYN_V4.slice();
  const oldDst = read32(pkt, 16);
  const newDst = 0xc0a80a05; // 192.168.10.5
  write32(pkt, 16, newDst);
  write16(pkt, 10, csumReplace32(read16(pkt, 10), oldDst, newDst));
  let tc = csumReplace32(read16(pkt, 36), oldDst, newDst);
  tc = csumReplace16(tc, 80, 8080);
  write16(pkt, 22, 8080);
  write16(pkt, 36, tc);
  const ip = read16(pkt, 10);
  const tcpc = read16(pkt, 36);
  assert.equal(ipv4HeaderChecksum(pkt, 0, 20), ip);
  assert.ok(l4ChecksumOk(pkt, 4, 12, 16, 6, 20, 40));
  assert.equal(l4ChecksumFill(pkt, 4, 12, 16, 6, 20, 40), tcpc);
});

test('partialReplace32/16 equal the recomputed pseudo-header sum after address and length changes', () => {
  const rng = new Rng(7);
  for (let n = 0; n < 3000; n++) {
    const v6 = (n & 1) === 1;
    const alen = v6 ? 16 : 4;
    const buf = rng.bytes(2 * alen);
    const proto = n % 3 === 0 ? 17 : 6;
    const l4len = rng.int(65536);
    let field = fold16(pseudoSum(buf, 0, alen, alen, proto, l4len));
    // rewrite one address word
    const wo = 4 * rng.int((2 * alen) / 4);
    const old = read32(buf, wo);
    const nv = rng.u32();
    write32(buf, wo, nv);
    field = partialReplace32(field, old, nv);
    // and change the length (16 bits: the IPv4 pseudo-header field, IPv6 low half)
    const nlen = rng.int(65536);
    field = partialReplace16(field, l4len, nlen);
    assert.equal(field, fold16(pseudoSum(buf, 0, alen, alen, proto, nlen)), `case ${n}`);
    assert.equal(partialApplyDiff(field, 0), field);
  }
});

test('a real CHECKSUM_PARTIAL SYN holds the pseudo-header sum; summing the segment over it gives the final checksum', () => {
  const pkt = V.TCP_SYN_PARTIAL_V4.slice();
  assert.equal(read16(pkt, 36), 0xfe30);
  assert.equal(fold16(pseudoSum(pkt, 12, 16, 4, 6, 40)), 0xfe30);
  assert.equal(l4PartialFill(pkt, 4, 12, 16, 6, 20, 40), 0xfe30);
  assert.equal(l4ChecksumOk(pkt, 4, 12, 16, 6, 20, 40), false);
  // what the offload engine does: sum from the header start with the field as stored
  write16(pkt, 36, finishSum(sumBytes(pkt, 20, 40)));
  assert.ok(l4ChecksumOk(pkt, 4, 12, 16, 6, 20, 40));
  // tcpdump reported the correct checksum as 0xb189
  assert.equal(read16(pkt, 36), 0xb189);
});

test('NAT on a partial packet: partial updates then offload completion give a valid checksum', () => {
  const pkt = V.TCP_SYN_PARTIAL_V4.slice();
  const old = read32(pkt, 16);
  const nv = 0x0a000305;
  write32(pkt, 16, nv);
  write16(pkt, 36, partialReplace32(read16(pkt, 36), old, nv));
  write16(pkt, 22, 8081); // ports are summed by the "hardware", not patched
  write16(pkt, 36, finishSum(sumBytes(pkt, 20, 40)));
  assert.ok(l4ChecksumOk(pkt, 4, 12, 16, 6, 20, 40));
});

test('IPv4 header checksums of real packets (with and without options) verify and recompute to the stored value', () => {
  for (const [name, p] of Object.entries(V)) {
    if (!(p instanceof Uint8Array) || p[0] >>> 4 !== 4) continue;
    const ihl = (p[0] & 15) * 4;
    assert.ok(ipv4HeaderChecksumOk(p, 0, ihl), name);
    const c = p.slice();
    assert.equal(ipv4HeaderChecksum(c, 0, ihl), read16(p, 10), name);
    c[8] ^= 1;
    assert.equal(ipv4HeaderChecksumOk(c, 0, ihl), false, name);
  }
});

test('ipv4DecTtl patches the header checksum exactly like a recomputation', () => {
  const rng = new Rng(8);
  for (let n = 0; n < 500; n++) {
    const p = V.ICMP_ECHO_RR_V4.slice();
    p[8] = 1 + rng.int(255);
    p[1] = rng.int(256);
    ipv4HeaderChecksum(p, 0, 60);
    const ttl = ipv4DecTtl(p, 0);
    assert.equal(ttl, p[8]);
    const c = read16(p, 10);
    assert.equal(ipv4HeaderChecksum(p, 0, 60), c);
  }
});

test('L4 checksums of real TCP, UDP, ICMP and ICMPv6 packets verify and refill to the captured bytes', () => {
  const pv = new PacketView();
  const names = [
    'TCP_SYN_V4',
    'TCP_SYNACK_V4',
    'TCP_GET_V4',
    'TCP_SYN_V6',
    'UDP_DNS_V4',
    'UDP_DNS_V6',
    'UDP_HBH_DST_V6',
    'ICMP_PORT_UNREACH_V4',
    'ICMPV6_PORT_UNREACH',
    'ICMP_ECHO_RR_V4',
  ] as const;
  for (const name of names) {
    const p = V[name].slice();
    assert.equal(pv.parse(p, 0, p.length), 0, name);
    assert.ok(pv.l4ChecksumOk(), name);
    const stored = read16(p, pv.csumOff);
    write16(p, pv.csumOff, 0x1234);
    assert.equal(pv.l4ChecksumOk(), false, name);
    assert.equal(pv.l4ChecksumFill(), stored, name);
    assert.deepEqual(p, V[name], name);
  }
});

test('a flipped payload bit fails TCP and UDP verification', () => {
  const pv = new PacketView();
  for (const p0 of [V.TCP_GET_V4, V.UDP_DNS_V6]) {
    const p = p0.slice();
    pv.parse(p, 0, p.length);
    p[p.length - 3] ^= 0x40;
    assert.equal(pv.l4ChecksumOk(), false);
  }
});

test('UDP checksum 0 means none on IPv4 but fails on IPv6', () => {
  const pv = new PacketView();
  const p = V.UDP_NOCSUM_V4.slice();
  assert.equal(pv.parse(p, 0, p.length), 0);
  assert.equal(read16(p, pv.csumOff), 0);
  assert.ok(pv.l4ChecksumOk());
  const q = V.UDP_DNS_V6.slice();
  pv.parse(q, 0, q.length);
  write16(q, pv.csumOff, 0);
  assert.equal(pv.l4ChecksumOk(), false);
});

test('a UDP checksum that computes to 0 is written as 0xFFFF and still verifies', () => {
  const pv = new PacketView();
  for (const p0 of [V.UDP_DNS_V4, V.UDP_DNS_V6]) {
    const p = p0.slice();
    pv.parse(p, 0, p.length);
    write16(p, pv.csumOff, 0);
    const c = finishSum(
      pseudoSum(p, pv.saddrOff, pv.daddrOff, pv.af === 4 ? 4 : 16, 17, pv.l4len) +
        sumBytes(p, pv.l4off, pv.l4len),
    );
    // add c to one payload word so the folded sum becomes 0xffff (checksum 0)
    const wo = pv.payloadOff;
    write16(p, wo, fold16(read16(p, wo) + c));
    assert.equal(pv.l4ChecksumFill(), 0xffff);
    assert.equal(read16(p, pv.csumOff), 0xffff);
    assert.ok(pv.l4ChecksumOk());
    // the same packet through the TCP rules would have stored 0
    assert.equal(
      finishSum(
        pseudoSum(p, pv.saddrOff, pv.daddrOff, pv.af === 4 ? 4 : 16, 17, pv.l4len) +
          sumBytes(p, pv.l4off, pv.l4len) -
          0xffff,
      ),
      0,
    );
  }
});

test('ICMPv4 checksum has no pseudo-header; unknown protocols and short segments are refused', () => {
  const p = V.ICMP_PORT_UNREACH_V4.slice();
  assert.ok(icmpChecksumOk(p, 20, 88));
  assert.equal(naiveFold(Array.from(p.subarray(20))), 0xffff);
  write16(p, 22, 0);
  assert.equal(icmpChecksumFill(p, 20, 88), read16(V.ICMP_PORT_UNREACH_V4, 22));
  assert.equal(icmpChecksumOk(p, 20, 3), false);
  assert.equal(icmpChecksumFill(p, 20, 3), -1);
  assert.equal(l4ChecksumOk(p, 4, 12, 16, 47, 20, 88), false);
  assert.equal(l4ChecksumFill(p, 4, 12, 16, 47, 20, 88), -1);
  assert.equal(l4ChecksumFill(p, 4, 12, 16, 6, 20, 17), -1); // TCP field would be cut
  assert.equal(l4ChecksumOk(p, 4, 12, 16, 17, 20, 1000), false); // beyond the buffer
  assert.equal(l4PartialFill(p, 4, 12, 16, 1, 20, 88), -1);
});
