import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ip6 from '../../src/wire/ipv6.js';
import * as V from './vectors.js';

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
