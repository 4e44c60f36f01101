/**
 * wrr when every server is overloaded (issue 13, item 4), traced by hand from
 * ip_vs_wrr_schedule: at `err_over` the kernel stores in `mark->cl` the dest its walk
 * stood on — the list head when the threshold wrapped after a last pass (or from the
 * head), the starting dest when a restarted walk reached its `stop` — and keeps the
 * `cw` the walk left (mw after a wrap).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wrr } from '../../../src/engine/sched/wrr.js';
import { Rig } from './rig.js';

function rig(...w: [string, number][]): Rig {
  return new Rig(wrr, { dests: w });
}

test('wrr: cw steps down to the gcd without wrapping, then wraps: the position goes back to the head', () => {
  // A3 B3 C1: cw 3 → A,B; cw 2 → A,B; cw 1 → A,B,C
  const r = rig(['A', 3], ['B', 3], ['C', 1]);
  assert.equal(r.name(r.pick()), 'A'); // cl A, cw 3
  for (const d of r.svc.dests) r.overload(d, true);
  // from A: cw 3 → 2 → 1 (the gcd: last pass over every dest) → wraps to mw 3: err_over
  // with the walk on the list head, so cl = head, cw = 3
  assert.equal(r.pick(), null);
  for (const d of r.svc.dests) r.overload(d, false);
  // from the head with cw 3: A (a position kept at A would give B)
  assert.deepEqual(r.seq(6), ['A', 'B', 'A', 'B', 'A', 'B']);
  assert.deepEqual(r.seq(2), ['C', 'A']);
});

test('wrr: a restarted walk that reaches its start dest keeps that position and the last cw', () => {
  // A1 B2 C1 (di 1, mw 2): B, A, B, C, then again
  const r = rig(['A', 1], ['B', 2], ['C', 1]);
  assert.deepEqual(r.seq(3), ['B', 'A', 'B']); // cl B, cw 1
  for (const d of r.svc.dests) r.overload(d, true);
  // from B: end of list, cw 0 wraps to 2 (restarted); 2 → 1 is the last pass, which
  // stops at B: err_over with cl = B, cw = 1
  assert.equal(r.pick(), null);
  for (const d of r.svc.dests) r.overload(d, false);
  assert.deepEqual(r.seq(5), ['C', 'B', 'A', 'B', 'C']);
});

test('wrr: all overloaded from the head fails at once and stays at the head', () => {
  const r = rig(['A', 2], ['B', 1]);
  for (const d of r.svc.dests) r.overload(d, true);
  assert.equal(r.pick(), null);
  assert.equal(r.pick(), null);
  for (const d of r.svc.dests) r.overload(d, false);
  // cw was mw (2) all along: A, then cw 1: A, B
  assert.deepEqual(r.seq(3), ['A', 'A', 'B']);
});
