/** The connection table after a flood: lowest ids first, and halving back down in steps. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnTable } from '../../../src/engine/conn/table.js';
import { FreeIds } from '../../../src/engine/conn/freeids.js';
import { ACK, SYN, TCP80, buildPacket, engineWith } from '../fixture.js';
import { rng } from '../../helpers/packets.js';
import type { Engine } from '../../../src/engine/engine.js';

/** Bytes of every typed array the table owns. */
function tableBytes(t: ConnTable): number {
  let n = 0;
  for (const v of Object.values(t)) if (ArrayBuffer.isView(v)) n += v.byteLength;
  for (const v of Object.values(t.wheel)) if (ArrayBuffer.isView(v)) n += v.byteLength;
  return n;
}

test('free ids come back lowest first, at any size', () => {
  const f = new FreeIds(100);
  const r = rng(5);
  const taken = new Set<number>();
  for (let i = 0; i < 100; i++) taken.add(f.take());
  assert.equal(f.take(), -1);
  assert.deepEqual(
    [...taken].sort((a, b) => a - b),
    [...Array(100).keys()],
  );
  const back = [73, 5, 64, 31, 32, 99, 0];
  for (const id of back) f.give(id);
  for (const want of [...back].sort((a, b) => a - b)) assert.equal(f.take(), want);
  // a large one, against a plain model
  const g = new FreeIds(1 << 16);
  const used = new Uint8Array(1 << 16);
  for (let i = 0; i < 50_000; i++) {
    if (r() < 0.6) {
      const id = g.take();
      assert.equal(used[id], 0);
      assert.equal(used.indexOf(0), id, 'the lowest free');
      used[id] = 1;
    } else {
      const live = used.indexOf(1, Math.floor(r() * (1 << 16)));
      if (live >= 0) {
        g.give(live);
        used[live] = 0;
      }
    }
  }
  g.resize(1 << 17);
  assert.ok(g.isFree((1 << 16) + 5));
});

function synFlood(e: Engine, n: number, t: number): void {
  const tpl = buildPacket({
    src: '10.1.0.0',
    dst: '10.0.3.100',
    sport: 1024,
    dport: 80,
    flags: SYN,
  });
  const b = tpl.slice();
  for (let i = 0; i < n; i++) {
    b.set(tpl);
    // the source address and port vary (a flood's random sources); checksums do not matter
    b[13] = (i >>> 16) & 255;
    b[14] = (i >>> 8) & 255;
    b[15] = i & 255;
    e.in(b, 0, b.length, t);
  }
}

test('after a flood drains the table halves back to its first size, one step a second', () => {
  const e = engineWith(
    { capacity: 1024 },
    TCP80,
    { scheduler: 'rr' },
    { addr: '10.0.2.11', port: 80, fwd: 'masq' },
  );
  const t = e.conns;
  // an established conn from before the flood: lowest id, kept throughout
  const keep = buildPacket({
    src: '10.0.1.2',
    dst: '10.0.3.100',
    sport: 40000,
    dport: 80,
    flags: SYN,
  });
  e.in(keep.slice(), 0, keep.length, 0);
  const est = buildPacket({
    src: '10.0.1.2',
    dst: '10.0.3.100',
    sport: 40000,
    dport: 80,
    flags: ACK,
  });
  const before = tableBytes(t);
  synFlood(e, 200_000, 1000);
  assert.equal(t.count, 200_001);
  assert.ok(t.cap >= 200_001);
  const peak = tableBytes(t);
  assert.ok(peak > 50 * before);
  // SYN_RECV conns expire after 60 s; the kept conn sees a packet every 10 s
  let now = 1000;
  const caps: number[] = [];
  while (now < 200_000) {
    now += 1000;
    if (now % 10_000 === 0) e.in(est.slice(), 0, est.length, now);
    e.tick(now);
    if (caps[caps.length - 1] !== t.cap) caps.push(t.cap);
  }
  assert.equal(t.count, 1);
  assert.equal(t.cap, 1024, `capacities: ${caps.join(' → ')}`);
  // each step halved it
  for (let i = 1; i < caps.length; i++) assert.equal(caps[i], caps[i - 1] / 2);
  assert.ok(tableBytes(t) <= 2 * before, `${tableBytes(t)} bytes against ${before} before`);
  // the kept conn is still found, and new conns work in the smaller table
  const v = e.in(est.slice(), 0, est.length, now);
  assert.equal(e.result.why, 14 /* CONN */, `verdict ${v}`);
  synFlood(e, 5000, now);
  assert.equal(t.count, 5001);
});

test('a conn in the upper half holds the size; the table shrinks once it ends', () => {
  const t = new ConnTable(16);
  const ids: number[] = [];
  for (let i = 0; i < 64; i++) ids.push(t.alloc());
  assert.equal(t.cap, 64);
  for (const id of ids) if (id !== 40) t.free(id);
  assert.equal(t.shrinkStep(), false, 'id 40 is live');
  t.free(40);
  assert.equal(t.shrinkStep(), true);
  assert.equal(t.cap, 32);
  assert.equal(t.shrinkStep(), true);
  assert.equal(t.cap, 16);
  assert.equal(t.shrinkStep(), false, 'never below the first size');
  assert.equal(t.alloc(), 0);
});
