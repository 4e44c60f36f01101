/** ICMP errors related to a NAT connection are matched both ways and rewritten (§8). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Engine } from '../../src/engine/engine.js';
import { V_ACCEPT, V_FORWARD } from '../../src/engine/drop.js';
import {
  ACK,
  RIP1,
  SYN,
  TCP80,
  buildPacket,
  bytesToIp,
  engineWith,
  icmpError,
  ipv4HeaderValid,
  naiveSum,
} from './fixture.js';

const K = TCP80;

/** An ICMP error quoting the first 28 bytes of `quoted`, next-hop MTU 1400. */
function icmp4(
  src: string,
  dst: string,
  type: number,
  code: number,
  quoted: Uint8Array,
): Uint8Array {
  return icmpError(src, dst, type, code, 1400, quoted.subarray(0, 28), 64);
}

function setup(): Engine {
  const e = engineWith({}, K, { scheduler: 'rr' }, { addr: RIP1, port: 8080, fwd: 'masq' });
  const syn = buildPacket({
    src: '10.0.1.2',
    dst: '10.0.3.100',
    sport: 40000,
    dport: 80,
    flags: SYN,
  });
  e.in(syn, 0, syn.length, 0);
  return e;
}

test('incoming ICMP from the client side about VIP→client traffic goes to the RS rewritten', () => {
  const e = setup();
  // what the client got from us: VIP:80 → client:40000
  const ours = buildPacket({
    src: '10.0.3.100',
    dst: '10.0.1.2',
    sport: 80,
    dport: 40000,
    flags: SYN | ACK,
  });
  const m = icmp4('10.0.1.254', '10.0.3.100', 3, 4, ours);
  assert.equal(e.in(m, 0, m.length, 1), V_FORWARD);
  assert.equal(bytesToIp(m, 16, false), '10.0.2.11', 'outer dst := RIP');
  assert.equal(bytesToIp(m, 28 + 12, false), '10.0.2.11', 'embedded src := RIP');
  assert.equal((m[48] << 8) | m[49], 8080, 'embedded sport := dport');
  assert.ok(ipv4HeaderValid(m));
  assert.ok(ipv4HeaderValid(m.subarray(28)), 'embedded IP header checksum');
  assert.equal(naiveSum(m, 20, m.length), 0xffff, 'ICMP checksum');
});

test('outgoing ICMP from the RS about client→RIP traffic goes to the client rewritten', () => {
  const e = setup();
  const theirs = buildPacket({
    src: '10.0.1.2',
    dst: '10.0.2.11',
    sport: 40000,
    dport: 8080,
    flags: ACK,
  });
  const m = icmp4('10.0.2.11', '10.0.1.2', 3, 3, theirs);
  assert.equal(e.out(m, 0, m.length, 1), V_FORWARD);
  assert.equal(bytesToIp(m, 12, false), '10.0.3.100', 'outer src := VIP');
  assert.equal(bytesToIp(m, 28 + 16, false), '10.0.3.100', 'embedded dst := VIP');
  assert.equal((m[50] << 8) | m[51], 80, 'embedded dport := vport');
  assert.ok(ipv4HeaderValid(m) && ipv4HeaderValid(m.subarray(28)));
  assert.equal(naiveSum(m, 20, m.length), 0xffff);
});

test('unrelated ICMP (echo, or about an unknown flow) is accepted unchanged', () => {
  const e = setup();
  const other = buildPacket({
    src: '10.0.3.100',
    dst: '10.0.1.9',
    sport: 80,
    dport: 1,
    flags: ACK,
  });
  const m = icmp4('10.0.1.254', '10.0.3.100', 3, 3, other);
  const copy = m.slice();
  assert.equal(e.in(m, 0, m.length, 1), V_ACCEPT);
  assert.deepEqual(m, copy);
  const echo = icmp4('10.0.1.2', '10.0.3.100', 8, 0, new Uint8Array(0));
  assert.equal(e.in(echo, 0, echo.length, 1), V_ACCEPT);
});

test('an ICMP error with a bad checksum is dropped', () => {
  const e = setup();
  const ours = buildPacket({
    src: '10.0.3.100',
    dst: '10.0.1.2',
    sport: 80,
    dport: 40000,
    flags: ACK,
  });
  const m = icmp4('10.0.1.254', '10.0.3.100', 3, 4, ours);
  m[23] ^= 0x55;
  assert.equal(e.in(m, 0, m.length, 1), 1);
  assert.equal(e.result.reason, 3);
});
