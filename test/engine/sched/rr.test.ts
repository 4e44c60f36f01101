import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rr } from '../../../src/engine/sched/rr.js';
import { Rig } from './rig.js';

test('rr starts at the head of the list and takes each server in turn', () => {
  const r = new Rig(rr);
  r.addInOrder([
    ['A', 1],
    ['B', 1],
    ['C', 1],
  ]);
  assert.deepEqual(r.order, ['A', 'B', 'C']);
  assert.deepEqual(r.seq(7), ['A', 'B', 'C', 'A', 'B', 'C', 'A']);
});

test('rr: the most recently added server is the first one chosen', () => {
  const r = new Rig(rr);
  r.add('first');
  r.add('second');
  assert.deepEqual(r.seq(3), ['second', 'first', 'second']);
});

test('rr ignores weights other than zero', () => {
  const r = new Rig(rr);
  r.addInOrder([
    ['A', 5],
    ['B', 1],
  ]);
  assert.deepEqual(r.seq(4), ['A', 'B', 'A', 'B']);
});

test('rr skips weight-0 and OVERLOADed servers', () => {
  const r = new Rig(rr);
  const [, b, c] = r.addInOrder([
    ['A', 1],
    ['B', 0],
    ['C', 1],
    ['D', 1],
  ]);
  assert.deepEqual(r.seq(6), ['A', 'C', 'D', 'A', 'C', 'D']);
  r.overload(c, true);
  assert.deepEqual(r.seq(4), ['A', 'D', 'A', 'D']);
  r.overload(c, false);
  r.edit(b, 2);
  assert.deepEqual(r.seq(4), ['A', 'B', 'C', 'D']);
});

test('rr examines the previous choice last, and fails only when nothing is usable', () => {
  const r = new Rig(rr);
  const [a, b, c] = r.addInOrder([
    ['A', 1],
    ['B', 1],
    ['C', 1],
  ]);
  assert.equal(r.name(r.pick()), 'A');
  r.overload(b, true);
  r.overload(c, true);
  // B and C are looked at first, then A again
  assert.deepEqual(r.seq(2), ['A', 'A']);
  r.overload(a, true);
  assert.equal(r.pick(), null);
  // a failure does not move the cursor: the search resumes after A
  r.overload(b, false);
  r.overload(a, false);
  assert.deepEqual(r.seq(3), ['B', 'A', 'B']);
});

test('rr with no servers fails', () => {
  const r = new Rig(rr);
  assert.equal(r.pick(), null);
});

test('rr: adding a server mid-stream puts it at the head; the cursor stays put', () => {
  const r = new Rig(rr);
  r.addInOrder([
    ['A', 1],
    ['B', 1],
    ['C', 1],
  ]);
  assert.deepEqual(r.seq(2), ['A', 'B']);
  r.add('D');
  assert.deepEqual(r.order, ['D', 'A', 'B', 'C']);
  assert.deepEqual(r.seq(5), ['C', 'D', 'A', 'B', 'C']);
});

test('rr: deleting the current server moves the cursor to the previous one', () => {
  const r = new Rig(rr);
  const [, b] = r.addInOrder([
    ['A', 1],
    ['B', 1],
    ['C', 1],
    ['D', 1],
  ]);
  assert.deepEqual(r.seq(2), ['A', 'B']);
  r.del(b);
  // cursor is now A, so C comes next
  assert.deepEqual(r.seq(4), ['C', 'D', 'A', 'C']);
});

test('rr: deleting the head while it is current restarts from the new head', () => {
  const r = new Rig(rr);
  const [a] = r.addInOrder([
    ['A', 1],
    ['B', 1],
    ['C', 1],
  ]);
  assert.equal(r.name(r.pick()), 'A');
  r.del(a);
  assert.deepEqual(r.seq(3), ['B', 'C', 'B']);
});

test('rr: deleting another server keeps the rotation', () => {
  const r = new Rig(rr);
  const [a, , , d] = r.addInOrder([
    ['A', 1],
    ['B', 1],
    ['C', 1],
    ['D', 1],
  ]);
  assert.deepEqual(r.seq(3), ['A', 'B', 'C']);
  r.del(a); // before the cursor
  assert.deepEqual(r.seq(2), ['D', 'B']);
  r.del(d); // after the cursor
  assert.deepEqual(r.seq(3), ['C', 'B', 'C']);
});

test('rr: setting weight 0 mid-stream quiesces a server, a new weight brings it back', () => {
  const r = new Rig(rr);
  const [, b] = r.addInOrder([
    ['A', 1],
    ['B', 1],
    ['C', 1],
  ]);
  assert.deepEqual(r.seq(1), ['A']);
  r.edit(b, 0);
  assert.deepEqual(r.seq(3), ['C', 'A', 'C']);
  r.edit(b, 3);
  assert.deepEqual(r.seq(3), ['A', 'B', 'C']);
});
