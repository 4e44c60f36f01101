import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  COOKIE_PERIOD_MS,
  CookieKeys,
  MSS_TABLE_V4,
  MSS_TABLE_V6,
  cookieCount,
  halfSipHash24,
  mssIndex,
  mssOf,
  tsDecodeWscale,
  tsEncode,
} from '../../src/engine/synproxy-cookie.js';
import { rng } from '../helpers/packets.js';
import { halfSipHash, halfSipKeyFromWords } from '../../src/engine/sched/siphash.js';

const S4 = new Uint32Array([0x0a000102, 0, 0, 0]);
const D4 = new Uint32Array([0x0a000364, 0, 0, 0]);
const S6 = new Uint32Array([0x20010db8, 0, 0, 2]);
const D6 = new Uint32Array([0x20010db8, 0, 3, 0x100]);

test('the MSS index is the largest table entry not above the client MSS (kernel tables)', () => {
  // typed in from net/ipv4/syncookies.c and net/ipv6/syncookies.c
  assert.deepEqual(MSS_TABLE_V4, [536, 1300, 1440, 1460]);
  assert.deepEqual(MSS_TABLE_V6, [1220, 1400, 1440, 1460]);
  const cases4: [number, number][] = [
    [1, 0],
    [536, 0],
    [1299, 0],
    [1300, 1],
    [1439, 1],
    [1440, 2],
    [1459, 2],
    [1460, 3],
    [9000, 3],
  ];
  for (const [mss, idx] of cases4) assert.equal(mssIndex(4, mss), idx, `v4 mss ${mss}`);
  const cases6: [number, number][] = [
    [1219, 0],
    [1220, 0],
    [1400, 1],
    [1440, 2],
    [1460, 3],
    [65535, 3],
  ];
  for (const [mss, idx] of cases6) assert.equal(mssIndex(6, mss), idx, `v6 mss ${mss}`);
  for (let i = 0; i < 4; i++) {
    assert.equal(mssOf(4, i), MSS_TABLE_V4[i]);
    assert.equal(mssOf(6, i), MSS_TABLE_V6[i]);
  }
});

test('a cookie decodes to its MSS index for every index, IPv4 and IPv6', () => {
  const k = new CookieKeys(rng(7));
  const count = cookieCount(123 * COOKIE_PERIOD_MS + 5);
  for (const [af, s, d] of [
    [4, S4, D4],
    [6, S6, D6],
  ] as const) {
    for (let mi = 0; mi < 4; mi++) {
      for (const isn of [0, 1, 0x7fffffff, 0xfffffffe, 0xffffffff]) {
        const c = k.make(af, s, d, 40000, 80, isn, count, mi);
        assert.equal(k.check(c, af, s, d, 40000, 80, isn, count), mi);
      }
    }
  }
});

test('a cookie is valid in its minute and the next, not later, and not before', () => {
  const k = new CookieKeys(rng(8));
  const c = k.make(4, S4, D4, 1234, 80, 99, 500, 2);
  assert.equal(k.check(c, 4, S4, D4, 1234, 80, 99, 500), 2);
  assert.equal(k.check(c, 4, S4, D4, 1234, 80, 99, 501), 2);
  assert.equal(k.check(c, 4, S4, D4, 1234, 80, 99, 502), -1);
  assert.equal(k.check(c, 4, S4, D4, 1234, 80, 99, 499), -1);
  // the counter wraps at 2^8 in the cookie: minute 255 → 256 still works
  const w = k.make(4, S4, D4, 1234, 80, 99, 255, 1);
  assert.equal(k.check(w, 4, S4, D4, 1234, 80, 99, 256), 1);
});

test('a cookie is bound to its flow, its ISN and its secret', () => {
  const k = new CookieKeys(rng(9));
  const other = new CookieKeys(rng(10));
  const c = k.make(4, S4, D4, 40000, 80, 5000, 10, 3);
  const bad = (v: number) => v < 0 || v > 3;
  assert.ok(bad(k.check(c, 4, S4, D4, 40001, 80, 5000, 10)), 'client port');
  assert.ok(bad(k.check(c, 4, S4, D4, 40000, 81, 5000, 10)), 'service port');
  assert.ok(bad(k.check(c, 4, D4, S4, 40000, 80, 5000, 10)), 'addresses');
  assert.ok(bad(k.check(c, 4, S4, D4, 40000, 80, 5007, 10)), 'ISN');
  assert.equal(k.check(c, 4, S4, D4, 40000, 80, 5000, 10), 3, 'the right flow');
  assert.ok(bad(other.check(c, 4, S4, D4, 40000, 80, 5000, 10)), 'another secret');
  // forged cookies: almost none decode to a valid index (2^-22 each)
  const r = rng(11);
  let ok = 0;
  for (let i = 0; i < 20000; i++) {
    const f = Math.floor(r() * 2 ** 32) >>> 0;
    if (!bad(k.check(f, 4, S4, D4, 40000, 80, 5000, 10))) ok++;
  }
  assert.ok(ok <= 1, `${ok} forged cookies accepted`);
});

test('the timestamp carries every window scale, SACK and ECN as the kernel encodes them', () => {
  for (const now of [0x40, 0x12345678, 0xffffffff, 0x1000003f]) {
    for (let ws = -1; ws <= 14; ws++) {
      for (const sack of [false, true]) {
        for (const ecn of [false, true]) {
          const ts = tsEncode(now, ws, sack, ecn) >>> 0;
          assert.ok(ts <= now >>> 0 || now < 0x40, `not in the future (${now}, ${ws})`);
          assert.ok((now >>> 0) - ts < 128, 'at most two steps back');
          assert.equal(tsDecodeWscale(ts), ws);
          assert.equal((ts & 0x10) !== 0, sack);
          assert.equal((ts & 0x20) !== 0, ecn);
        }
      }
    }
  }
  // 15 = no window scaling; 0 and 14 are the ends of the scales TCP allows
  assert.equal(tsEncode(0x1000, -1, false, false) & 0x0f, 0x0f);
  assert.equal(tsDecodeWscale(0x1000 | 0x0f), -1);
  for (const v of [0, 14]) assert.equal(tsDecodeWscale(0x1000 | v), v);
});

test('the cookie hash is HalfSipHash-2-4: it matches the reference implementation', () => {
  const r = rng(12);
  for (let iter = 0; iter < 300; iter++) {
    const k0 = Math.floor(r() * 2 ** 32);
    const k1 = Math.floor(r() * 2 ** 32);
    const n = 1 + Math.floor(r() * 12);
    const words = new Int32Array(n);
    const bytes = new Uint8Array(n * 4);
    for (let i = 0; i < n; i++) {
      words[i] = Math.floor(r() * 2 ** 32) | 0;
      for (let b = 0; b < 4; b++) bytes[i * 4 + b] = (words[i] >>> (8 * b)) & 255;
    }
    const want = halfSipHash(halfSipKeyFromWords(k0 >>> 0, k1 >>> 0), bytes, 2, 4);
    assert.equal(halfSipHash24(k0, k1, words, n) >>> 0, want >>> 0, `iter ${iter}`);
  }
});
