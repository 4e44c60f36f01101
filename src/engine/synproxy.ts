/**
 * The SYN proxy (tsvs's own; the kernel's IPVS has none — docs/synproxy.md): for a
 * service with `--synproxy` (or every TCP service with the `synproxy` setting) the
 * director answers a client's SYN itself, with a SYN cookie (synproxy-cookie.ts), and
 * creates no connection. Only an ACK that carries a valid cookie creates one — the
 * scheduler runs then — and the director opens the connection to the real server
 * with the options the cookie kept, answers the server's SYN-ACK, and from then on
 * translates the sequence numbers (server ISN − cookie), the timestamps and the
 * window of every packet between the two. A flood of SYNs with forged sources thus
 * costs one reply each and never a conn, and never reaches a real server.
 *
 * That needs every packet of the connection in both directions: NAT services. For a
 * service with a DR or tunnel real server, whose replies never pass the director, the
 * proxy proves the client's address instead: its SYN-ACK carries a cookie in the
 * acknowledgment number, which the client's TCP must refuse with an RST whose
 * sequence number is that cookie (RFC 9293 §3.10.7.3); a valid RST marks the address
 * as proved for a minute, and the client's retransmitted SYN is scheduled as usual.
 *
 * Allocation-free on the packet path: the packets the proxy makes are written into
 * the engine's scratch buffer, held data into the fixed pool of synproxy-state.ts.
 */
import {
  CONN_F_FWD_MASK,
  CONN_F_MASQ,
  CONN_F_SYNPROXY,
  IPPROTO_TCP,
  SVC_F_SYNPROXY,
  type AddressFamily,
} from './constants.js';
import { connExpireNow, connPut } from './conn/conn.js';
import { todrop } from './defense.js';
import { DropReason } from './drop.js';
import type { Ipvs } from './ipvs.js';
import { DIR_INPUT, DIR_OUTPUT, type ProtocolOps } from './proto/types.js';
import {
  SCHED_FATAL,
  SCHED_IGNORE,
  SCHED_NODEST,
  leave,
  schedPacket,
  schedule,
} from './schedule.js';
import type { Service } from './service.js';
import { countIn, countOut } from './stats.js';
import { HELD_SLOT_BYTES, SpCounter } from './synproxy-state.js';
import {
  TS_MASK,
  TS_OPT_SACK,
  cookieCount,
  mssIndex,
  mssOf,
  tsDecodeWscale,
  tsEncode,
} from './synproxy-cookie.js';
import { Why } from './verdict.js';
import { accept, drop } from './xmit/result.js';
import { read16, write16, write32 } from '../wire/bytes.js';
import { csumReplace16 } from '../wire/checksum.js';
import { l4ChecksumFill, l4PartialFill } from '../wire/checksum.js';
import {
  TCP_FLAG_ACK,
  TCP_FLAG_FIN,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  TCP_HLEN,
  TCP_WINDOW,
  TCPOPT_SACK,
  TCPOPT_TIMESTAMP,
  tcpOptionFind,
} from '../wire/tcp.js';
import {
  OPT,
  O_MSS,
  O_SACK,
  O_TS,
  O_TSECR,
  O_TSVAL,
  O_WS,
  forwardToServer,
  ourMss,
  rd32,
  readOptions,
  replyBuilt,
  set32,
  writeSegment,
} from './synproxy-segment.js';
import type { PacketView } from '../wire/packet.js';
import { authRst, authSynAck } from './synproxy-auth.js';

/** The window scale the proxy offers clients (Linux's usual one). */
export const SP_WSCALE = 7;

// spInfo bits (conn/table.ts): the options the cookie kept, the server's answer, and
// the client's last window in the high half
const I_CWS_MASK = 0x0f;
const I_CWS_OK = 0x10;
const I_SACK = 0x20;
const I_TS = 0x40;
/** The real server answered: translation runs. */
const I_DONE = 0x80;
const I_SWS_SHIFT = 8;
const I_SWS_OK = 0x1000;
const I_MSS_SHIFT = 13;
const I_WIN_SHIFT = 16;

const MODE_NONE = 0;
const MODE_NAT = 1;
const MODE_AUTH = 2;

/** The SYN proxy covers the service (its flag, or the global setting). */
export function synproxyOn(ipvs: Ipvs, svc: Service): boolean {
  return (svc.flags & SVC_F_SYNPROXY) !== 0 || ipvs.settings.synproxy !== 0;
}

/**
 * The service's SYNs may be answered by the kernel program (bpf/syncookie.c): it is
 * proxied and every real server is NAT (the cookie SYN-ACK of {@link cookieSynAck};
 * the DR address proof stays in the engine).
 */
export function synproxyCookieInKernel(ipvs: Ipvs, svc: Service): boolean {
  return synproxyOn(ipvs, svc) && proxyMode(svc) === MODE_NAT;
}

/** NAT proxy when every real server is NAT, address proof when any is not, none without. */
function proxyMode(svc: Service): number {
  const ds = svc.dests;
  if (ds.length === 0) return MODE_NONE;
  for (let i = 0; i < ds.length; i++) if (ds[i].fwd !== CONN_F_MASQ) return MODE_AUTH;
  return MODE_NAT;
}

// ---------------------------------------------------------------------------
// Client → director without a conn

/**
 * A TCP packet without a conn for `svc` (core.ts asks when any service is proxied):
 * a SYN is answered with a cookie, an ACK with a cookie creates the conn, an RST may
 * prove an address. Returns the verdict, or -1: go on as without the proxy.
 */
export function synproxyNew(
  ipvs: Ipvs,
  pp: ProtocolOps,
  svc: Service,
  pv: PacketView,
  mark: number,
  pktFlags: number,
): number {
  if (!synproxyOn(ipvs, svc)) return -1;
  const mode = proxyMode(svc);
  if (mode === MODE_NONE) return -1;
  const f = pv.tcpFlags;
  if (f & TCP_FLAG_RST) return mode === MODE_AUTH ? authRst(ipvs, pv) : -1;
  if (f & TCP_FLAG_SYN) {
    if (f & TCP_FLAG_ACK) return -1;
    if (mode === MODE_NAT) return cookieSynAck(ipvs, pv);
    if (ipvs.sp.authHas(pv.af, pv.saddr, ipvs.now)) return -1;
    return authSynAck(ipvs, pv);
  }
  if (mode === MODE_NAT && f & TCP_FLAG_ACK) return cookieAck(ipvs, pp, svc, pv, mark, pktFlags);
  return -1;
}

/** SYN → SYN-ACK with the cookie (the kernel's cookie_v4_init_sequence + the SYN-ACK). */
function cookieSynAck(ipvs: Ipvs, pv: PacketView): number {
  readOptions(pv);
  const af = pv.af;
  const o = OPT;
  const mss = o[O_MSS] > 0 ? o[O_MSS] : af === 4 ? 536 : 1220;
  const ts = o[O_TS] >= 0;
  // without timestamps there is nowhere to keep window scaling and SACK: not offered
  const ws = ts ? o[O_WS] : -1;
  const sack = ts && o[O_SACK] !== 0;
  const isn = pv.seq | 0;
  const cookie = ipvs.sp.keys.make(
    af,
    pv.saddr,
    pv.daddr,
    pv.sport,
    pv.dport,
    isn,
    cookieCount(ipvs.now),
    mssIndex(af, mss),
  );
  const tsval = ts ? tsEncode((ipvs.now % 4294967296) | 0, ws, sack, false) : 0;
  const myMss = ourMss(ipvs, af);
  const n = writeSegment(
    ipvs,
    ipvs.scratch,
    af,
    pv.daddr,
    0,
    pv.saddr,
    0,
    pv.dport,
    pv.sport,
    cookie,
    (isn + 1) | 0,
    TCP_FLAG_SYN | TCP_FLAG_ACK,
    65535,
    64,
    mss < myMss ? mss : myMss,
    sack,
    ts,
    tsval,
    o[O_TSVAL],
    ws >= 0 ? SP_WSCALE : -1,
    true,
  );
  ipvs.sp.counters[SpCounter.COOKIES_SENT]++;
  return replyBuilt(ipvs, n, af, pv.saddr, Why.SYNPROXY_COOKIE);
}

/** ACK with a cookie → the conn, and the proxy's SYN to the real server. */
function cookieAck(
  ipvs: Ipvs,
  pp: ProtocolOps,
  svc: Service,
  pv: PacketView,
  mark: number,
  pktFlags: number,
): number {
  const sp = ipvs.sp;
  const af = pv.af;
  const cookie = (pv.ack - 1) | 0;
  const isn = (pv.seq - 1) | 0;
  const mi = sp.keys.check(
    cookie,
    af,
    pv.saddr,
    pv.daddr,
    pv.sport,
    pv.dport,
    isn,
    cookieCount(ipvs.now),
  );
  readOptions(pv);
  const o = OPT;
  const ts = o[O_TS] >= 0;
  const cws = ts ? tsDecodeWscale(o[O_TSECR]) : -1;
  if (mi < 0 || mi > 3 || cws === -2) {
    sp.counters[SpCounter.COOKIES_FAILED]++;
    return drop(ipvs, DropReason.SYNPROXY_BAD_COOKIE);
  }
  const c = ipvs.conns;
  const max = ipvs.settings.conn_max;
  if (max > 0 && c.count >= max) return drop(ipvs, DropReason.CONN_TABLE_FULL);
  if (todrop(ipvs)) return drop(ipvs, DropReason.DROP_PACKET_DEFENCE);
  const spk = schedPacket(ipvs, af, IPPROTO_TCP, pv.saddr, pv.sport, pv.daddr, pv.dport);
  const r = schedule(ipvs, pp, svc, spk, mark, pktFlags);
  if (r === SCHED_IGNORE) return accept(ipvs, ipvs.result.why);
  if (r === SCHED_FATAL) return drop(ipvs, DropReason.NO_ROOM);
  if (r === SCHED_NODEST) return leave(ipvs, pp, svc, pv, mark, false);
  const id = r;
  if ((c.flags[id] & CONN_F_FWD_MASK) !== CONN_F_MASQ) {
    // a real server changed method between the SYN and the ACK: it cannot be proxied
    connExpireNow(ipvs, id);
    return drop(ipvs, DropReason.SYNPROXY_METHOD);
  }
  sp.counters[SpCounter.COOKIES_VALID]++;
  const sack = ts && (o[O_TSECR] & TS_OPT_SACK) !== 0;
  c.flags[id] |= CONN_F_SYNPROXY;
  c.spSeq[id] = isn;
  c.spDelta[id] = cookie;
  c.spTs[id] = o[O_TSECR];
  const win = read16(pv.buf, pv.l4off + TCP_WINDOW);
  c.spInfo[id] =
    (cws >= 0 ? (cws & I_CWS_MASK) | I_CWS_OK : 0) |
    (sack ? I_SACK : 0) |
    (ts ? I_TS : 0) |
    (mi << I_MSS_SHIFT) |
    (win << I_WIN_SHIFT);
  // the conn starts as the kernel's would on the client's SYN (NONE → SYN_RECV)
  const flags = pv.tcpFlags;
  pv.tcpFlags = TCP_FLAG_SYN;
  pp.stateTransition(ipvs, id, DIR_INPUT, pv);
  pv.tcpFlags = flags;
  const did = c.dest[id];
  const d = did >= 0 ? ipvs.destById[did] : null;
  if (d && d.available) countIn(ipvs.totals, d, pv.l3len);
  c.inPkts[id]++;
  if (pv.payloadLen > 0 || flags & TCP_FLAG_FIN) hold(ipvs, id, pv);
  const n = synToServer(ipvs, id, pv.ttl > 1 ? pv.ttl - 1 : 64, o[O_TSVAL], !ipvs.partial);
  connPut(ipvs, id);
  return forwardToServer(ipvs, id, ipvs.scratch, 0, n, Why.SYNPROXY_SYN);
}

/** The proxy's SYN to conn `id`'s real server, with the client's options, in scratch. */
function synToServer(ipvs: Ipvs, id: number, ttl: number, tsval: number, full: boolean): number {
  const c = ipvs.conns;
  const info = c.spInfo[id];
  const af = c.af[id] as AddressFamily;
  ipvs.sp.counters[SpCounter.SERVER_SYN]++;
  return writeSegment(
    ipvs,
    ipvs.scratch,
    af,
    c.caddr,
    id * 4,
    c.daddr,
    id * 4,
    c.cport[id],
    c.dport[id],
    c.spSeq[id] | 0,
    0,
    TCP_FLAG_SYN,
    65535,
    ttl,
    mssOf(af, (info >>> I_MSS_SHIFT) & 3),
    (info & I_SACK) !== 0,
    (info & I_TS) !== 0,
    tsval,
    0,
    info & I_CWS_OK ? info & I_CWS_MASK : -1,
    full,
  );
}

/** Keep a copy of the client's packet until the server has answered. */
function hold(ipvs: Ipvs, id: number, pv: PacketView): boolean {
  const c = ipvs.conns;
  if (c.spHeld[id] >= 0 || pv.l3len > HELD_SLOT_BYTES || pv.l3len > ipvs.mtu) return false;
  const sp = ipvs.sp;
  const slot = sp.slotTake();
  if (slot < 0) return false;
  sp.pool.set(pv.buf.subarray(pv.l3off, pv.l3off + pv.l3len), slot * HELD_SLOT_BYTES);
  sp.poolLen[slot] = pv.l3len;
  c.spHeld[id] = slot;
  sp.counters[SpCounter.HELD]++;
  return true;
}

// ---------------------------------------------------------------------------
// Packets of a proxied conn

/**
 * A client packet of proxied conn `id`: before the server answered, data is held (or
 * dropped for the client to send again); after, the acknowledgment, SACK blocks and
 * echoed timestamp are moved into the server's numbering. Returns a verdict, or -1
 * for the usual path (which then NATs and forwards it).
 */
export function synproxyInConn(ipvs: Ipvs, id: number, pv: PacketView): number {
  const c = ipvs.conns;
  const info = c.spInfo[id];
  const f = pv.tcpFlags;
  if ((info & I_DONE) === 0) {
    if (f & (TCP_FLAG_RST | TCP_FLAG_SYN)) return -1;
    if (pv.payloadLen > 0 || f & TCP_FLAG_FIN) {
      if (hold(ipvs, id, pv)) return drop(ipvs, DropReason.SYNPROXY_HELD);
      // the client sends its first data again while it is held: the real server
      // has not answered in a retransmission timeout — our SYN or its SYN-ACK was lost
      // (a flood fills queues on the way): the SYN again, as the client would resend its
      // own (the retransmitted data stays dropped: the held copy goes when it answers)
      if (c.spHeld[id] >= 0 && (pv.seq | 0) === ((c.spSeq[id] + 1) | 0)) {
        readOptions(pv);
        const n = synToServer(ipvs, id, pv.ttl > 1 ? pv.ttl - 1 : 64, OPT[O_TSVAL], !ipvs.partial);
        connPut(ipvs, id);
        return forwardToServer(ipvs, id, ipvs.scratch, 0, n, Why.SYNPROXY_SYN);
      }
    }
    return drop(ipvs, DropReason.SYNPROXY_EARLY_DATA);
  }
  translateIn(ipvs, id, pv);
  return -1;
}

/** Client → server: ack, SACK blocks + delta; TSecr + timestamp offset. */
function translateIn(ipvs: Ipvs, id: number, pv: PacketView): void {
  const c = ipvs.conns;
  const delta = c.spDelta[id] | 0;
  if (pv.tcpFlags & TCP_FLAG_ACK) pv.setAck((pv.ack + delta) | 0, !ipvs.partial);
  if (pv.tcpDoff <= TCP_HLEN) return;
  const b = pv.buf;
  const off = pv.l4off;
  const doff = pv.tcpDoff;
  let p = tcpOptionFind(b, off, doff, TCPOPT_TIMESTAMP);
  if (p >= 0 && b[p + 1] === 10 && c.spInfo[id] & I_TS)
    set32(ipvs, pv, p + 6, (rd32(b, p + 6) + c.spTs[id]) | 0);
  p = tcpOptionFind(b, off, doff, TCPOPT_SACK);
  if (p >= 0) {
    const len = b[p + 1];
    for (let q = p + 2; q + 4 <= p + len; q += 4) set32(ipvs, pv, q, (rd32(b, q) + delta) | 0);
  }
}

/**
 * A real server's packet of proxied conn `id` (before the NAT of `out`): its SYN-ACK
 * completes the handshake (the ACK, or the held data, goes back to it); later packets
 * have their sequence number, timestamp and window moved into the client's view.
 * Returns a verdict, or -1 for the usual path.
 */
export function synproxyOut(ipvs: Ipvs, pp: ProtocolOps, id: number, pv: PacketView): number {
  const c = ipvs.conns;
  const info = c.spInfo[id];
  const f = pv.tcpFlags;
  const synAck =
    (f & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) === (TCP_FLAG_SYN | TCP_FLAG_ACK);
  const mine = synAck && (pv.ack | 0) === ((c.spSeq[id] + 1) | 0);
  if ((info & I_DONE) === 0) {
    if (mine) return serverAnswered(ipvs, pp, id, pv);
    if (f & TCP_FLAG_RST) {
      // refused: the client, established with the cookie, takes an RST at cookie + 1
      pv.setSeq((c.spDelta[id] + 1) | 0, !ipvs.partial);
      return -1;
    }
    return drop(ipvs, DropReason.SYNPROXY_BAD_SERVER);
  }
  if (mine) {
    // our ACK was lost and the server says it again
    readOptions(pv);
    return ackServer(ipvs, id, pv);
  }
  translateOut(ipvs, id, pv);
  return -1;
}

function serverAnswered(ipvs: Ipvs, pp: ProtocolOps, id: number, pv: PacketView): number {
  const c = ipvs.conns;
  const sp = ipvs.sp;
  readOptions(pv);
  const o = OPT;
  let info = c.spInfo[id];
  c.spDelta[id] = (pv.seq - c.spDelta[id]) | 0;
  if (info & I_TS) {
    if (o[O_TS] >= 0) c.spTs[id] = (o[O_TSVAL] - c.spTs[id]) | 0;
    else info &= ~I_TS;
  }
  if (info & I_CWS_OK && o[O_WS] >= 0) info |= I_SWS_OK | (o[O_WS] << I_SWS_SHIFT);
  c.spInfo[id] = info | I_DONE;
  sp.counters[SpCounter.SERVER_DONE]++;
  const did = c.dest[id];
  const d = did >= 0 ? ipvs.destById[did] : null;
  if (d && d.available) countOut(ipvs.totals, d, pv.l3len);
  pp.stateTransition(ipvs, id, DIR_OUTPUT, pv);
  // the handshake's ACK, on the client's behalf (SYN_RECV → ESTABLISHED)
  const flags = pv.tcpFlags;
  pv.tcpFlags = TCP_FLAG_ACK;
  pp.stateTransition(ipvs, id, DIR_INPUT, pv);
  pv.tcpFlags = flags;
  const slot = c.spHeld[id];
  if (slot >= 0) {
    c.spHeld[id] = -1;
    sp.slotFree(slot);
    const n = releaseHeld(ipvs, id, slot, pv);
    connPut(ipvs, id);
    if (n > 0)
      return forwardToServer(ipvs, id, sp.pool, slot * HELD_SLOT_BYTES, n, Why.SYNPROXY_ACK);
  }
  return ackServer(ipvs, id, pv);
}

/** The ACK of the server's SYN-ACK in `pv` (options read), in scratch; FORWARD. */
function ackServer(ipvs: Ipvs, id: number, pv: PacketView): number {
  const c = ipvs.conns;
  const info = c.spInfo[id];
  const o = OPT;
  const n = writeSegment(
    ipvs,
    ipvs.scratch,
    c.af[id] as AddressFamily,
    c.caddr,
    id * 4,
    c.daddr,
    id * 4,
    c.cport[id],
    c.dport[id],
    (c.spSeq[id] + 1) | 0,
    (pv.seq + 1) | 0,
    TCP_FLAG_ACK,
    info >>> I_WIN_SHIFT,
    64,
    0,
    false,
    (info & I_TS) !== 0 && o[O_TS] >= 0,
    o[O_TSECR],
    o[O_TSVAL],
    -1,
    !ipvs.partial,
  );
  connPut(ipvs, id);
  return forwardToServer(ipvs, id, ipvs.scratch, 0, n, Why.SYNPROXY_ACK);
}

/**
 * The held client packet, in the server's numbering and NATed to it, in its pool slot
 * (the slot is free again but nothing runs before the caller has sent it). Returns
 * its length, or 0 when it no longer parses.
 */
function releaseHeld(ipvs: Ipvs, id: number, slot: number, srvPv: PacketView): number {
  const sp = ipvs.sp;
  const c = ipvs.conns;
  const pv = ipvs.epv;
  const off = slot * HELD_SLOT_BYTES;
  const len = sp.poolLen[slot];
  void srvPv;
  if (pv.parse(sp.pool, off, len) !== 0 || pv.proto !== IPPROTO_TCP) return 0;
  const partial = ipvs.partial;
  ipvs.partial = false;
  translateIn(ipvs, id, pv);
  const b = sp.pool;
  const af = c.af[id] as AddressFamily;
  const o = id * 4;
  if (af === 4) {
    write32(b, pv.daddrOff, c.daddr[o]);
    if (b[off + 8] > 1) b[off + 8]--;
    write16(b, off + 10, 0);
    let s = 0;
    const ihl = pv.ihl;
    for (let i = 0; i < ihl; i += 2) s += (b[off + i] << 8) | b[off + i + 1];
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    write16(b, off + 10, ~s & 0xffff);
  } else {
    for (let i = 0; i < 4; i++) write32(b, pv.daddrOff + i * 4, c.daddr[o + i]);
    if (b[off + 7] > 1) b[off + 7]--;
  }
  write16(b, pv.l4off + 2, c.dport[id]);
  if (partial) l4PartialFill(b, af, pv.saddrOff, pv.daddrOff, IPPROTO_TCP, pv.l4off, pv.l4len);
  else l4ChecksumFill(b, af, pv.saddrOff, pv.daddrOff, IPPROTO_TCP, pv.l4off, pv.l4len);
  ipvs.partial = partial;
  return len;
}

/** Server → client: seq − delta, TSval − offset, window rescaled to the proxy's scale. */
function translateOut(ipvs: Ipvs, id: number, pv: PacketView): void {
  const c = ipvs.conns;
  const info = c.spInfo[id];
  pv.setSeq((pv.seq - c.spDelta[id]) | 0, !ipvs.partial);
  const b = pv.buf;
  if (info & I_CWS_OK) {
    const sws = info & I_SWS_OK ? (info >>> I_SWS_SHIFT) & 0x0f : 0;
    const wo = pv.l4off + TCP_WINDOW;
    const w = read16(b, wo);
    let nw = sws >= SP_WSCALE ? w << (sws - SP_WSCALE) : w >>> (SP_WSCALE - sws);
    if (nw > 0xffff) nw = 0xffff;
    if (nw === 0 && w !== 0) nw = 1;
    if (nw !== w) {
      write16(b, wo, nw);
      if (!ipvs.partial) write16(b, pv.csumOff, csumReplace16(read16(b, pv.csumOff), w, nw));
    }
  }
  if (info & I_TS && pv.tcpDoff > TCP_HLEN) {
    const p = tcpOptionFind(b, pv.l4off, pv.tcpDoff, TCPOPT_TIMESTAMP);
    if (p >= 0 && b[p + 1] === 10) set32(ipvs, pv, p + 2, (rd32(b, p + 2) - c.spTs[id]) | 0);
  }
}

/** Bits of the SYN-ACK's timestamp that carry options (for docs and tests). */
export const SYNPROXY_TS_BITS = TS_MASK;
