import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as udp from '../../src/wire/udp.js';
import * as V from './vectors.js';

test('UDP accessors on a real DNS query', () => {
  const u = V.UDP_DNS_V4;
  assert.deepEqual(
    [udp.udpSport(u, 20), udp.udpDport(u, 20), udp.udpLength(u, 20), udp.udpChecksum(u, 20)],
    [42793, 53, 60, 0xe69b],
  );
  const q = u.slice();
  udp.setUdpSport(q, 20, 7);
  udp.setUdpDport(q, 20, 8);
  udp.setUdpLength(q, 20, 9);
  udp.setUdpChecksum(q, 20, 10);
  assert.deepEqual(
    [udp.udpSport(q, 20), udp.udpDport(q, 20), udp.udpLength(q, 20), udp.udpChecksum(q, 20)],
    [7, 8, 9, 10],
  );
});

test('writeUdpHeader rebuilds the header of a real DNS query', () => {
  const u = V.UDP_DNS_V4;
  const h = new Uint8Array(udp.UDP_HLEN).fill(0xee);
  udp.writeUdpHeader(h, 0, 42793, 53, 60, 0xe69b);
  assert.deepEqual(h, u.subarray(20, 20 + udp.UDP_HLEN));
});
