/**
 * The tunnel transmitter (the kernel's ip_vs_tunnel_xmit, spec §7.4): the path-MTU
 * check, the TTL, and encapsulation (IPIP, GUE or GRE, xmit/tunnel.ts) towards the
 * real server, in place when the caller left headroom, else in the scratch buffer.
 * And the other way round: recognising a tunnel packet of ours quoted by an ICMP
 * error (§8.1 step 4).
 */
import {
  CONN_F_TUNNEL,
  IPPROTO_GRE,
  IPPROTO_IPIP,
  IPPROTO_UDP,
  TUNNEL_TYPE_GRE,
  TUNNEL_TYPE_GUE,
  TUNNEL_TYPE_IPIP,
  type AddressFamily,
} from '../constants.js';
import { DropReason, V_FORWARD } from '../drop.js';
import type { Ipvs } from '../ipvs.js';
import { PKT_GSO } from '../ipvs.js';
import { Why } from '../verdict.js';
import { decTtl } from '../../wire/ip.js';
import { IPV4_FLAG_DF, IPV4_FRAG } from '../../wire/ipv4.js';
import type { PacketView } from '../../wire/packet.js';
import { encapsulate } from './tunnel.js';
import { drop, replyIcmp, replyTtlExceeded } from './result.js';

export function xmitTunnel(ipvs: Ipvs, id: number, pv: PacketView, pktFlags: number): number {
  const c = ipvs.conns;
  const d = ipvs.destById[c.dest[id]];
  if (!d) return drop(ipvs, DropReason.NO_DEST_CONN);
  if (pv.ttl <= 1) return replyTtlExceeded(ipvs, pv);
  const outerLen = d.af === 4 ? 20 : 40;
  const mtu = ipvs.mtu - outerLen;
  // §7.1: DF set, too big, not GSO → frag-needed with the tunnel MTU
  if (!(pktFlags & PKT_GSO) && pv.l3len > mtu) {
    if (
      pv.af === 4 &&
      ipvs.settings.pmtu_disc &&
      pv.buf[pv.l3off + IPV4_FRAG] & (IPV4_FLAG_DF >>> 8)
    )
      return replyIcmp(ipvs, pv, 3, 4, mtu, pv.daddr, DropReason.FRAG_NEEDED, Why.FRAG_NEEDED);
    if (pv.af === 6)
      return replyIcmp(ipvs, pv, 2, 0, mtu, pv.daddr, DropReason.FRAG_NEEDED, Why.FRAG_NEEDED);
  }
  decTtl(pv.buf, pv.l3off, pv.af as AddressFamily);
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
