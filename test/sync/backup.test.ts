/**
 * What a sync backup builds from a master's records, through two engines (spec §12.5):
 * the same connections, bound to its own dests with the right counters and timeouts; and
 * a director in backup_only mode forwards nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/engine/engine.js';
import { CONN_F_INACTIVE } from '../../src/engine/constants.js';
import { applySyncConn } from '../../src/sync/backup.js';
import { SYN } from '../helpers/packets.js';
import { CIP, RIP1, RIP2, TCP80, VIP, conversation, director, master, send } from './rig.js';

test('backup: the same connections, bound to its own dests, counted, expiring on time', () => {
  const m = director();
  const b = director();
  const { records } = master(m);
  for (let i = 0; i < 4; i++) {
    const cv = conversation(m, 1000 + i * 10, 41000 + i);
    cv.syn();
    cv.synack();
    cv.ack();
    cv.ack('c');
  }
  const recs = records();
  assert.equal(recs.length, 4);
  for (const r of recs) assert.equal(applySyncConn(b, r, 1), 'created');
  const mine = (e: Engine) =>
    e
      .connections()
      .map((c) => `${c.caddr}:${c.cport}>${c.vaddr}:${c.vport}>${c.daddr}:${c.dport} ${c.state}`)
      .sort();
  assert.deepEqual(mine(b), mine(m));
  const svc = b.findService(TCP80)!;
  const d1 = b.findDest(svc, RIP1, 8080)!;
  const d2 = b.findDest(svc, RIP2, 8080)!;
  assert.equal(d1.activeconns + d2.activeconns, 4, 'active on the backup too');
  assert.equal(d1.inactconns + d2.inactconns, 0);
  // the conns carry the master's timeout and the SYNC flag
  for (const c of b.connections()) {
    assert.ok(c.flags & 0x20, 'SYNC');
    assert.ok(c.expires > 890 && c.expires <= 900, String(c.expires));
  }
  // an update that turns one inactive moves it between the counters
  const r0 = { ...recs[0], state: 4, flags: recs[0].flags | CONN_F_INACTIVE, timeout: 120 };
  assert.equal(applySyncConn(b, r0, 1), 'updated');
  assert.equal(d1.activeconns + d2.activeconns, 3);
  assert.equal(d1.inactconns + d2.inactconns, 1);
  // the master moved a client to the other server: active record replaces, inactive is stale
  const moved = { ...recs[1], daddr: Uint32Array.of(recs[1].daddr[0] ^ 0x17) };
  assert.equal(applySyncConn(b, { ...moved, flags: moved.flags | CONN_F_INACTIVE }, 1), 'stale');
  const back = recs[1].daddr[0] === 0x0a00020b ? 0x0a00020c : 0x0a00020b;
  assert.equal(applySyncConn(b, { ...recs[1], daddr: Uint32Array.of(back) }, 1), 'replaced');
  // unknown protocol / bad state: skipped
  assert.equal(applySyncConn(b, { ...recs[2], protocol: 33 }, 1), 'skipped');
  assert.equal(applySyncConn(b, { ...recs[2], state: 11 }, 1), 'skipped');
  // they expire on the backup's own clock
  for (let t = 0; t <= 902_000; t += 1000) b.tick(t);
  assert.equal(b.connections().filter((c) => c.state === 'ESTABLISHED').length, 0);
});

test('backup: v0 records take their timeout from the state table; a conn with no dest stays unbound', () => {
  const m = director();
  const b = new Engine();
  b.addService(TCP80, { scheduler: 'rr' }); // no dests yet
  const { records } = master(m);
  const cv = conversation(m, 1000, 42000);
  cv.syn();
  cv.synack();
  cv.ack();
  cv.ack('d');
  const [r] = records();
  const v0 = { ...r, timeout: undefined };
  assert.equal(applySyncConn(b, v0, 0), 'created');
  const c = b.connections()[0];
  assert.equal(c.state, 'ESTABLISHED');
  assert.ok(c.expires > 890, 'ESTABLISHED timeout 900 s');
  // the dest appears: the next update binds it
  b.addDest(TCP80, { addr: RIP1, port: 8080, fwd: 'masq' });
  b.addDest(TCP80, { addr: RIP2, port: 8080, fwd: 'masq' });
  assert.equal(applySyncConn(b, v0, 0), 'updated');
  const svc = b.findService(TCP80)!;
  const bound = b.findDest(svc, RIP1, 8080)!.activeconns + b.findDest(svc, RIP2, 8080)!.activeconns;
  assert.equal(bound, 1);
});

test('backup_only: a director running a backup daemon forwards nothing', () => {
  const e = director(false, { backup_only: 1 });
  const v1 = send(e, 'in', { src: CIP, dst: VIP, sport: 43000, dport: 80, flags: SYN }, 1);
  assert.equal(v1, 2 /* V_FORWARD */, 'no backup daemon: forwarded as usual');
  e.syncBackup = true;
  const v2 = send(e, 'in', { src: CIP, dst: VIP, sport: 43001, dport: 80, flags: SYN }, 2);
  assert.equal(v2, 0 /* V_ACCEPT */);
});
