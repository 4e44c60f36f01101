import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  copyBytes,
  read16,
  read32,
  read32le,
  write16,
  write32,
  write32le,
} from '../../src/wire/bytes.js';

test('byte helpers: big-endian reads/writes and an overlap-safe copy', () => {
  const b = new Uint8Array(8);
  write32(b, 1, 0xdeadbeef);
  assert.equal(read32(b, 1), 0xdeadbeef);
  write16(b, 5, 0x1234);
  assert.equal(read16(b, 5), 0x1234);
  const c = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
  copyBytes(c, 2, c, 0, 5);
  assert.deepEqual(Array.from(c), [1, 2, 1, 2, 3, 4, 5, 8]);
  copyBytes(c, 0, c, 3, 5);
  assert.deepEqual(Array.from(c), [2, 3, 4, 5, 8, 4, 5, 8]);
});

test('little-endian 32-bit reads and writes (sync v0 sequence records)', () => {
  const b = new Uint8Array(6);
  write32le(b, 1, 0xdeadbeef);
  assert.deepEqual(Array.from(b), [0, 0xef, 0xbe, 0xad, 0xde, 0]);
  assert.equal(read32le(b, 1), 0xdeadbeef);
});
