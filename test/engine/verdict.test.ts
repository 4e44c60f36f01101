/**
 * Every verdict carries the engine's reason (`result.why`, verdict.ts): why a packet
 * was accepted unchanged, what decided a forward (existing conn, scheduler, template
 * reused or new, bypass), why the engine answered with an ICMP error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Engine } from '../../src/engine/engine.js';
import { DropReason, V_ACCEPT, V_DROP, V_FORWARD, V_REPLY } from '../../src/engine/drop.js';
import { SVC_F_PERSISTENT } from '../../src/engine/constants.js';
import { Why, WHY_NAMES } from '../../src/engine/verdict.js';
import { ACK, CIP, RIP1, RST, SYN, TCP80, engineWith, rng, send, cin } from './fixture.js';

function nat(params = {}, settings = {}): Engine {
  return engineWith(
    { random: rng(1), settings },
    TCP80,
    { scheduler: 'rr', ...params },
    { addr: RIP1, port: 80, fwd: 'masq' },
  );
}

function expectWhy(e: Engine, v: number, verdict: number, why: number): void {
  assert.equal(v, verdict);
  assert.equal(e.result.why, why, `why ${WHY_NAMES[e.result.why]}, expected ${WHY_NAMES[why]}`);
}

test('every Why code has a name', () => {
  assert.equal(WHY_NAMES.length, Object.keys(Why).length);
});

test('ACCEPT says why: RST, no SYN, no service, FTP data port, not TCP/UDP, reply without conn', () => {
  const e = nat();
  expectWhy(e, send(e, 'in', cin(RST), 0).v, V_ACCEPT, Why.RST);
  expectWhy(e, send(e, 'in', cin(ACK), 0).v, V_ACCEPT, Why.NOT_SYN);
  expectWhy(e, send(e, 'in', cin(SYN, { dport: 81 }), 0).v, V_ACCEPT, Why.NO_SERVICE);
  expectWhy(e, send(e, 'in', cin(SYN, { sport: 20 }), 0).v, V_ACCEPT, Why.FTP_DATA);
  expectWhy(e, send(e, 'in', cin(0, { proto: 'udp', dport: 53 }), 0).v, V_ACCEPT, Why.NO_SERVICE);
  const out = { src: RIP1, dst: CIP, sport: 80, dport: 40001, flags: ACK };
  expectWhy(e, send(e, 'out', out, 0).v, V_ACCEPT, Why.OUT_NO_CONN);
});

test('FORWARD says what decided: the scheduler, then the existing conn', () => {
  const e = nat();
  expectWhy(e, send(e, 'in', cin(SYN), 0).v, V_FORWARD, Why.NEW_CONN);
  expectWhy(e, send(e, 'in', cin(ACK), 1).v, V_FORWARD, Why.CONN);
  const reply = { src: RIP1, dst: CIP, sport: 80, dport: 40000, flags: SYN | ACK };
  expectWhy(e, send(e, 'out', reply, 2).v, V_FORWARD, Why.CONN);
});

test('persistence: a new template, then the template reused', () => {
  const e = nat({ flags: SVC_F_PERSISTENT, timeout: 300 });
  expectWhy(e, send(e, 'in', cin(SYN), 0).v, V_FORWARD, Why.NEW_TEMPLATE);
  expectWhy(e, send(e, 'in', cin(SYN, { sport: 40001 }), 1).v, V_FORWARD, Why.TEMPLATE_REUSED);
});

test('REPLY and DROP say why: no dest available, TTL exceeded, a dest gone', () => {
  const e = nat();
  e.editDest(TCP80, { addr: RIP1, port: 80, fwd: 'masq', weight: 0 });
  const v = send(e, 'in', cin(SYN), 0).v;
  expectWhy(e, v, V_REPLY, Why.NO_DEST);
  assert.equal(e.result.reason, DropReason.NO_DEST_AVAILABLE);

  const f = nat();
  expectWhy(f, send(f, 'in', cin(SYN, { ttl: 1 }), 0).v, V_REPLY, Why.TTL_EXCEEDED);
  expectWhy(f, send(f, 'in', cin(SYN, { sport: 40001 }), 0).v, V_FORWARD, Why.NEW_CONN);
  f.delDest(TCP80, RIP1, 80);
  expectWhy(f, send(f, 'in', cin(ACK, { sport: 40001 }), 1).v, V_DROP, Why.DROP);
  assert.equal(f.result.reason, DropReason.NO_DEST_CONN);
});
