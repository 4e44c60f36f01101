import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipv4HeaderChecksumOk } from '../../src/wire/checksum.js';
import * as gue from '../../src/wire/gue.js';
import { IPV4_HLEN, writeIpv4Header } from '../../src/wire/ipv4.js';
import * as udp from '../../src/wire/udp.js';
import * as V from './tunnel-vectors.js';

const G = IPV4_HLEN + udp.UDP_HLEN;

test('GUE accessors read a variant 0 data header carrying IPIP', () => {
  const p = V.GUE_V4_PACKET;
  assert.equal(udp.udpDport(p, IPV4_HLEN), 5555);
  assert.equal(udp.udpLength(p, IPV4_HLEN), p.length - IPV4_HLEN);
  assert.equal(gue.gueVersion(p, G), 0);
  assert.equal(gue.gueControl(p, G), false);
  assert.equal(gue.gueHeaderLength(p, G), gue.GUE_HLEN);
  assert.equal(gue.gueProto(p, G), 4);
  assert.equal(gue.gueFlags(p, G), 0);
  assert.deepEqual(p.subarray(G + gue.GUE_HLEN), V.ICMP_ECHO_INNER_V4);
});

test('the IPv4, UDP and GUE writers rebuild the typed headers byte for byte', () => {
  const b = new Uint8Array(V.GUE_V4.length).fill(0xee);
  const total = V.GUE_V4_PACKET.length;
  writeIpv4Header(b, 0, 0, total, 0x843c, 0x4000, 64, 17, 0xc0a80101, 0xc0a80102);
  udp.writeUdpHeader(b, IPV4_HLEN, 51580, 5555, total - IPV4_HLEN, 0);
  assert.equal(gue.writeGueHeader(b, G, 4), gue.GUE_HLEN);
  assert.deepEqual(b, V.GUE_V4);
  assert.ok(ipv4HeaderChecksumOk(b, 0, IPV4_HLEN));
});

test('variant 1 (an IP header straight after UDP), control messages and extension fields', () => {
  // the first byte of an IPv4 (0x45) or IPv6 (0x6…) header reads as GUE version 1
  assert.equal(gue.gueVersion(V.ICMP_ECHO_INNER_V4, 0), 1);
  assert.equal(gue.gueVersion(Uint8Array.of(0x60, 0, 0, 0), 0), 1);
  // C set, Hlen 2 (8 bytes of extension fields), ctype 0, flags 0x8000
  const h = Uint8Array.of(0x22, 0x00, 0x80, 0x00);
  assert.equal(gue.gueVersion(h, 0), 0);
  assert.equal(gue.gueControl(h, 0), true);
  assert.equal(gue.gueHeaderLength(h, 0), 12);
  assert.equal(gue.gueFlags(h, 0), 0x8000);
});
