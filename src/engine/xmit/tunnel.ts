/**
 * The tunnel transmitter (the kernel's ip_vs_tunnel_xmit, spec §7.4): the path-MTU
 * check, the TTL, and encapsulation — IPIP (IPv4 or IPv6 outer), GUE and GRE, the outer
 * header written in front of the inner packet, in place when the caller left headroom,
 * else in the scratch buffer. And the other way round: recognising a tunnel packet of
 * ours quoted by an ICMP error (§8.1 step 4).
 */
import {
  CONN_F_TUNNEL,
  TUNNEL_TYPE_IPIP,
  type AddressFamily,
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
import { DropReason, V_FORWARD } from '../drop.js';
import type { Ipvs } from '../ipvs.js';
import { decTtl } from '../../wire/ip.js';
import type { PacketView } from '../../wire/packet.js';
import { xmitLocal } from './local.js';
import { mtuCheck, pathMtu } from './mtu.js';
import { drop, replyTtlExceeded } from './result.js';

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

export function xmitTunnel(ipvs: Ipvs, id: number, pv: PacketView, pktFlags: number): number {
  const c = ipvs.conns;
  const d = ipvs.destById[c.dest[id]];
  if (!d) return drop(ipvs, DropReason.NO_DEST_CONN);
  // a local RIP: the packet goes to the local stack as it is, not into the tunnel
  if (d.route !== null && d.route.local === true) return xmitLocal(ipvs);
  if (pv.ttl <= 1) return replyTtlExceeded(ipvs, pv);
  decTtl(pv.buf, pv.l3off, pv.af as AddressFamily);
  const outerLen = encapLength(d.af, d.tunType, d.tunFlags);
  // __ip_vs_get_out_rt: the route's MTU less every header the tunnel adds
  const mtu = pathMtu(ipvs, d) - outerLen;
  if (mtu < 68) return drop(ipvs, DropReason.FRAG_NEEDED);
  const tooBig = mtuCheck(ipvs, pv, pktFlags, mtu, true);
  if (tooBig >= 0) return tooBig;
  let src = ipvs.tunSrc.get(d.id);
  if (!src) {
    src = ipvs.tunnelSource?.(d.af, d.addr) ?? new Uint32Array(4);
    ipvs.tunSrc.set(d.id, src);
  }
  const r = ipvs.result;
  let buf = pv.buf;
  let off = pv.l3off;
  if (off < outerLen || ipvs.headroom < outerLen) {
    if (pv.l3len + outerLen > ipvs.scratch.length) return drop(ipvs, DropReason.NO_ROOM);
    ipvs.scratch.set(buf.subarray(off, off + pv.l3len), outerLen);
    buf = ipvs.scratch;
    off = outerLen;
  }
  const n = encapsulate(
    buf,
    off,
    pv.l3len,
    pv.af as AddressFamily,
    d.af,
    src,
    d.addr,
    ipvs.settings.pmtu_disc !== 0,
    ipvs.ipId++ & 0xffff,
    d.tunType,
    d.tunPort,
    d.tunFlags,
  );
  r.verdict = V_FORWARD;
  r.reason = 0;
  r.buf = buf;
  r.off = off - (n - pv.l3len);
  r.len = n;
  r.af = d.af;
  r.nextHop.set(d.addr);
  return V_FORWARD;
}

/** Is there an IPv4 tunnel dest of this type at `daddr` (on `port` for GUE; -1: any)? */
function tunnelDest(ipvs: Ipvs, type: number, daddr: number, port: number): boolean {
  for (const s of ipvs.services)
    for (const d of s.dests)
      if (
        d.af === 4 &&
        d.fwd === CONN_F_TUNNEL &&
        d.tunType === type &&
        d.addr[0] === daddr &&
        (port < 0 || d.tunPort === port)
      )
        return true;
  return false;
}

/**
 * Where the client's packet starts inside a quoted tunnel packet (`e`, the outer
 * header we sent): IPIP to a tunnel dest; UDP to a GUE dest's port with a GUE
 * version-0 data header carrying IPv4; GRE to a GRE dest with no flags but C and
 * protocol IPv4. -1 when `e` is none of those (§8.1 step 4).
 */
export function tunnelInner(ipvs: Ipvs, e: PacketView, end: number): number {
  const b = e.buf;
  const o = e.l4off;
  const daddr = e.daddr[0];
  if (e.proto === IPPROTO_IPIP) return tunnelDest(ipvs, TUNNEL_TYPE_IPIP, daddr, -1) ? o : -1;
  if (e.proto === IPPROTO_UDP && o + 12 <= end) {
    const g = b[o + 8];
    // GUE: version 0, C clear, proto_ctype 4 (IPIP)
    if (g >> 6 !== 0 || g & 0x20 || b[o + 9] !== IPPROTO_IPIP) return -1;
    if (!tunnelDest(ipvs, TUNNEL_TYPE_GUE, daddr, (b[o + 2] << 8) | b[o + 3])) return -1;
    return o + 8 + 4 + (g & 0x1f) * 4;
  }
  if (e.proto === IPPROTO_GRE && o + 4 <= end) {
    const flags = (b[o] << 8) | b[o + 1];
    if ((flags & ~0x8000) !== 0 || ((b[o + 2] << 8) | b[o + 3]) !== 0x0800) return -1;
    if (!tunnelDest(ipvs, TUNNEL_TYPE_GRE, daddr, -1)) return -1;
    return o + (flags & 0x8000 ? 8 : 4);
  }
  return -1;
}
