import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipv4HeaderChecksumOk } from '../../src/wire/checksum.js';
import * as ip4 from '../../src/wire/ipv4.js';
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
