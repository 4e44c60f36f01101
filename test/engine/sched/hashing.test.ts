/**
 * sh and dh (spec §10). Expected buckets are computed here from the spec's formula
 * hash_32(v, 8) = (v × 0x61C88647 mod 2^32) >> 24 with BigInt, independently of the
 * code under test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SVC_F_SCHED1, SVC_F_SCHED2 } from '../../../src/engine/constants.js';
import { dh, DestinationHashing } from '../../../src/engine/sched/dh.js';
import { sh, SourceHashing } from '../../../src/engine/sched/sh.js';
import type { Dest } from '../../../src/engine/service.js';
import { Rig, addr, mulberry32 } from './rig.js';

function hash8(v: number): number {
  return Number((((BigInt(v) % 2n ** 32n) * 0x61c88647n) % 2n ** 32n) >> 24n);
}

function ipv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function clients(count: number, seed: number): number[] {
  const rnd = mulberry32(seed);
  return Array.from({ length: count }, () => Math.floor(rnd() * 2 ** 32));
}

function shRig(spec: [string, number][], flags = 0): Rig {
  const r = new Rig(sh, { flags });
  r.addInOrder(spec);
  return r;
}

function table(r: Rig): string[] {
  return (r.sched as SourceHashing).buckets.map((d) => r.name(d));
}

/** The spec's fill: walk the list cyclically, max(weight, 1) buckets per dest per cycle. */
function expectedFill(spec: [string, number][]): string[] {
  const cycle = spec.flatMap(([n, w]) => Array<string>(Math.max(w, 1)).fill(n));
  return Array.from({ length: 256 }, (_, b) => cycle[b % cycle.length]);
}

test('sh fills 256 buckets cyclically, weight buckets per dest (weight 0 takes one)', () => {
  for (const spec of [
    [
      ['A', 2],
      ['B', 1],
      ['C', 0],
    ],
    [
      ['A', 3],
      ['B', 2],
    ],
    [['A', 300]],
  ] as [string, number][][]) {
    assert.deepEqual(table(shRig(spec)), expectedFill(spec));
  }
  assert.deepEqual(table(shRig([])), Array<string>(256).fill('-'));
});

test('sh maps a client address to bucket hash_32(addr, 8), always the same server', () => {
  const spec: [string, number][] = [
    ['A', 2],
    ['B', 1],
    ['C', 3],
  ];
  const r = shRig(spec);
  const fill = expectedFill(spec);
  for (const c of clients(2000, 7)) {
    const want = fill[hash8(c)];
    assert.equal(r.name(r.pick(ipv4(c), 1000)), want);
    assert.equal(r.name(r.pick(ipv4(c), 2000)), want, 'port ignored without sh-port');
  }
});

test('sh with sh-port hashes port + address', () => {
  const spec: [string, number][] = [
    ['A', 1],
    ['B', 1],
    ['C', 1],
    ['D', 1],
    ['E', 1],
  ];
  const r = shRig(spec, SVC_F_SCHED2);
  const fill = expectedFill(spec);
  const c = 0xc6336407; // 198.51.100.7
  const seen = new Set<string>();
  for (let port = 1000; port < 1100; port++) {
    const want = fill[hash8(c + port)];
    assert.equal(r.name(r.pick(ipv4(c), port)), want);
    seen.add(want);
  }
  assert.equal(seen.size, 5, 'different ports of one client spread over the servers');
});

test('sh folds an IPv6 client address by XOR of its four words', () => {
  const r = new Rig(sh, { af: 6 });
  const spec: [string, number][] = [
    ['A', 1],
    ['B', 2],
    ['C', 1],
  ];
  r.addInOrder(spec);
  const fill = expectedFill(spec);
  for (const text of ['2001:db8::7', '2001:db8:85a3::8a2e:370:7334', 'fe80::1']) {
    const w = addr(text);
    const fold = (w[0] ^ w[1] ^ w[2] ^ w[3]) >>> 0;
    assert.equal(r.name(r.pick(text)), fill[hash8(fold)], text);
  }
});

test('sh without sh-fallback fails the keys of an unavailable server, keeps the others', () => {
  const spec: [string, number][] = [
    ['A', 1],
    ['B', 1],
    ['C', 1],
    ['D', 1],
  ];
  const r = shRig(spec);
  const b = r.svc.dests[1];
  const before = clients(1000, 11).map((c) => r.name(r.pick(ipv4(c))));
  r.overload(b, true);
  const over = clients(1000, 11).map((c) => r.name(r.pick(ipv4(c))));
  r.overload(b, false);
  r.edit(b, 0); // quiesced: still in the table, but unavailable
  assert.deepEqual(table(r), expectedFill(spec));
  const quiesced = clients(1000, 11).map((c) => r.name(r.pick(ipv4(c))));
  before.forEach((was, i) => {
    const want = was === 'B' ? '-' : was;
    assert.equal(over[i], want);
    assert.equal(quiesced[i], want);
  });
  assert.ok(before.includes('B'));
});

test("sh with sh-fallback moves an unavailable server's keys by re-hashing, others stay", () => {
  const spec: [string, number][] = [
    ['A', 1],
    ['B', 1],
    ['C', 1],
    ['D', 1],
  ];
  const r = shRig(spec, SVC_F_SCHED1);
  const fill = expectedFill(spec);
  const b = r.svc.dests[1];
  r.overload(b, true);
  let moved = 0;
  for (const c of clients(1000, 12)) {
    const h = hash8(c);
    let want = fill[h];
    if (want === 'B') {
      // spec: roffset = (k + h) mod 256, bucket = (roffset + h) & 255, first available
      for (let k = 0; k < 256; k++) {
        const cand = fill[(((k + h) % 256) + h) & 255];
        if (cand !== 'B') {
          want = cand;
          break;
        }
      }
      moved++;
    }
    assert.equal(r.name(r.pick(ipv4(c))), want);
  }
  assert.ok(moved > 150 && moved < 350, `moved ${moved}`);
  r.overload(b, false);
  for (const c of clients(200, 12)) assert.equal(r.name(r.pick(ipv4(c))), fill[hash8(c)]);
  // all unavailable: fails
  for (const d of r.svc.dests) r.overload(d, true);
  assert.equal(r.pick(), null);
});

test('sh rebuilds its table when servers are added, edited and deleted mid-stream', () => {
  const r = shRig([
    ['A', 1],
    ['B', 1],
  ]);
  const c = 0x0a000001;
  r.add('C', 2);
  assert.deepEqual(
    table(r),
    expectedFill([
      ['C', 2],
      ['A', 1],
      ['B', 1],
    ]),
  );
  r.edit(r.svc.dests[1], 3);
  const spec: [string, number][] = [
    ['C', 2],
    ['A', 3],
    ['B', 1],
  ];
  assert.deepEqual(table(r), expectedFill(spec));
  assert.equal(r.name(r.pick(ipv4(c))), expectedFill(spec)[hash8(c)]);
  r.del(r.svc.dests[0]);
  assert.deepEqual(
    table(r),
    expectedFill([
      ['A', 3],
      ['B', 1],
    ]),
  );
  r.del(r.svc.dests[0]);
  r.del(r.svc.dests[0]);
  assert.equal(r.pick(ipv4(c)), null);
});

function dhTable(r: Rig): string[] {
  return (r.sched as DestinationHashing).buckets.map((d) => r.name(d));
}

test('dh fills 256 buckets round robin ignoring weights, keyed by destination address', () => {
  const r = new Rig(dh);
  r.addInOrder([
    ['A', 5],
    ['B', 1],
    ['C', 0],
  ]);
  const fill = Array.from({ length: 256 }, (_, b) => 'ABC'[b % 3]);
  assert.deepEqual(dhTable(r), fill);
  for (const d of clients(500, 21)) {
    const want = fill[hash8(d)];
    const got = [r.pick('198.51.100.1', 1, ipv4(d)), r.pick('203.0.113.9', 2, ipv4(d))];
    // C has weight 0: unavailable, no fallback
    assert.equal(r.name(got[0]), want === 'C' ? '-' : want);
    assert.equal(got[0], got[1], 'the client does not matter');
  }
});

test('dh fails when the hashed server is OVERLOADed, quiesced or no longer AVAILABLE', () => {
  const r = new Rig(dh);
  const [a] = r.addInOrder([['A', 1]]);
  const d = '192.0.2.55';
  assert.equal(r.name(r.pick(undefined, undefined, d)), 'A');
  r.overload(a, true);
  assert.equal(r.pick(undefined, undefined, d), null);
  r.overload(a, false);
  r.edit(a, 0);
  assert.equal(r.pick(undefined, undefined, d), null);
  r.edit(a, 1);
  (a as Dest).flags &= ~1; // AVAILABLE cleared, as when the dest is deleted
  assert.equal(r.pick(undefined, undefined, d), null);
});

test('dh rebuilds on changes; an empty service fails', () => {
  const r = new Rig(dh);
  assert.equal(r.pick(), null);
  r.add('A');
  r.add('B');
  assert.deepEqual(
    dhTable(r),
    Array.from({ length: 256 }, (_, b) => 'BA'[b % 2]),
  );
  r.del(r.svc.dests[0]);
  assert.deepEqual(dhTable(r), Array<string>(256).fill('A'));
});
