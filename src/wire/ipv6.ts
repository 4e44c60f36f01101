/**
 * IPv6 fixed header (RFC 8200) and the extension headers IPVS must walk: named offsets
 * and thin accessors over `(buf, off)`. Addresses are handled as four 32-bit words in
 * host order (the numeric value of the big-endian bytes), the form the engine stores.
 */
import { read16, read32i, write16, write32 } from './bytes.js';

/** Version (4 bits), traffic class (8 bits), flow label (20 bits). */
export const IPV6_VER_TC_FLOW = 0;
export const IPV6_PAYLOAD_LENGTH = 4;
export const IPV6_NEXT_HEADER = 6;
export const IPV6_HOP_LIMIT = 7;
export const IPV6_SRC = 8;
export const IPV6_DST = 24;
/** Fixed header length. */
export const IPV6_HLEN = 40;
/** Minimum link MTU (RFC 8200 §5); also the ICMPv6 error size limit. */
export const IPV6_MIN_MTU = 1280;

/** Next-header values of extension headers (and the two that end a walk). */
export const NEXTHDR_HOP = 0;
export const NEXTHDR_ROUTING = 43;
export const NEXTHDR_FRAGMENT = 44;
export const NEXTHDR_ESP = 50;
export const NEXTHDR_AUTH = 51;
export const NEXTHDR_NONE = 59;
export const NEXTHDR_DEST = 60;

/** Generic extension header: next header, length in 8-octet units not counting the first. */
export const EXTHDR_NEXT = 0;
export const EXTHDR_LEN = 1;
/** Fragment header (8 bytes): next header, reserved, offset/flags, identification. */
export const FRAGHDR_NEXT = 0;
export const FRAGHDR_OFFSET = 2;
export const FRAGHDR_ID = 4;
export const FRAGHDR_LEN = 8;
/** Mask of the fragment offset (already in bytes: 13 bits × 8) and the M flag. */
export const FRAGHDR_OFFSET_MASK = 0xfff8;
export const FRAGHDR_MF = 0x0001;

export function ipv6Version(buf: Uint8Array, off: number): number {
  return buf[off + IPV6_VER_TC_FLOW] >>> 4;
}
/** The traffic class straddles bytes 0 and 1 (after the version nibble). */
export function ipv6TrafficClass(buf: Uint8Array, off: number): number {
  return (read16(buf, off + IPV6_VER_TC_FLOW) >>> 4) & 0xff;
}
/** Set the traffic class (and version 6), keeping the flow label. */
export function setIpv6TrafficClass(buf: Uint8Array, off: number, v: number): void {
  const w = read16(buf, off + IPV6_VER_TC_FLOW);
  write16(buf, off + IPV6_VER_TC_FLOW, 0x6000 | ((v & 0xff) << 4) | (w & 0x0f));
}
export function ipv6FlowLabel(buf: Uint8Array, off: number): number {
  return read32i(buf, off + IPV6_VER_TC_FLOW) & 0xfffff;
}
export function ipv6PayloadLength(buf: Uint8Array, off: number): number {
  return read16(buf, off + IPV6_PAYLOAD_LENGTH);
}
export function setIpv6PayloadLength(buf: Uint8Array, off: number, v: number): void {
  write16(buf, off + IPV6_PAYLOAD_LENGTH, v);
}
export function ipv6NextHeader(buf: Uint8Array, off: number): number {
  return buf[off + IPV6_NEXT_HEADER];
}
export function setIpv6NextHeader(buf: Uint8Array, off: number, v: number): void {
  buf[off + IPV6_NEXT_HEADER] = v;
}
export function ipv6HopLimit(buf: Uint8Array, off: number): number {
  return buf[off + IPV6_HOP_LIMIT];
}
export function setIpv6HopLimit(buf: Uint8Array, off: number, v: number): void {
  buf[off + IPV6_HOP_LIMIT] = v;
}

/** Read a 16-byte address at `addrOff` into `out[0..3]`. */
export function readAddr6(buf: Uint8Array, addrOff: number, out: Uint32Array): void {
  out[0] = read32i(buf, addrOff);
  out[1] = read32i(buf, addrOff + 4);
  out[2] = read32i(buf, addrOff + 8);
  out[3] = read32i(buf, addrOff + 12);
}
/** Write `words[0..3]` as a 16-byte address at `addrOff`. */
export function writeAddr6(buf: Uint8Array, addrOff: number, words: ArrayLike<number>): void {
  write32(buf, addrOff, words[0] | 0);
  write32(buf, addrOff + 4, words[1] | 0);
  write32(buf, addrOff + 8, words[2] | 0);
  write32(buf, addrOff + 12, words[3] | 0);
}

/** True for the next-header values `PacketView` walks through (HBH, RH, FH, AH, DO). */
export function isIpv6ExtHeader(nexthdr: number): boolean {
  return (
    nexthdr === NEXTHDR_HOP ||
    nexthdr === NEXTHDR_ROUTING ||
    nexthdr === NEXTHDR_FRAGMENT ||
    nexthdr === NEXTHDR_AUTH ||
    nexthdr === NEXTHDR_DEST
  );
}

/**
 * Byte length of the extension header at `hoff` whose type is `nexthdr`: fragment 8,
 * AH (len+2)×4 (RFC 4302), others (len+1)×8. Reads `buf[hoff+1]`: the caller checks
 * that at least 2 bytes are present.
 */
export function ipv6ExtHeaderLength(buf: Uint8Array, hoff: number, nexthdr: number): number {
  if (nexthdr === NEXTHDR_FRAGMENT) return FRAGHDR_LEN;
  if (nexthdr === NEXTHDR_AUTH) return (buf[hoff + EXTHDR_LEN] + 2) << 2;
  return (buf[hoff + EXTHDR_LEN] + 1) << 3;
}

/**
 * Write a 40-byte IPv6 header with traffic class 0 and flow label 0; addresses from
 * word arrays.
 */
export function writeIpv6Header(
  buf: Uint8Array,
  off: number,
  payloadLength: number,
  nextHeader: number,
  hopLimit: number,
  src: ArrayLike<number>,
  dst: ArrayLike<number>,
): void {
  write32(buf, off + IPV6_VER_TC_FLOW, 0x60000000);
  write16(buf, off + IPV6_PAYLOAD_LENGTH, payloadLength);
  buf[off + IPV6_NEXT_HEADER] = nextHeader;
  buf[off + IPV6_HOP_LIMIT] = hopLimit;
  writeAddr6(buf, off + IPV6_SRC, src);
  writeAddr6(buf, off + IPV6_DST, dst);
}
