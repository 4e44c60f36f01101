/**
 * Issue 13, item 2: the least-connection overhead and the overload hysteresis of current
 * kernels. `ip_vs_dest_conn_overhead` is (activeconns << 8) + totalconns ("ipvs: add
 * totalconns for dest": an active conn weighs 257 idle ones), and
 * `ip_vs_dest_update_overload` sets OVERLOAD at u_threshold, clears it below
 * l_threshold (u − ⌊u/4⌋ when 0), keeps it in between — also when an edit changes the
 * thresholds ("ipvs: properly update the overload flag on dest edit").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { V_FORWARD } from '../../src/engine/drop.js';
import { IpvsError } from '../../src/engine/errors.js';
import type { Engine } from '../../src/engine/engine.js';
import { ACK, RIP1, RIP2, RST, SYN, TCP80, cin, engineWith, send } from './fixture.js';

const A = { addr: RIP1, port: 80, fwd: 'masq' as const, weight: 1 };
const B = { addr: RIP2, port: 80, fwd: 'masq' as const, weight: 1 };

/** `n` clients each open (SYN, ACK) and reset (RST) a conn: n CLOSE (inactive) conns. */
function closed(e: Engine, n: number, now: number, base = 0): void {
  for (let i = 0; i < n; i++) {
    const src = `10.0.${8 + ((base + i) >> 8)}.${(base + i) & 255}`;
    assert.equal(send(e, 'in', cin(SYN, { src, sport: 20000 + i }), now).v, V_FORWARD);
    send(e, 'in', cin(ACK, { src, sport: 20000 + i, seq: 1001 }), now);
    send(e, 'in', cin(RST, { src, sport: 20000 + i, seq: 1001 }), now);
  }
}

/** `n` SYNs from new clients: n active (SYN_RECV) conns wherever they are scheduled. */
function opened(e: Engine, n: number, now: number, base = 0): string[] {
  const to: string[] = [];
  for (let i = 0; i < n; i++) {
    const src = `10.0.${40 + ((base + i) >> 8)}.${(base + i) & 255}`;
    const r = send(e, 'in', cin(SYN, { src, sport: 30000 + i }), now);
    assert.equal(r.v, V_FORWARD);
    to.push(e.connInfo(e.result.conn).daddr);
  }
  return to;
}

for (const scheduler of ['lc', 'wlc']) {
  test(`${scheduler}: 256 closed conns weigh less than one active one (257 × active + inactive)`, () => {
    const e = engineWith({}, TCP80, { scheduler }, A);
    closed(e, 256, 0);
    const a = e.findDest(e.services[0], RIP1, 80)!;
    assert.equal(a.activeconns, 0);
    assert.equal(a.inactconns, 256);
    e.addDest(TCP80, B);
    // B (overhead 0) takes the first; then B has 257 against A's 256.
    assert.deepEqual(opened(e, 2, 1), [RIP2, RIP1]);
  });
}

test('OVERLOAD is set at u_threshold and cleared below l_threshold, kept in between', () => {
  const e = engineWith({}, TCP80, { scheduler: 'wlc' }, { ...A, uThreshold: 4, lThreshold: 2 });
  const a = e.findDest(e.services[0], RIP1, 80)!;
  e.tick(0);
  // one CLOSE conn (10 s) a second: they expire one a second from 10 s on
  for (let i = 0; i < 4; i++) closed(e, 1, i * 1000, i);
  assert.ok(a.overloaded);
  const seen: [number, boolean][] = [];
  for (let t = 10_000; t <= 13_000; t += 1000) {
    e.tick(t + 500);
    seen.push([a.totalconns, a.overloaded]);
  }
  assert.deepEqual(seen, [
    [3, true],
    [2, true],
    [1, false],
    [0, false],
  ]);
});

test('an edit that raises u_threshold keeps OVERLOAD while the conns stay at or above the new l', () => {
  const e = engineWith({}, TCP80, { scheduler: 'wlc' }, { ...A, uThreshold: 10 });
  const a = e.findDest(e.services[0], RIP1, 80)!;
  closed(e, 10, 0);
  assert.ok(a.overloaded);
  // u 12, l 0 → 12 − 3 = 9: 10 conns are between 9 and 12, the flag stays.
  e.editDest(TCP80, { ...A, uThreshold: 12 });
  assert.ok(a.overloaded, 'kept (kernels before the fix cleared it on any raise)');
  // u 20 → l 15: 10 < 15, cleared.
  e.editDest(TCP80, { ...A, uThreshold: 20 });
  assert.ok(!a.overloaded);
});

test('an edit that lowers u_threshold below the conns sets OVERLOAD at once', () => {
  const e = engineWith({}, TCP80, { scheduler: 'wlc' }, A, B);
  opened(e, 4, 0);
  const a = e.findDest(e.services[0], RIP1, 80)!;
  assert.equal(a.totalconns, 2);
  e.editDest(TCP80, { ...A, uThreshold: 2 });
  assert.ok(a.overloaded, 'set by the edit, not by the next bind');
  assert.deepEqual(opened(e, 2, 1, 100), [RIP2, RIP2], 'the overloaded server gets nothing');
});

test('an edit that leaves the thresholds alone does not touch OVERLOAD', () => {
  const e = engineWith({}, TCP80, { scheduler: 'wlc' }, { ...A, uThreshold: 4 });
  const a = e.findDest(e.services[0], RIP1, 80)!;
  closed(e, 4, 0);
  assert.ok(a.overloaded);
  e.editDest(TCP80, { ...A, uThreshold: 4, weight: 3 });
  assert.ok(a.overloaded);
});

test('l_threshold 0 means 75 % of u_threshold, rounded up (u − ⌊u/4⌋)', () => {
  const e = engineWith({}, TCP80, { scheduler: 'wlc' }, { ...A, uThreshold: 7 });
  const a = e.findDest(e.services[0], RIP1, 80)!;
  e.tick(0);
  for (let i = 0; i < 7; i++) closed(e, 1, i * 1000, i);
  assert.ok(a.overloaded);
  // l = 7 − 1 = 6: six conns keep the flag, five clear it
  e.tick(10_500);
  assert.deepEqual([a.totalconns, a.overloaded], [6, true]);
  e.tick(11_500);
  assert.deepEqual([a.totalconns, a.overloaded], [5, false]);
});

test('u_threshold above INT_MAX is EINVAL, l above u is ERANGE (checked first)', () => {
  const e = engineWith({}, TCP80, {});
  assert.throws(
    () => e.addDest(TCP80, { ...A, uThreshold: 2 ** 31 }),
    (err: unknown) => err instanceof IpvsError && err.errno === 'EINVAL',
  );
  assert.throws(
    () => e.addDest(TCP80, { ...A, uThreshold: 2 ** 31, lThreshold: 2 ** 32 }),
    (err: unknown) => err instanceof IpvsError && err.errno === 'ERANGE',
  );
});
