/**
 * The queue rules for SCTP services (ruleset.ts): requests and NAT replies matched with
 * `-p sctp` (the xt_sctp match carries --dport/--sport) on the plain queues, never the
 * GSO ones; TCP and UDP keep theirs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/engine/engine.js';
import { buildRuleset, capturedServices, heldDests } from '../../src/dataplane/ruleset.js';
import { formatAddr } from '../../src/engine/addr.js';
import { V_FORWARD } from '../../src/engine/drop.js';
import { RIP1, RIP2, SYN, TCP80, VIP, cin, engineWith, send } from '../engine/fixture.js';

test('SCTP services are queued with -p sctp on the plain queues', () => {
  const e = new Engine();
  const sctp = { af: 4 as const, protocol: 132, addr: '10.0.3.100', port: 3868 };
  e.addService(sctp, {});
  e.addDest(sctp, { addr: '10.0.2.11', port: 13868, fwd: 'masq' });
  const sctp6 = { af: 6 as const, protocol: 132, addr: 'fd00:3::100', port: 0 };
  e.addService(sctp6, { flags: 1, timeout: 60 });
  e.addDest(sctp6, { addr: 'fd00:2::11', port: 0, fwd: 'masq' });
  const tcp = { af: 4 as const, protocol: 6, addr: '10.0.3.100', port: 80 };
  e.addService(tcp, {});
  e.addDest(tcp, { addr: '10.0.2.11', port: 80, fwd: 'masq' });
  const rs = buildRuleset(e, { inGso: 1, outGso: 2, inPlain: 3, outPlain: 4 });
  const q = (n: number): string => `-j NFQUEUE --queue-num ${n}`;
  assert.ok(rs.v4.includes(`REQ -d 10.0.3.100/32 -p sctp --dport 3868 ${q(3)}`), rs.v4.join('\n'));
  assert.ok(rs.v4.includes(`REP -s 10.0.2.11/32 -p sctp --sport 13868 ${q(4)}`));
  assert.ok(rs.v4.includes(`REQ -d 10.0.3.100/32 -p tcp --dport 80 ${q(1)}`));
  assert.ok(rs.v4.includes(`REP -s 10.0.2.11/32 -p tcp --sport 80 ${q(2)}`));
  // port 0: every SCTP port of the VIP and of the real server
  assert.ok(rs.v6.includes(`REQ -d fd00:3::100/128 -p sctp ${q(3)}`), rs.v6.join('\n'));
  assert.ok(rs.v6.includes(`REP -s fd00:2::11/128 -p sctp ${q(4)}`));
  assert.equal(rs.v4.filter((r) => r.includes(' 132 ')).length, 0);
});

test('a deleted real server keeps its reply rule while connections use it (and a deleted service its VIP)', () => {
  const e = engineWith({}, TCP80, {}, { addr: RIP1, port: 80, fwd: 'masq' });
  e.addDest(TCP80, { addr: RIP2, port: 80, fwd: 'masq' });
  const rs = (): string[] => buildRuleset(e, 1, 2).v4;
  const rep = (rip: string): string =>
    `REP -s ${rip}/32 -p tcp --sport 80 -j NFQUEUE --queue-num 2`;
  const req = `REQ -d ${VIP}/32 -p tcp --dport 80 -j NFQUEUE --queue-num 1`;
  assert.equal(send(e, 'in', cin(SYN), 0).v, V_FORWARD);
  const used = e.services[0].dests.find((d) => d.refcnt > 0)!;
  const idle = e.services[0].dests.find((d) => d.refcnt === 0)!;
  const [usedIp, idleIp] = [used, idle].map((d) => formatAddr(4, d.addr));
  e.delDest(TCP80, idleIp, 80);
  e.delDest(TCP80, usedIp, 80);
  assert.deepEqual(heldDests(e), [used]);
  assert.ok(rs().includes(rep(usedIp)), rs().join('\n'));
  assert.ok(!rs().includes(rep(idleIp)), 'an unused deleted real server is not captured');
  // the service goes too: its connection's requests are still captured (not handed to
  // the local stack, which would reset them)
  e.delService(TCP80);
  assert.equal(e.services.length, 0);
  assert.ok(rs().includes(req) && rs().includes(rep(usedIp)), rs().join('\n'));
  const cap = capturedServices(e);
  assert.equal(cap.length, 1);
  assert.equal(cap[0].live, false);
  // the connection expires (SYN_RECV: 60 s): nothing is captured any more
  for (let t = 1000; t <= 62_000; t += 1000) e.tick(t, Number.MAX_SAFE_INTEGER);
  assert.equal(used.refcnt, 0);
  assert.deepEqual(heldDests(e), []);
  assert.deepEqual(rs(), []);
});
