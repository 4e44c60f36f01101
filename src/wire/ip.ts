/**
 * What IPv4 and IPv6 headers share, by family: the one TTL / hop-limit decrement of
 * every forwarded packet (the kernel's ip_decrease_ttl and `hop_limit--`).
 */
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
