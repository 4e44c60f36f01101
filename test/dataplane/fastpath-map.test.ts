import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeKey,
  encodeValue,
  FP_KEY_BYTES,
  FP_REWRITE_DST,
  FP_REWRITE_SRC,
  FP_VAL_BYTES,
  FP_SLOT_BYTES,
  FP_SLOTS,
  sameAction,
  slotBytes,
  slotClosed,
  slotLastNs,
  slotPackets,
  slotReset,
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

test('a value: the rewrite it asks for, the egress, the conn slot and direction', () => {
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
  encodeValue(v, 0, act, 0x10203, 1);
  // the source is left alone (zero) when only the destination is rewritten
  assert.deepEqual([...v.subarray(0, 4)], [0, 0, 0, 0]);
  assert.deepEqual([...v.subarray(16, 20)], [10, 1, 0, 2]);
  assert.deepEqual([...v.subarray(32, 36)], [0, 0, 0x1f, 0x90]);
  assert.deepEqual([...v.subarray(36, 40)], [7, 0, 0, 0]);
  assert.deepEqual([...v.subarray(40, 52)], [...eth]);
  assert.deepEqual([...v.subarray(52, 56)], [0xdc, 0x05, FP_REWRITE_DST, 0]);
  // slot (the conn id) and direction, host order (struct fp_val's last two u32)
  assert.deepEqual([...v.subarray(56, 64)], [3, 2, 1, 0, 1, 0, 0, 0]);
  // slot and direction are not part of the action
  const v2 = new Uint8Array(FP_VAL_BYTES);
  encodeValue(v2, 0, act, 5, 0);
  assert.ok(sameAction(v, 0, v2, 0));
  encodeValue(v2, 0, { ...act, flags: FP_REWRITE_SRC });
  assert.ok(!sameAction(v, 0, v2, 0));
  encodeValue(v2, 0, { ...act, mtu: 1400 });
  assert.ok(!sameAction(v, 0, v2, 0));
});

test('a slot as the program leaves it (struct fp_slot): per direction counts, last seen, closed', () => {
  assert.equal(FP_SLOT_BYTES, 48);
  const buf = new ArrayBuffer(FP_SLOT_BYTES * 3);
  const dv = new DataView(buf);
  const w32 = new Uint32Array(buf);
  const o = FP_SLOT_BYTES * 2; // slot 2
  dv.setBigUint64(o, 5n, true); // packets[0]
  dv.setBigUint64(o + 8, 7n, true); // packets[1]
  dv.setBigUint64(o + 16, 2n ** 32n + 16n, true); // bytes[0]
  dv.setBigUint64(o + 24, 99n, true); // bytes[1]
  dv.setBigUint64(o + 32, 123456789012345n, true); // last_ns
  assert.equal(slotPackets(w32, 2, 0), 5);
  assert.equal(slotPackets(w32, 2, 1), 7);
  assert.equal(slotBytes(w32, 2, 0), 4294967296 + 16);
  assert.equal(slotBytes(w32, 2, 1), 99);
  assert.equal(slotLastNs(w32, 2), 123456789012345);
  assert.equal(slotClosed(w32, 2), false);
  dv.setUint32(o + 40, 1, true);
  assert.equal(slotClosed(w32, 2), true);
  // the other slots untouched, and a reset zeroes exactly one
  assert.equal(slotPackets(w32, 1, 0), 0);
  w32.fill(7, 0, FP_SLOT_BYTES / 4);
  slotReset(w32, 2);
  assert.deepEqual([...new Uint8Array(buf, o, FP_SLOT_BYTES)], new Array(FP_SLOT_BYTES).fill(0));
  assert.equal(slotPackets(w32, 0, 0), 7 + 7 * 4294967296);
  assert.ok(FP_SLOTS >= 65536);
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
