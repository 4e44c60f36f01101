/**
 * The sync master's full pass (a tsvs addition, docs/ha.md): every connection the kernel
 * would ever sync is sent once per pass — also those that are idle and were already
 * sent — and nothing the kernel never syncs (SYN states), and a backup applies the
 * records as any update.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applySyncConn } from '../../src/sync/backup.js';
import { decodeSync } from '../../src/sync/message.js';
import { SyncMaster } from '../../src/sync/master.js';
import { SyncDaemons, learnWindowMs } from '../../src/sync/daemon.js';
import { conversation, director } from './rig.js';

function established(e: ReturnType<typeof director>, cport: number, t0: number): void {
  const cv = conversation(e, t0, cport);
  cv.syn();
  cv.synack();
  cv.ack();
  cv.ack('x');
}

test('full pass: every established connection once per pass, none in SYN states', () => {
  const e = director();
  const got: Uint8Array[] = [];
  const m = new SyncMaster(e, { syncId: 7, send: (d) => got.push(d) });
  for (let i = 0; i < 40; i++) established(e, 41000 + i, 1000 + i * 10);
  const half = conversation(e, 5000, 42000);
  half.syn(); // SYN_RECV: never synced
  // the whole table in slices of 16 ids: the pass ends when the walk wraps
  let passes = 0;
  for (let step = 0; step < 1000 && passes === 0; step++) if (m.passStep(16)) passes++;
  assert.equal(passes, 1);
  const recs = got.flatMap((d) => decodeSync(d).conns);
  const ports = recs.map((r) => r.cport).sort((a, b) => a - b);
  assert.deepEqual(
    ports,
    Array.from({ length: 40 }, (_, i) => 41000 + i),
    'each established connection exactly once',
  );
  assert.ok(recs.every((r) => r.state === 1 && r.timeout === 900));
  assert.equal(m.sent.passes, 1);
  assert.equal(m.sent.passConns, 40);
  // a second pass sends them again (idle or not)
  got.length = 0;
  for (let step = 0; step < 1000; step++) if (m.passStep(1 << 20)) break;
  assert.equal(got.flatMap((d) => decodeSync(d).conns).length, 40);
});

test('full pass: a fresh backup that applies one pass holds every established connection', () => {
  const e = director();
  const got: Uint8Array[] = [];
  const m = new SyncMaster(e, { syncId: 7, send: (d) => got.push(d) });
  for (let i = 0; i < 25; i++) established(e, 43000 + i, 1000 + i);
  while (!m.passStep(64));
  const b = director();
  for (const d of got) {
    const msg = decodeSync(d, 7);
    for (const r of msg.conns) applySyncConn(b, r, msg.version, 2000);
  }
  const held = b.connections().filter((c) => !c.template);
  assert.equal(held.length, 25);
  assert.ok(held.every((c) => c.state === 'ESTABLISHED'));
});

test('learning: from the first backup start for the window, time-based; none without a backup', () => {
  const e = director();
  const s = new SyncDaemons(e, () => undefined, { fullPassMs: 4000 });
  assert.equal(s.learnMs, learnWindowMs(4000));
  assert.equal(s.learnMs, 7000);
  const none = s.learning(1000);
  assert.equal(none.learning, false);
  assert.equal(none.since, null);
  const explicit = new SyncDaemons(e, () => undefined, { fullPassMs: 4000, learnMs: 1500 });
  assert.equal(explicit.learnMs, 1500);
});
