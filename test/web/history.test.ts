/**
 * The dashboard's history ring (src/web/history.ts): samples come back oldest first,
 * the ring keeps only its capacity, a series that leaves is forgotten, a new one has
 * gaps before it began, and memory stays what the ring was made with.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HistoryRing } from '../../src/web/history.js';

const at = (...pairs: [string, number[]][]): Map<string, number[]> => new Map(pairs);

test('samples come back oldest first with their times', () => {
  const r = new HistoryRing(['a', 'b'], { capacity: 5 });
  for (let i = 1; i <= 3; i++) r.push(i * 1000, at(['x', [i, i * 10]]));
  assert.equal(r.length, 3);
  assert.deepEqual(r.window('x'), {
    t: [1000, 2000, 3000],
    values: [
      [1, 2, 3],
      [10, 20, 30],
    ],
  });
  assert.deepEqual(r.latest('x'), [3, 30]);
  assert.equal(r.lastTime, 3000);
});

test('the ring keeps the last `capacity` samples once it wraps', () => {
  const r = new HistoryRing(['v'], { capacity: 4 });
  for (let i = 1; i <= 11; i++) r.push(i, at(['x', [i]]));
  assert.equal(r.length, 4);
  assert.deepEqual(r.window('x'), { t: [8, 9, 10, 11], values: [[8, 9, 10, 11]] });
  // only the samples after `since`
  assert.deepEqual(r.window('x', 9), { t: [10, 11], values: [[10, 11]] });
});

test('a series that joins later has gaps (null) before it began', () => {
  const r = new HistoryRing(['v'], { capacity: 4 });
  r.push(1, at(['x', [1]]));
  r.push(2, at(['x', [2]], ['y', [20]]));
  assert.deepEqual(r.window('y'), { t: [1, 2], values: [[null, 20]] });
});

test('a series missing from a sample is forgotten', () => {
  const r = new HistoryRing(['v'], { capacity: 4 });
  r.push(1, at(['x', [1]], ['y', [2]]));
  r.push(2, at(['x', [1]]));
  assert.equal(r.window('y'), null);
  assert.deepEqual(r.keys(), ['x']);
  // when it comes back it starts afresh, with no old values
  r.push(3, at(['x', [1]], ['y', [5]]));
  assert.deepEqual(r.window('y'), { t: [1, 2, 3], values: [[null, null, 5]] });
});

test('non-finite and missing numbers are gaps', () => {
  const r = new HistoryRing(['a', 'b', 'c'], { capacity: 2 });
  r.push(1, at(['x', [NaN, Infinity]]));
  assert.deepEqual(r.latest('x'), [null, null, null]);
});

test('memory is bounded: at most maxSeries series of capacity × metrics numbers', () => {
  const r = new HistoryRing(['a', 'b'], { capacity: 900, maxSeries: 3 });
  const many = new Map<string, number[]>();
  for (let i = 0; i < 10; i++) many.set(`s${i}`, [i, i]);
  for (let t = 0; t < 2000; t++) r.push(t, many);
  assert.equal(r.keys().length, 3);
  assert.equal(r.dropped, 7);
  assert.equal(r.length, 900);
  assert.equal(r.bytes, 900 * 8 + 3 * 900 * 2 * 4);
  assert.equal(r.window('s9'), null);
});
