/**
 * The dest trash across a service's deletion (found while holding ctl.ts to
 * ip_vs_ctl.c): ip_vs_trash_get_dest matches a trashed dest by the virtual service's
 * key (vaddr, vport, vfwmark, protocol), so after `-D` and `-A` of the same service a
 * `-a` of the same real server brings the old dest back — with the conns still bound
 * to it and its counters — and __ip_vs_update_dest zeroes its stats as it moves to
 * the new service object.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { V_DROP, V_FORWARD } from '../../src/engine/drop.js';
import { ACK, RIP1, SYN, TCP80, cin, engineWith, send } from './fixture.js';

const A = { addr: RIP1, port: 80, fwd: 'masq' as const };

test('a service deleted and added again gets its trashed dest back, conns and counters with it', () => {
  const e = engineWith({}, TCP80, {}, A);
  assert.equal(send(e, 'in', cin(SYN), 0).v, V_FORWARD);
  assert.equal(send(e, 'in', cin(ACK, { seq: 1001 }), 0).v, V_FORWARD);
  const old = e.services[0].dests[0];
  assert.equal(old.activeconns, 1);
  assert.equal(old.stats.snapshot().inpkts, 2);
  e.delService(TCP80);
  assert.equal(e.trashDests.length, 1);
  // while the service is gone the conn's packets are dropped (its dest is not available)
  assert.equal(send(e, 'in', cin(ACK, { seq: 1001 }), 1).v, V_DROP);
  e.addService(TCP80, {});
  const d = e.addDest(TCP80, A);
  assert.equal(d, old, 'the same dest, from the trash');
  assert.equal(e.trashDests.length, 0);
  assert.equal(d.svc, e.services[0]);
  assert.equal(d.activeconns, 1, 'the old conn is still counted');
  assert.equal(d.stats.snapshot().inpkts, 0, 'stats zeroed on the move to the new service');
  // and the old conn goes on to its real server
  assert.equal(send(e, 'in', cin(ACK, { seq: 1001 }), 2).v, V_FORWARD);
  assert.equal(e.services[0].stats.snapshot().inpkts, 1);
});

test('a trashed dest does not come back into another service', () => {
  const e = engineWith({}, TCP80, {}, A);
  e.delService(TCP80);
  const other = { ...TCP80, port: 81 };
  e.addService(other, {});
  e.addDest(other, A);
  assert.equal(e.trashDests.length, 1);
});
