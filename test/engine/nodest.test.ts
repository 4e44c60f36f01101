/**
 * Real servers that leave and come back (issue 13, items 1 and 3), held to the kernel's
 * source: `__ip_vs_update_dest(…, add=1)` sets last_weight even to 0, and since 5.9
 * `ip_vs_in_hook` expires the conn of an unavailable dest and then lets the packet try
 * to schedule like any other (a non-SYN TCP packet is then ACCEPTed). And item 5: every
 * exit of the ICMP path puts the conn it took.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { V_ACCEPT, V_DROP, V_FORWARD, V_REPLY } from '../../src/engine/drop.js';
import { Why } from '../../src/engine/verdict.js';
import {
  ACK,
  CIP,
  RIP1,
  RIP2,
  SYN,
  TCP80,
  VIP,
  buildPacket,
  cin,
  engineWith,
  icmpError,
  send,
} from './fixture.js';
import type { ServiceKey } from '../../src/engine/engine.js';

test('a dest re-added from the trash with weight 0 takes last_weight 0: mh gives it no buckets', () => {
  const e = engineWith(
    {},
    TCP80,
    { scheduler: 'mh' },
    { addr: RIP1, port: 80, fwd: 'masq', weight: 3 },
    { addr: RIP2, port: 80, fwd: 'masq', weight: 1 },
  );
  assert.equal(send(e, 'in', cin(SYN), 0).v, V_FORWARD);
  e.delDest(TCP80, RIP1, 80);
  assert.equal(e.trashDests.length, 1);
  e.addDest(TCP80, { addr: RIP1, port: 80, fwd: 'masq', weight: 0 });
  assert.equal(e.trashDests.length, 0, 'brought back from the trash');
  for (let i = 0; i < 64; i++) {
    const r = send(e, 'in', cin(SYN, { src: `10.0.7.${i + 1}`, sport: 30000 + i }), 1);
    assert.equal(r.v, V_FORWARD, `client ${i} gets the live server`);
    assert.equal(e.connInfo(e.result.conn).daddr, RIP2);
  }
});

test('an edit to weight 0 keeps last_weight: mh keeps the quiesced buckets (no server)', () => {
  const e = engineWith(
    {},
    TCP80,
    { scheduler: 'mh' },
    { addr: RIP1, port: 80, fwd: 'masq', weight: 3 },
    { addr: RIP2, port: 80, fwd: 'masq', weight: 1 },
  );
  e.editDest(TCP80, { addr: RIP1, port: 80, fwd: 'masq', weight: 0 });
  let replies = 0;
  for (let i = 0; i < 64; i++) {
    const r = send(e, 'in', cin(SYN, { src: `10.0.7.${i + 1}`, sport: 30000 + i }), 1);
    if (r.v === V_REPLY) replies++;
    else assert.equal(e.connInfo(e.result.conn).daddr, RIP2);
  }
  assert.ok(replies > 0, 'flows hashed to the quiesced server find none (no fallback)');
});

/** An established NAT conn on RIP1, RIP1 deleted while expire_nodest_conn was 0. */
function orphaned(settings: Record<string, number>, key: ServiceKey = TCP80) {
  const e = engineWith(
    { settings: { expire_nodest_conn: 0, ...settings } },
    key,
    { scheduler: 'rr' },
    { addr: RIP2, port: 80, fwd: 'masq' },
    { addr: RIP1, port: 80, fwd: 'masq' },
  );
  return e;
}

test('expire_nodest_conn: a non-SYN for a gone dest expires the conn and is ACCEPTed', () => {
  const e = orphaned({});
  send(e, 'in', cin(SYN), 0);
  assert.equal(e.connInfo(e.result.conn).daddr, RIP1);
  send(e, 'out', { src: RIP1, dst: CIP, sport: 80, dport: 40000, flags: SYN | ACK }, 1);
  send(e, 'in', cin(ACK), 2);
  e.delDest(TCP80, RIP1, 80);
  assert.equal(send(e, 'in', cin(ACK, { payload: 'x' }), 3).v, V_DROP, 'kernel default: dropped');
  e.settings.expire_nodest_conn = 1;
  const r = send(e, 'in', cin(ACK, { payload: 'y' }), 4);
  assert.equal(r.v, V_ACCEPT);
  assert.equal(e.result.why, Why.NOT_SYN);
  assert.equal(e.connections().length, 0, 'the conn was expired');
});

test('expire_nodest_conn with sloppy_tcp: the non-SYN is scheduled onto a live dest', () => {
  const e = orphaned({ sloppy_tcp: 1 });
  send(e, 'in', cin(SYN), 0);
  assert.equal(e.connInfo(e.result.conn).daddr, RIP1);
  e.delDest(TCP80, RIP1, 80);
  e.settings.expire_nodest_conn = 1;
  assert.equal(send(e, 'in', cin(ACK, { payload: 'y' }), 1).v, V_FORWARD);
  assert.equal(e.connInfo(e.result.conn).daddr, RIP2);
});

test('expire_nodest_conn for UDP: the next datagram is scheduled onto a live dest', () => {
  const UDP80: ServiceKey = { af: 4, protocol: 17, addr: VIP, port: 80 };
  const e = orphaned({}, UDP80);
  const dgram = { src: CIP, dst: VIP, sport: 40000, dport: 80, proto: 'udp' as const };
  send(e, 'in', dgram, 0);
  assert.equal(e.connInfo(e.result.conn).daddr, RIP1);
  e.delDest(UDP80, RIP1, 80);
  e.settings.expire_nodest_conn = 1;
  assert.equal(send(e, 'in', dgram, 1).v, V_FORWARD);
  assert.equal(e.connInfo(e.result.conn).daddr, RIP2);
});

test('expire_nodest_conn with conntrack: the conn is expired and the packet dropped', () => {
  const e = orphaned({ conntrack: 1 });
  send(e, 'in', cin(SYN), 0);
  e.delDest(TCP80, RIP1, 80);
  e.settings.expire_nodest_conn = 1;
  assert.equal(send(e, 'in', cin(ACK, { payload: 'y' }), 1).v, V_DROP);
  assert.equal(e.connections().length, 0);
});

test('schedule_icmp: an ICMP error with a bad checksum leaves no immortal conn', () => {
  const e = engineWith(
    { settings: { schedule_icmp: 1 } },
    TCP80,
    { scheduler: 'rr' },
    { addr: RIP1, port: 80, fwd: 'masq' },
  );
  // the quoted packet went VIP:80 → client
  const quoted = buildPacket({ src: VIP, dst: CIP, sport: 80, dport: 40000, flags: ACK });
  const err = icmpError('10.0.9.1', VIP, 3, 3, 0, quoted.subarray(0, 28));
  err[22] ^= 0xff; // spoil the ICMP checksum
  e.tick(0);
  assert.equal(e.in(err, 0, err.length, 0), V_DROP);
  assert.equal(e.connections().length, 1, 'scheduled for the error');
  e.tick(10_000);
  assert.equal(e.connections().length, 0, 'and expired like any new conn');
  assert.equal(e.destById[0]!.inactconns + e.destById[0]!.activeconns, 0);
});
