import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wrr } from '../../../src/engine/sched/wrr.js';
import { Rig } from './rig.js';

/** wrr bound to a service that already has A, B, C (list order), so cw starts at mw. */
function rigABC(a = 4, b = 3, c = 2): Rig {
  return new Rig(wrr, {
    dests: [
      ['A', a],
      ['B', b],
      ['C', c],
    ],
  });
}

const CYCLE = ['A', 'A', 'B', 'A', 'B', 'C', 'A', 'B', 'C'];

test('wrr with weights A4,B3,C2 gives A,A,B,A,B,C,A,B,C and repeats', () => {
  const r = rigABC();
  assert.deepEqual(r.order, ['A', 'B', 'C']);
  assert.deepEqual(r.seq(27), [...CYCLE, ...CYCLE, ...CYCLE]);
});

test('wrr with servers added one at a time starts at the threshold the adds left', () => {
  const r = new Rig(wrr);
  r.addInOrder([
    ['A', 4],
    ['B', 3],
    ['C', 2],
  ]);
  // adding C alone (gcd 2, mw 2 − 1 = 1) set cw to 1; adding B and A kept it,
  // so the first pass accepts everybody, then the cycle starts at cw 4
  assert.deepEqual(r.seq(12), ['A', 'B', 'C', ...CYCLE]);
});

test('wrr with a common divisor: A4,B2 gives A,A,B', () => {
  const r = new Rig(wrr, {
    dests: [
      ['A', 4],
      ['B', 2],
    ],
  });
  assert.deepEqual(r.seq(9), ['A', 'A', 'B', 'A', 'A', 'B', 'A', 'A', 'B']);
});

test('wrr never selects a weight-0 server', () => {
  const r = rigABC(2, 0, 1);
  assert.deepEqual(r.seq(9), ['A', 'A', 'C', 'A', 'A', 'C', 'A', 'A', 'C']);
});

test('wrr skips OVERLOADed servers but keeps the others in proportion', () => {
  const r = rigABC();
  r.overload(r.svc.dests[0], true);
  // max weight still counts A, so the first pass (cw 4) finds nobody
  assert.deepEqual(r.seq(10), ['B', 'B', 'C', 'B', 'C', 'B', 'B', 'C', 'B', 'C']);
});

test('wrr fails when every server is OVERLOADed or weight 0, and when there are none', () => {
  const empty = new Rig(wrr);
  assert.equal(empty.pick(), null);
  const r = rigABC();
  for (const d of r.svc.dests) r.overload(d, true);
  assert.equal(r.pick(), null);
  assert.equal(r.pick(), null);
  const z = rigABC(0, 0, 0);
  assert.equal(z.pick(), null);
});

test('wrr fails after a partial sequence when the rest become OVERLOADed, and recovers', () => {
  const r = rigABC();
  assert.deepEqual(r.seq(3), ['A', 'A', 'B']);
  for (const d of r.svc.dests) r.overload(d, true);
  assert.equal(r.pick(), null);
  r.overload(r.svc.dests[2], false); // C back
  assert.deepEqual(r.seq(3), ['C', 'C', 'C']);
});

test('wrr: adding a server mid-stream restarts from the head keeping the weight threshold', () => {
  const r = rigABC();
  assert.deepEqual(r.seq(3), ['A', 'A', 'B']); // cw is now 3
  r.add('D', 1);
  assert.deepEqual(r.order, ['D', 'A', 'B', 'C']);
  // from the head with cw 3: A, B; cw 2: A, B, C; cw 1: D, A, B, C; then cw 4 again
  assert.deepEqual(r.seq(10), ['A', 'B', 'A', 'B', 'C', 'D', 'A', 'B', 'C', 'A']);
});

test('wrr: editing a weight recomputes gcd and max and aligns the threshold', () => {
  const r = new Rig(wrr, {
    dests: [
      ['A', 4],
      ['B', 2],
      ['C', 1],
    ],
  });
  const c = r.svc.dests[2];
  // cw 4: A; cw 3: A; cw 2: A, B; ...
  assert.deepEqual(r.seq(4), ['A', 'A', 'A', 'B']);
  // weights 4,2,2: gcd 2, mw 3; cw was 2 → 2/2·2 + 1 = 3
  r.edit(c, 2);
  assert.deepEqual(r.seq(8), ['A', 'A', 'B', 'C', 'A', 'A', 'B', 'C']);
});

test('wrr: a threshold above the new maximum drops to it', () => {
  const r = new Rig(wrr, {
    dests: [
      ['A', 4],
      ['B', 2],
    ],
  });
  const b = r.svc.dests[1];
  assert.deepEqual(r.seq(1), ['A']); // cw 3 (max 4, gcd 2)
  r.edit(b, 4); // gcd 4, mw 1: cw 3 > 1 → 1
  assert.deepEqual(r.seq(4), ['A', 'B', 'A', 'B']);
});

test('wrr: deleting a server mid-stream', () => {
  const r = rigABC();
  assert.deepEqual(r.seq(3), ['A', 'A', 'B']);
  r.del(r.svc.dests[1]); // B
  // A4,C2: gcd 2, mw 3, cw 3 stays 3
  assert.deepEqual(r.seq(6), ['A', 'A', 'C', 'A', 'A', 'C']);
});

test('wrr: weight 0 mid-stream quiesces a server; restoring it brings it back', () => {
  const r = rigABC();
  const b = r.svc.dests[1];
  assert.deepEqual(r.seq(2), ['A', 'A']);
  r.edit(b, 0);
  // A4,C2: gcd 2, mw 3; cw was 3 → 3/2·2 + 1 = 3
  assert.deepEqual(r.seq(6), ['A', 'A', 'C', 'A', 'A', 'C']);
  r.edit(b, 3);
  // gcd 1, mw 4; cw 1 is kept, from the head: A, B, C, then the full cycle
  assert.deepEqual(r.seq(12), ['A', 'B', 'C', ...CYCLE]);
});

test('wrr: OVERLOAD set then cleared mid-stream resumes the cycle', () => {
  const r = rigABC();
  const a = r.svc.dests[0];
  assert.deepEqual(r.seq(2), ['A', 'A']); // cl A, cw 3
  r.overload(a, true);
  // after A with cw 3: B; then cw 2: B, C; cw 1: B, C; cw 4: nobody, cw 3: B
  assert.deepEqual(r.seq(6), ['B', 'B', 'C', 'B', 'C', 'B']);
  r.overload(a, false);
  // cl B, cw 3: C<3, cw 2: A, B, C; cw 1: A, B, C; then the full cycle
  assert.deepEqual(r.seq(15), ['A', 'B', 'C', 'A', 'B', 'C', ...CYCLE]);
});

test('wrr distributes in exact proportion to weights over whole cycles', () => {
  const r = new Rig(wrr);
  r.addInOrder([
    ['A', 7],
    ['B', 5],
    ['C', 3],
    ['D', 1],
  ]);
  const counts: Record<string, number> = { A: 0, B: 0, C: 0, D: 0 };
  for (const n of r.seq(16 * 10)) counts[n]++;
  assert.deepEqual(counts, { A: 70, B: 50, C: 30, D: 10 });
});
