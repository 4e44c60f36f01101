/**
 * SipHash and HalfSipHash (Aumasson & Bernstein), as the kernel's `hsiphash` uses them
 * for the mh scheduler (spec §10): on 64-bit kernels hsiphash is SipHash-1-3 with a
 * 128-bit key and the 64-bit result truncated to its low 32 bits; on 32-bit kernels it
 * is HalfSipHash-1-3 with a 64-bit key and a 32-bit result.
 *
 * The 64-bit arithmetic is done exactly on pairs of 32-bit halves (no BigInt), so the
 * hot-path variants ({@link sipHash13U32}, {@link halfSipHash13U32}) allocate nothing.
 * The general variants take any message length and round counts (2-4 is the standard
 * PRF; tests check them against the published vectors).
 */

/** SipHash-64 key as four 32-bit words: k0 low, k0 high, k1 low, k1 high. */
export type SipKey = Uint32Array;
/** HalfSipHash key as two 32-bit words: k0, k1. */
export type HalfSipKey = Uint32Array;

/** Key from 16 bytes (k0 and k1 read little-endian, as the reference does). */
export function sipKeyFromBytes(bytes: Uint8Array): SipKey {
  if (bytes.length !== 16) throw new Error('SipHash key must be 16 bytes');
  const k = new Uint32Array(4);
  for (let i = 0; i < 4; i++) k[i] = readLE32(bytes, i * 4);
  return k;
}

/**
 * Key from two 64-bit words given as non-negative integers below 2^53 (the kernel's
 * `hsiphash_key_t` on 64-bit, whose two `unsigned long`s mh sets to small constants).
 */
export function sipKeyFromWords(k0: number, k1: number): SipKey {
  const k = new Uint32Array(4);
  k[0] = k0 >>> 0;
  k[1] = Math.floor(k0 / 0x100000000) >>> 0;
  k[2] = k1 >>> 0;
  k[3] = Math.floor(k1 / 0x100000000) >>> 0;
  return k;
}

/** Key from 8 bytes (k0 and k1 read little-endian). */
export function halfSipKeyFromBytes(bytes: Uint8Array): HalfSipKey {
  if (bytes.length !== 8) throw new Error('HalfSipHash key must be 8 bytes');
  const k = new Uint32Array(2);
  k[0] = readLE32(bytes, 0);
  k[1] = readLE32(bytes, 4);
  return k;
}

/** Key from two 32-bit words (the kernel's `hsiphash_key_t` on 32-bit). */
export function halfSipKeyFromWords(k0: number, k1: number): HalfSipKey {
  const k = new Uint32Array(2);
  k[0] = k0;
  k[1] = k1;
  return k;
}

function readLE32(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}

/**
 * Carry out of the low-word addition x + y = lo (mod 2^32), computed on int32 values
 * only (the top bit of the carry vector), so the arithmetic never leaves int32.
 */
function carry(x: number, y: number, lo: number): number {
  return ((x & y) | ((x | y) & ~lo)) >>> 31;
}

// The SipHash state, as int32 halves. Module-level so the general variant can share
// one round function without allocating; the hot-path variant keeps its own locals.
let v0l = 0;
let v0h = 0;
let v1l = 0;
let v1h = 0;
let v2l = 0;
let v2h = 0;
let v3l = 0;
let v3h = 0;

function sipRound(): void {
  let lo: number;
  let t: number;
  // v0 += v1; v1 <<<= 13; v1 ^= v0; v0 <<<= 32
  lo = (v0l + v1l) | 0;
  v0h = (v0h + v1h + carry(v0l, v1l, lo)) | 0;
  v0l = lo;
  t = v1h;
  v1h = (v1h << 13) | (v1l >>> 19);
  v1l = (v1l << 13) | (t >>> 19);
  v1l ^= v0l;
  v1h ^= v0h;
  t = v0l;
  v0l = v0h;
  v0h = t;
  // v2 += v3; v3 <<<= 16; v3 ^= v2
  lo = (v2l + v3l) | 0;
  v2h = (v2h + v3h + carry(v2l, v3l, lo)) | 0;
  v2l = lo;
  t = v3h;
  v3h = (v3h << 16) | (v3l >>> 16);
  v3l = (v3l << 16) | (t >>> 16);
  v3l ^= v2l;
  v3h ^= v2h;
  // v0 += v3; v3 <<<= 21; v3 ^= v0
  lo = (v0l + v3l) | 0;
  v0h = (v0h + v3h + carry(v0l, v3l, lo)) | 0;
  v0l = lo;
  t = v3h;
  v3h = (v3h << 21) | (v3l >>> 11);
  v3l = (v3l << 21) | (t >>> 11);
  v3l ^= v0l;
  v3h ^= v0h;
  // v2 += v1; v1 <<<= 17; v1 ^= v2; v2 <<<= 32
  lo = (v2l + v1l) | 0;
  v2h = (v2h + v1h + carry(v2l, v1l, lo)) | 0;
  v2l = lo;
  t = v1h;
  v1h = (v1h << 17) | (v1l >>> 15);
  v1l = (v1l << 17) | (t >>> 15);
  v1l ^= v2l;
  v1h ^= v2h;
  t = v2l;
  v2l = v2h;
  v2h = t;
}

// "somepseudorandomlygeneratedbytes", as halves.
const C0H = 0x736f6d65;
const C0L = 0x70736575;
const C1H = 0x646f7261;
const C1L = 0x6e646f6d;
const C2H = 0x6c796765;
const C2L = 0x6e657261;
const C3H = 0x74656462;
const C3L = 0x79746573;

function sipInit(k: SipKey): void {
  v0l = C0L ^ k[0];
  v0h = C0H ^ k[1];
  v1l = C1L ^ k[2];
  v1h = C1H ^ k[3];
  v2l = C2L ^ k[0];
  v2h = C2H ^ k[1];
  v3l = C3L ^ k[2];
  v3h = C3H ^ k[3];
}

function sipBlock(ml: number, mh: number, c: number): void {
  v3l ^= ml;
  v3h ^= mh;
  for (let r = 0; r < c; r++) sipRound();
  v0l ^= ml;
  v0h ^= mh;
}

/**
 * SipHash-c-d with a 64-bit result, written to `out` as [low word, high word]
 * (unsigned). Default rounds are the standard SipHash-2-4.
 */
export function sipHash(
  key: SipKey,
  msg: Uint8Array,
  out: Uint32Array = new Uint32Array(2),
  c = 2,
  d = 4,
): Uint32Array {
  sipInit(key);
  const len = msg.length;
  const end = len - (len % 8);
  for (let i = 0; i < end; i += 8) sipBlock(readLE32(msg, i), readLE32(msg, i + 4), c);
  // last block: the remaining bytes, little-endian, with len mod 256 in the top byte
  let bl = 0;
  let bh = (len & 0xff) << 24;
  for (let i = end; i < len; i++) {
    const s = (i - end) * 8;
    if (s < 32) bl |= msg[i] << s;
    else bh |= msg[i] << (s - 32);
  }
  sipBlock(bl, bh, c);
  v2l ^= 0xff;
  for (let r = 0; r < d; r++) sipRound();
  out[0] = v0l ^ v1l ^ v2l ^ v3l;
  out[1] = v0h ^ v1h ^ v2h ^ v3h;
  return out;
}

/**
 * The kernel's 64-bit `hsiphash(&v, 4, key)`: SipHash-1-3 of the 4-byte little-endian
 * representation of the 32-bit value v, truncated to the low 32 bits (unsigned).
 */
export function sipHash13U32(key: SipKey, v: number): number {
  return sipHash13I32(key, v) >>> 0;
}

/**
 * {@link sipHash13U32} as a signed int32 (same 32 bits). The hot path uses this form:
 * an int32 return value is never boxed, while a uint32 above 2^31 returned from a call
 * that is not inlined would be a heap allocation. Locals only.
 */
export function sipHash13I32(key: SipKey, v: number): number {
  let a0l = C0L ^ key[0];
  let a0h = C0H ^ key[1];
  let a1l = C1L ^ key[2];
  let a1h = C1H ^ key[3];
  let a2l = C2L ^ key[0];
  let a2h = C2H ^ key[1];
  // the only block is the final one: b = (4 << 56) | v
  const bl = v | 0;
  const bh = 0x04000000;
  let a3l = (C3L ^ key[2] ^ bl) | 0;
  let a3h = (C3H ^ key[3] ^ bh) | 0;
  let lo: number;
  let t: number;
  // one compression round, then three finalisation rounds
  for (let r = 0; r < 4; r++) {
    if (r === 1) {
      a0l ^= bl;
      a0h ^= bh;
      a2l ^= 0xff;
    }
    lo = (a0l + a1l) | 0;
    a0h = (a0h + a1h + carry(a0l, a1l, lo)) | 0;
    a0l = lo;
    t = a1h;
    a1h = (a1h << 13) | (a1l >>> 19);
    a1l = (a1l << 13) | (t >>> 19);
    a1l ^= a0l;
    a1h ^= a0h;
    t = a0l;
    a0l = a0h;
    a0h = t;
    lo = (a2l + a3l) | 0;
    a2h = (a2h + a3h + carry(a2l, a3l, lo)) | 0;
    a2l = lo;
    t = a3h;
    a3h = (a3h << 16) | (a3l >>> 16);
    a3l = (a3l << 16) | (t >>> 16);
    a3l ^= a2l;
    a3h ^= a2h;
    lo = (a0l + a3l) | 0;
    a0h = (a0h + a3h + carry(a0l, a3l, lo)) | 0;
    a0l = lo;
    t = a3h;
    a3h = (a3h << 21) | (a3l >>> 11);
    a3l = (a3l << 21) | (t >>> 11);
    a3l ^= a0l;
    a3h ^= a0h;
    lo = (a2l + a1l) | 0;
    a2h = (a2h + a1h + carry(a2l, a1l, lo)) | 0;
    a2l = lo;
    t = a1h;
    a1h = (a1h << 17) | (a1l >>> 15);
    a1l = (a1l << 17) | (t >>> 15);
    a1l ^= a2l;
    a1h ^= a2h;
    t = a2l;
    a2l = a2h;
    a2h = t;
  }
  return a0l ^ a1l ^ a2l ^ a3l;
}

// HalfSipHash state (32-bit words).
let h0 = 0;
let h1 = 0;
let h2 = 0;
let h3 = 0;

function halfRound(): void {
  h0 = (h0 + h1) | 0;
  h1 = (h1 << 5) | (h1 >>> 27);
  h1 ^= h0;
  h0 = (h0 << 16) | (h0 >>> 16);
  h2 = (h2 + h3) | 0;
  h3 = (h3 << 8) | (h3 >>> 24);
  h3 ^= h2;
  h0 = (h0 + h3) | 0;
  h3 = (h3 << 7) | (h3 >>> 25);
  h3 ^= h0;
  h2 = (h2 + h1) | 0;
  h1 = (h1 << 13) | (h1 >>> 19);
  h1 ^= h2;
  h2 = (h2 << 16) | (h2 >>> 16);
}

function halfBlock(m: number, c: number): void {
  h3 ^= m;
  for (let r = 0; r < c; r++) halfRound();
  h0 ^= m;
}

/** HalfSipHash-c-d with a 32-bit result (unsigned). Default rounds: 2-4. */
export function halfSipHash(key: HalfSipKey, msg: Uint8Array, c = 2, d = 4): number {
  h0 = key[0] | 0;
  h1 = key[1] | 0;
  h2 = 0x6c796765 ^ key[0];
  h3 = 0x74656462 ^ key[1];
  const len = msg.length;
  const end = len - (len % 4);
  for (let i = 0; i < end; i += 4) halfBlock(readLE32(msg, i) | 0, c);
  let b = (len & 0xff) << 24;
  for (let i = end; i < len; i++) b |= msg[i] << ((i - end) * 8);
  halfBlock(b, c);
  h2 ^= 0xff;
  for (let r = 0; r < d; r++) halfRound();
  return (h1 ^ h3) >>> 0;
}

/**
 * The kernel's 32-bit `hsiphash(&v, 4, key)`: HalfSipHash-1-3 of the 4-byte
 * little-endian representation of v (unsigned).
 */
export function halfSipHash13U32(key: HalfSipKey, v: number): number {
  return halfSipHash13I32(key, v) >>> 0;
}

/** {@link halfSipHash13U32} as a signed int32, for the hot path (see {@link sipHash13I32}). */
export function halfSipHash13I32(key: HalfSipKey, v: number): number {
  h0 = key[0] | 0;
  h1 = key[1] | 0;
  h2 = 0x6c796765 ^ key[0];
  h3 = 0x74656462 ^ key[1];
  halfBlock(v | 0, 1);
  halfBlock(0x04000000, 1);
  h2 ^= 0xff;
  halfRound();
  halfRound();
  halfRound();
  return h1 ^ h3;
}
