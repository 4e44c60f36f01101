/**
 * Choosing a real server for a new connection (the kernel's ip_vs_schedule and
 * ip_vs_sched_persist, spec §2.8, §4.5): the service's scheduler, or for a persistent
 * service the client's template first; the new conn is created and counted here. And
 * what happens when there is none (ip_vs_leave, §2.10: cache_bypass or port unreachable).
 * Sets `result.why` to what decided (new conn, template reused, new template, or why
 * the packet is not scheduled).
 */
import {
  CONN_F_BYPASS,
  CONN_F_ONE_PACKET,
  CONN_F_TEMPLATE,
  SVC_F_ONEPACKET,
  SVC_F_PERSISTENT,
  type AddressFamily,
} from './constants.js';
import { maskAddr } from './addr.js';
import { NO_CONN } from './conn/table.js';
import { connNew, connPut, connSetControl } from './conn/conn.js';
import { DropReason } from './drop.js';
import { checkTemplate } from './conn/template.js';
import type { Ipvs } from './ipvs.js';
import { PKT_LOCAL } from './ipvs.js';
import { DIR_INPUT, type ProtocolOps } from './proto/types.js';
import type { Dest, SchedPacket, Service } from './service.js';
import { countConn } from './stats.js';
import { Why } from './verdict.js';
import { transmit } from './xmit/index.js';
import { accept, drop, replyPortUnreach } from './xmit/result.js';
import type { PacketView } from '../wire/packet.js';

/** The packet is not IPVS's to schedule (ACCEPT; `result.why` says why). */
export const SCHED_IGNORE = -2;
/** No real server available: ip_vs_leave follows. */
export const SCHED_NODEST = -3;
/** The conn could not be created. */
export const SCHED_FATAL = -4;

/** The FTP control port: its persistence templates cover every port (§4.5). */
const FTP_PORT = 21;
/** Client port 20 is FTP active-mode data, which the FTP helper expects (§2.8). */
const FTP_DATA_PORT = 20;

/**
 * The packet as the scheduler sees it (client side, virtual side), in the engine's
 * one reused SchedPacket.
 */
export function schedPacket(
  ipvs: Ipvs,
  af: AddressFamily,
  protocol: number,
  caddr: Uint32Array,
  cport: number,
  vaddr: Uint32Array,
  vport: number,
): SchedPacket {
  const sp = ipvs.spkt;
  sp.af = af;
  sp.protocol = protocol;
  sp.saddr.set(caddr);
  sp.sport = cport;
  sp.daddr.set(vaddr);
  sp.dport = vport;
  return sp;
}

/** ip_vs_schedule (§2.8): returns a conn id or SCHED_*. */
export function schedule(
  ipvs: Ipvs,
  pp: ProtocolOps,
  svc: Service,
  p: SchedPacket,
  mark: number,
  pktFlags: number,
): number {
  const r = ipvs.result;
  if (p.sport === FTP_DATA_PORT) {
    r.why = Why.FTP_DATA;
    return SCHED_IGNORE;
  }
  if (pktFlags & PKT_LOCAL) {
    // a reply from a local real server: a conn exists for the reversed tuple
    const x = ipvs.conns.inLookup(p.af, p.protocol, p.daddr, 0, p.dport, p.saddr, 0, p.sport);
    if (x !== NO_CONN) {
      r.why = Why.LOCAL_REPLY;
      return SCHED_IGNORE;
    }
  }
  if (svc.flags & SVC_F_PERSISTENT) return schedPersist(ipvs, pp, svc, p, mark);
  if (svc.fwmark === 0 && p.dport !== svc.port) return SCHED_NODEST;
  const d = svc.scheduler ? svc.scheduler.schedule(svc, p, ipvs.now) : null;
  if (!d) return SCHED_NODEST;
  r.why = Why.NEW_CONN;
  return connFor(ipvs, pp, svc, p, d, d.port || p.dport, mark);
}

/** The conn for a scheduled packet (caddr/cport/vaddr/vport from it), counted (§2.8). */
function connFor(
  ipvs: Ipvs,
  pp: ProtocolOps,
  svc: Service,
  p: SchedPacket,
  d: Dest,
  dport: number,
  mark: number,
): number {
  const flags = svc.flags & SVC_F_ONEPACKET && pp.onePacket ? CONN_F_ONE_PACKET : 0;
  const id = connNew(
    ipvs,
    p.af,
    p.protocol,
    p.saddr,
    0,
    p.sport,
    p.daddr,
    0,
    p.dport,
    d.addr,
    0,
    dport,
    flags,
    d,
    mark,
  );
  countConn(ipvs.totals, d);
  return id;
}

/** ip_vs_sched_persist (§4.5). */
function schedPersist(
  ipvs: Ipvs,
  pp: ProtocolOps,
  svc: Service,
  p: SchedPacket,
  mark: number,
): number {
  const c = ipvs.conns;
  const snet = maskAddr(p.af, p.saddr, svc.netmask, ipvs.snet);
  let tproto = p.protocol;
  let tvaddr = p.daddr;
  let tvport = 0;
  const vaddrMark = ipvs.tmpAddr;
  if (p.dport === svc.port) {
    tvport = svc.port !== FTP_PORT ? svc.port : 0;
  } else if (svc.fwmark !== 0) {
    tproto = 0;
    vaddrMark[0] = svc.fwmark;
    vaddrMark[1] = vaddrMark[2] = vaddrMark[3] = 0;
    tvaddr = vaddrMark;
  }
  let t = c.templateLookup(p.af, tproto, snet, 0, tvaddr, tvport);
  let dest: Dest | null = null;
  if (t !== NO_CONN) {
    if (checkTemplate(ipvs, t)) dest = ipvs.destById[c.dest[t]];
    else t = NO_CONN;
  }
  if (t === NO_CONN) {
    dest = svc.scheduler ? svc.scheduler.schedule(svc, p, ipvs.now) : null;
    if (!dest) return SCHED_NODEST;
    const tdport = p.dport === svc.port && svc.port !== FTP_PORT ? dest.port : 0;
    t = connNew(
      ipvs,
      p.af,
      tproto,
      snet,
      0,
      0,
      tvaddr,
      0,
      tvport,
      dest.addr,
      0,
      tdport,
      CONN_F_TEMPLATE,
      dest,
      mark,
    );
    c.timeout[t] = svc.timeout * 1000;
    ipvs.result.why = Why.NEW_TEMPLATE;
  } else {
    ipvs.result.why = Why.TEMPLATE_REUSED;
  }
  const d = dest!;
  const dport = p.dport === svc.port && d.port !== 0 ? d.port : p.dport;
  const id = connFor(ipvs, pp, svc, p, d, dport, mark);
  connSetControl(ipvs, id, t);
  c.arm(t, ipvs.now);
  return id;
}

/** ip_vs_leave (§2.10): no real server available. */
export function leave(
  ipvs: Ipvs,
  pp: ProtocolOps,
  svc: Service,
  pv: PacketView,
  mark: number,
  icmp: boolean,
): number {
  const s = ipvs.settings;
  if (s.cache_bypass && svc.fwmark !== 0 && !icmp) {
    const flags =
      CONN_F_BYPASS | (svc.flags & SVC_F_ONEPACKET && pp.onePacket ? CONN_F_ONE_PACKET : 0);
    const zero = ipvs.tmpAddr.fill(0);
    const id = connNew(
      ipvs,
      pv.af as AddressFamily,
      pv.proto,
      pv.saddr,
      0,
      pv.sport,
      pv.daddr,
      0,
      pv.dport,
      zero,
      0,
      0,
      flags,
      null,
      mark,
    );
    ipvs.result.why = Why.BYPASS;
    pp.stateTransition(ipvs, id, DIR_INPUT, pv);
    const v = transmit(ipvs, pp, id, pv, mark, 0);
    ipvs.conns.inPkts[id]++;
    connPut(ipvs, id);
    return v;
  }
  if (svc.port === FTP_PORT && pv.dport !== FTP_PORT) return accept(ipvs, Why.FTP_OTHER_PORT);
  if (icmp) return drop(ipvs, DropReason.NO_DEST_AVAILABLE);
  return replyPortUnreach(ipvs, pv, DropReason.NO_DEST_AVAILABLE, Why.NO_DEST);
}
