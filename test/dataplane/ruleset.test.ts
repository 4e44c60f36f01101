/**
 * The queue rules for SCTP services (ruleset.ts): requests and NAT replies matched with
 * `-p sctp` (the xt_sctp match carries --dport/--sport) on the plain queues, never the
 * GSO ones; TCP and UDP keep theirs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/engine/engine.js';
import { buildRuleset } from '../../src/dataplane/ruleset.js';

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
