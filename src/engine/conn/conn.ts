/**
 * The connection lifecycle (the kernel's ip_vs_conn.c, spec §4.6, §5): creation
 * (ip_vs_conn_new) with the dest binding and the helper binding, release after a
 * packet (ip_vs_conn_put), expiry (ip_vs_conn_expire), deletion and controlled
 * connections.
 */
import {
  CONN_F_FWD_MASK,
  CONN_F_INACTIVE,
  CONN_F_MASQ,
  CONN_F_NFCT,
  CONN_F_NOOUTPUT,
  CONN_F_NO_CPORT,
  CONN_F_ONE_PACKET,
  CONN_F_SEQ_MASK,
  CONN_F_SYNC,
  CONN_F_SYNPROXY,
  CONN_F_TEMPLATE,
  TEMPLATE_ASSURED,
  type AddressFamily,
} from '../constants.js';
import type { Ipvs } from '../ipvs.js';
import type { Dest } from '../service.js';
import { protoGet } from '../proto/index.js';

/** A conn that still controls others expires again this much later (60 s). */
const TEMPLATE_EXPIRE_LATER_MS = 60_000;

/** The timeout of a new conn until its first state transition (3 s). */
const CONN_NEW_TIMEOUT_MS = 3000;

/**
 * ip_vs_conn_new. Addresses are word arrays with offsets; `dest` may be null
 * (bypass). Returns the id, hashed unless ONE_PACKET, timeout 3 s.
 */
export function connNew(
  ipvs: Ipvs,
  af: AddressFamily,
  proto: number,
  caddr: Uint32Array,
  coff: number,
  cport: number,
  vaddr: Uint32Array,
  voff: number,
  vport: number,
  daddr: Uint32Array,
  doff: number,
  dport: number,
  flags: number,
  dest: Dest | null,
  fwmark: number,
): number {
  const c = ipvs.conns;
  const pp = protoGet(proto);
  const id = c.alloc();
  const o = id * 4;
  c.af[id] = af;
  c.proto[id] = proto;
  for (let i = 0; i < 4; i++) {
    c.caddr[o + i] = caddr[coff + i];
    c.vaddr[o + i] = vaddr[voff + i];
    c.daddr[o + i] = daddr[doff + i];
  }
  if (af === 4) {
    c.caddr[o + 1] = c.caddr[o + 2] = c.caddr[o + 3] = 0;
    c.vaddr[o + 1] = c.vaddr[o + 2] = c.vaddr[o + 3] = 0;
  }
  if (!dest || dest.af === 4) c.daddr[o + 1] = c.daddr[o + 2] = c.daddr[o + 3] = 0;
  c.cport[id] = cport;
  c.vport[id] = vport;
  c.dport[id] = dport;
  c.fwmark[id] = fwmark;
  c.timeout[id] = CONN_NEW_TIMEOUT_MS;
  if (ipvs.settings.conntrack) flags |= CONN_F_NFCT;
  c.syncEnd[id] = (ipvs.now & ~3) >>> 0;
  if (dest) {
    let df = dest.connFlags;
    if (pp === null || !pp.onePacket) df &= ~CONN_F_ONE_PACKET;
    if (flags & CONN_F_SYNC) {
      // created from a sync message (ip_vs_bind_dest): a conn keeps the activity it
      // came with and takes the forwarding method of the backup's own dest
      if (!(flags & CONN_F_TEMPLATE)) df &= ~CONN_F_INACTIVE;
      flags &= ~(CONN_F_FWD_MASK | CONN_F_NOOUTPUT);
    }
    flags |= df;
    c.dest[id] = dest.id;
    dest.bind((flags & CONN_F_TEMPLATE) !== 0, (flags & CONN_F_INACTIVE) !== 0);
  }
  c.flags[id] = flags;
  if (flags & CONN_F_NO_CPORT) c.noCportCount++;
  if ((flags & (CONN_F_FWD_MASK | CONN_F_TEMPLATE)) === CONN_F_MASQ && pp !== null)
    pp.appConnBind(ipvs, id);
  if (!(flags & CONN_F_ONE_PACKET)) c.hash(id);
  return id;
}

/** ip_vs_conn_put: re-arm the idle timer after a packet (§4.6); ONE_PACKET conns die now. */
export function connPut(ipvs: Ipvs, id: number): void {
  const c = ipvs.conns;
  if (c.flags[id] & CONN_F_ONE_PACKET) {
    c.timeout[id] = 0;
    connExpire(ipvs, id);
    return;
  }
  c.arm(id, ipvs.now);
}

/** Timer expiry (ip_vs_conn_expire). */
export function connExpire(ipvs: Ipvs, id: number): void {
  if (ipvs.onExpire !== null) ipvs.onExpire(id);
  const c = ipvs.conns;
  if (c.nControl[id] > 0) {
    // expire later: 60 s steps while it controls others (and the backup hears of it)
    c.timeout[id] = TEMPLATE_EXPIRE_LATER_MS;
    if (ipvs.syncMaster !== null) ipvs.syncMaster(id, ipvs.settings.sync_threshold[0]);
    c.arm(id, ipvs.now);
    return;
  }
  if (ipvs.fastpath !== null) ipvs.fastpath.gone(id);
  c.unhash(id);
  c.disarm(id);
  const ct = c.control[id];
  if (ct >= 0) {
    const chain = c.timeout[id] === 0;
    c.control[id] = -1;
    c.nControl[ct]--;
    if (
      chain &&
      c.nControl[ct] === 0 &&
      (!(c.flags[ct] & CONN_F_TEMPLATE) || !(c.state[ct] & TEMPLATE_ASSURED))
    ) {
      connDelete(ipvs, ct);
    }
  }
  const app = ipvs.appOf.size > 0 ? ipvs.appOf.get(id) : undefined;
  if (app) {
    app.done?.(ipvs.appCtx, id);
    ipvs.appOf.delete(id);
    ipvs.appData.delete(id);
    ipvs.seqs.delete(id);
  }
  const flags = c.flags[id];
  const did = c.dest[id];
  if (did >= 0) {
    const d = ipvs.destById[did];
    if (d) {
      d.unbind((flags & CONN_F_TEMPLATE) !== 0, (flags & CONN_F_INACTIVE) !== 0);
      if (d.refcnt === 0 && !d.available) d.idleSince = ipvs.now;
    }
  }
  if (flags & CONN_F_NO_CPORT) c.noCportCount--;
  c.free(id);
}

/** Delete now (flush, drop_entry, nodest): the whole chain if it has a controller. */
export function connDelete(ipvs: Ipvs, id: number): void {
  const c = ipvs.conns;
  if (c.control[id] >= 0) c.timeout[id] = 0;
  c.disarm(id);
  connExpire(ipvs, id);
}

/** ip_vs_conn_expire_now: move a pending timer to now, handled synchronously. */
export function connExpireNow(ipvs: Ipvs, id: number): void {
  ipvs.conns.disarm(id);
  connExpire(ipvs, id);
}

/** ip_vs_control_add: `ct` controls `id`. */
export function connSetControl(ipvs: Ipvs, id: number, ct: number): void {
  ipvs.conns.control[id] = ct;
  ipvs.conns.nControl[ct]++;
}

/** A conn whose timer runs (or a ONE_PACKET conn in flight). */
export function connIsLive(ipvs: Ipvs, id: number): boolean {
  return ipvs.conns.armed(id) || (ipvs.conns.flags[id] & CONN_F_ONE_PACKET) !== 0;
}

/** A helper puts conn `id` into `state` (FTP: LISTEN), as its protocol accounts it. */
export function connSetState(ipvs: Ipvs, id: number, state: number): void {
  // conns of no protocol (fwmark templates) have no states
  const pp = protoGet(ipvs.conns.proto[id]);
  if (pp !== null) pp.setState(ipvs, id, state);
}

/**
 * Conn `id` needs the engine for every packet: an application helper or sequence
 * adjustment runs on it, or the SYN proxy translates its sequence numbers. A fast
 * path outside the engine must leave such a conn alone.
 */
export function connNeedsEngine(ipvs: Ipvs, id: number): boolean {
  if ((ipvs.conns.flags[id] & (CONN_F_SYNPROXY | CONN_F_SEQ_MASK)) !== 0) return true;
  return ipvs.appOf.size > 0 && (ipvs.appOf.has(id) || ipvs.seqs.has(id));
}
