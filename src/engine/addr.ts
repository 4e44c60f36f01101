/**
 * Addresses as 32-bit words in host order (the numeric value of the big-endian wire
 * bytes): an IPv4 address is word 0, an IPv6 address words 0..3. Words beyond the
 * family's length are zero. This is the form the connection table and the schedulers
 * hash on (the kernel hashes `ntohl(addr)` the same way).
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { AddressFamily } from './constants.js';

export type AddrWords = Uint32Array; // length 4

export function newAddr(): AddrWords {
  return new Uint32Array(4);
}

/** Parse an IPv4 or IPv6 textual address; null when it is neither. */
export function parseAddr(text: string): { af: AddressFamily; words: AddrWords } | null {
  if (isIPv4(text)) {
    const p = text.split('.');
    const w = newAddr();
    w[0] = ((+p[0] << 24) | (+p[1] << 16) | (+p[2] << 8) | +p[3]) >>> 0;
    return { af: 4, words: w };
  }
  if (isIPv6(text)) {
    let t = text;
    // IPv4-mapped/embedded tail (::ffff:1.2.3.4)
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
    if (v4) {
      const a = v4[1].split('.').map(Number);
      t =
        t.slice(0, t.length - v4[1].length) +
        ((a[0] << 8) | a[1]).toString(16) +
        ':' +
        ((a[2] << 8) | a[3]).toString(16);
    }
    const halves = t.split('::');
    const head = halves[0] ? halves[0].split(':') : [];
    const tail = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
    const groups: number[] = [];
    for (const g of head) groups.push(parseInt(g, 16));
    for (let i = head.length + tail.length; i < 8; i++) groups.push(0);
    for (const g of tail) groups.push(parseInt(g, 16));
    const w = newAddr();
    for (let i = 0; i < 4; i++) w[i] = ((groups[2 * i] << 16) | groups[2 * i + 1]) >>> 0;
    return { af: 6, words: w };
  }
  return null;
}

/** Format an address the way inet_ntop does (RFC 5952 compression for IPv6). */
export function formatAddr(af: AddressFamily, w: ArrayLike<number>, off = 0): string {
  if (af === 4) {
    const v = w[off] >>> 0;
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const g: number[] = [];
  for (let i = 0; i < 4; i++) {
    const v = w[off + i] >>> 0;
    g.push(v >>> 16, v & 0xffff);
  }
  // IPv4-mapped form, as glibc prints it
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${g[6] >>> 8}.${g[6] & 255}.${g[7] >>> 8}.${g[7] & 255}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
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
