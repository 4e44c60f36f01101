/**
 * The control model: the one place where every admin command of tsvs is defined,
 * validated and applied to an {@link Engine}. tsvsadm, the JSON control API and the
 * configuration file are thin front ends over it, so a rule or an error message exists
 * once.
 *
 * Semantics follow the kernel's IPVS control plane (ipvsadm reference §5.3, §10): edit
 * commands replace every field (missing fields take ipvsadm's defaults), errors carry
 * the kernel's errno and ipvsadm's wording (§9.3), and a refused command leaves the
 * configuration exactly as it was. The client-side checks ipvsadm performs before it
 * talks to the kernel (§3–§5) live in the tsvsadm parser, not here.
 */
import { existsSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import type { Engine, ServiceKey, DestOptions, ServiceOptions } from '../engine/engine.js';
import { parseAddr, formatAddr } from '../engine/addr.js';
import {
  CONN_F_SYNC,
  IP_VS_VERSION_CODE,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  SVC_F_ONEPACKET,
  SVC_F_PERSISTENT,
  SVC_F_SCHED1,
  SVC_F_SCHED2,
  SVC_F_SCHED3,
  type AddressFamily,
  type FwdMethod,
} from '../engine/constants.js';
import { IpvsError, ipvsMessage, type IpvsErrno, type IpvsOp } from '../engine/errors.js';
import type { Dest, Service } from '../engine/service.js';
import type { RateSnapshot, StatsSnapshot } from '../engine/stats.js';
import { getSetting, setSetting, SETTING_NAMES, type Settings } from '../engine/settings.js';

/** The kernel's `ip_vs_proto_name`. */
export function protoName(p: number): string {
  switch (p) {
    case 0:
      return 'IP';
    case 6:
      return 'TCP';
    case 17:
      return 'UDP';
    case 132:
      return 'SCTP';
    case 1:
      return 'ICMP';
    case 58:
      return 'ICMPv6';
    default:
      return `IP_${p}`;
  }
}

/** Connection hash table size reported by `-L` and /proc (2^conn_tab_bits, default 12). */
export const CONN_TAB_SIZE = 4096;
/** ipvsadm's persistence timeout when `-p` has no value (reference §3.2). */
export const DEFAULT_PERSISTENT_TIMEOUT = 360;
/** Upper bound of persistence and connection timeouts ipvsadm accepts (31 days). */
export const MAX_TIMEOUT = 2678400;
const INT_MAX = 2147483647;
const UINT32_MAX = 4294967295;
/** Flag bits user space may set on a service; HASHED is the kernel's own. */
const SVC_USER_FLAGS =
  SVC_F_PERSISTENT | SVC_F_ONEPACKET | SVC_F_SCHED1 | SVC_F_SCHED2 | SVC_F_SCHED3;

export type Family = AddressFamily;
/** Forwarding methods a real server may be given. */
export type FwdName = 'masq' | 'local' | 'tunnel' | 'droute';
export const FWD_NAMES: readonly FwdName[] = ['masq', 'local', 'tunnel', 'droute'];

/** What identifies a virtual service: fwmark, or protocol + address + port. */
export interface ServiceId {
  af: Family;
  /** 6 (TCP), 17 (UDP) or 132 (SCTP); fwmark services carry one too (default TCP). */
  protocol?: number;
  /** Textual address; absent for fwmark services. */
  addr?: string;
  port?: number;
  /** Non-zero for firewall-mark services. */
  fwmark?: number;
}

/**
 * A whole service. Absent fields take ipvsadm's defaults: scheduler `wlc`, no flags,
 * timeout 360 when persistent (else 0), all-ones netmask / prefix 128, no PE.
 */
export interface ServiceSpec extends ServiceId {
  scheduler?: string;
  /** SVC_F_PERSISTENT 0x1, SVC_F_ONEPACKET 0x4, SVC_F_SCHED1..3 0x8/0x10/0x20. */
  flags?: number;
  /** Persistence timeout in seconds. */
  timeout?: number;
  /** IPv4: the mask as a 32-bit number or dotted quad; IPv6: prefix length. */
  netmask?: number | string;
  /** Persistence engine ('' or 'sip'). */
  pe?: string;
}

/** What identifies a real server inside its service. */
export interface DestId {
  addr: string;
  port: number;
}

/** A whole real server. Absent fields: DR, weight 1, thresholds 0, ipip/no port/nocsum. */
export interface DestSpec extends DestId {
  fwd?: FwdName;
  weight?: number;
  uThreshold?: number;
  lThreshold?: number;
  /** 0 ipip, 1 gue, 2 gre. */
  tunType?: number;
  tunPort?: number;
  /** 0 nocsum, 1 csum, 2 remcsum. */
  tunFlags?: number;
}

export interface DestEntry {
  af: Family;
  addr: string;
  port: number;
  fwd: FwdName;
  weight: number;
  uThreshold: number;
  lThreshold: number;
  activeconns: number;
  inactconns: number;
  persistconns: number;
  tunType: number;
  tunPort: number;
  tunFlags: number;
  stats: StatsSnapshot;
  rates: RateSnapshot;
}

export interface ServiceEntry {
  af: Family;
  protocol: number;
  /** '0.0.0.0' / '::' for fwmark services. */
  addr: string;
  port: number;
  fwmark: number;
  scheduler: string;
  flags: number;
  timeout: number;
  /** IPv4: 32-bit mask as a number; IPv6: prefix length. */
  netmask: number;
  pe: string;
  stats: StatsSnapshot;
  rates: RateSnapshot;
  /** In the kernel's list order: most recently added first. */
  dests: DestEntry[];
}

export type SyncState = 'master' | 'backup';

/** `--start-daemon` parameters; absent numbers mean "kernel default". */
export interface DaemonSpec {
  state: SyncState;
  /** Multicast interface (default eth0). */
  mcastIfn?: string;
  syncId?: number;
  maxLen?: number;
  /** IPv4 or IPv6 multicast group. */
  mcastGroup?: string;
  mcastPort?: number;
  mcastTtl?: number;
}

/** A running sync daemon, with the defaults filled in as modern kernels report them. */
export interface DaemonEntry {
  state: SyncState;
  mcastIfn: string;
  syncId: number;
  maxLen: number;
  mcastGroup: string;
  mcastPort: number;
  mcastTtl: number;
}

export interface Timeouts {
  tcp: number;
  tcpfin: number;
  udp: number;
}

export interface Info {
  /** 0x010201. */
  versionCode: number;
  /** "1.2.1". */
  version: string;
  connTabSize: number;
}

/** A connection as `ipvsadm -L -c` and /proc/net/ip_vs_conn show it. */
export interface ConnEntry {
  /** Connection id within this listing (valid until the connection expires). */
  id: number;
  /** Id of the controlling connection (persistence template or FTP control conn), or -1. */
  control: number;
  /** Number of connections this one controls. */
  nControl: number;
  protocol: number;
  /** Kernel name: TCP, UDP, SCTP, IP (fwmark templates), ... */
  protoName: string;
  af: Family;
  caddr: string;
  cport: number;
  /** For fwmark templates the mark, shown as an IPv4 address (0.0.0.1 for mark 1). */
  vaddr: string;
  vport: number;
  daf: Family;
  daddr: string;
  dport: number;
  state: string;
  /** Seconds until expiry (rounded down). */
  expires: number;
  flags: number;
  template: boolean;
  origin: 'LOCAL' | 'SYNC';
  peName: string;
  peData: string;
}

export interface SysctlEntry {
  /** Kernel name, e.g. `net.ipv4.vs.secure_tcp`. */
  name: string;
  value: string;
}

/** The persistent configuration (what `persist.ts` writes). */
export interface ConfigSnapshot {
  services: (Required<Omit<ServiceSpec, 'netmask'>> & {
    netmask: number;
    dests: Required<DestSpec>[];
  })[];
  timeouts: Timeouts;
  /** Every setting whose value differs from the engine's at start-up default. */
  sysctl: Record<string, string>;
  daemons: DaemonEntry[];
}

/** Operation names for errors that are not IPVS netlink operations. */
export type ControlOp = IpvsOp | 'get services' | 'get daemon' | 'sysctl' | 'proc' | 'request';

/**
 * A refused command: the kernel's errno name, the operation, ipvsadm's message for
 * that pair (reference §9.3) and an optional detail for logs and API users.
 */
export class ControlError extends Error {
  readonly errno: string;
  readonly op: ControlOp;
  readonly detail: string;
  constructor(op: ControlOp, errno: string, message?: string, detail = '') {
    super(message ?? ipvsMessage(op as IpvsOp, errno as IpvsErrno));
    this.name = 'ControlError';
    this.op = op;
    this.errno = errno;
    this.detail = detail;
  }

  static from(e: unknown): ControlError {
    if (e instanceof ControlError) return e;
    if (e instanceof IpvsError) return new ControlError(e.op, e.errno, e.message, e.detail);
    const msg = e instanceof Error ? e.message : String(e);
    return new ControlError('request', 'EINVAL', msg, msg);
  }
}

/** Optional collaborators of the model (the sync module, the host's interfaces). */
export interface ModelOptions {
  /** Whether a network interface exists (for `--mcast-interface`); default /sys/class/net. */
  interfaceExists?: (name: string) => boolean;
  /** Called when a sync daemon starts or stops; throwing refuses the command. */
  sync?: {
    start(d: DaemonEntry): void;
    stop(state: SyncState): void;
  };
}

const SYSCTL_PREFIX = 'net.ipv4.vs.';
/** Settings that re-run the defence update when written (kernel proc handlers). */
const DEFENSE_SETTINGS = new Set(['drop_entry', 'drop_packet', 'secure_tcp', 'amemthresh']);

/**
 * The single model of every admin command. Methods are synchronous and either apply
 * the whole command or throw a {@link ControlError} having changed nothing.
 */
export class ControlModel {
  readonly engine: Engine;
  /** Incremented by every configuration change (persistence watches it). */
  generation = 0;
  private readonly daemonMap = new Map<SyncState, DaemonEntry>();
  private readonly listeners = new Set<() => void>();
  private readonly opts: ModelOptions;
  private readonly initialSettings: Settings;

  constructor(engine: Engine, opts: ModelOptions = {}) {
    this.engine = engine;
    this.opts = opts;
    this.initialSettings = structuredClone(engine.settings);
  }

  /** Be told after every configuration change. Returns an unsubscribe function. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    this.generation++;
    for (const fn of this.listeners) fn();
  }

  // ---------------------------------------------------------------------------
  // Services and real servers

  /** ipvsadm -A. */
  addService(spec: ServiceSpec): void {
    const key = serviceKey(spec, 'add service');
    const opts = serviceOptions(spec, 'add service');
    guard(() => this.engine.addService(key, opts));
    this.changed();
  }

  /** ipvsadm -E: every field is replaced (reference §5.3). */
  editService(spec: ServiceSpec): void {
    const key = serviceKey(spec, 'edit service');
    const opts = serviceOptions(spec, 'edit service');
    this.lookup(key, 'edit service');
    guard(() => this.engine.editService(key, opts));
    this.changed();
  }

  /** ipvsadm -D. */
  delService(id: ServiceId): void {
    const key = serviceKey(id, 'delete service');
    this.lookup(key, 'delete service');
    guard(() => this.engine.delService(key));
    this.changed();
  }

  /** ipvsadm -C. */
  flush(): void {
    this.engine.flush();
    this.changed();
  }

  /** ipvsadm -a. */
  addDest(svc: ServiceId, dest: DestSpec): void {
    const key = serviceKey(svc, 'add dest');
    const s = this.lookup(key, 'add dest');
    const opts = destOptions(s, dest, 'add dest');
    guard(() => this.engine.addDest(key, opts));
    this.changed();
  }

  /** ipvsadm -e: every field is replaced. */
  editDest(svc: ServiceId, dest: DestSpec): void {
    const key = serviceKey(svc, 'edit dest');
    const s = this.lookup(key, 'edit dest');
    const opts = destOptions(s, dest, 'edit dest');
    guard(() => this.engine.editDest(key, opts));
    this.changed();
  }

  /** ipvsadm -d. */
  delDest(svc: ServiceId, dest: DestId): void {
    const key = serviceKey(svc, 'delete dest');
    this.lookup(key, 'delete dest');
    const d = destId(dest, 'delete dest');
    guard(() => this.engine.delDest(key, d.addr, d.port));
    this.changed();
  }

  /** ipvsadm -Z [service]: counters are not configuration, so no change is recorded. */
  zero(svc?: ServiceId): void {
    if (svc === undefined) {
      this.engine.zero();
      return;
    }
    const key = serviceKey(svc, 'zero service');
    this.lookup(key, 'zero service');
    guard(() => this.engine.zero(key));
  }

  /** ipvsadm --set: 0 leaves a timeout unchanged. */
  setTimeouts(t: Partial<Timeouts>): void {
    const v: Partial<Timeouts> = {};
    for (const k of ['tcp', 'tcpfin', 'udp'] as const) {
      const x = t[k];
      if (x === undefined) continue;
      if (!isInt(x, 0, MAX_TIMEOUT))
        throw new ControlError('set timeout', 'EINVAL', undefined, `${k} ${x}`);
      v[k] = x;
    }
    guard(() => this.engine.setTimeouts(v));
    this.changed();
  }

  getTimeouts(): Timeouts {
    return this.engine.getTimeouts();
  }

  // ---------------------------------------------------------------------------
  // Sync daemons (the state; the sync module does the work through `opts.sync`)

  /** ipvsadm --start-daemon. */
  startDaemon(spec: DaemonSpec): void {
    const op = 'start daemon';
    if (spec.state !== 'master' && spec.state !== 'backup')
      throw new ControlError(op, 'EINVAL', undefined, `state ${String(spec.state)}`);
    if (this.daemonMap.has(spec.state)) throw new ControlError(op, 'EEXIST');
    const ifn = spec.mcastIfn ?? 'eth0';
    if (typeof ifn !== 'string' || ifn === '' || ifn.length > 15 || /[/\s]/.test(ifn))
      throw new ControlError(op, 'EINVAL', undefined, `interface ${ifn}`);
    const num = (v: number | undefined, max: number, name: string): number => {
      if (v === undefined) return 0;
      if (!isInt(v, 0, max)) throw new ControlError(op, 'EINVAL', undefined, `${name} ${v}`);
      return v;
    };
    const syncId = num(spec.syncId, 255, 'syncid');
    const maxLen = num(spec.maxLen, 65507, 'maxlen');
    const port = num(spec.mcastPort, 65535, 'port');
    const ttl = num(spec.mcastTtl, 255, 'ttl');
    let group = '224.0.0.81';
    if (spec.mcastGroup !== undefined && spec.mcastGroup !== '') {
      if (!isMulticast(spec.mcastGroup))
        throw new ControlError(op, 'EINVAL', undefined, `group ${spec.mcastGroup}`);
      group = spec.mcastGroup;
    }
    // the kernel refuses to sync while a service has a real server of the other family
    for (const s of this.engine.services)
      if (s.dests.some((d) => d.af !== s.af))
        throw new ControlError(op, 'EINVAL', undefined, 'mixed-family real servers');
    const exists = this.opts.interfaceExists ?? ((n: string) => existsSync(`/sys/class/net/${n}`));
    if (!exists(ifn)) throw new ControlError(op, 'ENODEV', undefined, `interface ${ifn}`);
    const d: DaemonEntry = {
      state: spec.state,
      mcastIfn: ifn,
      syncId,
      maxLen: maxLen || 1472,
      mcastGroup: group,
      mcastPort: port || 8848,
      mcastTtl: ttl || 1,
    };
    if (this.opts.sync) guard(() => this.opts.sync!.start({ ...d }), op);
    this.daemonMap.set(spec.state, d);
    this.changed();
  }

  /** ipvsadm --stop-daemon. */
  stopDaemon(state: SyncState): void {
    const op = 'stop daemon';
    if (state !== 'master' && state !== 'backup')
      throw new ControlError(op, 'EINVAL', undefined, `state ${String(state)}`);
    if (!this.daemonMap.has(state)) throw new ControlError(op, 'ESRCH');
    if (this.opts.sync) guard(() => this.opts.sync!.stop(state), op);
    this.daemonMap.delete(state);
    this.changed();
  }

  /** Running daemons, master first (ipvsadm -L --daemon). */
  daemons(): DaemonEntry[] {
    const out: DaemonEntry[] = [];
    for (const s of ['master', 'backup'] as const) {
      const d = this.daemonMap.get(s);
      if (d) out.push({ ...d });
    }
    return out;
  }

  // ---------------------------------------------------------------------------
  // Views

  info(): Info {
    const v = IP_VS_VERSION_CODE;
    return {
      versionCode: v,
      version: `${(v >> 16) & 255}.${(v >> 8) & 255}.${v & 255}`,
      connTabSize: CONN_TAB_SIZE,
    };
  }

  /**
   * Every service in the kernel's dump order (address services, then fwmark
   * services; each in creation order), dests most recent first.
   */
  services(): ServiceEntry[] {
    const svcs = this.engine.services;
    return [...svcs.filter((s) => s.fwmark === 0), ...svcs.filter((s) => s.fwmark !== 0)].map(
      serviceEntry,
    );
  }

  /** One service (ipvsadm -L -t ...). */
  service(id: ServiceId): ServiceEntry {
    const key = serviceKey(id, 'get service');
    return serviceEntry(this.lookup(key, 'get service'));
  }

  /** Every connection and template, as /proc/net/ip_vs_conn lists them. */
  connections(): ConnEntry[] {
    const e = this.engine;
    const c = e.conns;
    const out: ConnEntry[] = [];
    for (const id of c.ids()) {
      const af = c.af[id] as Family;
      const o = id * 4;
      const did = c.dest[id];
      const d = did >= 0 ? e.destById[did] : null;
      const daf = d ? d.af : af;
      const flags = c.flags[id];
      const proto = c.proto[id];
      out.push({
        id,
        control: c.control[id],
        nControl: c.nControl[id],
        protocol: proto,
        protoName: protoName(proto),
        af,
        caddr: formatAddr(af, c.caddr, o),
        cport: c.cport[id],
        // a fwmark template keeps the mark in the first word of vaddr (0.0.0.1 for mark 1)
        vaddr: formatAddr(af, c.vaddr, o),
        vport: c.vport[id],
        daf,
        daddr: formatAddr(daf, c.daddr, o),
        dport: c.dport[id],
        state: e.stateName(id),
        expires: Math.max(0, Math.floor((c.expires[id] - e.now) / 1000)),
        flags,
        template: (flags & 0x1000) !== 0,
        origin: flags & CONN_F_SYNC ? 'SYNC' : 'LOCAL',
        peName: '',
        peData: '',
      });
    }
    return out;
  }

  // ---------------------------------------------------------------------------
  // sysctl (net.ipv4.vs.*)

  /** One setting, or all of them in the kernel's order when `name` is absent. */
  sysctlGet(name?: string): SysctlEntry[] {
    if (name === undefined)
      return SETTING_NAMES.map((n) => ({
        name: SYSCTL_PREFIX + n,
        value: getSetting(this.engine.settings, n),
      }));
    const n = sysctlName(name);
    return [{ name: SYSCTL_PREFIX + n, value: getSetting(this.engine.settings, n) }];
  }

  /** Write a setting as `sysctl -w` would; the value is unchanged on error. */
  sysctlSet(name: string, value: string): SysctlEntry {
    const n = sysctlName(name);
    if (typeof value !== 'string') throw new ControlError('sysctl', 'EINVAL', 'Invalid argument');
    const err = setSetting(this.engine.settings, n, value);
    if (err !== null) throw new ControlError('sysctl', 'EINVAL', 'Invalid argument', err);
    if (DEFENSE_SETTINGS.has(n)) this.engine.updateDefense();
    this.changed();
    return { name: SYSCTL_PREFIX + n, value: getSetting(this.engine.settings, n) };
  }

  // ---------------------------------------------------------------------------
  // Whole configuration (persistence)

  snapshot(): ConfigSnapshot {
    const sysctl: Record<string, string> = {};
    for (const n of SETTING_NAMES) {
      const v = getSetting(this.engine.settings, n);
      if (v !== getSetting(this.initialSettings, n)) sysctl[n] = v;
    }
    return {
      services: this.services().map((s) => ({
        af: s.af,
        protocol: s.protocol,
        addr: s.addr,
        port: s.port,
        fwmark: s.fwmark,
        scheduler: s.scheduler,
        flags: s.flags & SVC_USER_FLAGS,
        timeout: s.timeout,
        netmask: s.netmask,
        pe: s.pe,
        dests: s.dests.map((d) => ({
          addr: d.addr,
          port: d.port,
          fwd: d.fwd,
          weight: d.weight,
          uThreshold: d.uThreshold,
          lThreshold: d.lThreshold,
          tunType: d.tunType,
          tunPort: d.tunPort,
          tunFlags: d.tunFlags,
        })),
      })),
      timeouts: this.getTimeouts(),
      sysctl,
      daemons: this.daemons(),
    };
  }

  /**
   * Apply a saved configuration on top of the current one, item by item; an item
   * that is refused is reported and skipped. Dests are added oldest first so that the
   * list order (which breaks scheduler ties) is what it was when saved.
   */
  applySnapshot(snap: ConfigSnapshot): string[] {
    const errors: string[] = [];
    const attempt = (what: string, fn: () => void): void => {
      try {
        fn();
      } catch (e) {
        const ce = ControlError.from(e);
        errors.push(`${what}: ${ce.message}${ce.detail ? ` (${ce.detail})` : ''}`);
      }
    };
    for (const [n, v] of Object.entries(snap.sysctl ?? {}))
      attempt(`sysctl ${n}`, () => this.sysctlSet(n, v));
    if (snap.timeouts) attempt('timeouts', () => this.setTimeouts(snap.timeouts));
    for (const s of snap.services ?? []) {
      const { dests, ...spec } = s;
      const id: ServiceId = spec.fwmark
        ? { af: spec.af, protocol: spec.protocol, fwmark: spec.fwmark }
        : { af: spec.af, protocol: spec.protocol, addr: spec.addr, port: spec.port };
      attempt(`service ${describeId(id)}`, () => this.addService({ ...spec, ...id }));
      for (const d of [...(dests ?? [])].reverse())
        attempt(`real server ${d.addr}:${d.port}`, () => this.addDest(id, d));
    }
    for (const d of snap.daemons ?? []) attempt(`${d.state} daemon`, () => this.startDaemon(d));
    return errors;
  }

  private lookup(key: ServiceKey, op: IpvsOp): Service {
    const s = this.engine.findService(key);
    // the kernel also answers ESRCH when the protocol of a fwmark service differs
    if (!s || s.protocol !== key.protocol) throw new ControlError(op, 'ESRCH');
    return s;
  }
}

// -----------------------------------------------------------------------------
// Validation: one function per argument kind, each naming the errno the kernel uses

function guard<T>(fn: () => T, op?: ControlOp): T {
  try {
    return fn();
  } catch (e) {
    if (op && !(e instanceof ControlError) && !(e instanceof IpvsError))
      throw new ControlError(op, 'EINVAL', undefined, e instanceof Error ? e.message : String(e));
    throw ControlError.from(e);
  }
}

function isInt(v: unknown, lo: number, hi: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
}

function isMulticast(a: string): boolean {
  if (isIPv4(a)) return (Number(a.split('.')[0]) & 0xf0) === 0xe0;
  if (isIPv6(a)) return /^ff/i.test(a);
  return false;
}

function describeId(id: ServiceId): string {
  if (id.fwmark) return `FWM ${id.fwmark}${id.af === 6 ? ' IPv6' : ''}`;
  const a = id.af === 6 ? `[${id.addr}]` : id.addr;
  return `${protoName(id.protocol ?? IPPROTO_TCP)} ${a}:${id.port ?? 0}`;
}

/** The engine key of a service id, or EINVAL (missing/ill-formed attributes). */
function serviceKey(id: ServiceId, op: IpvsOp): ServiceKey {
  if (id === null || typeof id !== 'object')
    throw new ControlError(op, 'EINVAL', undefined, 'no service');
  if (id.af !== 4 && id.af !== 6)
    throw new ControlError(op, 'EAFNOSUPPORT', undefined, `af ${String(id.af)}`);
  const protocol = id.protocol ?? IPPROTO_TCP;
  if (protocol !== IPPROTO_TCP && protocol !== IPPROTO_UDP && protocol !== IPPROTO_SCTP)
    throw new ControlError(op, 'EINVAL', undefined, `protocol ${String(protocol)}`);
  if (id.fwmark !== undefined && id.fwmark !== 0) {
    if (!isInt(id.fwmark, 1, UINT32_MAX))
      throw new ControlError(op, 'EINVAL', undefined, `fwmark ${id.fwmark}`);
    return { af: id.af, protocol, fwmark: id.fwmark };
  }
  const p = typeof id.addr === 'string' ? parseAddr(id.addr) : null;
  if (!p || p.af !== id.af)
    throw new ControlError(op, 'EINVAL', undefined, `address ${String(id.addr)}`);
  const port = id.port ?? 0;
  if (!isInt(port, 0, 65535))
    throw new ControlError(op, 'EINVAL', undefined, `port ${String(port)}`);
  return { af: id.af, protocol, addr: formatAddr(p.af, p.words), port };
}

/** Dotted quad or number → 32-bit IPv4 mask; prefix length for IPv6. */
function netmaskOf(af: Family, m: number | string | undefined, op: IpvsOp): number {
  if (m === undefined) return af === 4 ? 0xffffffff : 128;
  if (af === 6) {
    if (!isInt(m, 1, 128))
      throw new ControlError(op, 'EINVAL', undefined, `IPv6 prefix ${String(m)}`);
    return m;
  }
  if (typeof m === 'string') {
    if (!isIPv4(m)) throw new ControlError(op, 'EINVAL', undefined, `netmask ${m}`);
    const p = parseAddr(m)!;
    return p.words[0];
  }
  if (!isInt(m, 0, UINT32_MAX)) throw new ControlError(op, 'EINVAL', undefined, `netmask ${m}`);
  return m;
}

function serviceOptions(spec: ServiceSpec, op: IpvsOp): ServiceOptions {
  const scheduler = spec.scheduler ?? 'wlc';
  if (typeof scheduler !== 'string' || scheduler.length > 15)
    throw new ControlError(op, 'ENOENT', undefined, `scheduler ${String(scheduler)}`);
  const flags = spec.flags ?? 0;
  if (!isInt(flags, 0, UINT32_MAX))
    throw new ControlError(op, 'EINVAL', undefined, `flags ${flags}`);
  const persistent = (flags & SVC_F_PERSISTENT) !== 0;
  const timeout = spec.timeout ?? (persistent ? DEFAULT_PERSISTENT_TIMEOUT : 0);
  if (!isInt(timeout, 0, MAX_TIMEOUT))
    throw new ControlError(op, 'EINVAL', undefined, `timeout ${timeout}`);
  const pe = spec.pe ?? '';
  if (typeof pe !== 'string' || pe.length > 15)
    throw new ControlError(op, 'ENOENT', undefined, `pe ${String(pe)}`);
  const fwmark = spec.fwmark ?? 0;
  const protocol = spec.protocol ?? IPPROTO_TCP;
  if (flags & SVC_F_ONEPACKET && fwmark === 0 && protocol !== IPPROTO_UDP)
    throw new ControlError(op, 'EINVAL', undefined, 'one-packet scheduling is only for UDP');
  return {
    scheduler,
    flags: (flags & SVC_USER_FLAGS) >>> 0,
    timeout,
    netmask: netmaskOf(spec.af, spec.netmask, op),
    pe,
  };
}

function destId(d: DestId, op: IpvsOp): { addr: string; port: number; af: Family } {
  if (d === null || typeof d !== 'object')
    throw new ControlError(op, 'EINVAL', undefined, 'no dest');
  const p = typeof d.addr === 'string' ? parseAddr(d.addr) : null;
  if (!p) throw new ControlError(op, 'EINVAL', undefined, `address ${String(d.addr)}`);
  if (!isInt(d.port, 0, 65535))
    throw new ControlError(op, 'EINVAL', undefined, `port ${String(d.port)}`);
  return { addr: formatAddr(p.af, p.words), port: d.port, af: p.af };
}

/** A real-server address the kernel accepts: unicast (not 0, multicast or broadcast). */
function unicast(af: Family, addr: string): boolean {
  const p = parseAddr(addr)!;
  const w = p.words;
  if (af === 4) return w[0] !== 0 && w[0] !== 0xffffffff && w[0] >>> 28 !== 0xe;
  if (w[0] >>> 24 === 0xff) return false;
  return w[0] !== 0 || w[1] !== 0 || w[2] !== 0 || w[3] !== 0;
}

function destOptions(svc: Service, d: DestSpec, op: IpvsOp): DestOptions {
  const id = destId(d, op);
  const fwd = d.fwd ?? 'droute';
  if (!FWD_NAMES.includes(fwd))
    throw new ControlError(op, 'EINVAL', undefined, `method ${String(fwd)}`);
  if (id.af !== svc.af && fwd !== 'tunnel')
    throw new ControlError(
      op,
      'EINVAL',
      undefined,
      'different address family is allowed only for tunnels',
    );
  if (!unicast(id.af, id.addr))
    throw new ControlError(op, 'EINVAL', undefined, `not unicast: ${id.addr}`);
  const weight = d.weight ?? 1;
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight > INT_MAX)
    throw new ControlError(op, 'EINVAL', undefined, `weight ${String(weight)}`);
  if (weight < 0) throw new ControlError(op, 'ERANGE', undefined, 'negative weight');
  const u = d.uThreshold ?? 0;
  const l = d.lThreshold ?? 0;
  if (!isInt(u, 0, UINT32_MAX) || !isInt(l, 0, UINT32_MAX))
    throw new ControlError(op, 'EINVAL', undefined, 'thresholds');
  if (l > u) throw new ControlError(op, 'ERANGE', undefined, 'lower threshold above the upper one');
  const tunType = d.tunType ?? 0;
  const tunPort = d.tunPort ?? 0;
  const tunFlags = d.tunFlags ?? 0;
  if (!isInt(tunType, 0, 2) || !isInt(tunPort, 0, 65535) || !isInt(tunFlags, 0, 2))
    throw new ControlError(op, 'EINVAL', undefined, 'tunnel parameters');
  if (fwd === 'tunnel' && tunType === 1 && tunPort === 0)
    throw new ControlError(op, 'EINVAL', undefined, 'GUE needs a tunnel port');
  return {
    addr: id.addr,
    port: id.port,
    fwd: fwd as FwdMethod,
    weight,
    uThreshold: u,
    lThreshold: l,
    tunType,
    tunPort,
    tunFlags,
  };
}

function sysctlName(name: string): keyof Settings {
  if (typeof name !== 'string')
    throw new ControlError('sysctl', 'ENOENT', 'No such file or directory');
  let n = name.replace(/\//g, '.');
  if (n.startsWith(SYSCTL_PREFIX)) n = n.slice(SYSCTL_PREFIX.length);
  if (!(SETTING_NAMES as string[]).includes(n))
    throw new ControlError(
      'sysctl',
      'ENOENT',
      'No such file or directory',
      `unknown setting ${name}`,
    );
  return n as keyof Settings;
}

const FWD_BY_FLAG: readonly FwdName[] = ['masq', 'local', 'tunnel', 'droute'];

function destEntry(d: Dest): DestEntry {
  return {
    af: d.af,
    addr: formatAddr(d.af, d.addr),
    port: d.port,
    fwd: FWD_BY_FLAG[d.fwd] ?? 'masq',
    weight: d.weight,
    uThreshold: d.uThreshold,
    lThreshold: d.lThreshold,
    activeconns: d.activeconns,
    inactconns: d.inactconns,
    persistconns: d.persistconns,
    tunType: d.tunType,
    tunPort: d.tunPort,
    tunFlags: d.tunFlags,
    stats: d.stats.snapshot(),
    rates: d.stats.rates(),
  };
}

function serviceEntry(s: Service): ServiceEntry {
  return {
    af: s.af,
    protocol: s.protocol,
    addr: formatAddr(s.af, s.addr),
    port: s.port,
    fwmark: s.fwmark,
    scheduler: s.scheduler ? s.schedName : 'none',
    flags: s.flags,
    timeout: s.timeout,
    netmask: s.netmask,
    pe: s.peName,
    stats: s.stats.snapshot(),
    rates: s.stats.rates(),
    dests: s.dests.map(destEntry),
  };
}
