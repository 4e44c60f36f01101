/**
 * The tunnel transmitter's encapsulation against packets written down in
 * test/wire/tunnel-vectors.ts: a real Linux GRE packet, and GUE as fou sends it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TUNNEL_ENCAP_FLAG_CSUM,
  TUNNEL_TYPE_GRE,
  TUNNEL_TYPE_GUE,
  TUNNEL_TYPE_IPIP,
} from '../../../src/engine/constants.js';
import { encapLength, encapsulate } from '../../../src/engine/xmit/tunnel.js';
import { fold16, l4ChecksumOk, sumBytes } from '../../../src/wire/checksum.js';
import { greChecksum } from '../../../src/wire/gre.js';
import * as V from '../../wire/tunnel-vectors.js';

const SRC = Uint32Array.of(0xc0a80101, 0, 0, 0);
const DST = Uint32Array.of(0xc0a80102, 0, 0, 0);
const HEAD = 64;

/** Encapsulate the inner ping, placed at HEAD with room in front; the whole packet. */
function encap(type: number, flags: number, pmtuDisc = true): Uint8Array {
  const inner = V.ICMP_ECHO_INNER_V4;
  const buf = new Uint8Array(HEAD + inner.length).fill(0xee);
  buf.set(inner, HEAD);
  const total = encapsulate(
    buf,
    HEAD,
    inner.length,
    4,
    4,
    SRC,
    DST,
    pmtuDisc,
    0x843c,
    type,
    5555,
    flags,
  );
  assert.equal(total, inner.length + encapLength(4, type, flags));
  return buf.subarray(HEAD + inner.length - total);
}

test('GRE encapsulation of a ping is byte-identical to the packet a Linux gre tunnel sent', () => {
  assert.deepEqual(encap(TUNNEL_TYPE_GRE, 0), V.GRE_V4_PACKET);
});

test('GUE encapsulation matches fou’s layout: UDP to the tunnel port, GUE proto 4, no UDP checksum', () => {
  assert.deepEqual(encap(TUNNEL_TYPE_GUE, 0), V.GUE_V4_PACKET);
});

test('with the checksum flag GRE carries a valid checksum and GUE a valid UDP checksum', () => {
  const g = encap(TUNNEL_TYPE_GRE, TUNNEL_ENCAP_FLAG_CSUM);
  assert.equal(g.length, V.GRE_V4_PACKET.length + 4);
  assert.notEqual(greChecksum(g, 20), 0);
  assert.equal(fold16(sumBytes(g, 20, g.length - 20)), 0xffff);
  const u = encap(TUNNEL_TYPE_GUE, TUNNEL_ENCAP_FLAG_CSUM);
  assert.ok(l4ChecksumOk(u, 4, 12, 16, 17, 20, u.length - 20));
});

test('IPIP copies the inner TTL; DF only with PMTU discovery', () => {
  const p = encap(TUNNEL_TYPE_IPIP, 0);
  assert.equal(p[9], 4);
  assert.equal(p[8], 64);
  assert.equal(p[6], 0x40);
  assert.equal(encap(TUNNEL_TYPE_IPIP, 0, false)[6], 0);
});
