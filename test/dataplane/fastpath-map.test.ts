import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeKey,
  encodeValue,
  FP_KEY_BYTES,
  FP_REWRITE_DST,
  FP_REWRITE_SRC,
  FP_VAL_BYTES,
  sameAction,
  valueBytes,
  valueLastNs,
  valuePackets,
} from '../../src/dataplane/fastpath-map.js';
import { parseAddr } from '../../src/engine/addr.js';
import { steerBatch, steerNames } from '../../src/dataplane/steer.js';

const w = (s: string): Uint32Array => parseAddr(s)!.words;

test('a key is the wire form of the 5-tuple (network order), family and protocol', () => {
  const k = new Uint8Array(FP_KEY_BYTES + 4).fill(0xee);
  encodeKey(k, 2, 4, 6, w('10.0.0.1'), 0, 40000, w('192.0.2.10'), 0, 80);
  assert.deepEqual([...k.subarray(2, 6)], [10, 0, 0, 1]);
  assert.deepEqual([...k.subarray(6, 18)], new Array(12).fill(0));
  assert.deepEqual([...k.subarray(18, 22)], [192, 0, 2, 10]);
  assert.deepEqual([...k.subarray(34, 38)], [0x9c, 0x40, 0, 80]);
  assert.equal(k[38], 6);
  assert.equal(k[39], 4);
  assert.deepEqual([k[40], k[41]], [0, 0]);
  assert.deepEqual([k[0], k[1], k[42], k[43]], [0xee, 0xee, 0xee, 0xee]);
  const k6 = new Uint8Array(FP_KEY_BYTES);
  encodeKey(k6, 0, 6, 6, w('2001:db8::1'), 0, 1, w('2001:db8::a:b'), 0, 443);
  assert.deepEqual([...k6.subarray(0, 4)], [0x20, 0x01, 0x0d, 0xb8]);
  assert.deepEqual([...k6.subarray(28, 32)], [0, 0x0a, 0, 0x0b]);
  assert.equal(k6[37], 6);
});

test('a value: the rewrite it asks for, the egress, and zero counters', () => {
  const v = new Uint8Array(FP_VAL_BYTES);
  const eth = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const act = {
    af: 4 as const,
    flags: FP_REWRITE_DST,
    saddr: w('192.0.2.10'),
    soff: 0,
    sport: 80,
    daddr: w('10.1.0.2'),
    doff: 0,
    dport: 8080,
    ifindex: 7,
    eth,
    mtu: 1500,
  };
  encodeValue(v, 0, act);
  // the source is left alone (zero) when only the destination is rewritten
  assert.deepEqual([...v.subarray(0, 4)], [0, 0, 0, 0]);
  assert.deepEqual([...v.subarray(16, 20)], [10, 1, 0, 2]);
  assert.deepEqual([...v.subarray(32, 36)], [0, 0, 0x1f, 0x90]);
  assert.deepEqual([...v.subarray(36, 40)], [7, 0, 0, 0]);
  assert.deepEqual([...v.subarray(40, 52)], [...eth]);
  assert.deepEqual([...v.subarray(52, 56)], [0xdc, 0x05, FP_REWRITE_DST, 0]);
  const dv = new DataView(v.buffer);
  assert.equal(valuePackets(dv, 0), 0);
  // counters as the program leaves them (u64, host order)
  dv.setUint32(56, 5, true);
  dv.setUint32(64, 0x10, true);
  dv.setUint32(68, 1, true);
  dv.setUint32(72, 123, true);
  assert.equal(valuePackets(dv, 0), 5);
  assert.equal(valueBytes(dv, 0), 4294967296 + 16);
  assert.equal(valueLastNs(dv, 0), 123);
  // the counters are not part of the action
  const v2 = new Uint8Array(FP_VAL_BYTES);
  encodeValue(v2, 0, act);
  assert.ok(sameAction(v, 0, v2, 0));
  encodeValue(v2, 0, { ...act, flags: FP_REWRITE_SRC });
  assert.ok(!sameAction(v, 0, v2, 0));
  encodeValue(v2, 0, { ...act, mtu: 1400 });
  assert.ok(!sameAction(v, 0, v2, 0));
});

test('steering puts the fast path program first, and always removes its priority', () => {
  const n = steerNames('t', 7100);
  assert.equal(n.prefFast, 7099);
  const m = { req4: ['match ip dst 192.0.2.1/32'], req6: [], rep4: [], rep6: [] };
  const off = steerBatch(n, ['eth0'], m);
  assert.ok(off.includes('filter del dev eth0 ingress pref 7099'));
  assert.ok(!off.some((l) => l.includes(' bpf ')));
  const on = steerBatch(n, ['eth0'], m, '/run/tsvs/bpf-x/prog');
  const i = on.findIndex((l) => l.includes(' bpf '));
  assert.equal(
    on[i],
    'filter add dev eth0 ingress pref 7099 protocol all bpf object-pinned /run/tsvs/bpf-x/prog direct-action',
  );
  assert.ok(i < on.findIndex((l) => l.includes(' u32 ')));
});
