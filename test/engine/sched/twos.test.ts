/**
 * twos (spec §10): two weighted random draws, keep the less loaded. Expected shares
 * are computed exactly from the spec (r uniform in [0, total] inclusive, the first
 * dest at which r − Σweights ≤ 0; choice 2 wins iff w2·o1 > w1·o2), then compared to
 * 100,000 seeded draws. Tolerance: ±0.01 absolute on each share — the standard
 * deviation of a share over 100,000 draws is at most 0.0016, so this is > 6σ while
 * still catching an off-by-one in the draw range (which shifts shares by ≥ 1/(T+1)
 * of a weight, ≥ 0.02 here).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { twos } from '../../../src/engine/sched/twos.js';
import { Rig, load, makeCtx, mulberry32 } from './rig.js';

interface D {
  name: string;
  weight: number;
  overhead: number;
  usable: boolean;
}

function expectedShares(ds: D[]): Map<string, number> {
  const el = ds.filter((d) => d.usable && d.weight > 0);
  const total = el.reduce((s, d) => s + d.weight, 0);
  const p = el.map(() => 0);
  for (let r = 0; r <= total; r++) {
    let left = r;
    for (let i = 0; i < el.length; i++) {
      left -= el[i].weight;
      if (left <= 0) {
        p[i] += 1 / (total + 1);
        break;
      }
    }
  }
  const out = new Map<string, number>(ds.map((d) => [d.name, 0]));
  for (let i = 0; i < el.length; i++) {
    for (let j = 0; j < el.length; j++) {
      const c1 = el[i];
      const c2 = el[j];
      const win = c2.weight * c1.overhead > c1.weight * c2.overhead ? c2 : c1;
      out.set(win.name, (out.get(win.name) ?? 0) + p[i] * p[j]);
    }
  }
  return out;
}

function run(ds: D[], seed: number, n = 100_000): Map<string, number> {
  const r = new Rig(twos, { ctx: makeCtx(mulberry32(seed)) });
  r.addInOrder(ds.map((d): [string, number] => [d.name, d.weight]));
  ds.forEach((d, i) => {
    load(r.svc.dests[i], Math.floor(d.overhead / 256), d.overhead % 256);
    if (!d.usable) r.overload(r.svc.dests[i], true);
  });
  const got = new Map<string, number>(ds.map((d) => [d.name, 0]));
  for (let i = 0; i < n; i++) {
    const name = r.name(r.pick());
    got.set(name, (got.get(name) ?? 0) + 1 / n);
  }
  return got;
}

function assertClose(got: Map<string, number>, want: Map<string, number>): void {
  for (const [name, p] of want) {
    const g = got.get(name) ?? 0;
    assert.ok(Math.abs(g - p) <= 0.01, `${name}: got ${g.toFixed(4)}, want ${p.toFixed(4)}`);
  }
  assert.equal(got.get('-') ?? 0, 0, 'never fails while a server is usable');
}

test('twos with idle servers follows the weights (first server has one extra chance)', () => {
  const ds: D[] = [
    { name: 'A', weight: 1, overhead: 0, usable: true },
    { name: 'B', weight: 2, overhead: 0, usable: true },
    { name: 'C', weight: 3, overhead: 0, usable: true },
  ];
  const want = expectedShares(ds);
  // r in [0, 6]: A gets r = 0, 1; B 2, 3; C 4, 5, 6
  assert.deepEqual(
    [...want.values()].map((x) => Math.round(x * 7 * 1e9) / 1e9),
    [2, 2, 3],
  );
  assertClose(run(ds, 1), want);
});

test('twos prefers the less loaded of the two draws', () => {
  const ds: D[] = [
    { name: 'A', weight: 3, overhead: 512, usable: true },
    { name: 'B', weight: 2, overhead: 10, usable: true },
    { name: 'C', weight: 5, overhead: 256, usable: true },
    { name: 'D', weight: 0, overhead: 0, usable: true },
    { name: 'E', weight: 4, overhead: 0, usable: false },
  ];
  const want = expectedShares(ds);
  assert.equal(want.get('D'), 0);
  assert.equal(want.get('E'), 0);
  // B is drawn with probability 2/11 but wins every pair it is in
  const pB = 2 / 11;
  assert.ok(Math.abs((want.get('B') ?? 0) - (1 - (1 - pB) ** 2)) < 1e-12);
  assertClose(run(ds, 2), want);
});

test('twos with two equal servers, one loaded: 4/9 vs 5/9', () => {
  const ds: D[] = [
    { name: 'A', weight: 1, overhead: 256, usable: true },
    { name: 'B', weight: 1, overhead: 0, usable: true },
  ];
  const want = expectedShares(ds);
  assert.ok(Math.abs((want.get('A') ?? 0) - 4 / 9) < 1e-12);
  assertClose(run(ds, 3), want);
});

test('twos fails when no server is usable', () => {
  const r = new Rig(twos);
  assert.equal(r.pick(), null);
  const [a] = r.addInOrder([
    ['A', 1],
    ['B', 0],
  ]);
  r.overload(a, true);
  assert.equal(r.pick(), null);
});
