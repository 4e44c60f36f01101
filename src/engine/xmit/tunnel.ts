/**
 * Tunnel encapsulation (spec §7.4): IPIP (IPv4 or IPv6 outer), GUE and GRE. The outer
 * header is written in front of the inner packet, which must have the room.
 */
import type { AddressFamily } from '../constants.js';
import { TUNNEL_ENCAP_FLAG_CSUM, TUNNEL_TYPE_GRE, TUNNEL_TYPE_GUE } from '../constants.js';
import { finishSum, ipv4HeaderChecksum, pseudoSum, sumBytes } from '../../wire/checksum.js';
import { writeAddr } from './nat.js';

/** Bytes the encapsulation adds in front of the inner packet. */
export function encapLength(outerAf: AddressFamily, tunType: number, tunFlags: number): number {
  const ip = outerAf === 4 ? 20 : 40;
  if (tunType === TUNNEL_TYPE_GUE) return ip + 12;
  if (tunType === TUNNEL_TYPE_GRE) return ip + (tunFlags & TUNNEL_ENCAP_FLAG_CSUM ? 8 : 4);
  return ip;
}

/**
 * Encapsulate `buf[off..off+len)` (an IP packet of family innerAf). Writes the headers
 * in the bytes before `off` and returns the total length (headers + inner).
 */
export function encapsulate(
  buf: Uint8Array,
  off: number,
  len: number,
  innerAf: AddressFamily,
  outerAf: AddressFamily,
  src: Uint32Array,
  dst: Uint32Array,
  pmtuDisc: boolean,
  ipId: number,
  tunType: number,
  tunPort: number,
  tunFlags: number,
): number {
  const total = encapLength(outerAf, tunType, tunFlags) + len;
  const start = off + len - total;
  const ipLen = outerAf === 4 ? 20 : 40;
  // inner DS field, TTL, DF
  let tos: number;
  let ttl: number;
  let df = 0;
  if (innerAf === 4) {
    tos = buf[off + 1];
    ttl = buf[off + 8];
    df = buf[off + 6] & 0x40;
  } else {
    tos = ((buf[off] & 0x0f) << 4) | (buf[off + 1] >>> 4);
    ttl = buf[off + 7];
  }
  // ECN encapsulation: CE in the inner header becomes ECT(0) outside
  if ((tos & 3) === 3) tos = (tos & ~3) | 2;
  let proto = innerAf === 4 ? 4 : 41;
  let p = start + ipLen;
  if (tunType === TUNNEL_TYPE_GUE) {
    proto = 17;
    const udpLen = 8 + 4 + len;
    const sport = 49152 + (((ipId * 2654435761) >>> 0) % 16384);
    buf[p] = sport >>> 8;
    buf[p + 1] = sport & 255;
    buf[p + 2] = tunPort >>> 8;
    buf[p + 3] = tunPort & 255;
    buf[p + 4] = udpLen >>> 8;
    buf[p + 5] = udpLen & 255;
    buf[p + 6] = buf[p + 7] = 0;
    buf[p + 8] = 0; // version 0, C 0, hlen 0
    buf[p + 9] = innerAf === 4 ? 4 : 41;
    buf[p + 10] = buf[p + 11] = 0;
    p += 12;
  } else if (tunType === TUNNEL_TYPE_GRE) {
    proto = 47;
    const csum = (tunFlags & TUNNEL_ENCAP_FLAG_CSUM) !== 0;
    buf[p] = csum ? 0x80 : 0;
    buf[p + 1] = 0;
    const et = innerAf === 4 ? 0x0800 : 0x86dd;
    buf[p + 2] = et >>> 8;
    buf[p + 3] = et & 255;
    if (csum) {
      buf[p + 4] = buf[p + 5] = buf[p + 6] = buf[p + 7] = 0;
      const s = finishSum(sumBytes(buf, p, 8 + len));
      buf[p + 4] = s >>> 8;
      buf[p + 5] = s & 255;
      p += 8;
    } else p += 4;
  }
  const o = start;
  if (outerAf === 4) {
    buf[o] = 0x45;
    buf[o + 1] = tos;
    buf[o + 2] = total >>> 8;
    buf[o + 3] = total & 255;
    buf[o + 4] = ipId >>> 8;
    buf[o + 5] = ipId & 255;
    buf[o + 6] = pmtuDisc ? df : 0;
    buf[o + 7] = 0;
    buf[o + 8] = ttl;
    buf[o + 9] = proto;
    buf[o + 10] = buf[o + 11] = 0;
    writeAddr(buf, o + 12, src, 0, 4);
    writeAddr(buf, o + 16, dst, 0, 4);
    ipv4HeaderChecksum(buf, o, 20);
  } else {
    const plen = total - 40;
    buf[o] = 0x60 | (tos >>> 4);
    buf[o + 1] = (tos & 15) << 4;
    buf[o + 2] = buf[o + 3] = 0;
    buf[o + 4] = plen >>> 8;
    buf[o + 5] = plen & 255;
    buf[o + 6] = proto;
    buf[o + 7] = ttl;
    writeAddr(buf, o + 8, src, 0, 6);
    writeAddr(buf, o + 24, dst, 0, 6);
  }
  if (tunType === TUNNEL_TYPE_GUE && tunFlags & TUNNEL_ENCAP_FLAG_CSUM) {
    const u = start + ipLen;
    const ulen = total - ipLen;
    const s0 =
      outerAf === 4
        ? pseudoSum(buf, o + 12, o + 16, 4, 17, ulen)
        : pseudoSum(buf, o + 8, o + 24, 16, 17, ulen);
    let s = finishSum(sumBytes(buf, u, ulen, s0));
    if (s === 0) s = 0xffff;
    buf[u + 6] = s >>> 8;
    buf[u + 7] = s & 255;
  }
  return total;
}
