/**
 * The engine's side of application helpers (the kernel's ip_vs_app.c, spec §9.1):
 * registration, binding a new NAT conn to the helper of its vport, and the hook
 * around a packet — for TCP with the sequence adjustment that keeps both ends'
 * numbering straight when a helper changed a payload's length.
 */
import { CONN_F_IN_SEQ, CONN_F_OUT_SEQ } from '../constants.js';
import type { Ipvs } from '../ipvs.js';
import type { PacketView } from '../../wire/packet.js';
import type { AppHelper } from './types.js';

/** register_app: a helper for its (protocol, ports). */
export function registerApp(ipvs: Ipvs, app: AppHelper): void {
  ipvs.apps.push(app);
}

/** Ports of the registered helpers for a protocol (the data plane queues their data). */
export function appPorts(ipvs: Ipvs, protocol: number): number[] {
  const out: number[] = [];
  for (const a of ipvs.apps) if (a.protocol === protocol) out.push(...a.ports);
  return out;
}

/** ip_vs_bind_app: the first helper registered for the conn's protocol and vport. */
export function appConnBind(ipvs: Ipvs, id: number): void {
  const c = ipvs.conns;
  const proto = c.proto[id];
  const vport = c.vport[id];
  for (const app of ipvs.apps) {
    if (app.protocol === proto && app.ports.includes(vport)) {
      ipvs.appOf.set(id, app);
      app.init?.(ipvs.appCtx, id);
      break;
    }
  }
}

/** The hook of a protocol without sequence numbers (UDP). */
export function appHookPlain(
  ipvs: Ipvs,
  app: AppHelper,
  id: number,
  pv: PacketView,
  mark: number,
  toServer: boolean,
): number {
  return toServer
    ? app.in(ipvs.appCtx, id, pv, ipvs.now, mark)
    : app.out(ipvs.appCtx, id, pv, ipvs.now, mark);
}

function seqOf(ipvs: Ipvs, id: number): Uint32Array {
  let s = ipvs.seqs.get(id);
  if (!s) {
    // in: init, delta, prev; out: init, delta, prev
    s = new Uint32Array(6);
    ipvs.seqs.set(id, s);
  }
  return s;
}

/**
 * Sequence adjustment around a helper hook (§9.1). `toServer`: a client→RS packet
 * (its own changes are recorded in in_seq, the acks it carries refer to out_seq);
 * otherwise RS→client with the roles swapped. The records are [init, delta,
 * previous_delta] for in (s[0..2]) and out (s[3..5]).
 */
export function appHookSeq(
  ipvs: Ipvs,
  app: AppHelper,
  id: number,
  pv: PacketView,
  mark: number,
  toServer: boolean,
): number {
  const c = ipvs.conns;
  const s = seqOf(ipvs, id);
  const own = toServer ? 0 : 3; // the record of changes made in this direction
  const peer = toServer ? 3 : 0; // the record whose changes our acks refer to
  const ownFlag = toServer ? CONN_F_IN_SEQ : CONN_F_OUT_SEQ;
  const peerFlag = toServer ? CONN_F_OUT_SEQ : CONN_F_IN_SEQ;
  const seq = pv.seq;
  const flags = c.flags[id];
  // setSeq/setAck patch the TCP checksum, so an APP_OK packet stays valid through
  // the address/port-only update of natRewrite.
  if (flags & ownFlag)
    pv.setSeq(seq + (after(seq, s[own]) ? s[own + 1] : s[own + 2]), !ipvs.partial);
  if (flags & peerFlag) {
    // The ack is in the receiver's (changed) space: the changed segment starts there
    // at init_seq + previous_delta. The kernel compares with init_seq + delta, which
    // maps an ack of exactly the segment start beyond it when the payload shrank.
    const ack = pv.ack;
    const d = after(ack, (s[peer] + s[peer + 2]) >>> 0) ? s[peer + 1] : s[peer + 2];
    pv.setAck(ack - d, !ipvs.partial);
  }
  const before = pv.l3len;
  const rv = toServer
    ? app.in(ipvs.appCtx, id, pv, ipvs.now, mark)
    : app.out(ipvs.appCtx, id, pv, ipvs.now, mark);
  const diff = pv.l3len - before;
  if (diff !== 0 && (!(c.flags[id] & ownFlag) || after(seq, s[own]))) {
    s[own + 2] = s[own + 1];
    s[own + 1] = (s[own + 1] + diff) >>> 0;
    s[own] = seq;
    c.flags[id] |= ownFlag;
  }
  return rv;
}

/** 32-bit serial-number comparison: a after b. */
function after(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}
