/**
 * The overload defences in their automatic modes (spec §2.6, §2.9), driven by the
 * available-memory figure passed to tick(), and the rate estimator (spec §11.2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Engine } from '../../src/engine/engine.js';
import { V_DROP, V_FORWARD } from '../../src/engine/drop.js';
import { Stats } from '../../src/engine/stats.js';
import { SVC_F_PERSISTENT } from '../../src/engine/constants.js';
import { ACK, SYN, TCP80 as K, buildPacket, engineWith, rng } from './fixture.js';

function engine(settings: Record<string, number>, persistent = false): Engine {
  return engineWith(
    { random: rng(5), settings },
    K,
    { scheduler: 'rr', flags: persistent ? SVC_F_PERSISTENT : 0, timeout: 300 },
    { addr: '10.0.2.11', port: 80, fwd: 'masq' },
  );
}

function syn(e: Engine, i: number, now: number): number {
  const p = buildPacket({
    src: `10.1.${i >> 8}.${i & 255}`,
    dst: '10.0.3.100',
    sport: 1024 + (i % 60000),
    dport: 80,
    flags: SYN,
  });
  return e.in(p, 0, p.length, now);
}

test('drop_packet=3 drops one of every am_droprate new-connection packets', () => {
  const e = engine({ drop_packet: 3, am_droprate: 10 });
  e.tick(0);
  const v = Array.from({ length: 100 }, (_, i) => syn(e, i, 1));
  assert.equal(v.filter((x) => x === V_DROP).length, 10);
  // exactly every 10th (the counter starts at 0 and is reset to the rate)
  assert.deepEqual(
    v.map((x, i) => (x === V_DROP ? i : -1)).filter((i) => i >= 0),
    [0, 10, 20, 30, 40, 50, 60, 70, 80, 90],
  );
  // packets of existing conns are never dropped by it
  const p = buildPacket({ src: '10.1.0.1', dst: '10.0.3.100', sport: 1025, dport: 80, flags: ACK });
  assert.equal(e.in(p, 0, p.length, 2), V_FORWARD);
});

test('drop_packet=1 turns on when memory is short (rate amemthresh/(amemthresh-avail)), back to 1 when it recovers', () => {
  const e = engine({ drop_packet: 1, amemthresh: 1000 });
  e.tick(0, 5000);
  assert.equal(e.settings.drop_packet, 1);
  assert.equal([0, 1, 2, 3].map((i) => syn(e, i, 1)).filter((v) => v === V_DROP).length, 0);
  e.tick(1000, 500); // nomem: rate 1000 / 500 = 2
  assert.equal(e.settings.drop_packet, 2);
  const v = Array.from({ length: 10 }, (_, i) => syn(e, 100 + i, 1001));
  assert.equal(v.filter((x) => x === V_DROP).length, 5);
  e.tick(2000, 5000);
  assert.equal(e.settings.drop_packet, 1);
  assert.equal(
    Array.from({ length: 10 }, (_, i) => syn(e, 200 + i, 2001)).filter((x) => x === V_DROP).length,
    0,
  );
});

test('drop_entry=1 switches to 2 when memory is short and drops half-open conns; 0 never does', () => {
  for (const mode of [0, 1]) {
    const e = engine({ drop_entry: mode, amemthresh: 1000 });
    e.tick(0, 5000);
    for (let i = 0; i < 64; i++) syn(e, i, 0);
    assert.equal(e.conns.count, 64);
    // memory short for 40 s (SYN_RECV would expire at 60 s by itself)
    for (let t = 1; t <= 40; t++) e.tick(t * 1000, 500);
    if (mode === 0) {
      assert.equal(e.conns.count, 64, 'drop_entry=0 keeps everything');
    } else {
      assert.equal(e.settings.drop_entry, 2);
      assert.ok(e.conns.count < 64, `some SYN_RECV conns dropped (left ${e.conns.count})`);
      const d = e.findService(K)!.dests[0];
      assert.equal(d.activeconns, e.conns.count, 'counters follow the drops');
      e.tick(41_000, 5000);
      assert.equal(e.settings.drop_entry, 1);
    }
  }
});

test('drop_entry=3 drops unassured persistence templates that control nobody', () => {
  const e = engine({ drop_entry: 3 }, true);
  e.tick(0);
  for (let i = 0; i < 32; i++) syn(e, i, 0);
  assert.equal(e.conns.count, 64, '32 conns + 32 templates');
  // the SYN_RECV conns go first (or time out at 60 s), then the unassured templates
  for (let t = 1; t <= 280; t++) e.tick(t * 1000);
  assert.equal(
    e.connections().filter((c) => c.template).length,
    0,
    'templates dropped before their 300 s',
  );
});

test('rate estimator: the EWMA of spec §11.2, step by step', () => {
  const s = new Stats();
  s.inpkts += 2000; // 1000 packets/s over the 2 s interval
  s.inbytes += 2_000_000;
  s.conns += 200;
  s.estimate();
  // avg = (2000·2^9) / 4 = 256000 → (256000 + 0x1FF) >> 10 = 250
  assert.equal(s.rates().inpps, 250);
  // bytes: (2e6·2^4)/4 = 8e6 → (8e6 + 0xF) >> 5 = 250000
  assert.equal(s.rates().inbps, 250_000);
  assert.equal(s.rates().cps, 25);
  s.inpkts += 2000;
  s.estimate();
  // avg = 256000 + (1024000 − 256000)/4 = 448000 → 437
  assert.equal(s.rates().inpps, 437);
  for (let i = 0; i < 60; i++) {
    s.inpkts += 2000;
    s.estimate();
  }
  assert.equal(s.rates().inpps, 1000);
  s.zero();
  assert.equal(s.rates().inpps, 0);
  assert.equal(s.snapshot().inpkts, 0);
  s.inpkts += 10;
  assert.equal(s.snapshot().inpkts, 10);
});

test('the engine estimates every 2 s from its tick', () => {
  const e = engine({});
  for (let t = 0; t <= 60; t++) {
    for (let k = 0; k < 10; k++) syn(e, t * 10 + k, t * 1000);
    e.tick(t * 1000);
  }
  const r = e.findService(K)!.stats.rates();
  assert.ok(Math.abs(r.cps - 10) <= 1, `cps ${r.cps}`);
  assert.ok(Math.abs(r.inpps - 10) <= 1, `inpps ${r.inpps}`);
  assert.ok(Math.abs(e.totals.rates().cps - 10) <= 1);
});
