/**
 * The Internet checksum (RFC 1071) over byte ranges, pseudo-headers (RFC 793/768/8200),
 * incremental updates of a stored checksum field (RFC 1624 eqn. 3) and the "partial"
 * (offload) form in which the field holds the non-complemented pseudo-header sum.
 *
 * Sums are carried unfolded as plain numbers (exact integers well below 2^53) and folded
 * once at the end, which is both faster and simpler than folding per word. Every
 * function is allocation-free and works on `(buf, off, len)` triples.
 */
import { read16 } from './bytes.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP } from './ipproto.js';
import { TCP_CHECKSUM as TCP_CSUM } from './tcp.js';
import { UDP_CHECKSUM as UDP_CSUM } from './udp.js';

/**
 * Offsets of the checksum fields in the ICMP and IPv4 headers: named here, not imported,
 * because icmp.ts and ipv4.ts import this module (TCP's and UDP's come from theirs).
 */
const ICMP_CSUM = 2;

/** Above this an accumulated sum is reduced so that further additions stay exact. */
const REDUCE_ABOVE = 2 ** 48;

/**
 * Reduce a large sum while preserving its value modulo 0xffff (the one's-complement
 * equivalence): `x = hi·2^16 + lo ≡ hi + lo`.
 */
function reduce(sum: number): number {
  while (sum > 0xffffffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * Add the bytes `buf[off .. off+len)` as 16-bit big-endian words to `acc` (an odd
 * trailing byte is the high half of a word whose low half is zero) and return the
 * unfolded sum. Bytes past the end of `buf` are treated as absent, so the result is
 * always a number, never NaN.
 */
export function sumBytes(buf: Uint8Array, off: number, len: number, acc = 0): number {
  const start = off < 0 ? 0 : off;
  const end = off + len > buf.length ? buf.length : off + len;
  // Sum the high and low bytes of the words separately: two small integer
  // accumulators (SMIs for any packet size) and no shifts in the loop.
  let hi = 0;
  let lo = 0;
  let i = start;
  const even = end - ((end - start) & 1);
  for (; i + 8 <= even; i += 8) {
    hi += buf[i] + buf[i + 2] + buf[i + 4] + buf[i + 6];
    lo += buf[i + 1] + buf[i + 3] + buf[i + 5] + buf[i + 7];
  }
  for (; i < even; i += 2) {
    hi += buf[i];
    lo += buf[i + 1];
  }
  if (i < end) hi += buf[i];
  const sum = acc + hi * 256 + lo;
  return sum > REDUCE_ABOVE ? reduce(sum) : sum;
}

/** Fold an unfolded sum to 16 bits with end-around carry. Not complemented. */
export function fold16(sum: number): number {
  if (sum > 0xffffffff) sum = reduce(sum);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The checksum field value for an unfolded sum: `~fold16(sum) & 0xffff`. */
export function finishSum(sum: number): number {
  return ~fold16(sum) & 0xffff;
}

/**
 * Unfolded sum of the TCP/UDP/ICMPv6 pseudo-header: source and destination addresses
 * read from `buf` (`addrLen` 4 for IPv4, 16 for IPv6), the protocol number and the L4
 * length (16 bits on IPv4, 32 bits on IPv6; both are summed the same way).
 */
export function pseudoSum(
  buf: Uint8Array,
  srcOff: number,
  dstOff: number,
  addrLen: number,
  proto: number,
  l4len: number,
): number {
  let s = proto + (l4len >>> 16) + (l4len & 0xffff);
  for (let i = 0; i < addrLen; i += 2) {
    s += read16(buf, srcOff + i) + read16(buf, dstOff + i);
  }
  return s;
}

/**
 * Add "replace `old16` by `new16`" to an unfolded difference accumulator (one's-complement
 * `~old + new`). Apply the total with {@link csumApplyDiff} or {@link partialApplyDiff};
 * this lets a NAT rewrite of four address words and a port fold only once.
 */
export function csumDiff16(acc: number, old16: number, new16: number): number {
  return acc + (~old16 & 0xffff) + (new16 & 0xffff);
}

/** As {@link csumDiff16} for a 32-bit word given as its big-endian numeric value. */
export function csumDiff32(acc: number, old32: number, new32: number): number {
  return (
    acc +
    (~(old32 >>> 16) & 0xffff) +
    (~old32 & 0xffff) +
    ((new32 >>> 16) & 0xffff) +
    (new32 & 0xffff)
  );
}

/**
 * Apply an accumulated difference to a complemented checksum field (RFC 1624 eqn. 3:
 * `HC' = ~(~HC + ~m + m')`) and return the new field value.
 */
export function csumApplyDiff(check: number, diff: number): number {
  return ~fold16((~check & 0xffff) + diff) & 0xffff;
}

/**
 * Apply an accumulated difference to a partial (offload) field, which holds the
 * non-complemented folded pseudo-header sum: fold, no final complement.
 */
export function partialApplyDiff(field: number, diff: number): number {
  return fold16((field & 0xffff) + diff);
}

/** RFC 1624 update of checksum field `check` for a 16-bit word changing `old16 → new16`. */
export function csumReplace16(check: number, old16: number, new16: number): number {
  return csumApplyDiff(check, csumDiff16(0, old16, new16));
}

/**
 * RFC 1624 update of checksum field `check` for a 32-bit word (its big-endian numeric
 * value, e.g. an IPv4 address word) changing `old32 → new32`.
 */
export function csumReplace32(check: number, old32: number, new32: number): number {
  return csumApplyDiff(check, csumDiff32(0, old32, new32));
}

/** Update a partial (pseudo-header sum) field for a 16-bit change (e.g. the L4 length). */
export function partialReplace16(field: number, old16: number, new16: number): number {
  return partialApplyDiff(field, csumDiff16(0, old16, new16));
}

/** Update a partial (pseudo-header sum) field for a 32-bit change (e.g. an address word). */
export function partialReplace32(field: number, old32: number, new32: number): number {
  return partialApplyDiff(field, csumDiff32(0, old32, new32));
}

/** Offset within the IPv4 header of its checksum field (ipv4.ts imports this module). */
const IPV4_CSUM = 10;

/** Compute the IPv4 header checksum over `ihlBytes`, write it, and return it. */
export function ipv4HeaderChecksum(buf: Uint8Array, off: number, ihlBytes: number): number {
  buf[off + IPV4_CSUM] = 0;
  buf[off + IPV4_CSUM + 1] = 0;
  const c = finishSum(sumBytes(buf, off, ihlBytes));
  buf[off + IPV4_CSUM] = c >>> 8;
  buf[off + IPV4_CSUM + 1] = c;
  return c;
}

/** True when the IPv4 header (including its stored checksum) sums to 0xffff. */
export function ipv4HeaderChecksumOk(buf: Uint8Array, off: number, ihlBytes: number): boolean {
  return fold16(sumBytes(buf, off, ihlBytes)) === 0xffff;
}

/** Verify an ICMPv4 message checksum (no pseudo-header) over `len` bytes at `off`. */
export function icmpChecksumOk(buf: Uint8Array, off: number, len: number): boolean {
  if (len < ICMP_CSUM + 2 || off + len > buf.length) return false;
  return fold16(sumBytes(buf, off, len)) === 0xffff;
}

/** Compute and write an ICMPv4 message checksum; returns the value or -1 if too short. */
export function icmpChecksumFill(buf: Uint8Array, off: number, len: number): number {
  if (len < ICMP_CSUM + 2 || off + len > buf.length) return -1;
  buf[off + ICMP_CSUM] = 0;
  buf[off + ICMP_CSUM + 1] = 0;
  const c = finishSum(sumBytes(buf, off, len));
  buf[off + ICMP_CSUM] = c >>> 8;
  buf[off + ICMP_CSUM + 1] = c;
  return c;
}

/**
 * Offset of the checksum field within the L4 header for `proto` (TCP 16, UDP 6,
 * ICMP/ICMPv6 2), or -1 for protocols without an Internet checksum known here.
 */
export function l4CsumFieldOffset(proto: number): number {
  switch (proto) {
    case IPPROTO_TCP:
      return TCP_CSUM;
    case IPPROTO_UDP:
      return UDP_CSUM;
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
      return ICMP_CSUM;
    default:
      return -1;
  }
}

/** Unfolded sum of pseudo-header + segment, or -1 when the checksum cannot apply. */
function l4FullSum(
  buf: Uint8Array,
  af: number,
  saddrOff: number,
  daddrOff: number,
  proto: number,
  l4off: number,
  l4len: number,
): number {
  const fo = l4CsumFieldOffset(proto);
  if (fo < 0 || l4len < fo + 2 || l4off < 0 || l4off + l4len > buf.length) return -1;
  const seg = sumBytes(buf, l4off, l4len);
  if (proto === IPPROTO_ICMP) return seg;
  return pseudoSum(buf, saddrOff, daddrOff, af === 6 ? 16 : 4, proto, l4len) + seg;
}

/**
 * Verify the L4 checksum of a TCP, UDP, ICMPv6 (pseudo-header over the IP addresses
 * at `saddrOff`/`daddrOff`) or ICMPv4 (no pseudo-header) segment of `l4len` bytes at
 * `l4off`. UDP over IPv4 with a zero checksum field means "no checksum" and passes;
 * over IPv6 a zero field fails (RFC 8200 §8.1). Note that the kernel's IPVS
 * `csum_check` lets a zero UDP checksum pass on IPv6 as well: callers reproducing that
 * test the field for zero first. Unknown protocols and truncated segments return false.
 */
export function l4ChecksumOk(
  buf: Uint8Array,
  af: number,
  saddrOff: number,
  daddrOff: number,
  proto: number,
  l4off: number,
  l4len: number,
): boolean {
  const sum = l4FullSum(buf, af, saddrOff, daddrOff, proto, l4off, l4len);
  if (sum < 0) return false;
  if (proto === IPPROTO_UDP && read16(buf, l4off + UDP_CSUM) === 0) return af === 4;
  return fold16(sum) === 0xffff;
}

/**
 * Compute and write the L4 checksum (same cases as {@link l4ChecksumOk}); a UDP result of
 * 0 is written as 0xFFFF (0 would mean "none"). Returns the value written, or -1 when the
 * protocol has no Internet checksum or the segment is too short to hold the field.
 */
export function l4ChecksumFill(
  buf: Uint8Array,
  af: number,
  saddrOff: number,
  daddrOff: number,
  proto: number,
  l4off: number,
  l4len: number,
): number {
  const fo = l4CsumFieldOffset(proto);
  if (fo < 0 || l4len < fo + 2 || l4off < 0 || l4off + l4len > buf.length) return -1;
  buf[l4off + fo] = 0;
  buf[l4off + fo + 1] = 0;
  let c = finishSum(l4FullSum(buf, af, saddrOff, daddrOff, proto, l4off, l4len));
  if (c === 0 && proto === IPPROTO_UDP) c = 0xffff;
  buf[l4off + fo] = c >>> 8;
  buf[l4off + fo + 1] = c;
  return c;
}

/**
 * Set up a checksum for offload (CHECKSUM_PARTIAL): write the folded, non-complemented
 * pseudo-header sum into the field, as a sending stack does before handing the segment
 * to hardware that sums the rest. Returns the value, or -1 as {@link l4ChecksumFill}.
 * ICMPv4 has no pseudo-header and no partial form: -1.
 */
export function l4PartialFill(
  buf: Uint8Array,
  af: number,
  saddrOff: number,
  daddrOff: number,
  proto: number,
  l4off: number,
  l4len: number,
): number {
  const fo = l4CsumFieldOffset(proto);
  if (fo < 0 || proto === IPPROTO_ICMP || l4len < fo + 2 || l4off + l4len > buf.length) return -1;
  const v = fold16(pseudoSum(buf, saddrOff, daddrOff, af === 6 ? 16 : 4, proto, l4len));
  buf[l4off + fo] = v >>> 8;
  buf[l4off + fo + 1] = v;
  return v;
}
