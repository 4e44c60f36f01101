import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipv4HeaderChecksumOk, fold16, sumBytes } from '../../src/wire/checksum.js';
import * as gre from '../../src/wire/gre.js';
import { IPV4_HLEN, ipv4Proto, writeIpv4Header } from '../../src/wire/ipv4.js';
import * as V from './tunnel-vectors.js';

test('GRE accessors read a real GREv0 header: no optional fields, version 0, IPv4 payload', () => {
  const p = V.GRE_V4_PACKET;
  const o = IPV4_HLEN;
  assert.equal(ipv4Proto(p, 0), 47);
  assert.equal(gre.greFlags(p, o), 0);
  assert.equal(gre.greVersion(p, o), 0);
  assert.equal(gre.greProto(p, o), gre.ETH_P_IP);
  assert.equal(gre.greHeaderLength(p, o), gre.GRE_HLEN);
  assert.equal(gre.greKey(p, o), -1);
  assert.equal(gre.greSeq(p, o), -1);
  assert.deepEqual(p.subarray(o + gre.GRE_HLEN), V.ICMP_ECHO_INNER_V4);
});

test('the IPv4 and GRE writers rebuild the captured outer headers byte for byte', () => {
  const b = new Uint8Array(V.GRE_V4.length);
  const total = V.GRE_V4_PACKET.length;
  writeIpv4Header(b, 0, 0, total, 0x843c, 0x4000, 64, 47, 0xc0a80101, 0xc0a80102);
  assert.equal(gre.writeGreHeader(b, IPV4_HLEN, gre.ETH_P_IP, false), gre.GRE_HLEN);
  assert.deepEqual(b, V.GRE_V4);
  assert.ok(ipv4HeaderChecksumOk(b, 0, IPV4_HLEN));
});

test('GRE checksum: the writer reserves the field and the fill gives the independently computed value', () => {
  const want = V.GRE_CSUM_SEGMENT;
  assert.equal(gre.greFlags(want, 0) & gre.GRE_FLAG_CSUM, gre.GRE_FLAG_CSUM);
  assert.equal(gre.greHeaderLength(want, 0), 8);
  assert.equal(gre.greChecksum(want, 0), 0x77ff);
  const b = want.slice();
  b.fill(0xee, 0, 8); // stale bytes where the header goes
  assert.equal(gre.writeGreHeader(b, 0, gre.ETH_P_IP, true), 8);
  assert.equal(gre.greChecksum(b, 0), 0);
  assert.equal(gre.greChecksumFill(b, 0, b.length), 0x77ff);
  assert.deepEqual(b, want);
  // the checksum verifies: the segment sums to all ones
  assert.equal(fold16(sumBytes(b, 0, b.length)), 0xffff);
  gre.setGreChecksum(b, 0, 0x1234);
  assert.equal(gre.greChecksum(b, 0), 0x1234);
});

test('RFC 2890 key and sequence number are found after the optional checksum', () => {
  const ks = V.GRE_KEY_SEQ;
  assert.equal(gre.greFlags(ks, 0), gre.GRE_FLAG_KEY | gre.GRE_FLAG_SEQ);
  assert.equal(gre.greProto(ks, 0), gre.ETH_P_IPV6);
  assert.equal(gre.greHeaderLength(ks, 0), 12);
  assert.equal(gre.greKeyOffset(ks, 0), 4);
  assert.equal(gre.greKey(ks, 0), 0xabcd);
  assert.equal(gre.greSeq(ks, 0), 7);
  const cks = V.GRE_CSUM_KEY_SEQ;
  assert.equal(gre.greHeaderLength(cks, 0), 16);
  assert.equal(gre.greKeyOffset(cks, 0), 8);
  assert.equal(gre.greKey(cks, 0), 0xabcd);
  assert.equal(gre.greSeq(cks, 0), 7);
  const b = new Uint8Array(4);
  gre.setGreProto(b, 0, gre.ETH_P_TEB);
  assert.equal(gre.greProto(b, 0), 0x6558);
});
