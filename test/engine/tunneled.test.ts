/**
 * ignore_tunneled (issue 13, item 6), as ip_vs_in_hook / ip_vs_out_hook do it: a
 * packet that came out of a tunnel whose outer packet IPVS did not handle carries
 * ipvs_property when the sysctl is set, and both hooks let it pass untouched. The
 * data plane says so with PKT_TUNNELED.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PKT_TUNNELED } from '../../src/engine/engine.js';
import { V_ACCEPT, V_FORWARD } from '../../src/engine/drop.js';
import { Why } from '../../src/engine/verdict.js';
import { ACK, CIP, RIP1, SYN, TCP80, VIP, buildPacket, cin, engineWith } from './fixture.js';

function run(
  e: ReturnType<typeof engineWith>,
  dir: 'in' | 'out',
  raw: Uint8Array,
  flags: number,
): number {
  const buf = new Uint8Array(raw.length + 64);
  buf.set(raw, 64);
  return dir === 'in'
    ? e.in(buf, 64, raw.length, 0, 0, flags)
    : e.out(buf, 64, raw.length, 0, 0, flags);
}

test('ignore_tunneled=1: a decapsulated SYN for the VIP is not scheduled', () => {
  const e = engineWith({}, TCP80, {}, { addr: RIP1, port: 80, fwd: 'masq' });
  e.settings.ignore_tunneled = 1;
  assert.equal(run(e, 'in', buildPacket(cin(SYN)), PKT_TUNNELED), V_ACCEPT);
  assert.equal(e.result.why, Why.NOT_IPVS);
  assert.equal(e.connections().length, 0);
  // the same SYN not from a tunnel is scheduled
  assert.equal(run(e, 'in', buildPacket(cin(SYN)), 0), V_FORWARD);
});

test('ignore_tunneled=1: a decapsulated reply of a NAT conn is not rewritten', () => {
  const e = engineWith({}, TCP80, {}, { addr: RIP1, port: 80, fwd: 'masq' });
  e.settings.ignore_tunneled = 1;
  assert.equal(run(e, 'in', buildPacket(cin(SYN)), 0), V_FORWARD);
  const reply = buildPacket({ src: RIP1, dst: CIP, sport: 80, dport: 40000, flags: SYN | ACK });
  assert.equal(run(e, 'out', reply, PKT_TUNNELED), V_ACCEPT);
  assert.equal(run(e, 'out', reply, 0), V_FORWARD);
  assert.equal(VIP, e.connInfo(e.connections()[0].id).vaddr);
});

test('ignore_tunneled=0 (default): tunnelled packets are handled like any other', () => {
  const e = engineWith({}, TCP80, {}, { addr: RIP1, port: 80, fwd: 'masq' });
  assert.equal(run(e, 'in', buildPacket(cin(SYN)), PKT_TUNNELED), V_FORWARD);
});
