/**
 * lc, wlc, sed, nq, fo, ovf: the winner for given counters and weights, worked out
 * by hand from spec §10 with current kernels' overhead (active × 256 + total, i.e.
 * active × 257 + inactive); weighted comparisons by cross-multiplication; ties to the
 * earlier server in list order, i.e. the newest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fo } from '../../../src/engine/sched/fo.js';
import { lc } from '../../../src/engine/sched/lc.js';
import { nq } from '../../../src/engine/sched/nq.js';
import { ovf } from '../../../src/engine/sched/ovf.js';
import { sed } from '../../../src/engine/sched/sed.js';
import { wlc } from '../../../src/engine/sched/wlc.js';
import type { SchedulerModule } from '../../../src/engine/sched/types.js';
import { Rig, load } from './rig.js';

/** Rig with dests A,B,C,... in that list order: [weight, active, inactive]. */
function rig(mod: SchedulerModule, spec: [number, number, number][]): Rig {
  const r = new Rig(mod);
  const names = 'ABCDEFG';
  r.addInOrder(spec.map((s, i): [string, number] => [names[i], s[0]]));
  spec.forEach((s, i) => load(r.svc.dests[i], s[1], s[2]));
  return r;
}

test('lc picks the smallest active×256+inactive, ignoring weight', () => {
  // overheads: A 514, B 557, C 515, D 511
  const r = rig(lc, [
    [1, 2, 0],
    [1, 1, 300],
    [9, 2, 1],
    [1, 0, 511],
  ]);
  assert.equal(r.name(r.pick()), 'D');
  r.overload(r.svc.dests[3], true);
  assert.equal(r.name(r.pick()), 'A');
  r.overload(r.svc.dests[3], false);
  r.edit(r.svc.dests[3], 0);
  assert.equal(r.name(r.pick()), 'A');
});

test('lc: ties go to the earlier (newest) server', () => {
  const r = rig(lc, [
    [1, 1, 10],
    [5, 1, 10],
  ]);
  assert.equal(r.name(r.pick()), 'A');
  r.add('N'); // newest, at the head, zero conns
  load(r.svc.dests[0], 1, 10);
  assert.deepEqual(r.order, ['N', 'A', 'B']);
  assert.equal(r.name(r.pick()), 'N');
});

test('lc fails with no usable server', () => {
  const r = rig(lc, [
    [0, 0, 0],
    [1, 0, 0],
  ]);
  r.overload(r.svc.dests[1], true);
  assert.equal(r.pick(), null);
});

test('wlc picks the smallest overhead/weight', () => {
  // ratios: A 512/1, B 556/2 = 278, C 513/4 ≈ 128, D 200/1
  const r = rig(wlc, [
    [1, 2, 0],
    [2, 1, 300],
    [4, 2, 1],
    [1, 0, 200],
  ]);
  assert.equal(r.name(r.pick()), 'C');
  r.overload(r.svc.dests[2], true);
  assert.equal(r.name(r.pick()), 'D');
});

test('wlc: ties go to the earlier server in list order', () => {
  // A 256/1 = B 512/2 = C 768/3
  const r = rig(wlc, [
    [1, 1, 0],
    [2, 2, 0],
    [3, 3, 0],
  ]);
  assert.equal(r.name(r.pick()), 'A');
  r.overload(r.svc.dests[0], true);
  assert.equal(r.name(r.pick()), 'B');
});

test('wlc: a weight-0 server never wins, even idle and first in the list', () => {
  const r = rig(wlc, [
    [0, 0, 0],
    [1, 1000, 0],
    [0, 0, 0],
  ]);
  assert.equal(r.name(r.pick()), 'B');
  r.edit(r.svc.dests[1], 0);
  assert.equal(r.pick(), null);
});

test('wlc: all idle servers tie, so the newest server takes the first conn', () => {
  const r = new Rig(wlc);
  r.add('old', 1);
  r.add('new', 100);
  r.add('newest', 1);
  assert.equal(r.name(r.pick()), 'newest');
});

test('sed uses (active+1)/weight and ignores inactive conns', () => {
  // A (0+1)/1 = 1, B (2+1)/3 = 1, C (3+1)/4 = 1: all tie, A wins
  const r = rig(sed, [
    [1, 0, 1000],
    [3, 2, 0],
    [4, 3, 0],
  ]);
  assert.equal(r.name(r.pick()), 'A');
  // A 2/1, B 2/3, C 3/4 → B
  load(r.svc.dests[0], 1, 0);
  load(r.svc.dests[1], 1, 5000);
  load(r.svc.dests[2], 2, 0);
  assert.equal(r.name(r.pick()), 'B');
  r.overload(r.svc.dests[1], true);
  assert.equal(r.name(r.pick()), 'C');
});

test('sed never picks weight 0 and fails when nothing is usable', () => {
  const r = rig(sed, [
    [0, 0, 0],
    [1, 50, 0],
  ]);
  assert.equal(r.name(r.pick()), 'B');
  r.overload(r.svc.dests[1], true);
  assert.equal(r.pick(), null);
});

test('nq returns the first idle server in list order at once', () => {
  const r = rig(nq, [
    [1, 3, 0],
    [1, 0, 900],
    [10, 0, 0],
  ]);
  assert.equal(r.name(r.pick()), 'B');
});

test('nq skips idle servers that are OVERLOADed or weight 0', () => {
  const r = rig(nq, [
    [0, 0, 0],
    [1, 0, 0],
    [1, 5, 0],
  ]);
  r.overload(r.svc.dests[1], true);
  assert.equal(r.name(r.pick()), 'C');
});

test('nq without an idle server behaves as sed, ties to the earlier', () => {
  // A (3+1)/1 = 4, B (3+1)/2 = 2, C (7+1)/4 = 2
  const r = rig(nq, [
    [1, 3, 0],
    [2, 3, 0],
    [4, 7, 0],
  ]);
  assert.equal(r.name(r.pick()), 'B');
  load(r.svc.dests[2], 6, 0); // C 7/4 < 2
  assert.equal(r.name(r.pick()), 'C');
});

test('fo picks the highest weight, ties to the earlier, skipping OVERLOAD', () => {
  const r = rig(fo, [
    [3, 0, 0],
    [5, 100, 0],
    [5, 0, 0],
    [1, 0, 0],
  ]);
  assert.equal(r.name(r.pick()), 'B');
  r.overload(r.svc.dests[1], true);
  assert.equal(r.name(r.pick()), 'C');
  for (const d of r.svc.dests) r.edit(d, 0);
  assert.equal(r.pick(), null);
});

test('ovf picks the highest weight among servers with active conns ≤ weight', () => {
  const r = rig(ovf, [
    [2, 2, 0],
    [5, 6, 0],
    [4, 4, 100],
    [4, 0, 0],
  ]);
  assert.equal(r.name(r.pick()), 'C');
  load(r.svc.dests[2], 5, 0); // C overflows
  assert.equal(r.name(r.pick()), 'D');
  r.overload(r.svc.dests[3], true);
  assert.equal(r.name(r.pick()), 'A');
  load(r.svc.dests[0], 3, 0);
  assert.equal(r.pick(), null);
});
