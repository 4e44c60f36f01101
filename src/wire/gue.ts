/**
 * Generic UDP Encapsulation header (draft-ietf-intarea-gue, variant 0, as Linux's `fou`
 * module sends it for `encap gue`): named offsets, bits, accessors and the header writer
 * over `(buf, off)`, where `off` is the start of the GUE header (right after the UDP
 * header). Variant 1 (the IP header straight after UDP) is recognised by its version.
 *
 * ```
 *  0                   1                   2                   3
 * |0 0|C|   Hlen  |  Proto/ctype  |             Flags             |
 * ```
 */
import { read16, write16 } from './bytes.js';

/** Version (2 bits), control bit C, Hlen (5 bits: extension fields in 32-bit words). */
export const GUE_VER_C_HLEN = 0;
/** IP protocol number of the payload (C = 0) or control message type (C = 1). */
export const GUE_PROTO = 1;
export const GUE_FLAGS = 2;
/** Base header length (no extension fields). */
export const GUE_HLEN = 4;

export const GUE_VERSION_MASK = 0xc0;
export const GUE_VERSION_SHIFT = 6;
/** The control bit: the payload is a control message, not a packet. */
export const GUE_CONTROL = 0x20;
export const GUE_HLEN_MASK = 0x1f;

/** 0 for the GUE header; 1 when an IPv4 or IPv6 header follows UDP directly (variant 1). */
export function gueVersion(buf: Uint8Array, off: number): number {
  return (buf[off + GUE_VER_C_HLEN] & GUE_VERSION_MASK) >>> GUE_VERSION_SHIFT;
}
export function gueControl(buf: Uint8Array, off: number): boolean {
  return (buf[off + GUE_VER_C_HLEN] & GUE_CONTROL) !== 0;
}
/** Header length in bytes: the base header plus Hlen words of extension fields. */
export function gueHeaderLength(buf: Uint8Array, off: number): number {
  return GUE_HLEN + ((buf[off + GUE_VER_C_HLEN] & GUE_HLEN_MASK) << 2);
}
export function gueProto(buf: Uint8Array, off: number): number {
  return buf[off + GUE_PROTO];
}
export function gueFlags(buf: Uint8Array, off: number): number {
  return read16(buf, off + GUE_FLAGS);
}

/**
 * Write a 4-byte variant 0 GUE data header (C 0, no extension fields, no flags) for a
 * payload of IP protocol `proto` (4 IPIP, 41 IPv6). Returns the header length.
 */
export function writeGueHeader(buf: Uint8Array, off: number, proto: number): number {
  buf[off + GUE_VER_C_HLEN] = 0;
  buf[off + GUE_PROTO] = proto;
  write16(buf, off + GUE_FLAGS, 0);
  return GUE_HLEN;
}
