/**
 * SipHash / HalfSipHash. The reference (siphash-ref.ts) is a deliberately plain BigInt
 * implementation of the algorithms as the SipHash paper describes them; it is first
 * checked against published vectors, then the production code (32-bit halves, no
 * BigInt) is checked against it on many random inputs.
 *
 * Published vectors used (key = bytes 00 01 02 …, message n = bytes 00 … n−1):
 * - SipHash-2-4, 64-bit output: the SipHash paper / reference repository
 *   (veorq/SipHash vectors.h); n = 15 is the paper's appendix example.
 * - HalfSipHash-2-4, 32-bit output: the same repository (vectors_hsip32).
 * - SipHash-1-3 truncated to 32 bits and HalfSipHash-1-3 (the kernel's `hsiphash`
 *   on 64- and 32-bit kernels): Linux lib/tests/siphash_kunit.c,
 *   test_vectors_hsiphash for each word size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  halfSipHash,
  halfSipHash13U32,
  halfSipKeyFromBytes,
  halfSipKeyFromWords,
  sipHash,
  sipHash13U32,
  sipKeyFromBytes,
  sipKeyFromWords,
} from '../../../src/engine/sched/siphash.js';
import { mulberry32 } from './rig.js';
import { M32, refHalfSipHash, refSipHash } from './siphash-ref.js';

function seqBytes(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => i);
}

const KEY16 = seqBytes(16);
const KEY8 = seqBytes(8);

const SIP24: [number, bigint][] = [
  [0, 0x726fdb47dd0e0e31n],
  [1, 0x74f839c593dc67fdn],
  [2, 0x0d6c8009d9a94f5an],
  [7, 0xab0200f58b01d137n],
  [8, 0x93f5f5799a932462n],
  [15, 0xa129ca6149be45e5n],
  [16, 0x3f2acc7f57c29bdbn],
  [63, 0x958a324ceb064572n],
];

const HALF24: [number, number][] = [
  [0, 0x5b9f35a9],
  [1, 0xb85a4727],
  [2, 0x03a662fa],
  [3, 0x04e7fe8a],
  [4, 0x89466e2a],
  [5, 0x69b6fac5],
  [7, 0xc563cf8b],
];

const HSIP64_13: number[] = [
  0x050fc4dc, 0x7d57ca93, 0x4dc7d44d, 0xe7ddf7fb, 0x88d38328, 0x49533b67, 0xc59f22a7, 0x9bb11140,
  0x8d299a8e,
];

const HSIP32_13: number[] = [
  0x5814c896, 0xe7e864ca, 0xbc4b0e30, 0x01539939, 0x7e059ea6, 0x88e3d89b,
];

test('reference SipHash-2-4 reproduces the published vectors', () => {
  for (const [n, want] of SIP24) assert.equal(refSipHash(KEY16, seqBytes(n), 2, 4), want, `n=${n}`);
});

test('reference SipHash-1-3, truncated to 32 bits, reproduces the kernel hsiphash vectors', () => {
  HSIP64_13.forEach((want, n) => {
    assert.equal(Number(refSipHash(KEY16, seqBytes(n), 1, 3) & M32), want, `n=${n}`);
  });
});

test('reference HalfSipHash-2-4 and -1-3 reproduce the published vectors', () => {
  for (const [n, want] of HALF24) {
    assert.equal(Number(refHalfSipHash(KEY8, seqBytes(n), 2, 4)), want, `n=${n}`);
  }
  HSIP32_13.forEach((want, n) => {
    assert.equal(Number(refHalfSipHash(KEY8, seqBytes(n), 1, 3)), want, `n=${n}`);
  });
});

test('sipHash (32-bit halves) matches the published SipHash-2-4 vectors', () => {
  const key = sipKeyFromBytes(KEY16);
  const out = new Uint32Array(2);
  for (const [n, want] of SIP24) {
    sipHash(key, seqBytes(n), out);
    assert.equal((BigInt(out[1]) << 32n) | BigInt(out[0]), want, `n=${n}`);
  }
});

test('sipHash matches the reference for random keys, lengths 0..63 and rounds 1-3 / 2-4', () => {
  const rnd = mulberry32(1);
  const out = new Uint32Array(2);
  for (let iter = 0; iter < 400; iter++) {
    const keyBytes = Uint8Array.from({ length: 16 }, () => Math.floor(rnd() * 256));
    const msg = Uint8Array.from({ length: iter % 64 }, () => Math.floor(rnd() * 256));
    for (const [c, d] of [
      [1, 3],
      [2, 4],
    ]) {
      sipHash(sipKeyFromBytes(keyBytes), msg, out, c, d);
      const got = (BigInt(out[1]) << 32n) | BigInt(out[0]);
      assert.equal(got, refSipHash(keyBytes, msg, c, d), `iter ${iter} c=${c}`);
    }
  }
});

test('halfSipHash matches the published vectors and the reference on random input', () => {
  const key = halfSipKeyFromBytes(KEY8);
  for (const [n, want] of HALF24) assert.equal(halfSipHash(key, seqBytes(n)), want, `n=${n}`);
  HSIP32_13.forEach((want, n) => assert.equal(halfSipHash(key, seqBytes(n), 1, 3), want));
  const rnd = mulberry32(2);
  for (let iter = 0; iter < 400; iter++) {
    const keyBytes = Uint8Array.from({ length: 8 }, () => Math.floor(rnd() * 256));
    const msg = Uint8Array.from({ length: iter % 64 }, () => Math.floor(rnd() * 256));
    const want = Number(refHalfSipHash(keyBytes, msg, 1, 3));
    assert.equal(halfSipHash(halfSipKeyFromBytes(keyBytes), msg, 1, 3), want, `iter ${iter}`);
  }
});

function le32(v: number): Uint8Array {
  return Uint8Array.of(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24);
}

test('sipHash13U32 is SipHash-1-3 of the 4-byte little-endian value, low 32 bits', () => {
  // kernel vector n = 4: the bytes 00 01 02 03 are the value 0x03020100
  assert.equal(sipHash13U32(sipKeyFromBytes(KEY16), 0x03020100), HSIP64_13[4]);
  // mh's keys: an unsigned long 2654435761 / 2654446892 in each half of the key
  const rnd = mulberry32(3);
  for (const word of [2654435761, 2654446892]) {
    const key = sipKeyFromWords(word, word);
    const keyBytes = new Uint8Array(16);
    new DataView(keyBytes.buffer).setBigUint64(0, BigInt(word), true);
    new DataView(keyBytes.buffer).setBigUint64(8, BigInt(word), true);
    for (let i = 0; i < 2000; i++) {
      const v = i < 4 ? [0, 1, 0xffffffff, 0x80000000][i] : Math.floor(rnd() * 2 ** 32);
      const want = Number(refSipHash(keyBytes, le32(v), 1, 3) & M32);
      assert.equal(sipHash13U32(key, v), want, `v=${v}`);
      // signed input of the same 32 bits hashes the same
      assert.equal(sipHash13U32(key, v | 0), want);
    }
  }
});

test('halfSipHash13U32 is HalfSipHash-1-3 of the 4-byte little-endian value', () => {
  assert.equal(halfSipHash13U32(halfSipKeyFromBytes(KEY8), 0x03020100), HSIP32_13[4]);
  const rnd = mulberry32(4);
  for (const word of [2654435761, 2654446892]) {
    const key = halfSipKeyFromWords(word, word);
    const keyBytes = Uint8Array.of(...le32(word), ...le32(word));
    for (let i = 0; i < 2000; i++) {
      const v = Math.floor(rnd() * 2 ** 32);
      assert.equal(halfSipHash13U32(key, v), Number(refHalfSipHash(keyBytes, le32(v), 1, 3)));
    }
  }
});

test('sipKeyFromWords splits 64-bit words into halves', () => {
  assert.deepEqual([...sipKeyFromWords(2 ** 40 + 5, 0xffffffff)], [5, 256, 0xffffffff, 0]);
});
