/**
 * GRE header (RFC 2784, with the key and sequence number extensions of RFC 2890): named
 * offsets, flag bits, accessors and the header writer over `(buf, off)`, where `off` is
 * the start of the GRE header. The optional fields follow the 4-byte base header in the
 * order checksum (+ reserved1), key, sequence number, each present iff its flag is set.
 */
import { read16, read32, write16 } from './bytes.js';
import { finishSum, sumBytes } from './checksum.js';

/** Flags (C, R, K, S; RFC 1701's strict-route and recursion bits are reserved0 now). */
export const GRE_FLAGS = 0;
/** Low 3 bits of the first 16-bit word: the version (0 for RFC 2784). */
export const GRE_VERSION = 1;
/** EtherType of the payload. */
export const GRE_PROTO = 2;
/** Checksum over the GRE header and payload; present iff GRE_FLAG_CSUM. */
export const GRE_CSUM = 4;
export const GRE_RESERVED1 = 6;
/** Base header length (no optional field). */
export const GRE_HLEN = 4;
/** Length of each optional field (checksum + reserved1, key, sequence number). */
export const GRE_OPT_LEN = 4;

/** Bits of the first 16-bit word. */
export const GRE_FLAG_CSUM = 0x8000;
/** RFC 1701 routing present; RFC 2784 receivers discard such packets. */
export const GRE_FLAG_ROUTING = 0x4000;
export const GRE_FLAG_KEY = 0x2000;
export const GRE_FLAG_SEQ = 0x1000;
export const GRE_VERSION_MASK = 0x0007;

/** EtherTypes a GRE header names for the payloads tsvs carries. */
export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
/** Transparent Ethernet bridging (gretap). */
export const ETH_P_TEB = 0x6558;

/** The first 16-bit word: flag bits and version. */
export function greFlags(buf: Uint8Array, off: number): number {
  return read16(buf, off + GRE_FLAGS);
}
export function greVersion(buf: Uint8Array, off: number): number {
  return buf[off + GRE_VERSION] & GRE_VERSION_MASK;
}
export function greProto(buf: Uint8Array, off: number): number {
  return read16(buf, off + GRE_PROTO);
}
export function setGreProto(buf: Uint8Array, off: number, v: number): void {
  write16(buf, off + GRE_PROTO, v);
}
/** The checksum field (meaningful only with GRE_FLAG_CSUM). */
export function greChecksum(buf: Uint8Array, off: number): number {
  return read16(buf, off + GRE_CSUM);
}
export function setGreChecksum(buf: Uint8Array, off: number, v: number): void {
  write16(buf, off + GRE_CSUM, v);
}

/**
 * Header length in bytes from the flags: 4, plus 4 for checksum (or RFC 1701 routing
 * offset), 4 for the key, 4 for the sequence number. Routing entries themselves are not
 * counted (RFC 2784 receivers drop such packets).
 */
export function greHeaderLength(buf: Uint8Array, off: number): number {
  const f = buf[off + GRE_FLAGS] << 8;
  let n = GRE_HLEN;
  if (f & (GRE_FLAG_CSUM | GRE_FLAG_ROUTING)) n += GRE_OPT_LEN;
  if (f & GRE_FLAG_KEY) n += GRE_OPT_LEN;
  if (f & GRE_FLAG_SEQ) n += GRE_OPT_LEN;
  return n;
}

/** Offset of the key field from the header start (-1 without GRE_FLAG_KEY). */
export function greKeyOffset(buf: Uint8Array, off: number): number {
  const f = buf[off + GRE_FLAGS] << 8;
  if ((f & GRE_FLAG_KEY) === 0) return -1;
  return f & (GRE_FLAG_CSUM | GRE_FLAG_ROUTING) ? GRE_HLEN + GRE_OPT_LEN : GRE_HLEN;
}
/** The key (RFC 2890), or -1 without GRE_FLAG_KEY. */
export function greKey(buf: Uint8Array, off: number): number {
  const k = greKeyOffset(buf, off);
  return k < 0 ? -1 : read32(buf, off + k);
}
/** The sequence number (RFC 2890), or -1 without GRE_FLAG_SEQ. */
export function greSeq(buf: Uint8Array, off: number): number {
  if ((buf[off + GRE_FLAGS] & (GRE_FLAG_SEQ >>> 8)) === 0) return -1;
  return read32(buf, off + greHeaderLength(buf, off) - GRE_OPT_LEN);
}

/**
 * Write a version 0 GRE header carrying `proto`, with the checksum field (zeroed, to be
 * filled by {@link greChecksumFill} once the payload is in place) iff `csum`. Returns
 * the header length (4 or 8).
 */
export function writeGreHeader(buf: Uint8Array, off: number, proto: number, csum: boolean): number {
  write16(buf, off + GRE_FLAGS, csum ? GRE_FLAG_CSUM : 0);
  write16(buf, off + GRE_PROTO, proto);
  if (!csum) return GRE_HLEN;
  write16(buf, off + GRE_CSUM, 0);
  write16(buf, off + GRE_RESERVED1, 0);
  return GRE_HLEN + GRE_OPT_LEN;
}

/**
 * Compute and store the GRE checksum: the internet checksum of the GRE header and its
 * payload, `len` bytes from `off`, with the checksum field zero (RFC 2784 §2.5). Returns it.
 */
export function greChecksumFill(buf: Uint8Array, off: number, len: number): number {
  write16(buf, off + GRE_CSUM, 0);
  const s = finishSum(sumBytes(buf, off, len));
  write16(buf, off + GRE_CSUM, s);
  return s;
}
