/** A small seeded PRNG (mulberry32) so that random tests are reproducible. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 0x100000000) * n);
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

/**
 * Reference Internet checksum written the textbook way (RFC 1071 §4.1), independent of
 * src/wire: build each 16-bit word from its two bytes, add, fold with a loop.
 * Returns the folded (non-complemented) sum of `bytes`.
 */
export function naiveFold(bytes: ArrayLike<number>, extraWords: readonly number[] = []): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    const hi = bytes[i];
    const lo = i + 1 < bytes.length ? bytes[i + 1] : 0;
    sum += hi * 256 + lo;
    while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  }
  for (const w of extraWords) {
    sum += w;
    while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  }
  return sum;
}

/** The checksum field value the reference computes: one's complement of the folded sum. */
export function naiveChecksum(
  bytes: ArrayLike<number>,
  extraWords: readonly number[] = [],
): number {
  return 0xffff - naiveFold(bytes, extraWords);
}

/** Pseudo-header bytes (RFC 768 / RFC 8200 §8.1) built explicitly. */
export function naivePseudoHeader(
  src: ArrayLike<number>,
  dst: ArrayLike<number>,
  proto: number,
  l4len: number,
): number[] {
  const out: number[] = [];
  for (let i = 0; i < src.length; i++) out.push(src[i]);
  for (let i = 0; i < dst.length; i++) out.push(dst[i]);
  if (src.length === 4) {
    out.push(0, proto, (l4len >>> 8) & 0xff, l4len & 0xff);
  } else {
    out.push(
      l4len >>> 24,
      (l4len >>> 16) & 0xff,
      (l4len >>> 8) & 0xff,
      l4len & 0xff,
      0,
      0,
      0,
      proto,
    );
  }
  return out;
}
