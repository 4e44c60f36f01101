import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipv4HeaderChecksumOk } from '../../src/wire/checksum.js';
import { decTtl, writeIpAddr } from '../../src/wire/ip.js';
import { IPV4_DST, IPV4_HLEN, IPV4_SRC, ipv4Ttl } from '../../src/wire/ipv4.js';
import { IPV6_DST, ipv6HopLimit, readAddr6 } from '../../src/wire/ipv6.js';
import * as V from './vectors.js';

test('decTtl lowers the IPv4 TTL with a still valid header checksum, and the IPv6 hop limit', () => {
  const p4 = V.TCP_SYN_V4.slice();
  assert.equal(decTtl(p4, 0, 4), 63);
  assert.equal(ipv4Ttl(p4, 0), 63);
  assert.ok(ipv4HeaderChecksumOk(p4, 0, IPV4_HLEN));
  const p6 = V.TCP_SYN_V6.slice();
  assert.equal(decTtl(p6, 0, 6), 63);
  assert.equal(ipv6HopLimit(p6, 0), 63);
  // everything else is untouched
  p6[7] = 64;
  assert.deepEqual(p6, V.TCP_SYN_V6);
  // 0 wraps to 255: the caller has refused TTL ≤ 1 before
  const z = V.TCP_SYN_V6.slice();
  z[7] = 0;
  assert.equal(decTtl(z, 0, 6), 255);
});

test('writeIpAddr writes one word for IPv4 and four for IPv6, from any word offset', () => {
  const p4 = V.TCP_SYN_V4.slice();
  writeIpAddr(p4, IPV4_SRC, Uint32Array.of(9, 0x0a000001), 1, 4);
  writeIpAddr(p4, IPV4_DST, Uint32Array.of(0x0a000002), 0, 4);
  assert.deepEqual(Array.from(p4.subarray(12, 20)), [10, 0, 0, 1, 10, 0, 0, 2]);
  assert.deepEqual(p4.subarray(20), V.TCP_SYN_V4.subarray(20));
  const p6 = V.TCP_SYN_V6.slice();
  writeIpAddr(p6, IPV6_DST, [7, 0x20010db8, 0, 0, 0xffffffff], 1, 6);
  const w = new Uint32Array(4);
  readAddr6(p6, IPV6_DST, w);
  assert.deepEqual(Array.from(w), [0x20010db8, 0, 0, 0xffffffff]);
  assert.deepEqual(p6.subarray(40), V.TCP_SYN_V6.subarray(40));
});
