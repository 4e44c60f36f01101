/**
 * What IPv4 and IPv6 headers share, by family: the one TTL / hop-limit decrement of
 * every forwarded packet (the kernel's ip_decrease_ttl and `hop_limit--`), and writing
 * an address held as host-order words (one for IPv4, four for IPv6) into a header.
 */
import { write32 } from './bytes.js';
import { ipv4DecTtl } from './ipv4.js';
import { IPV6_HOP_LIMIT } from './ipv6.js';

/**
 * Decrement the TTL (IPv4, header checksum patched incrementally) or the hop limit
 * (IPv6) of the header at `l3off`. Returns the new value; the caller decides what a
 * TTL that was ≤ 1 means (IPVS: time exceeded, spec §7.1).
 */
export function decTtl(buf: Uint8Array, l3off: number, af: 4 | 6): number {
  if (af === 4) return ipv4DecTtl(buf, l3off);
  const h = (buf[l3off + IPV6_HOP_LIMIT] - 1) & 0xff;
  buf[l3off + IPV6_HOP_LIMIT] = h;
  return h;
}

/**
 * Write the address `words[woff..]` (one word for IPv4, four for IPv6, host order) as
 * 4 or 16 big-endian bytes at `off`, e.g. at a header's source or destination field.
 */
export function writeIpAddr(
  buf: Uint8Array,
  off: number,
  words: ArrayLike<number>,
  woff: number,
  af: 4 | 6,
): void {
  write32(buf, off, words[woff]);
  if (af === 4) return;
  write32(buf, off + 4, words[woff + 1]);
  write32(buf, off + 8, words[woff + 2]);
  write32(buf, off + 12, words[woff + 3]);
}
