/**
 * Addresses as 32-bit words in host order (the numeric value of the big-endian wire
 * bytes): an IPv4 address is word 0, an IPv6 address words 0..3. Words beyond the
 * family's length are zero. This is the form the connection table and the schedulers
 * hash on (the kernel hashes `ntohl(addr)` the same way).
 */
import type { AddressFamily } from './constants.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../wire/addr.js';

export type AddrWords = Uint32Array; // length 4

export function newAddr(): AddrWords {
  return new Uint32Array(4);
}

/**
 * Parse an IPv4 or IPv6 textual address, accepting exactly what inet_pton does (no zone
 * index, no leading zeros in a dotted quad); null when it is neither.
 */
export function parseAddr(text: string): { af: AddressFamily; words: AddrWords } | null {
  const w = newAddr();
  const v4 = parseIpv4(text);
  if (v4 >= 0) {
    w[0] = v4;
    return { af: 4, words: w };
  }
  return parseIpv6(text, w) ? { af: 6, words: w } : null;
}

/** Format an address the way inet_ntop does (see wire/addr.ts for the IPv6 rules). */
export function formatAddr(af: AddressFamily, w: ArrayLike<number>, off = 0): string {
  return af === 4 ? formatIpv4(w[off] >>> 0) : formatIpv6(w, off);
}

export function addrEqual(af: AddressFamily, a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a[0] !== b[0]) return false;
  if (af === 4) return true;
  return a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

/** The kernel's IPv6→32-bit fold for hashing: XOR of the four words. */
export function foldAddr(af: AddressFamily, w: ArrayLike<number>, off = 0): number {
  if (af === 4) return w[off] >>> 0;
  return (w[off] ^ w[off + 1] ^ w[off + 2] ^ w[off + 3]) >>> 0;
}

/** Apply a persistence netmask: IPv4 32-bit mask, IPv6 prefix length (spec §4.5). */
export function maskAddr(
  af: AddressFamily,
  src: ArrayLike<number>,
  netmask: number,
  out: AddrWords,
): AddrWords {
  if (af === 4) {
    out[0] = (src[0] & netmask) >>> 0;
    out[1] = out[2] = out[3] = 0;
    return out;
  }
  for (let i = 0; i < 4; i++) {
    const bits = netmask - i * 32;
    const m = bits >= 32 ? 0xffffffff : bits <= 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    out[i] = (src[i] & m) >>> 0;
  }
  return out;
}

/** "ip:port", with brackets for IPv6, as ipvsadm prints. */
export function formatAddrPort(af: AddressFamily, w: ArrayLike<number>, port: number): string {
  return af === 4 ? `${formatAddr(af, w)}:${port}` : `[${formatAddr(af, w)}]:${port}`;
}
