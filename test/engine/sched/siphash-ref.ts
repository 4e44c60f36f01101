/**
 * Plain BigInt reference implementations of SipHash-c-d and HalfSipHash-c-d, written
 * from the SipHash paper for the tests (validated against published vectors in
 * siphash.test.ts), and the kernel's 4-byte `hsiphash` built on them.
 */
const M64 = (1n << 64n) - 1n;
export const M32 = (1n << 32n) - 1n;

function rotl64(x: bigint, b: bigint): bigint {
  return ((x << b) | (x >> (64n - b))) & M64;
}

function le(bytes: Uint8Array, off: number, n: number): bigint {
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[off + i]);
  return v;
}

/** Reference SipHash-c-d, 64-bit output, straight from the paper. */
export function refSipHash(key: Uint8Array, msg: Uint8Array, c: number, d: number): bigint {
  const k0 = le(key, 0, 8);
  const k1 = le(key, 8, 8);
  const v = [
    k0 ^ 0x736f6d6570736575n,
    k1 ^ 0x646f72616e646f6dn,
    k0 ^ 0x6c7967656e657261n,
    k1 ^ 0x7465646279746573n,
  ];
  const round = (): void => {
    v[0] = (v[0] + v[1]) & M64;
    v[1] = rotl64(v[1], 13n) ^ v[0];
    v[0] = rotl64(v[0], 32n);
    v[2] = (v[2] + v[3]) & M64;
    v[3] = rotl64(v[3], 16n) ^ v[2];
    v[0] = (v[0] + v[3]) & M64;
    v[3] = rotl64(v[3], 21n) ^ v[0];
    v[2] = (v[2] + v[1]) & M64;
    v[1] = rotl64(v[1], 17n) ^ v[2];
    v[2] = rotl64(v[2], 32n);
  };
  const words: bigint[] = [];
  const full = msg.length - (msg.length % 8);
  for (let i = 0; i < full; i += 8) words.push(le(msg, i, 8));
  words.push((BigInt(msg.length & 0xff) << 56n) | le(msg, full, msg.length - full));
  for (const m of words) {
    v[3] ^= m;
    for (let i = 0; i < c; i++) round();
    v[0] ^= m;
  }
  v[2] ^= 0xffn;
  for (let i = 0; i < d; i++) round();
  return v[0] ^ v[1] ^ v[2] ^ v[3];
}

function rotl32(x: bigint, b: bigint): bigint {
  return ((x << b) | (x >> (32n - b))) & M32;
}

/** Reference HalfSipHash-c-d, 32-bit output. */
export function refHalfSipHash(key: Uint8Array, msg: Uint8Array, c: number, d: number): bigint {
  const k0 = le(key, 0, 4);
  const k1 = le(key, 4, 4);
  const v = [k0, k1, 0x6c796765n ^ k0, 0x74656462n ^ k1];
  const round = (): void => {
    v[0] = (v[0] + v[1]) & M32;
    v[1] = rotl32(v[1], 5n) ^ v[0];
    v[0] = rotl32(v[0], 16n);
    v[2] = (v[2] + v[3]) & M32;
    v[3] = rotl32(v[3], 8n) ^ v[2];
    v[0] = (v[0] + v[3]) & M32;
    v[3] = rotl32(v[3], 7n) ^ v[0];
    v[2] = (v[2] + v[1]) & M32;
    v[1] = rotl32(v[1], 13n) ^ v[2];
    v[2] = rotl32(v[2], 16n);
  };
  const words: bigint[] = [];
  const full = msg.length - (msg.length % 4);
  for (let i = 0; i < full; i += 4) words.push(le(msg, i, 4));
  words.push((BigInt(msg.length & 0xff) << 24n) | le(msg, full, msg.length - full));
  for (const m of words) {
    v[3] ^= m;
    for (let i = 0; i < c; i++) round();
    v[0] ^= m;
  }
  v[2] ^= 0xffn;
  for (let i = 0; i < d; i++) round();
  return v[1] ^ v[3];
}

function le32(v: number): Uint8Array {
  return Uint8Array.of(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255);
}

/** 64-bit kernel hsiphash of the u32 v with key {word, word} (unsigned longs). */
export function refHsiphash64(word: number, v: number): number {
  const key = new Uint8Array(16);
  const dv = new DataView(key.buffer);
  dv.setBigUint64(0, BigInt(word), true);
  dv.setBigUint64(8, BigInt(word), true);
  return Number(refSipHash(key, le32(v >>> 0), 1, 3) & M32);
}

/** 32-bit kernel hsiphash (HalfSipHash-1-3) of the u32 v with key {word, word}. */
export function refHsiphash32(word: number, v: number): number {
  const key = Uint8Array.of(...le32(word), ...le32(word));
  return Number(refHalfSipHash(key, le32(v >>> 0), 1, 3));
}
