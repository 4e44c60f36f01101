/**
 * The packet paths (the kernel's ip_vs_core.c, spec §1–§2): `in` (ip_vs_in, client →
 * director) with connection reuse (§2.11), expire_nodest_conn (§2.12) and the call to
 * the scheduler (schedule.ts, which also holds ip_vs_leave); `out` (ip_vs_out, real
 * server → client). The protocol's part of every step is asked of its ops (`pp.*`).
 */
import {
  CONN_F_FWD_MASK,
  CONN_F_MASQ,
  CONN_F_NFCT,
  CONN_F_ONE_PACKET,
  CONN_F_SYNPROXY,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  type AddressFamily,
} from './constants.js';
import { addrEqual } from './addr.js';
import { NO_CONN } from './conn/table.js';
import { connExpireNow, connPut } from './conn/conn.js';
import { todrop } from './defense.js';
import { DropReason } from './drop.js';
import { icmpIn, icmpOut } from './icmp.js';
import type { Ipvs } from './ipvs.js';
import { PKT_CSUM_PARTIAL, PKT_TUNNELED } from './ipvs.js';
import { protoGet } from './proto/index.js';
import { DIR_INPUT, DIR_OUTPUT, type ProtocolOps } from './proto/types.js';
import {
  SCHED_FATAL,
  SCHED_IGNORE,
  SCHED_NODEST,
  leave,
  schedPacket,
  schedule,
} from './schedule.js';
import { countIn, countOut } from './stats.js';
import { serviceFind } from './svc.js';
import { synproxyInConn, synproxyNew, synproxyOut } from './synproxy.js';
import { Why } from './verdict.js';
import { transmit } from './xmit/index.js';
import { natRewriteWithHelper } from './xmit/nat.js';
import { accept, drop, forward, replyPortUnreach, resultReset } from './xmit/result.js';
import type { PacketView } from '../wire/packet.js';

/** The engine's view of a new packet: its clock, room, checksum state; ACCEPT so far. */
function beginPacket(
  ipvs: Ipvs,
  buf: Uint8Array,
  off: number,
  len: number,
  now: number,
  pktFlags: number,
  cap: number,
): void {
  ipvs.now = now;
  ipvs.room = off + cap;
  ipvs.partial = (pktFlags & PKT_CSUM_PARTIAL) !== 0;
  resultReset(ipvs, buf, off, len);
}

/**
 * Client → director packet (ip_vs_in, §1.2). See `Engine.in` for the arguments.
 */
export function ipvsIn(
  ipvs: Ipvs,
  buf: Uint8Array,
  off: number,
  len: number,
  now: number,
  mark: number,
  pktFlags: number,
  cap: number,
  head: number,
): number {
  beginPacket(ipvs, buf, off, len, now, pktFlags, cap);
  ipvs.headroom = head;
  if (ipvs.settings.backup_only && ipvs.syncBackup) return accept(ipvs, Why.BACKUP_ONLY);
  // ip_vs_in_hook: a packet already marked ipvs_property (with ignore_tunneled, one that
  // came out of a tunnel whose outer packet IPVS saw and did not handle) passes
  if ((pktFlags & PKT_TUNNELED) !== 0 && ipvs.settings.ignore_tunneled !== 0)
    return accept(ipvs, Why.NOT_IPVS);
  const pv = ipvs.pv;
  const err = pv.parse(buf, off, len);
  if (err !== 0) return drop(ipvs, DropReason.MALFORMED);
  const proto = pv.proto;
  if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) return icmpIn(ipvs, pv, mark, pktFlags);
  const pp = protoGet(proto);
  if (pp === null) return accept(ipvs, Why.NOT_IPVS);
  if (pv.frag === 2) return drop(ipvs, DropReason.FRAGMENT);
  return inProto(ipvs, pp, pv, mark, pktFlags);
}

function inProto(
  ipvs: Ipvs,
  pp: ProtocolOps,
  pv: PacketView,
  mark: number,
  pktFlags: number,
): number {
  const c = ipvs.conns;
  const af = pv.af as AddressFamily;
  const proto = pv.proto;
  let id = c.inLookup(af, proto, pv.saddr, 0, pv.sport, pv.daddr, 0, pv.dport);
  if (id === NO_CONN && c.noCportCount > 0)
    id = c.inLookup(af, proto, pv.saddr, 0, 0, pv.daddr, 0, pv.dport);

  if (id !== NO_CONN) {
    // §2.11: a packet that opens a new connection (a SYN) for an existing one
    if (pp.isNewConn(pv) && pv.frag === 0 && connReuse(ipvs, pp, id)) {
      if (c.nControl[id] === 0) connExpireNow(ipvs, id);
      id = NO_CONN;
    } else {
      // §2.12: the conn's dest is gone. With expire_nodest_conn the conn is expired and
      // (kernels since 5.9) the packet tries to schedule like any other — a non-SYN TCP
      // packet is then ACCEPTed; only a conn that uses conntrack drops it (old_ct).
      const did = c.dest[id];
      const d = did >= 0 ? ipvs.destById[did] : null;
      if (d && !d.available) {
        if (!ipvs.settings.expire_nodest_conn) return drop(ipvs, DropReason.NO_DEST_CONN);
        const oldCt = (c.flags[id] & CONN_F_NFCT) !== 0;
        connExpireNow(ipvs, id);
        if (oldCt) return drop(ipvs, DropReason.NO_DEST_CONN);
        id = NO_CONN;
      }
    }
  }

  if (id === NO_CONN) {
    // tsvs's SYN proxy answers handshakes of its services before anything is scheduled
    if (proto === IPPROTO_TCP && (ipvs.spServices > 0 || ipvs.settings.synproxy !== 0)) {
      const psvc = pv.frag === 0 ? serviceFind(ipvs, af, mark, proto, pv.daddr, 0, pv.dport) : null;
      if (psvc) {
        const v = synproxyNew(ipvs, pp, psvc, pv, mark, pktFlags);
        if (v >= 0) return v;
      }
    }
    const why = pp.connSchedule(ipvs, pv);
    if (why !== Why.NONE)
      return why === Why.DROP ? drop(ipvs, DropReason.MALFORMED) : accept(ipvs, why);
    if (pv.frag !== 0 && af === 6) return accept(ipvs, Why.IPV6_FRAGMENT);
    const svc = serviceFind(ipvs, af, mark, proto, pv.daddr, 0, pv.dport);
    if (!svc) return accept(ipvs, Why.NO_SERVICE);
    if (todrop(ipvs)) return drop(ipvs, DropReason.DROP_PACKET_DEFENCE);
    const max = ipvs.settings.conn_max;
    if (max > 0 && c.count >= max) return drop(ipvs, DropReason.CONN_TABLE_FULL);
    const sp = schedPacket(ipvs, af, proto, pv.saddr, pv.sport, pv.daddr, pv.dport);
    const r = schedule(ipvs, pp, svc, sp, mark, pktFlags);
    if (r === SCHED_IGNORE) return accept(ipvs, ipvs.result.why);
    if (r === SCHED_FATAL) return drop(ipvs, DropReason.NO_ROOM);
    if (r === SCHED_NODEST) return leave(ipvs, pp, svc, pv, mark, false);
    id = r;
  } else {
    ipvs.result.why = Why.CONN;
    if (c.flags[id] & CONN_F_SYNPROXY) {
      const v = synproxyInConn(ipvs, id, pv);
      if (v >= 0) return v;
    }
  }
  return inConn(ipvs, pp, id, pv, mark, pktFlags);
}

/** Count, transition, transmit and release for an INPUT packet on conn `id`. */
function inConn(
  ipvs: Ipvs,
  pp: ProtocolOps,
  id: number,
  pv: PacketView,
  mark: number,
  pktFlags: number,
): number {
  const c = ipvs.conns;
  const did = c.dest[id];
  const d = did >= 0 ? ipvs.destById[did] : null;
  if (d && d.available) countIn(ipvs.totals, d, pv.l3len);
  pp.stateTransition(ipvs, id, DIR_INPUT, pv);
  const v = transmit(ipvs, pp, id, pv, mark, pktFlags);
  const sm = ipvs.syncMaster;
  if (c.flags[id] & CONN_F_ONE_PACKET) {
    // the sync master counts the controller's packets itself
    if (sm !== null) sm(id, ipvs.settings.sync_threshold[0]);
    else if (c.control[id] >= 0) c.inPkts[c.control[id]]++;
  } else {
    c.inPkts[id]++;
    if (sm !== null) sm(id, c.inPkts[id]);
  }
  connPut(ipvs, id);
  return v;
}

/** is_new_conn_expected (§2.11): is this conn expected to be reused by a new SYN? */
function connReuse(ipvs: Ipvs, pp: ProtocolOps, id: number): boolean {
  const c = ipvs.conns;
  const s = ipvs.settings;
  const did = c.dest[id];
  const d = did >= 0 ? ipvs.destById[did] : null;
  if (s.expire_nodest_conn && d && d.weight === 0) return true;
  if (s.conn_reuse_mode === 0 || c.control[id] >= 0) return false;
  return pp.connReuse(ipvs, id);
}

/**
 * Real server → client packet passing through the director (ip_vs_out, §1.3). See
 * `Engine.out` for the arguments.
 */
export function ipvsOut(
  ipvs: Ipvs,
  buf: Uint8Array,
  off: number,
  len: number,
  now: number,
  mark: number,
  pktFlags: number,
  cap: number,
): number {
  beginPacket(ipvs, buf, off, len, now, pktFlags, cap);
  // ip_vs_out_hook skips ipvs_property packets as ip_vs_in_hook does
  if ((pktFlags & PKT_TUNNELED) !== 0 && ipvs.settings.ignore_tunneled !== 0)
    return accept(ipvs, Why.NOT_IPVS);
  const pv = ipvs.pv;
  if (pv.parse(buf, off, len) !== 0) return drop(ipvs, DropReason.MALFORMED);
  const proto = pv.proto;
  if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) return icmpOut(ipvs, pv);
  const pp = protoGet(proto);
  if (pp === null) return accept(ipvs, Why.NOT_IPVS);
  if (pv.frag === 2) return drop(ipvs, DropReason.FRAGMENT);
  const af = pv.af as AddressFamily;
  const c = ipvs.conns;
  const id = c.outLookup(af, proto, pv.saddr, 0, pv.sport, pv.daddr, 0, pv.dport);
  if (id === NO_CONN) {
    // nat_icmp_send: not for what may never create a conn (a TCP RST, an SCTP ABORT)
    const w = ipvs.settings.nat_icmp_send ? pp.connSchedule(ipvs, pv) : Why.RST;
    if (w !== Why.RST && w !== Why.ABORT) {
      if (isNatRealServer(ipvs, af, proto, pv.saddr, pv.sport))
        return replyPortUnreach(ipvs, pv, DropReason.NAT_ICMP_SEND, Why.NAT_ICMP_SEND);
    }
    return accept(ipvs, Why.OUT_NO_CONN);
  }
  const r = ipvs.result;
  r.conn = id;
  r.dest = c.dest[id];
  r.method = -1;
  r.why = Why.CONN;
  const did = c.dest[id];
  if (c.flags[id] & CONN_F_SYNPROXY) {
    const v = synproxyOut(ipvs, pp, id, pv);
    if (v >= 0) return v;
  }
  if ((c.flags[id] & CONN_F_FWD_MASK) === CONN_F_MASQ) {
    const v = natRewriteWithHelper(ipvs, pp, id, pv, mark, pktFlags, false);
    if (v >= 0) return v;
    const d = did >= 0 ? ipvs.destById[did] : null;
    if (d && d.available) countOut(ipvs.totals, d, pv.l3len);
    pp.stateTransition(ipvs, id, DIR_OUTPUT, pv);
    connPut(ipvs, id);
    return forward(ipvs, pv, af, c.caddr, id * 4);
  }
  const d = did >= 0 ? ipvs.destById[did] : null;
  if (d && d.available) countOut(ipvs.totals, d, pv.l3len);
  pp.stateTransition(ipvs, id, DIR_OUTPUT, pv);
  connPut(ipvs, id);
  return accept(ipvs, Why.OUT_NOT_NAT);
}

/** Is `addr:port` a NAT real server of some service of this protocol (nat_icmp_send)? */
function isNatRealServer(
  ipvs: Ipvs,
  af: AddressFamily,
  proto: number,
  addr: Uint32Array,
  port: number,
): boolean {
  for (const s of ipvs.services) {
    if (s.af !== af || (s.fwmark === 0 && s.protocol !== proto)) continue;
    for (const d of s.dests)
      if (d.port === port && d.fwd === CONN_F_MASQ && addrEqual(af, d.addr, addr)) return true;
  }
  return false;
}
