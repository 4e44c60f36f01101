/**
 * ICMP (RFC 792) and ICMPv6 (RFC 4443): named offsets, type and code constants, thin
 * accessors, and the builder for the ICMP errors the director itself originates
 * (fragmentation needed / packet too big, time exceeded, unreachable; spec §7.1, §8).
 */
import { copyBytes, read16, read32, read32i, write16, write32 } from './bytes.js';
import { icmpChecksumFill, l4ChecksumFill } from './checksum.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6 } from './ipproto.js';
import { IPV4_HLEN, IPV4_SRC, IPV4_TOTAL_LENGTH, writeIpv4Header } from './ipv4.js';
import {
  IPV6_HLEN,
  IPV6_MIN_MTU,
  IPV6_PAYLOAD_LENGTH,
  IPV6_SRC,
  IPV6_DST,
  writeIpv6Header,
} from './ipv6.js';

export const ICMP_TYPE = 0;
export const ICMP_CODE = 1;
export const ICMP_CHECKSUM = 2;
/** Echo: identifier and sequence number. */
export const ICMP_ID = 4;
export const ICMP_SEQ = 6;
/** Destination unreachable / fragmentation needed: next-hop MTU (RFC 1191). */
export const ICMP_MTU = 6;
/** Parameter problem: pointer (ICMPv4 one byte, ICMPv6 four bytes). */
export const ICMP_POINTER = 4;
/** ICMPv6 packet too big: 32-bit MTU. */
export const ICMPV6_MTU = 4;
/** Header length of every ICMP/ICMPv6 message (type, code, checksum, 4 more bytes). */
export const ICMP_HLEN = 8;

/** RFC 1812 §4.3.2.3: an ICMPv4 error datagram is at most 576 bytes. */
export const ICMP_ERROR_MAX_V4 = 576;
/** RFC 4443 §2.4(c): an ICMPv6 error packet is at most the IPv6 minimum MTU. */
export const ICMP_ERROR_MAX_V6 = IPV6_MIN_MTU;
/** TTL / hop limit of originated errors. */
export const ICMP_ERROR_TTL = 64;
/** TOS of originated ICMPv4 errors: precedence "internetwork control" (as Linux sends). */
export const ICMP_ERROR_TOS = 0xc0;

export const ICMP_ECHOREPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_SOURCE_QUENCH = 4;
export const ICMP_REDIRECT = 5;
export const ICMP_ECHO = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETERPROB = 12;
export const ICMP_TIMESTAMP = 13;
export const ICMP_TIMESTAMPREPLY = 14;

/** Codes of ICMP_DEST_UNREACH. */
export const ICMP_NET_UNREACH = 0;
export const ICMP_HOST_UNREACH = 1;
export const ICMP_PROT_UNREACH = 2;
export const ICMP_PORT_UNREACH = 3;
export const ICMP_FRAG_NEEDED = 4;
export const ICMP_SR_FAILED = 5;
export const ICMP_NET_UNKNOWN = 6;
export const ICMP_HOST_UNKNOWN = 7;
export const ICMP_HOST_ISOLATED = 8;
export const ICMP_NET_ANO = 9;
export const ICMP_HOST_ANO = 10;
export const ICMP_NET_UNR_TOS = 11;
export const ICMP_HOST_UNR_TOS = 12;
export const ICMP_PKT_FILTERED = 13;
export const ICMP_PREC_VIOLATION = 14;
export const ICMP_PREC_CUTOFF = 15;
/** Codes of ICMP_TIME_EXCEEDED. */
export const ICMP_EXC_TTL = 0;
export const ICMP_EXC_FRAGTIME = 1;

export const ICMPV6_DEST_UNREACH = 1;
export const ICMPV6_PKT_TOOBIG = 2;
export const ICMPV6_TIME_EXCEED = 3;
export const ICMPV6_PARAMPROB = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
/** Codes of ICMPV6_DEST_UNREACH. */
export const ICMPV6_NOROUTE = 0;
export const ICMPV6_ADM_PROHIBITED = 1;
export const ICMPV6_NOT_NEIGHBOUR = 2;
export const ICMPV6_ADDR_UNREACH = 3;
export const ICMPV6_PORT_UNREACH = 4;
export const ICMPV6_POLICY_FAIL = 5;
export const ICMPV6_REJECT_ROUTE = 6;
/** Codes of ICMPV6_TIME_EXCEED. */
export const ICMPV6_EXC_HOPLIMIT = 0;
export const ICMPV6_EXC_FRAGTIME = 1;
/** Codes of ICMPV6_PARAMPROB. */
export const ICMPV6_HDR_FIELD = 0;
export const ICMPV6_UNK_NEXTHDR = 1;
export const ICMPV6_UNK_OPTION = 2;

export function icmpType(buf: Uint8Array, off: number): number {
  return buf[off + ICMP_TYPE];
}
export function setIcmpType(buf: Uint8Array, off: number, v: number): void {
  buf[off + ICMP_TYPE] = v;
}
export function icmpCode(buf: Uint8Array, off: number): number {
  return buf[off + ICMP_CODE];
}
export function setIcmpCode(buf: Uint8Array, off: number, v: number): void {
  buf[off + ICMP_CODE] = v;
}
export function icmpChecksum(buf: Uint8Array, off: number): number {
  return read16(buf, off + ICMP_CHECKSUM);
}
export function setIcmpChecksum(buf: Uint8Array, off: number, v: number): void {
  write16(buf, off + ICMP_CHECKSUM, v);
}
/** Echo identifier / sequence (ICMP and ICMPv6 alike). */
export function icmpEchoId(buf: Uint8Array, off: number): number {
  return read16(buf, off + ICMP_ID);
}
export function icmpEchoSeq(buf: Uint8Array, off: number): number {
  return read16(buf, off + ICMP_SEQ);
}
/** Next-hop MTU of an ICMPv4 fragmentation-needed message. */
export function icmpMtu(buf: Uint8Array, off: number): number {
  return read16(buf, off + ICMP_MTU);
}
/** MTU of an ICMPv6 packet-too-big message. */
export function icmpv6Mtu(buf: Uint8Array, off: number): number {
  return read32(buf, off + ICMPV6_MTU);
}

/** ICMPv4 error types (the message carries an offending datagram). */
export function icmpIsError(type: number): boolean {
  return (
    type === ICMP_DEST_UNREACH ||
    type === ICMP_SOURCE_QUENCH ||
    type === ICMP_REDIRECT ||
    type === ICMP_TIME_EXCEEDED ||
    type === ICMP_PARAMETERPROB
  );
}

/** ICMPv6 error messages are types 0..127 (RFC 4443 §2.1). */
export function icmpv6IsError(type: number): boolean {
  return type < 128;
}

/**
 * Build an ICMP (af 4) or ICMPv6 (af 6) error about the packet `orig[origOff ..
 * origOff+origLen)` into `out` at `outOff`, using at most `outCap` bytes, and return the
 * length written (0 when not even the headers fit or the original is not an IP packet of
 * family `af`).
 *
 * - IPv4: 20-byte header (TOS 0xc0, ID `ipId`, DF clear, TTL 64, protocol 1, source
 *   `srcWords[0]`, destination = the original's source), an 8-byte ICMP header, then as
 *   much of the original datagram as keeps the whole at most 576 bytes (RFC 1812
 *   §4.3.2.3). `info` goes in the rest-of-header: destination unreachable → next-hop
 *   MTU in bytes 6–7; parameter problem → pointer in byte 4; other types → bytes 4–7.
 * - IPv6: 40-byte header (hop limit 64, next header 58), an 8-byte ICMPv6 header with
 *   `info` in bytes 4–7 (MTU for packet too big, pointer for parameter problem), then
 *   the original up to 1280 bytes in total (RFC 4443 §2.4), checksummed over the
 *   pseudo-header.
 *
 * The original's length is its IP total length when that is shorter than `origLen`.
 * `out` may be `orig` itself (even overlapping): the original is moved before the
 * headers are written. Whether an error may be sent at all is the caller's decision
 * (see `icmpErrorAllowed` in packet.ts).
 */
export function buildIcmpError(
  out: Uint8Array,
  outOff: number,
  outCap: number,
  orig: Uint8Array,
  origOff: number,
  origLen: number,
  af: 4 | 6,
  type: number,
  code: number,
  info: number,
  srcWords: ArrayLike<number>,
  ipId = 0,
): number {
  if (outOff < 0 || origOff < 0 || origLen <= 0 || origOff + origLen > orig.length) return 0;
  let cap = outCap;
  if (cap > out.length - outOff) cap = out.length - outOff;
  if (af === 4) {
    const hdr = IPV4_HLEN + ICMP_HLEN;
    if (cap < hdr || origLen < IPV4_HLEN || orig[origOff] >>> 4 !== 4) return 0;
    let olen = origLen;
    const tot = read16(orig, origOff + IPV4_TOTAL_LENGTH);
    if (tot >= IPV4_HLEN && tot < olen) olen = tot;
    let take = olen;
    if (take > ICMP_ERROR_MAX_V4 - hdr) take = ICMP_ERROR_MAX_V4 - hdr;
    if (take > cap - hdr) take = cap - hdr;
    const dst = read32i(orig, origOff + IPV4_SRC);
    copyBytes(out, outOff + hdr, orig, origOff, take);
    const total = hdr + take;
    writeIpv4Header(
      out,
      outOff,
      ICMP_ERROR_TOS,
      total,
      ipId,
      0,
      ICMP_ERROR_TTL,
      IPPROTO_ICMP,
      srcWords[0] | 0,
      dst,
    );
    const l4 = outOff + IPV4_HLEN;
    out[l4 + ICMP_TYPE] = type;
    out[l4 + ICMP_CODE] = code;
    write32(out, l4 + 4, 0);
    if (type === ICMP_DEST_UNREACH) write16(out, l4 + ICMP_MTU, info);
    else if (type === ICMP_PARAMETERPROB) out[l4 + ICMP_POINTER] = info;
    else write32(out, l4 + 4, info);
    icmpChecksumFill(out, l4, ICMP_HLEN + take);
    return total;
  }
  const hdr = IPV6_HLEN + ICMP_HLEN;
  if (cap < hdr || origLen < IPV6_HLEN || orig[origOff] >>> 4 !== 6) return 0;
  let olen = origLen;
  const plen = IPV6_HLEN + read16(orig, origOff + IPV6_PAYLOAD_LENGTH);
  if (plen < olen) olen = plen;
  let take = olen;
  if (take > ICMP_ERROR_MAX_V6 - hdr) take = ICMP_ERROR_MAX_V6 - hdr;
  if (take > cap - hdr) take = cap - hdr;
  // The destination is the original source; copy it to the new header's destination
  // field after the move, so read it into locals first. Words are kept as int32
  // throughout: V8 boxes numbers ≥ 2^31 that cross a call, int32s it does not.
  const d0 = read32i(orig, origOff + IPV6_SRC);
  const d1 = read32i(orig, origOff + IPV6_SRC + 4);
  const d2 = read32i(orig, origOff + IPV6_SRC + 8);
  const d3 = read32i(orig, origOff + IPV6_SRC + 12);
  copyBytes(out, outOff + hdr, orig, origOff, take);
  writeIpv6Header(
    out,
    outOff,
    ICMP_HLEN + take,
    IPPROTO_ICMPV6,
    ICMP_ERROR_TTL,
    srcWords,
    srcWords,
  );
  write32(out, outOff + IPV6_DST, d0);
  write32(out, outOff + IPV6_DST + 4, d1);
  write32(out, outOff + IPV6_DST + 8, d2);
  write32(out, outOff + IPV6_DST + 12, d3);
  const l4 = outOff + IPV6_HLEN;
  out[l4 + ICMP_TYPE] = type;
  out[l4 + ICMP_CODE] = code;
  write32(out, l4 + 4, info);
  l4ChecksumFill(
    out,
    6,
    outOff + IPV6_SRC,
    outOff + IPV6_DST,
    IPPROTO_ICMPV6,
    l4,
    ICMP_HLEN + take,
  );
  return hdr + take;
}
