/**
 * Big-endian field access on a `Uint8Array` with plain byte arithmetic: no DataView, no
 * Buffer methods, no allocation. Callers are responsible for bounds (the checked
 * `PacketView.parse` establishes them once per packet); out-of-range reads yield
 * `undefined`-coerced zeros, never exceptions.
 */

/** Read an unsigned 16-bit big-endian value. */
export function read16(buf: Uint8Array, off: number): number {
  return (buf[off] << 8) | buf[off + 1];
}

/** Write the low 16 bits of `v` big-endian. */
export function write16(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 8;
  buf[off + 1] = v;
}

/** Read an unsigned 32-bit big-endian value (result in 0..2^32-1). */
export function read32(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}

/**
 * Read a 32-bit big-endian value as a signed int32 (same bits as {@link read32}). Use it
 * for words that are only carried (stored into a `Uint32Array`, written back, fed to the
 * bitwise checksum helpers): V8 keeps int32s as small integers, while a uint32 ≥ 2^31
 * returned from a call that is not inlined is boxed, i.e. allocated.
 */
export function read32i(buf: Uint8Array, off: number): number {
  return (buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3];
}

/** Write the low 32 bits of `v` big-endian. */
export function write32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 24;
  buf[off + 1] = v >>> 16;
  buf[off + 2] = v >>> 8;
  buf[off + 3] = v;
}

/**
 * Write the low 32 bits of `v` little-endian: for the rare field a peer copies raw from a
 * little-endian host's memory (the sync protocol v0 sequence records).
 */
export function write32le(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v;
  buf[off + 1] = v >>> 8;
  buf[off + 2] = v >>> 16;
  buf[off + 3] = v >>> 24;
}

/** Read an unsigned 32-bit little-endian value (see {@link write32le}). */
export function read32le(buf: Uint8Array, off: number): number {
  return (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)) >>> 0;
}

/**
 * Copy `len` bytes between possibly overlapping regions (memmove semantics) without
 * allocating a subarray view. Handles `src === dst` and distinct arrays sharing one
 * ArrayBuffer.
 */
export function copyBytes(
  dst: Uint8Array,
  dstOff: number,
  src: Uint8Array,
  srcOff: number,
  len: number,
): void {
  if (len <= 0) return;
  if (dst.buffer === src.buffer) {
    const d = dst.byteOffset + dstOff;
    const s = src.byteOffset + srcOff;
    if (d === s) return;
    if (d > s && d < s + len) {
      for (let i = len - 1; i >= 0; i--) dst[dstOff + i] = src[srcOff + i];
      return;
    }
  }
  for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i];
}
