/**
 * The ICMP paths (the kernel's ip_vs_in_icmp / ip_vs_out_icmp, spec §8): an error
 * about a connection's packet is rewritten like the packet it quotes and sent on;
 * an error about an IPIP/GUE/GRE packet this director sent to a tunnel real server
 * is relayed to the client as an error of its own.
 */
import { CONN_F_FWD_MASK, CONN_F_MASQ, type AddressFamily } from './constants.js';
import { NO_CONN } from './conn/table.js';
import { connPut } from './conn/conn.js';
import { DropReason } from './drop.js';
import type { Ipvs } from './ipvs.js';
import { PKT_CSUM_OK } from './ipvs.js';
import { protoGet } from './proto/index.js';
import { SCHED_IGNORE, SCHED_NODEST, leave, schedPacket, schedule } from './schedule.js';
import { countIn, countOut } from './stats.js';
import { serviceFind } from './svc.js';
import { Why } from './verdict.js';
import { transmit } from './xmit/index.js';
import { icmpChecksumFill, verifyL4Checksum } from './proto/nat.js';
import { write16 } from '../wire/bytes.js';
import { writeIpAddr } from '../wire/ip.js';
import { accept, drop, forward, replyIcmpAbout, replyTtlExceeded } from './xmit/result.js';
import { PKT_ICMP_RELATED } from './xmit/mtu.js';
import { tunnelInner } from './xmit/tunnel.js';
import { ipv4HeaderChecksum } from '../wire/checksum.js';
import { decTtl } from '../wire/ip.js';
import { IPV4_FLAG_DF, IPV4_FRAG } from '../wire/ipv4.js';
import type { PacketView } from '../wire/packet.js';

/** ICMP errors IPVS relates to a connection: unreachable, source quench, time exceeded. */
function isRelatedIcmp(pv: PacketView): boolean {
  if (pv.af === 4) return pv.icmpType === 3 || pv.icmpType === 4 || pv.icmpType === 11;
  return pv.icmpType < 128;
}

/** Parse the IP header embedded in the ICMP error in `pv` into `e`. */
function parseEmbedded(pv: PacketView, e: PacketView): boolean {
  const start = pv.l4off + 8;
  const end = pv.l3off + pv.l3len;
  if (start >= end) return false;
  return e.parseEmbedded(pv.buf, start, end - start) === 0;
}

/**
 * Checks shared by both ICMP paths: a related error (types 3/4/11, ICMPv6 errors)
 * quoting a packet of a protocol IPVS handles, now parsed in `ipvs.epv`. Returns -1 to
 * go on, otherwise the verdict for the packet.
 */
function icmpRelated(ipvs: Ipvs, pv: PacketView): number {
  if (pv.frag !== 0)
    return pv.af === 6 ? drop(ipvs, DropReason.FRAGMENT) : accept(ipvs, Why.ICMP_UNRELATED);
  if (!isRelatedIcmp(pv)) return accept(ipvs, Why.ICMP_UNRELATED);
  const e = ipvs.epv;
  if (!parseEmbedded(pv, e)) return accept(ipvs, Why.ICMP_UNRELATED);
  if (protoGet(e.proto) === null) return accept(ipvs, Why.ICMP_UNRELATED);
  if (e.frag === 2) return accept(ipvs, Why.ICMP_UNRELATED);
  return -1;
}

/** Incoming ICMP error about a packet we sent to the client (§8.1). */
export function icmpIn(ipvs: Ipvs, pv: PacketView, mark: number, pktFlags: number): number {
  const tun = icmpTunnel(ipvs, pv, pktFlags);
  if (tun >= 0) return tun;
  const pre = icmpRelated(ipvs, pv);
  if (pre >= 0) return pre;
  const e = ipvs.epv;
  const pp = protoGet(e.proto)!;
  const af = e.af as AddressFamily;
  const c = ipvs.conns;
  // the embedded packet went VIP → client: look it up reversed
  let id = c.inLookup(af, e.proto, e.daddr, 0, e.dport, e.saddr, 0, e.sport);
  if (id === NO_CONN) {
    if (!ipvs.settings.schedule_icmp) return accept(ipvs, Why.ICMP_NO_CONN);
    const svc = serviceFind(ipvs, af, mark, e.proto, e.saddr, 0, e.sport);
    if (!svc) return accept(ipvs, Why.ICMP_NO_CONN);
    // the quoted packet went VIP → client: the client is its destination
    const sp = schedPacket(ipvs, af, e.proto, e.daddr, e.dport, e.saddr, e.sport);
    const r = schedule(ipvs, pp, svc, sp, mark, pktFlags);
    if (r === SCHED_IGNORE) return accept(ipvs, ipvs.result.why);
    if (r === SCHED_NODEST) return leave(ipvs, pp, svc, pv, mark, true);
    if (r < 0) return drop(ipvs, DropReason.NO_ROOM);
    id = r;
  } else {
    ipvs.result.why = Why.CONN;
  }
  if (!(pktFlags & PKT_CSUM_OK) && !verifyL4Checksum(pv)) {
    // put the conn on this exit too (the kernel's `goto out`): one just scheduled for
    // the error would otherwise never start its timer and never expire
    connPut(ipvs, id);
    return drop(ipvs, DropReason.BAD_CHECKSUM);
  }
  const did = c.dest[id];
  const d = did >= 0 ? ipvs.destById[did] : null;
  if (d && d.available) countIn(ipvs.totals, d, pv.l3len);
  const fwd = c.flags[id] & CONN_F_FWD_MASK;
  let v: number;
  if (fwd === CONN_F_MASQ) {
    if (pv.ttl <= 1) {
      v = replyTtlExceeded(ipvs, pv);
    } else {
      const o = id * 4;
      decTtl(pv.buf, pv.l3off, pv.af as AddressFamily);
      // outer dst := RIP, embedded src := RIP, embedded sport := dport
      writeIpAddr(pv.buf, pv.daddrOff, c.daddr, o, pv.af as AddressFamily);
      writeIpAddr(e.buf, e.saddrOff, c.daddr, o, af);
      write16(e.buf, e.l4off, c.dport[id]);
      if (af === 4) ipv4HeaderChecksum(e.buf, e.l3off, e.ihl);
      if (pv.af === 4) ipv4HeaderChecksum(pv.buf, pv.l3off, pv.ihl);
      icmpChecksumFill(pv);
      const r = ipvs.result;
      r.conn = id;
      r.dest = did;
      r.method = CONN_F_MASQ;
      v = forward(ipvs, pv, af, c.daddr, o);
    }
  } else {
    v = transmit(ipvs, pp, id, pv, mark, pktFlags | PKT_ICMP_RELATED);
  }
  c.inPkts[id]++;
  connPut(ipvs, id);
  return v;
}

/**
 * An ICMP error about an IPIP packet this director sent to a tunnel real server
 * (§8.1 steps 4 and 8; IPv4): the conn is found from the client packet inside, the
 * error is consumed, and the client gets one of its own, built from its packet — a
 * frag-needed with the tunnel's overhead taken off the MTU (only when the client's
 * packet had DF), any other error with the same type and code. Returns -1 when the
 * ICMP is not such an error (the ordinary ICMP path follows).
 */
function icmpTunnel(ipvs: Ipvs, pv: PacketView, pktFlags: number): number {
  if (pv.af !== 4 || pv.frag !== 0 || !isRelatedIcmp(pv)) return -1;
  const e = ipvs.epv;
  if (!parseEmbedded(pv, e) || e.frag !== 0) return -1;
  const end = pv.l3off + pv.l3len;
  const at = tunnelInner(ipvs, e, end);
  if (at < 0) return -1;
  // the client's packet, as far as the error quotes it
  const inner = ipvs.ipv;
  if (at >= end || inner.parseEmbedded(pv.buf, at, end - at) !== 0)
    return accept(ipvs, Why.ICMP_UNRELATED);
  if (inner.af !== 4 || protoGet(inner.proto) === null) return accept(ipvs, Why.ICMP_UNRELATED);
  if (inner.frag === 2) return accept(ipvs, Why.ICMP_UNRELATED);
  const c = ipvs.conns;
  const id = c.inLookup(4, inner.proto, inner.saddr, 0, inner.sport, inner.daddr, 0, inner.dport);
  if (id === NO_CONN) return accept(ipvs, Why.ICMP_NO_CONN);
  if (!(pktFlags & PKT_CSUM_OK) && !verifyL4Checksum(pv)) {
    // put the conn on this exit too (the kernel's `goto out`): one just scheduled for
    // the error would otherwise never start its timer and never expire
    connPut(ipvs, id);
    return drop(ipvs, DropReason.BAD_CHECKSUM);
  }
  const did = c.dest[id];
  const cd = did >= 0 ? ipvs.destById[did] : null;
  if (cd && cd.available) countOut(ipvs.totals, cd, pv.l3len);
  let info = 0;
  if (pv.icmpType === 3 && pv.icmpCode === 4) {
    // frag-needed: relayed only for a client packet with DF, its MTU less the
    // IPIP header (the kernel takes the MTU from the route it just updated)
    if (!(pv.buf[inner.l3off + IPV4_FRAG] & (IPV4_FLAG_DF >>> 8)))
      return drop(ipvs, DropReason.FRAG_NEEDED);
    let mtu = (pv.buf[pv.l4off + 6] << 8) | pv.buf[pv.l4off + 7];
    if (mtu > 68 + 20) mtu -= 20;
    info = mtu;
  }
  const v = replyIcmpAbout(
    ipvs,
    pv.buf,
    inner.l3off,
    end - inner.l3off,
    4,
    pv.icmpType,
    pv.icmpCode,
    info,
    inner.daddr,
    inner.saddr,
    0,
    Why.TUNNEL_ICMP,
  );
  ipvs.result.conn = id;
  return v;
}

/** Outgoing ICMP error from a real server about a client packet (§8.2). */
export function icmpOut(ipvs: Ipvs, pv: PacketView): number {
  const pre = icmpRelated(ipvs, pv);
  if (pre >= 0) return pre;
  const e = ipvs.epv;
  const af = e.af as AddressFamily;
  const c = ipvs.conns;
  // embedded: client → RIP; reversed it is RIP → client
  const id = c.outLookup(af, e.proto, e.daddr, 0, e.dport, e.saddr, 0, e.sport);
  if (id === NO_CONN) return accept(ipvs, Why.ICMP_NO_CONN);
  const o = id * 4;
  const did = c.dest[id];
  const d = did >= 0 ? ipvs.destById[did] : null;
  const r = ipvs.result;
  r.why = Why.CONN;
  if ((c.flags[id] & CONN_F_FWD_MASK) === CONN_F_MASQ) {
    if (!verifyL4Checksum(pv)) return drop(ipvs, DropReason.BAD_CHECKSUM);
    writeIpAddr(pv.buf, pv.saddrOff, c.vaddr, o, pv.af as AddressFamily);
    writeIpAddr(e.buf, e.daddrOff, c.vaddr, o, af);
    write16(e.buf, e.l4off + 2, c.vport[id]);
    if (af === 4) ipv4HeaderChecksum(e.buf, e.l3off, e.ihl);
    if (pv.af === 4) ipv4HeaderChecksum(pv.buf, pv.l3off, pv.ihl);
    icmpChecksumFill(pv);
    if (d && d.available) countOut(ipvs.totals, d, pv.l3len);
    r.conn = id;
    r.dest = did;
    connPut(ipvs, id);
    return forward(ipvs, pv, af, c.caddr, o);
  }
  if (d && d.available) countOut(ipvs.totals, d, pv.l3len);
  connPut(ipvs, id);
  return accept(ipvs, Why.OUT_NOT_NAT);
}
