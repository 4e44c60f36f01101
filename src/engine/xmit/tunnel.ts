/**
 * Tunnel encapsulation (spec §7.4): IPIP (IPv4 or IPv6 outer), GUE and GRE. The outer
 * header is written in front of the inner packet, which must have the room.
 */
import type { AddressFamily } from '../constants.js';
import {
  IPPROTO_GRE,
  IPPROTO_IPIP,
  IPPROTO_IPV6,
  IPPROTO_UDP,
  TUNNEL_ENCAP_FLAG_CSUM,
  TUNNEL_TYPE_GRE,
  TUNNEL_TYPE_GUE,
} from '../constants.js';
import { l4ChecksumFill } from '../../wire/checksum.js';
import {
  ETH_P_IP,
  ETH_P_IPV6,
  GRE_HLEN,
  GRE_OPT_LEN,
  greChecksumFill,
  writeGreHeader,
} from '../../wire/gre.js';
import { GUE_HLEN, writeGueHeader } from '../../wire/gue.js';
import {
  IPV4_DST,
  IPV4_FLAG_DF,
  IPV4_FRAG,
  IPV4_HLEN,
  IPV4_SRC,
  ipv4Tos,
  ipv4Ttl,
  writeIpv4Header,
} from '../../wire/ipv4.js';
import {
  IPV6_DST,
  IPV6_HLEN,
  IPV6_SRC,
  ipv6HopLimit,
  ipv6TrafficClass,
  setIpv6TrafficClass,
  writeIpv6Header,
} from '../../wire/ipv6.js';
import { UDP_HLEN, writeUdpHeader } from '../../wire/udp.js';

/** ECN field of the DS byte and its two code points that matter here (RFC 6040). */
const ECN_MASK = 3;
const ECN_CE = 3;
const ECN_ECT0 = 2;

/** Bytes the encapsulation adds in front of the inner packet. */
export function encapLength(outerAf: AddressFamily, tunType: number, tunFlags: number): number {
  const ip = outerAf === 4 ? IPV4_HLEN : IPV6_HLEN;
  if (tunType === TUNNEL_TYPE_GUE) return ip + UDP_HLEN + GUE_HLEN;
  if (tunType === TUNNEL_TYPE_GRE)
    return ip + (tunFlags & TUNNEL_ENCAP_FLAG_CSUM ? GRE_HLEN + GRE_OPT_LEN : GRE_HLEN);
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
  const ipLen = outerAf === 4 ? IPV4_HLEN : IPV6_HLEN;
  // inner DS field, TTL, DF
  let tos: number;
  let ttl: number;
  let df = 0;
  if (innerAf === 4) {
    tos = ipv4Tos(buf, off);
    ttl = ipv4Ttl(buf, off);
    df = (buf[off + IPV4_FRAG] << 8) & IPV4_FLAG_DF;
  } else {
    tos = ipv6TrafficClass(buf, off);
    ttl = ipv6HopLimit(buf, off);
  }
  // ECN encapsulation: CE in the inner header becomes ECT(0) outside
  if ((tos & ECN_MASK) === ECN_CE) tos = (tos & ~ECN_MASK) | ECN_ECT0;
  const innerProto = innerAf === 4 ? IPPROTO_IPIP : IPPROTO_IPV6;
  let proto = innerProto;
  const p = start + ipLen;
  if (tunType === TUNNEL_TYPE_GUE) {
    proto = IPPROTO_UDP;
    // the source port spreads flows over the receiver's queues, as fou's auto sport
    const sport = 49152 + (((ipId * 2654435761) >>> 0) % 16384);
    writeUdpHeader(buf, p, sport, tunPort, UDP_HLEN + GUE_HLEN + len, 0);
    writeGueHeader(buf, p + UDP_HLEN, innerProto);
  } else if (tunType === TUNNEL_TYPE_GRE) {
    proto = IPPROTO_GRE;
    const csum = (tunFlags & TUNNEL_ENCAP_FLAG_CSUM) !== 0;
    const h = writeGreHeader(buf, p, innerAf === 4 ? ETH_P_IP : ETH_P_IPV6, csum);
    if (csum) greChecksumFill(buf, p, h + len);
  }
  const o = start;
  if (outerAf === 4) {
    const frag = pmtuDisc ? df : 0;
    writeIpv4Header(buf, o, tos, total, ipId, frag, ttl, proto, src[0], dst[0]);
  } else {
    writeIpv6Header(buf, o, total - IPV6_HLEN, proto, ttl, src, dst);
    setIpv6TrafficClass(buf, o, tos);
  }
  if (tunType === TUNNEL_TYPE_GUE && tunFlags & TUNNEL_ENCAP_FLAG_CSUM) {
    const sa = outerAf === 4 ? o + IPV4_SRC : o + IPV6_SRC;
    const da = outerAf === 4 ? o + IPV4_DST : o + IPV6_DST;
    l4ChecksumFill(buf, outerAf, sa, da, IPPROTO_UDP, p, total - ipLen);
  }
  return total;
}
