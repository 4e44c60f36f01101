/**
 * IPv4 header (RFC 791): named field offsets and thin accessors over `(buf, off)`,
 * where `off` is the start of the IP header. No validation here; `PacketView.parse`
 * checks lengths once per packet.
 */
import { read16, read32, write16, write32 } from './bytes.js';
import { csumReplace16, ipv4HeaderChecksum } from './checksum.js';

/** Version (high nibble) and IHL in 32-bit words (low nibble). */
export const IPV4_VER_IHL = 0;
/** DSCP (high 6 bits) and ECN (low 2 bits), historically TOS. */
export const IPV4_TOS = 1;
export const IPV4_TOTAL_LENGTH = 2;
export const IPV4_ID = 4;
/** Flags (3 bits) and fragment offset (13 bits, in 8-byte units). */
export const IPV4_FRAG = 6;
export const IPV4_TTL = 8;
export const IPV4_PROTO = 9;
export const IPV4_CHECKSUM = 10;
export const IPV4_SRC = 12;
export const IPV4_DST = 16;
/** Header length without options. */
export const IPV4_HLEN = 20;
/** Largest header: IHL 15 words. */
export const IPV4_MAX_HLEN = 60;

/** Flag bits of the 16-bit flags/fragment-offset field. */
export const IPV4_FLAG_RF = 0x8000;
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
export const IPV4_FRAG_OFFSET_MASK = 0x1fff;

/** IP option types (first byte of an option). */
export const IPOPT_END = 0;
export const IPOPT_NOOP = 1;
export const IPOPT_RR = 7;

export function ipv4Version(buf: Uint8Array, off: number): number {
  return buf[off + IPV4_VER_IHL] >>> 4;
}
/** Header length in bytes (IHL × 4). */
export function ipv4Ihl(buf: Uint8Array, off: number): number {
  return (buf[off + IPV4_VER_IHL] & 0x0f) << 2;
}
export function ipv4Tos(buf: Uint8Array, off: number): number {
  return buf[off + IPV4_TOS];
}
export function setIpv4Tos(buf: Uint8Array, off: number, v: number): void {
  buf[off + IPV4_TOS] = v;
}
export function ipv4TotalLength(buf: Uint8Array, off: number): number {
  return read16(buf, off + IPV4_TOTAL_LENGTH);
}
export function setIpv4TotalLength(buf: Uint8Array, off: number, v: number): void {
  write16(buf, off + IPV4_TOTAL_LENGTH, v);
}
export function ipv4Id(buf: Uint8Array, off: number): number {
  return read16(buf, off + IPV4_ID);
}
export function setIpv4Id(buf: Uint8Array, off: number, v: number): void {
  write16(buf, off + IPV4_ID, v);
}
/** The raw 16-bit flags + fragment offset field. */
export function ipv4FragField(buf: Uint8Array, off: number): number {
  return read16(buf, off + IPV4_FRAG);
}
export function setIpv4FragField(buf: Uint8Array, off: number, v: number): void {
  write16(buf, off + IPV4_FRAG, v);
}
export function ipv4Df(buf: Uint8Array, off: number): boolean {
  return (buf[off + IPV4_FRAG] & (IPV4_FLAG_DF >>> 8)) !== 0;
}
export function ipv4Mf(buf: Uint8Array, off: number): boolean {
  return (buf[off + IPV4_FRAG] & (IPV4_FLAG_MF >>> 8)) !== 0;
}
/** Fragment offset in bytes. */
export function ipv4FragOffset(buf: Uint8Array, off: number): number {
  return (read16(buf, off + IPV4_FRAG) & IPV4_FRAG_OFFSET_MASK) << 3;
}
export function ipv4Ttl(buf: Uint8Array, off: number): number {
  return buf[off + IPV4_TTL];
}
export function setIpv4Ttl(buf: Uint8Array, off: number, v: number): void {
  buf[off + IPV4_TTL] = v;
}
export function ipv4Proto(buf: Uint8Array, off: number): number {
  return buf[off + IPV4_PROTO];
}
export function setIpv4Proto(buf: Uint8Array, off: number, v: number): void {
  buf[off + IPV4_PROTO] = v;
}
export function ipv4Checksum(buf: Uint8Array, off: number): number {
  return read16(buf, off + IPV4_CHECKSUM);
}
export function setIpv4Checksum(buf: Uint8Array, off: number, v: number): void {
  write16(buf, off + IPV4_CHECKSUM, v);
}
/** Source address as its big-endian numeric value (host-order word). */
export function ipv4Src(buf: Uint8Array, off: number): number {
  return read32(buf, off + IPV4_SRC);
}
export function setIpv4Src(buf: Uint8Array, off: number, v: number): void {
  write32(buf, off + IPV4_SRC, v);
}
export function ipv4Dst(buf: Uint8Array, off: number): number {
  return read32(buf, off + IPV4_DST);
}
export function setIpv4Dst(buf: Uint8Array, off: number, v: number): void {
  write32(buf, off + IPV4_DST, v);
}

/**
 * Decrement the TTL by one and patch the header checksum incrementally (RFC 1624);
 * equal to a full recomputation for a header whose checksum was valid. Returns the new
 * TTL. The caller decides what TTL ≤ 1 means (IPVS: time exceeded, spec §7.1).
 */
export function ipv4DecTtl(buf: Uint8Array, off: number): number {
  const oldWord = read16(buf, off + IPV4_TTL);
  const ttl = (buf[off + IPV4_TTL] - 1) & 0xff;
  buf[off + IPV4_TTL] = ttl;
  const check = read16(buf, off + IPV4_CHECKSUM);
  write16(buf, off + IPV4_CHECKSUM, csumReplace16(check, oldWord, read16(buf, off + IPV4_TTL)));
  return ttl;
}

/** Recompute and store the header checksum (header length from IHL). Returns it. */
export function ipv4UpdateChecksum(buf: Uint8Array, off: number): number {
  return ipv4HeaderChecksum(buf, off, ipv4Ihl(buf, off));
}

/**
 * Write a 20-byte option-less IPv4 header. `id` 0 is fine for packets that are never
 * fragmented; the checksum is computed and stored.
 */
export function writeIpv4Header(
  buf: Uint8Array,
  off: number,
  tos: number,
  totalLength: number,
  id: number,
  fragField: number,
  ttl: number,
  proto: number,
  src: number,
  dst: number,
): void {
  buf[off + IPV4_VER_IHL] = 0x45;
  buf[off + IPV4_TOS] = tos;
  write16(buf, off + IPV4_TOTAL_LENGTH, totalLength);
  write16(buf, off + IPV4_ID, id);
  write16(buf, off + IPV4_FRAG, fragField);
  buf[off + IPV4_TTL] = ttl;
  buf[off + IPV4_PROTO] = proto;
  write32(buf, off + IPV4_SRC, src);
  write32(buf, off + IPV4_DST, dst);
  ipv4HeaderChecksum(buf, off, IPV4_HLEN);
}
