/**
 * Service and real-server administration (the kernel's ip_vs_ctl.c): ipvsadm
 * -A/-E/-D/-C/-a/-e/-d/-Z/--set with the kernel's own checks, the dest trash
 * (§2.14) and the expire_nodest_conn flush (§2.12). Shapes and defaults are
 * spec.ts's, shared with every front end.
 */
import {
  DEST_F_AVAILABLE,
  FWD_METHOD_FLAG,
  SVC_F_SYNPROXY,
  type AddressFamily,
} from './constants.js';
import { addrEqual, newAddr, parseAddr } from './addr.js';
import { IpvsError, type IpvsOp } from './errors.js';
import type { Ipvs } from './ipvs.js';
import { Dest, Service } from './service.js';
import { findScheduler } from './sched/registry.js';
import {
  DEST_DEFAULTS,
  SERVICE_DEFAULTS,
  defaultNetmask,
  type DestSpec,
  type ServiceId,
  type ServiceParams,
  type Timeouts,
} from './spec.js';
import { svcLink, svcUnlink } from './svc.js';
import { connDelete, connIsLive } from './conn/conn.js';
import { protoByName, tcpProtocol, udpProtocol } from './proto/index.js';
import { TCP_S_ESTABLISHED, TCP_S_FIN_WAIT } from './proto/tcp.js';
import { UDP_S_NORMAL } from './proto/udp.js';

/** A deleted dest leaves the trash this long after its last conn went (§2.14). */
const TRASH_IDLE_MS = 120_000;

interface SvcKey {
  addr: Uint32Array;
  port: number;
  mark: number;
}

function keyOf(key: ServiceId, op: IpvsOp): SvcKey {
  const mark = key.fwmark ?? 0;
  if (mark !== 0) return { addr: newAddr(), port: 0, mark };
  const p = parseAddr(key.addr ?? '');
  if (!p || p.af !== key.af) throw new IpvsError(op, 'EINVAL', `bad address ${key.addr}`);
  // the port's range is the control model's check (the kernel gets a u16)
  return { addr: p.words, port: key.port ?? 0, mark: 0 };
}

function protocolOf(key: ServiceId): number {
  return key.protocol ?? SERVICE_DEFAULTS.protocol;
}

/** A persistence netmask as the engine keeps it: IPv4 a 32-bit number, IPv6 a prefix. */
function netmaskOf(af: AddressFamily, m: number | string | undefined): number {
  if (m === undefined) return defaultNetmask(af);
  if (typeof m === 'number') return m;
  const p = parseAddr(m);
  return p && p.af === 4 ? p.words[0] >>> 0 : Number(m);
}

/** Find a configured service by its key (exact, as ipvsadm addresses it). */
export function findService(ipvs: Ipvs, key: ServiceId): Service | undefined {
  let k;
  try {
    k = keyOf(key, 'get service');
  } catch {
    return undefined;
  }
  const protocol = protocolOf(key);
  for (const s of ipvs.services) {
    if (s.af !== key.af) continue;
    if (k.mark !== 0) {
      if (s.fwmark === k.mark) return s;
    } else if (
      s.fwmark === 0 &&
      s.protocol === protocol &&
      s.port === k.port &&
      addrEqual(s.af, s.addr, k.addr)
    ) {
      return s;
    }
  }
  return undefined;
}

/** The scheduler name the kernel takes for "no scheduler" (ip_vs_add/edit_service). */
const NO_SCHEDULER = 'none';

function checkServiceParams(op: IpvsOp, af: AddressFamily, opts: ServiceParams): void {
  const name = opts.scheduler ?? SERVICE_DEFAULTS.scheduler;
  if (name !== NO_SCHEDULER && !findScheduler(name))
    throw new IpvsError(op, 'ENOENT', `scheduler ${name}`);
  if (opts.pe && opts.pe !== 'sip') throw new IpvsError(op, 'ENOENT', `pe ${opts.pe}`);
  const mask = opts.netmask === undefined ? undefined : netmaskOf(af, opts.netmask);
  if (af === 6 && mask !== undefined && (mask < 1 || mask > 128))
    throw new IpvsError(op, 'EINVAL', 'IPv6 prefix out of range');
}

function applyServiceParams(ipvs: Ipvs, svc: Service, opts: ServiceParams): void {
  svc.flags = opts.flags ?? SERVICE_DEFAULTS.flags;
  svc.timeout = opts.timeout ?? SERVICE_DEFAULTS.persistentTimeout;
  svc.netmask = netmaskOf(svc.af, opts.netmask);
  svc.peName = opts.pe ?? SERVICE_DEFAULTS.pe;
  ipvs.spServices = countProxied(ipvs, svc);
  const name = opts.scheduler ?? SERVICE_DEFAULTS.scheduler;
  if (name === NO_SCHEDULER) {
    // "none": no scheduler bound, so every new conn finds no dest (ip_vs_leave)
    svc.scheduler?.done?.(svc);
    svc.scheduler = null;
    svc.schedName = name;
  } else if (svc.schedName !== name || !svc.scheduler) {
    svc.scheduler?.done?.(svc);
    svc.schedName = name;
    // a scheduler builds its state from the service's current dests in create()
    svc.scheduler = findScheduler(name)!.create(svc, ipvs.schedCtx);
  }
}

/** ipvsadm -A. */
export function addService(ipvs: Ipvs, key: ServiceId, opts: ServiceParams = {}): Service {
  const k = keyOf(key, 'add service');
  if (findService(ipvs, key)) throw new IpvsError('add service', 'EEXIST');
  checkServiceParams('add service', key.af, opts);
  const svc = new Service(key.af, protocolOf(key), k.addr, k.port, k.mark);
  svc.id = ipvs.services.length;
  applyServiceParams(ipvs, svc, opts);
  ipvs.services.push(svc);
  svcLink(ipvs, svc);
  return svc;
}

/** ipvsadm -E: replaces the service's parameters. */
export function editService(ipvs: Ipvs, key: ServiceId, opts: ServiceParams = {}): Service {
  const svc = findService(ipvs, key);
  if (!svc) throw new IpvsError('edit service', 'ESRCH');
  checkServiceParams('edit service', key.af, opts);
  applyServiceParams(ipvs, svc, opts);
  return svc;
}

/** ipvsadm -D: dests go to the trash; conns stay until they expire (§4.6). */
export function delService(ipvs: Ipvs, key: ServiceId): void {
  const svc = findService(ipvs, key);
  if (!svc) throw new IpvsError('delete service', 'ESRCH');
  removeService(ipvs, svc);
}

function removeService(ipvs: Ipvs, svc: Service): void {
  for (const d of svc.dests.slice()) unlinkDest(ipvs, svc, d);
  svc.scheduler?.done?.(svc);
  svcUnlink(ipvs, svc);
  ipvs.services.splice(ipvs.services.indexOf(svc), 1);
  ipvs.services.forEach((s, i) => (s.id = i));
  ipvs.spServices = countProxied(ipvs, null);
}

/** Services with SVC_F_SYNPROXY (`changed` may not be in the list yet). */
function countProxied(ipvs: Ipvs, changed: Service | null): number {
  let n = changed !== null && changed.flags & SVC_F_SYNPROXY ? 1 : 0;
  for (const s of ipvs.services) if (s !== changed && s.flags & SVC_F_SYNPROXY) n++;
  return n;
}

/** ipvsadm -C. */
export function flush(ipvs: Ipvs): void {
  for (const s of ipvs.services.slice()) removeService(ipvs, s);
}

function destAddr(
  ipvs: Ipvs,
  svc: Service,
  opts: DestSpec,
  op: IpvsOp,
): { af: AddressFamily; words: Uint32Array } {
  const p = parseAddr(opts.addr);
  if (!p) throw new IpvsError(op, 'EINVAL', `bad address ${opts.addr}`);
  const fwd = opts.fwd ?? DEST_DEFAULTS.fwd;
  if (p.af !== svc.af) {
    // ip_vs_genl_set_cmd: the sync protocol cannot carry mixed-family conns, so none
    // while a sync daemon runs; otherwise only tunnels can carry the other family
    if (ipvs.syncMaster !== null || ipvs.syncBackup)
      throw new IpvsError(op, 'EINVAL', 'mixed family while a sync daemon runs');
    if (fwd !== 'tunnel') throw new IpvsError(op, 'EINVAL', 'mixed family');
  }
  return p;
}

function checkDest(op: IpvsOp, opts: DestSpec): void {
  const w = opts.weight ?? DEST_DEFAULTS.weight;
  if (!Number.isInteger(w) || w < 0 || w > 2147483647) throw new IpvsError(op, 'ERANGE', 'weight');
  const u = opts.uThreshold ?? DEST_DEFAULTS.uThreshold;
  const l = opts.lThreshold ?? DEST_DEFAULTS.lThreshold;
  if (u < 0 || l < 0 || l > u) throw new IpvsError(op, 'ERANGE', 'thresholds');
  if (u > 2147483647) throw new IpvsError(op, 'EINVAL', 'u_threshold');
  if (
    (opts.tunType ?? DEST_DEFAULTS.tunType) === 1 &&
    (opts.tunPort ?? DEST_DEFAULTS.tunPort) === 0
  )
    throw new IpvsError(op, 'EINVAL', 'GUE needs a tunnel port');
}

/**
 * __ip_vs_update_dest: `add` for ipvsadm -a (also a dest brought back from the trash),
 * which always sets last_weight — to 0 for a dest added quiesced; an edit keeps the old
 * last_weight when the new weight is 0 (mh keeps the quiesced dest's buckets, §10).
 */
function applyDest(d: Dest, opts: DestSpec, add: boolean): void {
  d.setFwd(FWD_METHOD_FLAG[opts.fwd ?? DEST_DEFAULTS.fwd]);
  d.weight = opts.weight ?? DEST_DEFAULTS.weight;
  if (add || d.weight > 0) d.lastWeight = d.weight;
  const u = opts.uThreshold ?? DEST_DEFAULTS.uThreshold;
  const l = opts.lThreshold ?? DEST_DEFAULTS.lThreshold;
  // Current kernels ("ipvs: properly update the overload flag on dest edit") re-apply
  // the hysteresis when either threshold changes, against the conns the dest has now.
  if (u !== d.uThreshold || l !== d.lThreshold) {
    d.uThreshold = u;
    d.lThreshold = l;
    d.updateOverload();
  }
  d.tunType = opts.tunType ?? DEST_DEFAULTS.tunType;
  d.tunPort = opts.tunPort ?? DEST_DEFAULTS.tunPort;
  d.tunFlags = opts.tunFlags ?? DEST_DEFAULTS.tunFlags;
}

/** A real server of a service by address and port. */
export function findDest(svc: Service, addr: string, port: number): Dest | undefined {
  const p = parseAddr(addr);
  if (!p) return undefined;
  return svc.dests.find(
    (d) => d.af === p.af && d.port === port && addrEqual(p.af, d.addr, p.words),
  );
}

/** ipvsadm -a: the new dest goes to the head of the list (§15). */
export function addDest(ipvs: Ipvs, key: ServiceId, opts: DestSpec): Dest {
  const svc = findService(ipvs, key);
  if (!svc) throw new IpvsError('add dest', 'ESRCH');
  const a = destAddr(ipvs, svc, opts, 'add dest');
  checkDest('add dest', opts);
  if (findDest(svc, opts.addr, opts.port)) throw new IpvsError('add dest', 'EEXIST');
  // a dest waiting in the trash is brought back with its counters (§2.14). The kernel
  // (ip_vs_trash_get_dest) matches it by the virtual service's key, not its object: a
  // dest of a service deleted and added again comes back too, its stats zeroed as it
  // moves to the new service (__ip_vs_update_dest, old_svc != svc)
  const trash = ipvs.trash;
  let d = trash.find(
    (t) =>
      sameServiceKey(t.svc, svc) &&
      t.af === a.af &&
      t.port === opts.port &&
      addrEqual(a.af, t.addr, a.words),
  );
  if (d) {
    trash.splice(trash.indexOf(d), 1);
    d.flags |= DEST_F_AVAILABLE;
    if (d.svc !== svc) {
      d.stats.zero();
      d.svc = svc;
    }
  } else {
    d = new Dest(svc, a.af, a.words, opts.port);
    d.id = allocDestId(ipvs, d);
  }
  applyDest(d, opts, true);
  svc.dests.unshift(d);
  svc.scheduler?.update(svc, 'add', d, 0);
  return d;
}

/** The virtual service's identity as a trashed dest remembers it (vaddr/vport/vfwmark/protocol). */
function sameServiceKey(a: Service, b: Service): boolean {
  if (a.fwmark !== b.fwmark || a.protocol !== b.protocol) return false;
  if (b.fwmark !== 0) return true;
  return a.af === b.af && a.port === b.port && addrEqual(b.af, a.addr, b.addr);
}

function allocDestId(ipvs: Ipvs, d: Dest): number {
  const i = ipvs.destById.indexOf(null);
  if (i >= 0) {
    ipvs.destById[i] = d;
    return i;
  }
  ipvs.destById.push(d);
  return ipvs.destById.length - 1;
}

/** ipvsadm -e: replaces the dest's parameters. */
export function editDest(ipvs: Ipvs, key: ServiceId, opts: DestSpec): Dest {
  const svc = findService(ipvs, key);
  if (!svc) throw new IpvsError('edit dest', 'ESRCH');
  destAddr(ipvs, svc, opts, 'edit dest');
  checkDest('edit dest', opts);
  const d = findDest(svc, opts.addr, opts.port);
  if (!d) throw new IpvsError('edit dest', 'ENOENT');
  applyDest(d, opts, false);
  svc.scheduler?.update(svc, 'edit', d, svc.dests.indexOf(d));
  return d;
}

/** ipvsadm -d: the dest goes to the trash (§2.14); its conns follow §2.12. */
export function delDest(ipvs: Ipvs, key: ServiceId, addr: string, port: number): void {
  const svc = findService(ipvs, key);
  if (!svc) throw new IpvsError('delete dest', 'ESRCH');
  const d = findDest(svc, addr, port);
  if (!d) throw new IpvsError('delete dest', 'ENOENT');
  unlinkDest(ipvs, svc, d);
}

function unlinkDest(ipvs: Ipvs, svc: Service, d: Dest): void {
  const i = svc.dests.indexOf(d);
  svc.dests.splice(i, 1);
  d.flags &= ~DEST_F_AVAILABLE;
  svc.scheduler?.update(svc, 'del', d, i);
  d.idleSince = ipvs.now;
  ipvs.trash.push(d);
  if (ipvs.settings.expire_nodest_conn) flushNodestConns(ipvs);
}

/** The background job of §2.12: delete every conn whose dest is not AVAILABLE. */
function flushNodestConns(ipvs: Ipvs): void {
  const c = ipvs.conns;
  for (const id of [...c.ids()]) {
    if (c.flags[id] === 0 && c.dest[id] < 0) continue;
    const d = c.dest[id] >= 0 ? ipvs.destById[c.dest[id]] : null;
    if (d && !d.available && c.nControl[id] === 0 && connIsLive(ipvs, id)) connDelete(ipvs, id);
  }
}

/** ip_vs_dest_trash_expire: free trashed dests no conn has used for 120 s. */
export function trashExpire(ipvs: Ipvs, now: number): void {
  const trash = ipvs.trash;
  for (let i = trash.length - 1; i >= 0; i--) {
    const d = trash[i];
    if (d.refcnt === 0 && now - d.idleSince >= TRASH_IDLE_MS) {
      trash.splice(i, 1);
      ipvs.destById[d.id] = null;
    }
  }
}

/** ipvsadm -Z [service]. */
export function zero(ipvs: Ipvs, key?: ServiceId): void {
  if (key) {
    const svc = findService(ipvs, key);
    if (!svc) throw new IpvsError('zero service', 'ESRCH');
    svc.stats.zero();
    for (const d of svc.dests) d.stats.zero();
    return;
  }
  for (const s of ipvs.services) {
    s.stats.zero();
    for (const d of s.dests) d.stats.zero();
  }
  ipvs.totals.zero();
}

/** ipvsadm --set tcp tcpfin udp (seconds; 0 leaves a value unchanged). */
export function setTimeouts(ipvs: Ipvs, t: Partial<Timeouts>): void {
  const max = Math.floor(2147483647 / 100);
  for (const v of [t.tcp, t.tcpfin, t.udp])
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > max))
      throw new IpvsError('set timeout', 'EINVAL');
  const tcp = ipvs.timeouts[tcpProtocol.protocol];
  const udp = ipvs.timeouts[udpProtocol.protocol];
  if (t.tcp) tcp[TCP_S_ESTABLISHED] = t.tcp * 1000;
  if (t.tcpfin) tcp[TCP_S_FIN_WAIT] = t.tcpfin * 1000;
  if (t.udp) udp[UDP_S_NORMAL] = t.udp * 1000;
}

/** ipvsadm -L --timeout. */
export function getTimeouts(ipvs: Ipvs): Timeouts {
  const tcp = ipvs.timeouts[tcpProtocol.protocol];
  const udp = ipvs.timeouts[udpProtocol.protocol];
  return {
    tcp: tcp[TCP_S_ESTABLISHED] / 1000,
    tcpfin: tcp[TCP_S_FIN_WAIT] / 1000,
    udp: udp[UDP_S_NORMAL] / 1000,
  };
}

/** Set a timeout by protocol and state name (e.g. 'tcp', 'SYN_RECV', 30). */
export function setStateTimeout(
  ipvs: Ipvs,
  protocol: string,
  state: string,
  seconds: number,
): void {
  if (!Number.isInteger(seconds) || seconds < 0) throw new IpvsError('set timeout', 'EINVAL');
  const pp = protoByName(protocol);
  const s = pp !== null ? pp.stateByName(state) : -1;
  if (pp === null || s < 0) throw new IpvsError('set timeout', 'EINVAL', `unknown state ${state}`);
  ipvs.timeouts[pp.protocol][s] = seconds * 1000;
}
