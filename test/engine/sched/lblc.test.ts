/** lblc and lblcr (spec §10): cache hits, replacement, set growth/shrink and the GC. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LBL_MAX_SIZE } from '../../../src/engine/sched/lbl-cache.js';
import { lblc, LocalityLeastConnection } from '../../../src/engine/sched/lblc.js';
import { lblcr, LocalityLeastConnectionReplicated } from '../../../src/engine/sched/lblcr.js';
import type { SchedulerModule } from '../../../src/engine/sched/types.js';
import { Rig, addr, load, makeCtx } from './rig.js';

const X = '203.0.113.10';
const Y = '203.0.113.20';

function rig(mod: SchedulerModule, lblcExp = 24 * 3600, lblcrExp = 24 * 3600): Rig {
  const r = new Rig(mod, { ctx: makeCtx(undefined, lblcExp, lblcrExp) });
  r.addInOrder([
    ['A', 1],
    ['B', 1],
    ['C', 1],
  ]);
  return r;
}

function to(r: Rig, daddr: string): string {
  return r.name(r.pick('198.51.100.1', 1000, daddr));
}

function cached(r: Rig, daddr: string): string {
  return r.name((r.sched as LocalityLeastConnection).cached(r.svc, addr(daddr)));
}

/** Tick once a second from r.now (exclusive) to `until` (inclusive). */
function tickTo(r: Rig, until: number): void {
  const s = r.sched;
  for (let t = r.now + 1000; t <= until; t += 1000) {
    r.now = t;
    s.tick?.(r.svc, t);
  }
}

test('lblc: a destination address sticks to the server wlc gave it', () => {
  const r = rig(lblc);
  assert.equal(to(r, X), 'A');
  load(r.svc.dests[0], 1, 0); // wlc now prefers B, but A is not locally overloaded
  assert.equal(to(r, X), 'A');
  assert.equal(to(r, Y), 'B');
  assert.equal(cached(r, X), 'A');
  assert.equal(cached(r, Y), 'B');
});

test('lblc: the OVERLOAD flag is not checked for the cached server', () => {
  const r = rig(lblc);
  assert.equal(to(r, X), 'A');
  r.overload(r.svc.dests[0], true);
  assert.equal(to(r, X), 'A');
  assert.equal(to(r, Y), 'B', 'a miss skips OVERLOADed servers');
});

test('lblc: a locally overloaded cached server is replaced and the entry follows', () => {
  const r = rig(lblc);
  const [a, b, c] = r.svc.dests;
  assert.equal(to(r, X), 'A');
  // A has more active conns than its weight and B is below half its weight
  load(a, 2);
  load(b, 0);
  load(c, 0, 5);
  assert.equal(to(r, X), 'B');
  assert.equal(cached(r, X), 'B');
  assert.equal(to(r, X), 'B');
});

test('lblc: more active conns than weight is fine while nobody is below half weight', () => {
  const r = rig(lblc);
  const [a, b, c] = r.svc.dests;
  assert.equal(to(r, X), 'A');
  r.edit(b, 2);
  r.edit(c, 2);
  load(a, 2);
  load(b, 1); // 1·2 < 2 is false
  load(c, 1);
  assert.equal(to(r, X), 'A');
});

test('lblc: a quiesced or deleted cached server is replaced', () => {
  const r = rig(lblc);
  assert.equal(to(r, X), 'A');
  r.edit(r.svc.dests[0], 0);
  assert.equal(to(r, X), 'B');
  r.del(r.svc.dests[1]); // B: AVAILABLE cleared
  assert.equal(to(r, X), 'C');
  assert.equal(r.svc.dests.length, 2);
});

test('lblc: nothing available fails without creating an entry', () => {
  const r = rig(lblc);
  for (const d of r.svc.dests) r.overload(d, true);
  assert.equal(r.pick('198.51.100.1', 1, X), null);
  assert.equal((r.sched as LocalityLeastConnection).cache.entries, 0);
});

test('lblc: IPv6 destinations are told apart by the whole address, not the fold', () => {
  const r = new Rig(lblc, { af: 6 });
  r.addInOrder([
    ['A', 1],
    ['B', 1],
  ]);
  // same XOR fold, different addresses
  const p = '2001:db8:0:1:0:2::';
  const q = '2001:db8:0:2:0:1::';
  const fold = (t: string): number => {
    const w = addr(t);
    return (w[0] ^ w[1] ^ w[2] ^ w[3]) >>> 0;
  };
  assert.equal(fold(p), fold(q));
  assert.equal(r.name(r.pick('2001:db8::99', 1, p)), 'A');
  load(r.svc.dests[0], 0, 10);
  assert.equal(r.name(r.pick('2001:db8::99', 1, q)), 'B');
  assert.equal(r.name(r.pick('2001:db8::99', 1, p)), 'A');
});

test('lblc GC: every 30th run (30 min) drops entries idle for lblc_expiration', () => {
  const r = rig(lblc, 600); // 10 minutes
  const cache = (r.sched as LocalityLeastConnection).cache;
  r.sched.tick?.(r.svc, 0); // arms the 60 s timer
  tickTo(r, 1000);
  to(r, X);
  to(r, Y);
  tickTo(r, 25 * 60_000);
  to(r, Y); // Y used again at 25 min
  tickTo(r, 30 * 60_000 - 1000);
  // X has been idle far longer than 10 min, but runs 1..29 only trim an over-full table
  assert.equal(cache.entries, 2);
  tickTo(r, 30 * 60_000);
  assert.equal(cache.entries, 1);
  assert.equal(cached(r, X), '-');
  assert.equal(cached(r, Y), 'A');
  tickTo(r, 60 * 60_000 - 1000);
  assert.equal(cache.entries, 1);
  tickTo(r, 60 * 60_000);
  assert.equal(cache.entries, 0);
});

test('lblc GC: an over-full table drops entries idle ≥ 6 min until the goal is met', () => {
  const r = rig(lblc);
  const cache = (r.sched as LocalityLeastConnection).cache;
  r.sched.tick?.(r.svc, 0);
  tickTo(r, 1000);
  const n = LBL_MAX_SIZE + 300;
  for (let i = 0; i < n; i++) {
    r.pick('198.51.100.1', 1, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  }
  assert.equal(cache.entries, n);
  tickTo(r, 400_000); // runs at 1..6 min: nothing idle for 6 min yet
  assert.equal(cache.entries, n);
  to(r, '10.0.0.7'); // used at 400 s: must survive
  tickTo(r, 420_000);
  const removed = n - cache.entries;
  // goal = min((entries − 16384)·4/3, 8192) = 400, checked after each whole bucket
  assert.ok(removed >= 400 && removed < 400 + 64, `removed ${removed}`);
  assert.equal(cached(r, '10.0.0.7'), 'A');
  tickTo(r, 480_000); // no longer over-full: nothing more goes
  assert.equal(n - cache.entries, removed);
});

test('lblc: done() empties the cache', () => {
  const r = rig(lblc);
  to(r, X);
  to(r, Y);
  r.sched.done?.(r.svc);
  assert.equal((r.sched as LocalityLeastConnection).cache.entries, 0);
  assert.equal(cached(r, X), '-');
});

function set(r: Rig, daddr: string): string[] {
  return (r.sched as LocalityLeastConnectionReplicated)
    .cachedSet(r.svc, addr(daddr))
    .map((d) => r.name(d));
}

test('lblcr: a miss creates a one-server set; hits use its least loaded member', () => {
  const r = rig(lblcr);
  assert.equal(to(r, X), 'A');
  assert.deepEqual(set(r, X), ['A']);
  load(r.svc.dests[0], 1);
  assert.equal(to(r, X), 'A');
  assert.equal(to(r, Y), 'B');
});

test('lblcr: a locally overloaded set gains the wlc choice, newest first', () => {
  const r = rig(lblcr);
  const [a, b, c] = r.svc.dests;
  r.now = 1000;
  assert.equal(to(r, X), 'A');
  load(a, 2); // A: 2 > 1 and B, C are below half weight
  r.now = 2000;
  assert.equal(to(r, X), 'B');
  assert.deepEqual(set(r, X), ['B', 'A']);
  assert.equal(to(r, X), 'B');
  load(b, 3); // B oh 768, A oh 512: A is the set's min, still locally overloaded
  assert.equal(to(r, X), 'C');
  assert.deepEqual(set(r, X), ['C', 'B', 'A']);
  load(c, 1); // C: 1 > 1 is false: not locally overloaded, and the least loaded
  assert.equal(to(r, X), 'C');
  assert.deepEqual(set(r, X), ['C', 'B', 'A']);
});

test('lblcr: set members that are OVERLOADed, quiesced or gone are not chosen', () => {
  const r = rig(lblcr);
  const [a, b] = r.svc.dests;
  assert.equal(to(r, X), 'A');
  load(a, 2);
  assert.equal(to(r, X), 'B'); // set [B, A]
  load(a, 0);
  load(b, 0, 1);
  assert.equal(to(r, X), 'A'); // A oh 0 beats B oh 1
  r.overload(a, true);
  assert.equal(to(r, X), 'B');
  r.overload(a, false);
  r.edit(a, 0);
  assert.equal(to(r, X), 'B');
  r.del(b);
  // neither member usable: wlc over the service picks C and it joins the set
  assert.equal(to(r, X), 'C');
  assert.deepEqual(set(r, X), ['C', 'B', 'A']);
});

test('lblcr: a set unchanged for lblcr_expiration sheds its most loaded member', () => {
  const r = rig(lblcr, 24 * 3600, 600); // lblcr_expiration 10 min
  const [a, b, c] = r.svc.dests;
  r.now = 1000;
  to(r, X); // [A]
  load(a, 2);
  to(r, X); // [B, A]
  load(b, 3);
  to(r, X); // [C, B, A], lastmod 1000
  assert.deepEqual(set(r, X), ['C', 'B', 'A']);
  load(c, 1);
  r.now = 1000 + 600_000; // not yet *more* than the expiration
  assert.equal(to(r, X), 'C');
  assert.deepEqual(set(r, X), ['C', 'B', 'A']);
  r.now = 1000 + 600_001;
  // B (768/1) is the most loaded; C (256/1) is still the answer
  assert.equal(to(r, X), 'C');
  assert.deepEqual(set(r, X), ['C', 'A']);
  // the removal counts as a change: nothing more for another 10 min
  r.now += 599_000;
  to(r, X);
  assert.deepEqual(set(r, X), ['C', 'A']);
  r.now += 2000;
  to(r, X);
  assert.deepEqual(set(r, X), ['C']);
  r.now += 3_600_000;
  to(r, X);
  assert.deepEqual(set(r, X), ['C'], 'a single member is never removed');
});

test('lblcr: weighted load decides which member is shed', () => {
  const r = rig(lblcr, 24 * 3600, 60);
  const [a, b] = r.svc.dests;
  to(r, X);
  load(a, 2);
  to(r, X); // [B, A]
  r.edit(a, 4); // A: 512/4 = 128, B: 300/1
  load(b, 1, 44);
  r.now = 61_000;
  to(r, X);
  assert.deepEqual(set(r, X), ['A']);
});

test('lblcr GC: full expiration uses lblcr_expiration', () => {
  const r = rig(lblcr, 24 * 3600, 600);
  const cache = (r.sched as LocalityLeastConnectionReplicated).cache;
  r.sched.tick?.(r.svc, 0);
  tickTo(r, 1000);
  to(r, X);
  tickTo(r, 30 * 60_000 - 1000);
  assert.equal(cache.entries, 1);
  tickTo(r, 30 * 60_000);
  assert.equal(cache.entries, 0);
  assert.deepEqual(set(r, X), []);
  // ids are reused with a fresh set
  to(r, Y);
  assert.deepEqual(set(r, Y), ['A']);
});
