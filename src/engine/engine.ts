/**
 * The IPVS core: services, dests, the connection table and the `in` / `out` / ICMP
 * packet paths of spec §1–§8. Pure and deterministic: bytes in, verdicts out, time
 * passed in by the caller (ms). Create as many engines as you like.
 *
 * ```ts
 * const eng = new Engine();
 * eng.addService({ af: 4, protocol: 6, addr: '10.0.3.100', port: 80 }, { scheduler: 'rr' });
 * eng.addDest({ af: 4, protocol: 6, addr: '10.0.3.100', port: 80 },
 *             { addr: '10.0.2.11', port: 80, fwd: 'masq' });
 * const v = eng.in(buf, 0, len, now);       // client → VIP
 * if (v === V_FORWARD) send(eng.result.buf, eng.result.off, eng.result.len);
 * ```
 */
import {
  CONN_F_BYPASS,
  CONN_F_DROUTE,
  CONN_F_FWD_MASK,
  CONN_F_INACTIVE,
  CONN_F_IN_SEQ,
  CONN_F_LOCALNODE,
  CONN_F_MASQ,
  CONN_F_NFCT,
  CONN_F_NOOUTPUT,
  CONN_F_SYNC,
  CONN_F_NO_CPORT,
  CONN_F_ONE_PACKET,
  CONN_F_OUT_SEQ,
  CONN_F_TEMPLATE,
  CONN_F_TUNNEL,
  DEST_F_AVAILABLE,
  DEST_F_OVERLOAD,
  FWD_METHOD_FLAG,
  IPPROTO_GRE,
  IPPROTO_ICMP,
  IPPROTO_IPIP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
  SVC_F_ONEPACKET,
  SVC_F_PERSISTENT,
  TEMPLATE_ASSURED,
  type AddressFamily,
  type FwdMethod,
  TUNNEL_TYPE_GRE,
  TUNNEL_TYPE_GUE,
  TUNNEL_TYPE_IPIP,
} from './constants.js';
import { addrEqual, foldAddr, formatAddr, maskAddr, newAddr, parseAddr } from './addr.js';
import { Dest, Service } from './service.js';
import { Stats } from './stats.js';
import { defaultSettings, type Settings } from './settings.js';
import { IpvsError, type IpvsOp } from './errors.js';
import { ConnTable, NO_CONN } from './conn/table.js';
import {
  DIR_INPUT,
  DIR_INPUT_ONLY,
  DIR_OUTPUT,
  TCP_DEFAULT_TIMEOUTS,
  TCP_S_CLOSE,
  TCP_S_ESTABLISHED,
  TCP_S_FIN_WAIT,
  TCP_S_LISTEN,
  TCP_S_SYNACK,
  TCP_S_SYN_RECV,
  TCP_S_TIME_WAIT,
  TCP_STATE_NAMES,
  tcpIsActive,
  tcpNextState,
} from './proto/tcp.js';
import { UDP_DEFAULT_TIMEOUT } from './proto/udp.js';
import { findScheduler } from './sched/registry.js';
import type { SchedPacket, SchedulerContext } from './sched/types.js';
import { registerBuiltinSchedulers } from './sched/index.js';
import {
  DROP_REASON_COUNT,
  DropReason,
  V_ACCEPT,
  V_DROP,
  V_FORWARD,
  V_LOCAL,
  V_REPLY,
} from './drop.js';
import { PacketView } from '../wire/packet.js';
import { buildIcmpError } from '../wire/icmp.js';
import { APP_DROP, APP_MANGLED, type AppHelper } from './app/types.js';
import {
  decTtl,
  icmpChecksumFill,
  natRewrite,
  verifyL4Checksum,
  writeAddr,
  writePort,
} from './xmit/nat.js';
import { encapsulate } from './xmit/tunnel.js';
import { ipv4HeaderChecksum } from '../wire/checksum.js';

/** Packet flags passed by the data plane with each packet. */
export const PKT_GSO = 0x1;
/** The L4 checksum field holds only the pseudo-header sum (CHECKSUM_PARTIAL). */
export const PKT_CSUM_PARTIAL = 0x2;
/** The packet was generated on this host (LOCAL_OUT) or came in on loopback. */
export const PKT_LOCAL = 0x4;
/** The checksum was already verified (CHECKSUM_UNNECESSARY). */
export const PKT_CSUM_OK = 0x8;

/** Results of the scheduling step. */
const SCHED_IGNORE = -2;
const SCHED_NODEST = -3;
const SCHED_FATAL = -4;

/** What a service is identified by (ipvsadm -t/-u/-f). */
export interface ServiceKey {
  af: AddressFamily;
  protocol: number;
  /** Textual address; ignored for fwmark services. */
  addr?: string;
  port?: number;
  fwmark?: number;
}

export interface ServiceOptions {
  scheduler?: string;
  /** SVC_F_* bits: PERSISTENT, ONEPACKET, SCHED1..3. */
  flags?: number;
  /** Persistence timeout, seconds (ipvsadm default 300 when -p is given). */
  timeout?: number;
  /** IPv4 mask as dotted quad or number; IPv6 prefix length. */
  netmask?: number;
  pe?: string;
}

export interface DestOptions {
  addr: string;
  port: number;
  fwd?: FwdMethod;
  weight?: number;
  uThreshold?: number;
  lThreshold?: number;
  tunType?: number;
  tunPort?: number;
  tunFlags?: number;
}

/** A connection as shown by `ipvsadm -L -c` and /proc/net/ip_vs_conn. */
export interface ConnInfo {
  id: number;
  af: AddressFamily;
  protocol: number;
  caddr: string;
  cport: number;
  vaddr: string;
  vport: number;
  daddr: string;
  dport: number;
  state: string;
  /** Seconds until expiry. */
  expires: number;
  flags: number;
  fwmark: number;
  control: number;
  nControl: number;
  inPkts: number;
  template: boolean;
}

/** The packet the data plane must act on, filled by every `in` / `out` call. */
export class PacketResult {
  verdict = V_ACCEPT;
  reason = 0;
  /** Packet to transmit (the input buffer, or the engine's scratch buffer). */
  buf: Uint8Array = new Uint8Array(0);
  off = 0;
  len = 0;
  /** Forwarding method (CONN_F_MASQ…) for FORWARD from `in`; -1 for replies from `out`. */
  method = -1;
  /** Family and address of the next hop: RIP (NAT/DR/TUN), original dst (bypass), client (out). */
  af: AddressFamily = 4;
  readonly nextHop = new Uint32Array(4);
  conn = NO_CONN;
  dest = -1;
}

export interface EngineOptions {
  settings?: Partial<Settings>;
  /** Random source for schedulers and defences (deterministic in tests). */
  random?: () => number;
  /** Seed of the connection hash. */
  hashSeed?: number;
  /** Initial connection-table capacity. */
  capacity?: number;
  /**
   * Source address for tunnelled packets towards a RIP (the route's preferred source
   * in the kernel). Called once per dest and cached. Default: all zeroes.
   */
  tunnelSource?: (af: AddressFamily, rip: Uint32Array) => Uint32Array | null;
  /** Path MTU towards real servers, for the tunnel MTU check (default 1500). */
  mtu?: number;
}

/** Headroom the engine needs in front of a packet to encapsulate in place. */
export const TUNNEL_HEADROOM = 40;

const TEMPLATE_EXPIRE_LATER_MS = 60_000;

export class Engine {
  readonly settings: Settings;
  readonly conns: ConnTable;
  readonly totals = new Stats();
  /** Drop counters by DropReason. */
  readonly drops = new Float64Array(DROP_REASON_COUNT);
  /** Per-state timeouts in ms. */
  readonly tcpTimeouts = new Uint32Array(TCP_DEFAULT_TIMEOUTS.map((s) => s * 1000));
  udpTimeout = UDP_DEFAULT_TIMEOUT * 1000;
  readonly result = new PacketResult();

  /** Services in creation order. */
  readonly services: Service[] = [];
  /** Dests by id (including dests waiting in the trash); null = free slot. */
  readonly destById: (Dest | null)[] = [];
  private readonly trash: Dest[] = [];
  private readonly svcByAddr = new Map<number, Service[]>();
  private readonly svcByMark = new Map<number, Service[]>();
  private ftpSvcCount = 0;
  private port0SvcCount = 0;
  private readonly apps: AppHelper[] = [];
  /** Per-conn helper and sequence-adjust state (sparse: only helper conns). */
  readonly appOf = new Map<number, AppHelper>();
  readonly appData = new Map<number, number>();
  readonly seqs = new Map<number, Uint32Array>();

  private readonly pv = new PacketView();
  private readonly epv = new PacketView();
  /** The client packet inside an IPIP packet quoted by an ICMP error (§8.1 step 4). */
  private readonly ipv = new PacketView();
  private readonly spkt: SchedPacket = {
    af: 4,
    protocol: 0,
    saddr: new Uint32Array(4),
    sport: 0,
    daddr: new Uint32Array(4),
    dport: 0,
  };
  private readonly snet = newAddr();
  private readonly tmpAddr = newAddr();
  private readonly scratch = new Uint8Array(65536 + 128);
  private readonly schedCtx: SchedulerContext;
  private readonly random: () => number;
  private readonly tunnelSource: EngineOptions['tunnelSource'];
  private readonly tunSrc = new Map<number, Uint32Array>();
  readonly mtu: number;
  /** Engine clock (ms), the `now` of the last call. */
  now = 0;
  /**
   * End (exclusive index in the buffer) of the room the current packet may grow into:
   * `off + cap` of the `in`/`out` call. Helpers that lengthen a payload stay below it.
   */
  room = 0;
  /** Bytes before the packet that may be overwritten (tunnel headers), from `in`. */
  private headroom = 0;
  /** The current packet's checksum field holds a partial (offload) sum. */
  private partial = false;
  /**
   * Observer of the expiry routine (timer, "expire now", delete, one-packet release),
   * called with the conn id before anything changes: while `conns.nControl[id] > 0`
   * the expiry is deferred by 60 s, otherwise the conn is freed right after. For
   * `tsvs trace`; null otherwise, so it costs one null check per expiry.
   */
  onExpire: ((id: number) => void) | null = null;
  /**
   * Connection sync master (§12.4): called for every INPUT packet of a conn with its
   * new in_pkts (sync_threshold for ONE_PACKET conns), and for a conn that expires
   * later because it still controls others (with sync_threshold). Null when no master
   * sync daemon runs.
   */
  syncMaster: ((id: number, pkts: number) => void) | null = null;
  /** A backup sync daemon runs: with backup_only set, nothing is forwarded (§12.5). */
  syncBackup = false;
  private lastSecond = -1;
  private lastEstimate = -1;
  private lastTrash = -1;
  private ipId = 1;

  // defence state (§2.6, §2.9)
  private dropRate = 0;
  private dropCounter = 0;
  private secureTable = false;
  private readonly todropCounter = new Int32Array(9);
  /** Available memory in pages, as the caller last reported it. */
  availMem = Number.MAX_SAFE_INTEGER;

  constructor(opts: EngineOptions = {}) {
    registerBuiltinSchedulers();
    this.settings = { ...defaultSettings(), ...opts.settings };
    this.conns = new ConnTable(opts.capacity ?? 1024, opts.hashSeed);
    this.random = opts.random ?? Math.random;
    this.tunnelSource = opts.tunnelSource;
    this.mtu = opts.mtu ?? 1500;
    this.schedCtx = { random: this.random, settings: this.settings };
    this.secureTable = this.settings.secure_tcp > 1;
  }

  // ---------------------------------------------------------------------------
  // Administration (ipvsadm -A/-E/-D/-C/-a/-e/-d/-Z/--set)

  private keyOf(key: ServiceKey, op: IpvsOp): { addr: Uint32Array; port: number; mark: number } {
    const mark = key.fwmark ?? 0;
    if (mark !== 0) return { addr: newAddr(), port: 0, mark };
    const p = parseAddr(key.addr ?? '');
    if (!p || p.af !== key.af) throw new IpvsError(op, 'EINVAL', `bad address ${key.addr}`);
    const port = key.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new IpvsError(op, 'EINVAL', `bad port ${port}`);
    return { addr: p.words, port, mark: 0 };
  }

  /** Find a configured service by its key (exact, as ipvsadm addresses it). */
  findService(key: ServiceKey): Service | undefined {
    let k;
    try {
      k = this.keyOf(key, 'get service');
    } catch {
      return undefined;
    }
    for (const s of this.services) {
      if (s.af !== key.af) continue;
      if (k.mark !== 0) {
        if (s.fwmark === k.mark) return s;
      } else if (
        s.fwmark === 0 &&
        s.protocol === key.protocol &&
        s.port === k.port &&
        addrEqual(s.af, s.addr, k.addr)
      ) {
        return s;
      }
    }
    return undefined;
  }

  private svcHash(
    af: AddressFamily,
    proto: number,
    addr: ArrayLike<number>,
    aoff: number,
    port: number,
  ): number {
    return (Math.imul(foldAddr(af, addr, aoff) ^ (proto << 24) ^ af, 0x9e3779b1) ^ port) | 0;
  }

  private checkServiceOptions(op: IpvsOp, af: AddressFamily, opts: ServiceOptions): void {
    const name = opts.scheduler ?? 'wlc';
    if (!findScheduler(name)) throw new IpvsError(op, 'ENOENT', `scheduler ${name}`);
    if (opts.pe && opts.pe !== 'sip') throw new IpvsError(op, 'ENOENT', `pe ${opts.pe}`);
    if (af === 6 && opts.netmask !== undefined && (opts.netmask < 1 || opts.netmask > 128))
      throw new IpvsError(op, 'EINVAL', 'IPv6 prefix out of range');
  }

  private applyServiceOptions(svc: Service, opts: ServiceOptions): void {
    svc.flags = opts.flags ?? 0;
    svc.timeout = opts.timeout ?? 300;
    svc.netmask = opts.netmask ?? (svc.af === 4 ? 0xffffffff : 128);
    svc.peName = opts.pe ?? '';
    const name = opts.scheduler ?? 'wlc';
    if (svc.schedName !== name || !svc.scheduler) {
      svc.scheduler?.done?.(svc);
      svc.schedName = name;
      // a scheduler builds its state from the service's current dests in create()
      svc.scheduler = findScheduler(name)!.create(svc, this.schedCtx);
    }
  }

  /** ipvsadm -A. */
  addService(key: ServiceKey, opts: ServiceOptions = {}): Service {
    const k = this.keyOf(key, 'add service');
    if (this.findService(key)) throw new IpvsError('add service', 'EEXIST');
    this.checkServiceOptions('add service', key.af, opts);
    const svc = new Service(key.af, key.protocol, k.addr, k.port, k.mark);
    svc.id = this.services.length;
    this.applyServiceOptions(svc, opts);
    this.services.push(svc);
    this.linkService(svc);
    return svc;
  }

  private linkService(svc: Service): void {
    if (svc.fwmark !== 0) {
      const l = this.svcByMark.get(svc.fwmark) ?? [];
      l.push(svc);
      this.svcByMark.set(svc.fwmark, l);
    } else {
      const h = this.svcHash(svc.af, svc.protocol, svc.addr, 0, svc.port);
      const l = this.svcByAddr.get(h) ?? [];
      l.push(svc);
      this.svcByAddr.set(h, l);
      if (svc.port === 21) this.ftpSvcCount++;
      if (svc.port === 0) this.port0SvcCount++;
    }
  }

  private unlinkService(svc: Service): void {
    const m = svc.fwmark !== 0 ? this.svcByMark : this.svcByAddr;
    const h =
      svc.fwmark !== 0 ? svc.fwmark : this.svcHash(svc.af, svc.protocol, svc.addr, 0, svc.port);
    const l = m.get(h);
    if (l) {
      const i = l.indexOf(svc);
      if (i >= 0) l.splice(i, 1);
      if (l.length === 0) m.delete(h);
    }
    if (svc.fwmark === 0 && svc.port === 21) this.ftpSvcCount--;
    if (svc.fwmark === 0 && svc.port === 0) this.port0SvcCount--;
  }

  /** ipvsadm -E: replaces the service's parameters. */
  editService(key: ServiceKey, opts: ServiceOptions = {}): Service {
    const svc = this.findService(key);
    if (!svc) throw new IpvsError('edit service', 'ESRCH');
    this.checkServiceOptions('edit service', key.af, opts);
    this.applyServiceOptions(svc, opts);
    return svc;
  }

  /** ipvsadm -D: dests go to the trash; conns stay until they expire (§4.6). */
  delService(key: ServiceKey): void {
    const svc = this.findService(key);
    if (!svc) throw new IpvsError('delete service', 'ESRCH');
    this.removeService(svc);
  }

  private removeService(svc: Service): void {
    for (const d of svc.dests.slice()) this.unlinkDest(svc, d);
    svc.scheduler?.done?.(svc);
    this.unlinkService(svc);
    this.services.splice(this.services.indexOf(svc), 1);
    this.services.forEach((s, i) => (s.id = i));
  }

  /** ipvsadm -C. */
  flush(): void {
    for (const s of this.services.slice()) this.removeService(s);
  }

  private destAddr(
    svc: Service,
    opts: DestOptions,
    op: IpvsOp,
  ): { af: AddressFamily; words: Uint32Array } {
    const p = parseAddr(opts.addr);
    if (!p) throw new IpvsError(op, 'EINVAL', `bad address ${opts.addr}`);
    const fwd = opts.fwd ?? 'droute';
    if (p.af !== svc.af && fwd !== 'tunnel') throw new IpvsError(op, 'EINVAL', 'mixed family');
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535)
      throw new IpvsError(op, 'EINVAL', `bad port ${opts.port}`);
    return p;
  }

  private checkDest(op: IpvsOp, opts: DestOptions): void {
    const w = opts.weight ?? 1;
    if (!Number.isInteger(w) || w < 0 || w > 2147483647)
      throw new IpvsError(op, 'ERANGE', 'weight');
    const u = opts.uThreshold ?? 0;
    const l = opts.lThreshold ?? 0;
    if (u < 0 || l < 0 || l > u) throw new IpvsError(op, 'ERANGE', 'thresholds');
    if ((opts.tunType ?? 0) === 1 && (opts.tunPort ?? 0) === 0)
      throw new IpvsError(op, 'EINVAL', 'GUE needs a tunnel port');
  }

  private applyDest(d: Dest, opts: DestOptions): void {
    const fwd = opts.fwd ?? 'droute';
    d.setFwd(FWD_METHOD_FLAG[fwd]);
    const oldU = d.uThreshold;
    d.weight = opts.weight ?? 1;
    if (d.weight > 0) d.lastWeight = d.weight;
    d.uThreshold = opts.uThreshold ?? 0;
    d.lThreshold = opts.lThreshold ?? 0;
    if (d.uThreshold === 0 || d.uThreshold > oldU) d.flags &= ~DEST_F_OVERLOAD;
    d.tunType = opts.tunType ?? 0;
    d.tunPort = opts.tunPort ?? 0;
    d.tunFlags = opts.tunFlags ?? 0;
  }

  findDest(svc: Service, addr: string, port: number): Dest | undefined {
    const p = parseAddr(addr);
    if (!p) return undefined;
    return svc.dests.find(
      (d) => d.af === p.af && d.port === port && addrEqual(p.af, d.addr, p.words),
    );
  }

  /** ipvsadm -a: the new dest goes to the head of the list (§15). */
  addDest(key: ServiceKey, opts: DestOptions): Dest {
    const svc = this.findService(key);
    if (!svc) throw new IpvsError('add dest', 'ESRCH');
    const a = this.destAddr(svc, opts, 'add dest');
    this.checkDest('add dest', opts);
    if (this.findDest(svc, opts.addr, opts.port)) throw new IpvsError('add dest', 'EEXIST');
    // a dest waiting in the trash is brought back with its counters (§2.14)
    let d = this.trash.find(
      (t) =>
        t.svc === svc && t.af === a.af && t.port === opts.port && addrEqual(a.af, t.addr, a.words),
    );
    if (d) {
      this.trash.splice(this.trash.indexOf(d), 1);
      d.flags |= DEST_F_AVAILABLE;
    } else {
      d = new Dest(svc, a.af, a.words, opts.port);
      d.lastWeight = 0; // set only by a non-zero weight (a dest added quiesced has none)
      d.id = this.allocDestId(d);
    }
    this.applyDest(d, opts);
    svc.dests.unshift(d);
    svc.scheduler?.update(svc, 'add', d, 0);
    return d;
  }

  private allocDestId(d: Dest): number {
    const i = this.destById.indexOf(null);
    if (i >= 0) {
      this.destById[i] = d;
      return i;
    }
    this.destById.push(d);
    return this.destById.length - 1;
  }

  /** ipvsadm -e: replaces the dest's parameters. */
  editDest(key: ServiceKey, opts: DestOptions): Dest {
    const svc = this.findService(key);
    if (!svc) throw new IpvsError('edit dest', 'ESRCH');
    this.destAddr(svc, opts, 'edit dest');
    this.checkDest('edit dest', opts);
    const d = this.findDest(svc, opts.addr, opts.port);
    if (!d) throw new IpvsError('edit dest', 'ENOENT');
    this.applyDest(d, opts);
    svc.scheduler?.update(svc, 'edit', d, svc.dests.indexOf(d));
    return d;
  }

  /** ipvsadm -d: the dest goes to the trash (§2.14); its conns follow §2.12. */
  delDest(key: ServiceKey, addr: string, port: number): void {
    const svc = this.findService(key);
    if (!svc) throw new IpvsError('delete dest', 'ESRCH');
    const d = this.findDest(svc, addr, port);
    if (!d) throw new IpvsError('delete dest', 'ENOENT');
    this.unlinkDest(svc, d);
  }

  private unlinkDest(svc: Service, d: Dest): void {
    const i = svc.dests.indexOf(d);
    svc.dests.splice(i, 1);
    d.flags &= ~DEST_F_AVAILABLE;
    svc.scheduler?.update(svc, 'del', d, i);
    d.idleSince = this.now;
    this.trash.push(d);
    if (this.settings.expire_nodest_conn) this.flushNodestConns();
  }

  /** The background job of §2.12: delete every conn whose dest is not AVAILABLE. */
  private flushNodestConns(): void {
    const c = this.conns;
    for (const id of [...c.ids()]) {
      if (c.flags[id] === 0 && c.dest[id] < 0) continue;
      const d = c.dest[id] >= 0 ? this.destById[c.dest[id]] : null;
      if (d && !d.available && c.nControl[id] === 0 && this.isLive(id)) this.deleteConn(id);
    }
  }

  private isLive(id: number): boolean {
    return this.conns.armed(id) || (this.conns.flags[id] & CONN_F_ONE_PACKET) !== 0;
  }

  /** ipvsadm -Z [service]. */
  zero(key?: ServiceKey): void {
    if (key) {
      const svc = this.findService(key);
      if (!svc) throw new IpvsError('zero service', 'ESRCH');
      svc.stats.zero();
      for (const d of svc.dests) d.stats.zero();
      return;
    }
    for (const s of this.services) {
      s.stats.zero();
      for (const d of s.dests) d.stats.zero();
    }
    this.totals.zero();
  }

  /** ipvsadm --set tcp tcpfin udp (seconds; 0 leaves a value unchanged). */
  setTimeouts(t: { tcp?: number; tcpfin?: number; udp?: number }): void {
    const max = Math.floor(2147483647 / 100);
    for (const v of [t.tcp, t.tcpfin, t.udp])
      if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > max))
        throw new IpvsError('set timeout', 'EINVAL');
    if (t.tcp) this.tcpTimeouts[TCP_S_ESTABLISHED] = t.tcp * 1000;
    if (t.tcpfin) this.tcpTimeouts[TCP_S_FIN_WAIT] = t.tcpfin * 1000;
    if (t.udp) this.udpTimeout = t.udp * 1000;
  }

  getTimeouts(): { tcp: number; tcpfin: number; udp: number } {
    return {
      tcp: this.tcpTimeouts[TCP_S_ESTABLISHED] / 1000,
      tcpfin: this.tcpTimeouts[TCP_S_FIN_WAIT] / 1000,
      udp: this.udpTimeout / 1000,
    };
  }

  /** Set a timeout by protocol and state name (e.g. 'tcp', 'SYN_RECV', 30). */
  setStateTimeout(protocol: 'tcp' | 'udp', state: string, seconds: number): void {
    if (!Number.isInteger(seconds) || seconds < 0) throw new IpvsError('set timeout', 'EINVAL');
    if (protocol === 'udp') {
      if (state.toUpperCase() !== 'UDP' && state.toUpperCase() !== 'NORMAL')
        throw new IpvsError('set timeout', 'EINVAL', `unknown state ${state}`);
      this.udpTimeout = seconds * 1000;
      return;
    }
    const s = TCP_STATE_NAMES.indexOf(state.toUpperCase());
    if (s < 0) throw new IpvsError('set timeout', 'EINVAL', `unknown state ${state}`);
    this.tcpTimeouts[s] = seconds * 1000;
  }

  /** Register an application helper (FTP …) for its (protocol, ports). */
  registerApp(app: AppHelper): void {
    this.apps.push(app);
  }

  /** Ports of the registered helpers for a protocol (the data plane queues their data). */
  appPorts(protocol: number): number[] {
    const out: number[] = [];
    for (const a of this.apps) if (a.protocol === protocol) out.push(...a.ports);
    return out;
  }

  /** Sysctl-style update with side effects (secure_tcp switches tables at once). */
  updateDefense(): void {
    this.defenseLevel();
  }

  // ---------------------------------------------------------------------------
  // Connections: creation, binding, expiry (§4.6, §5)

  /**
   * Create a conn (ip_vs_conn_new). Addresses are word arrays with offsets; `dest` may
   * be null (bypass). Returns the id, hashed unless ONE_PACKET, timeout 3 s.
   */
  connNew(
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
    const c = this.conns;
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
    c.timeout[id] = 3000;
    if (this.settings.conntrack) flags |= CONN_F_NFCT;
    c.syncEnd[id] = (this.now & ~3) >>> 0;
    if (dest) {
      let df = dest.connFlags;
      if (proto !== IPPROTO_UDP) df &= ~CONN_F_ONE_PACKET;
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
    if (
      (flags & (CONN_F_FWD_MASK | CONN_F_TEMPLATE)) === CONN_F_MASQ &&
      !(flags & CONN_F_TEMPLATE)
    ) {
      for (const app of this.apps) {
        if (app.protocol === proto && app.ports.includes(vport)) {
          this.appOf.set(id, app);
          app.init?.(this, id);
          break;
        }
      }
    }
    if (!(flags & CONN_F_ONE_PACKET)) c.hash(id);
    return id;
  }

  /** Release after a packet: re-arm the idle timer (§4.6); ONE_PACKET conns die now. */
  connPut(id: number): void {
    const c = this.conns;
    if (c.flags[id] & CONN_F_ONE_PACKET) {
      c.timeout[id] = 0;
      this.expireConn(id);
      return;
    }
    c.arm(id, this.now);
  }

  /** Timer expiry (ip_vs_conn_expire). */
  private expireConn(id: number): void {
    if (this.onExpire !== null) this.onExpire(id);
    const c = this.conns;
    if (c.nControl[id] > 0) {
      // expire later: 60 s steps while it controls others (and the backup hears of it)
      c.timeout[id] = TEMPLATE_EXPIRE_LATER_MS;
      if (this.syncMaster !== null) this.syncMaster(id, this.settings.sync_threshold[0]);
      c.arm(id, this.now);
      return;
    }
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
        this.deleteConn(ct);
      }
    }
    const app = this.appOf.size > 0 ? this.appOf.get(id) : undefined;
    if (app) {
      app.done?.(this, id);
      this.appOf.delete(id);
      this.appData.delete(id);
      this.seqs.delete(id);
    }
    const flags = c.flags[id];
    const did = c.dest[id];
    if (did >= 0) {
      const d = this.destById[did];
      if (d) {
        d.unbind((flags & CONN_F_TEMPLATE) !== 0, (flags & CONN_F_INACTIVE) !== 0);
        if (d.refcnt === 0 && !d.available) d.idleSince = this.now;
      }
    }
    if (flags & CONN_F_NO_CPORT) c.noCportCount--;
    c.free(id);
  }

  /** Delete now (flush, drop_entry, nodest): the whole chain if it has a controller. */
  deleteConn(id: number): void {
    const c = this.conns;
    if (c.control[id] >= 0) c.timeout[id] = 0;
    c.disarm(id);
    this.expireConn(id);
  }

  /** Move a pending timer to now, handled synchronously (single-threaded). */
  expireNow(id: number): void {
    const c = this.conns;
    c.disarm(id);
    this.expireConn(id);
  }

  /** Make a controlled conn: ct controls id. */
  setControl(id: number, ct: number): void {
    this.conns.control[id] = ct;
    this.conns.nControl[ct]++;
  }

  private assureTemplate(id: number): void {
    const ct = this.conns.control[id];
    if (ct >= 0 && this.conns.flags[ct] & CONN_F_TEMPLATE) this.conns.state[ct] |= TEMPLATE_ASSURED;
  }

  /** State transition for a packet in direction dir (DIR_INPUT or DIR_OUTPUT). */
  private transition(id: number, dir: number, tcpFlags: number): void {
    const c = this.conns;
    if (c.proto[id] !== IPPROTO_TCP) {
      c.timeout[id] = this.udpTimeout;
      if (dir === DIR_OUTPUT) this.assureTemplate(id);
      return;
    }
    let block = dir;
    if (c.flags[id] & CONN_F_NOOUTPUT) {
      if (dir === DIR_OUTPUT) c.flags[id] &= ~CONN_F_NOOUTPUT;
      else block = DIR_INPUT_ONLY;
    }
    const cur = c.state[id];
    const next = tcpNextState(this.secureTable, block, tcpFlags, cur);
    const did = c.dest[id];
    if (next !== cur && did >= 0) {
      const d = this.destById[did];
      if (d) {
        const inactive = (c.flags[id] & CONN_F_INACTIVE) !== 0;
        if (!inactive && !tcpIsActive(next)) {
          d.activeconns--;
          d.inactconns++;
          c.flags[id] |= CONN_F_INACTIVE;
        } else if (inactive && tcpIsActive(next)) {
          d.activeconns++;
          d.inactconns--;
          c.flags[id] &= ~CONN_F_INACTIVE;
        }
      }
      if (next === TCP_S_ESTABLISHED) this.assureTemplate(id);
    }
    c.state[id] = next;
    c.timeout[id] = this.tcpTimeouts[next];
  }

  /** Put a conn into a given state (helpers: LISTEN for FTP data conns). */
  setState(id: number, state: number): void {
    const c = this.conns;
    if (c.proto[id] === IPPROTO_TCP) {
      const did = c.dest[id];
      const d = did >= 0 ? this.destById[did] : null;
      const inactive = (c.flags[id] & CONN_F_INACTIVE) !== 0;
      if (d && !inactive && !tcpIsActive(state)) {
        d.activeconns--;
        d.inactconns++;
        c.flags[id] |= CONN_F_INACTIVE;
      } else if (d && inactive && tcpIsActive(state)) {
        d.activeconns++;
        d.inactconns--;
        c.flags[id] &= ~CONN_F_INACTIVE;
      }
      c.state[id] = state;
      c.timeout[id] = this.tcpTimeouts[state];
    } else {
      c.state[id] = 0;
      c.timeout[id] = this.udpTimeout;
    }
  }

  // ---------------------------------------------------------------------------
  // Packet paths

  private drop(reason: number): number {
    this.drops[reason]++;
    const r = this.result;
    r.verdict = V_DROP;
    r.reason = reason;
    return V_DROP;
  }

  private accept(buf: Uint8Array, off: number, len: number): number {
    const r = this.result;
    r.verdict = V_ACCEPT;
    r.reason = 0;
    r.buf = buf;
    r.off = off;
    r.len = len;
    r.conn = NO_CONN;
    r.dest = -1;
    r.method = -1;
    return V_ACCEPT;
  }

  /**
   * Client → director packet (the kernel's `ip_vs_in`, §1.2). `buf[off..off+len)` is
   * one IP packet; it may be rewritten in place. Returns the verdict (also in
   * `this.result`). `cap` is the room the packet may grow into from `off` (helpers
   * lengthen payloads), `head` the bytes before `off` that may be overwritten: with
   * fewer than the tunnel header needs, the engine encapsulates into its own buffer.
   */
  in(
    buf: Uint8Array,
    off: number,
    len: number,
    now: number,
    mark = 0,
    pktFlags = 0,
    cap = buf.length - off,
    head = off,
  ): number {
    this.now = now;
    this.room = off + cap;
    this.headroom = head;
    this.partial = (pktFlags & PKT_CSUM_PARTIAL) !== 0;
    this.accept(buf, off, len);
    if (this.settings.backup_only && this.syncBackup) return V_ACCEPT;
    const pv = this.pv;
    const err = pv.parse(buf, off, len);
    if (err !== 0) return this.drop(DropReason.MALFORMED);
    const proto = pv.proto;
    if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) return this.icmpIn(pv, mark, pktFlags);
    if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) return V_ACCEPT;
    if (pv.frag === 2) return this.drop(DropReason.FRAGMENT);
    return this.inProto(pv, mark, pktFlags);
  }

  private inProto(pv: PacketView, mark: number, pktFlags: number): number {
    const c = this.conns;
    const af = pv.af as AddressFamily;
    const proto = pv.proto;
    const isSyn = proto === IPPROTO_TCP && (pv.tcpFlags & 0x02) !== 0;
    let id = c.inLookup(af, proto, pv.saddr, 0, pv.sport, pv.daddr, 0, pv.dport);
    if (id === NO_CONN && c.noCportCount > 0)
      id = c.inLookup(af, proto, pv.saddr, 0, 0, pv.daddr, 0, pv.dport);

    if (id !== NO_CONN) {
      // §2.11: a SYN for an existing conn
      if (isSyn && pv.frag === 0 && this.reuseCheck(id)) {
        if (c.nControl[id] === 0) this.expireNow(id);
        id = NO_CONN;
      } else {
        // §2.12: the conn's dest is gone
        const did = c.dest[id];
        const d = did >= 0 ? this.destById[did] : null;
        if (d && !d.available) {
          if (!this.settings.expire_nodest_conn) return this.drop(DropReason.NO_DEST_CONN);
          this.expireNow(id);
          id = NO_CONN;
          if (proto === IPPROTO_TCP && !isSyn && !this.settings.sloppy_tcp)
            return this.drop(DropReason.NO_DEST_CONN);
        }
      }
    }

    if (id === NO_CONN) {
      if (proto === IPPROTO_TCP) {
        if (pv.tcpFlags & 0x04) return V_ACCEPT; // RST never schedules
        if (!isSyn && !this.settings.sloppy_tcp) return V_ACCEPT;
      }
      if (pv.frag !== 0 && af === 6) return V_ACCEPT;
      const svc = this.serviceFind(af, mark, proto, pv.daddr, 0, pv.dport);
      if (!svc) return V_ACCEPT;
      if (this.todrop()) return this.drop(DropReason.DROP_PACKET_DEFENCE);
      const sp = this.spkt;
      sp.af = af;
      sp.protocol = proto;
      sp.saddr.set(pv.saddr);
      sp.sport = pv.sport;
      sp.daddr.set(pv.daddr);
      sp.dport = pv.dport;
      const r = this.schedule(svc, sp, mark, pktFlags);
      if (r === SCHED_IGNORE) return V_ACCEPT;
      if (r === SCHED_FATAL) return this.drop(DropReason.NO_ROOM);
      if (r === SCHED_NODEST) return this.leave(svc, pv, mark, false);
      id = r;
    }
    return this.inConn(id, pv, mark, pktFlags);
  }

  /** Count, transition, transmit and release for an INPUT packet on conn `id`. */
  private inConn(id: number, pv: PacketView, mark: number, pktFlags: number): number {
    const c = this.conns;
    const did = c.dest[id];
    const d = did >= 0 ? this.destById[did] : null;
    if (d && d.available) this.countIn(d, pv.l3len);
    this.transition(id, DIR_INPUT, pv.tcpFlags);
    const v = this.transmit(id, pv, mark, pktFlags);
    const sm = this.syncMaster;
    if (c.flags[id] & CONN_F_ONE_PACKET) {
      // the sync master counts the controller's packets itself
      if (sm !== null) sm(id, this.settings.sync_threshold[0]);
      else if (c.control[id] >= 0) c.inPkts[c.control[id]]++;
    } else {
      c.inPkts[id]++;
      if (sm !== null) sm(id, c.inPkts[id]);
    }
    this.connPut(id);
    return v;
  }

  private countIn(d: Dest, bytes: number): void {
    d.stats.inpkts++;
    d.stats.inbytes += bytes;
    d.svc.stats.inpkts++;
    d.svc.stats.inbytes += bytes;
    this.totals.inpkts++;
    this.totals.inbytes += bytes;
  }

  private countOut(d: Dest, bytes: number): void {
    d.stats.outpkts++;
    d.stats.outbytes += bytes;
    d.svc.stats.outpkts++;
    d.svc.stats.outbytes += bytes;
    this.totals.outpkts++;
    this.totals.outbytes += bytes;
  }

  private countConn(d: Dest): void {
    d.stats.conns++;
    d.svc.stats.conns++;
    this.totals.conns++;
  }

  /** Is this conn expected to be reused by a new SYN (§2.11)? */
  private reuseCheck(id: number): boolean {
    const c = this.conns;
    const s = this.settings;
    const did = c.dest[id];
    const d = did >= 0 ? this.destById[did] : null;
    if (s.expire_nodest_conn && d && d.weight === 0) return true;
    if (s.conn_reuse_mode === 0 || c.control[id] >= 0) return false;
    if (c.proto[id] !== IPPROTO_TCP) return false;
    const st = c.state[id];
    return (
      st === TCP_S_TIME_WAIT ||
      st === TCP_S_CLOSE ||
      ((s.conn_reuse_mode & 2) !== 0 &&
        st === TCP_S_FIN_WAIT &&
        (c.flags[id] & CONN_F_NOOUTPUT) !== 0)
    );
  }

  /** ip_vs_service_find (§4.1). */
  serviceFind(
    af: AddressFamily,
    mark: number,
    proto: number,
    vaddr: Uint32Array,
    voff: number,
    vport: number,
  ): Service | null {
    if (mark !== 0) {
      const l = this.svcByMark.get(mark);
      if (l) for (let i = 0; i < l.length; i++) if (l[i].af === af) return l[i];
    }
    let s = this.svcExact(af, proto, vaddr, voff, vport);
    if (s) return s;
    if (proto === IPPROTO_TCP && this.ftpSvcCount > 0 && (vport === 20 || vport >= 1024)) {
      s = this.svcExact(af, proto, vaddr, voff, 21);
      if (s) return s;
    }
    if (this.port0SvcCount > 0) {
      s = this.svcExact(af, proto, vaddr, voff, 0);
      if (s) return s;
    }
    return null;
  }

  private svcExact(
    af: AddressFamily,
    proto: number,
    vaddr: Uint32Array,
    voff: number,
    vport: number,
  ): Service | null {
    const l = this.svcByAddr.get(this.svcHash(af, proto, vaddr, voff, vport));
    if (!l) return null;
    for (let i = 0; i < l.length; i++) {
      const s = l[i];
      if (
        s.af === af &&
        s.protocol === proto &&
        s.port === vport &&
        s.addr[0] === vaddr[voff] &&
        (af === 4 ||
          (s.addr[1] === vaddr[voff + 1] &&
            s.addr[2] === vaddr[voff + 2] &&
            s.addr[3] === vaddr[voff + 3]))
      )
        return s;
    }
    return null;
  }

  /** ip_vs_schedule (§2.8): returns a conn id or SCHED_*. */
  private schedule(svc: Service, p: SchedPacket, mark: number, pktFlags: number): number {
    if (p.sport === 20) return SCHED_IGNORE;
    if (pktFlags & PKT_LOCAL) {
      // a reply from a local real server: a conn exists for the reversed tuple
      const r = this.conns.inLookup(p.af, p.protocol, p.daddr, 0, p.dport, p.saddr, 0, p.sport);
      if (r !== NO_CONN) return SCHED_IGNORE;
    }
    if (svc.flags & SVC_F_PERSISTENT) return this.schedPersist(svc, p, mark);
    if (svc.fwmark === 0 && p.dport !== svc.port) return SCHED_NODEST;
    const d = svc.scheduler ? svc.scheduler.schedule(svc, p, this.now) : null;
    if (!d) return SCHED_NODEST;
    return this.connFor(svc, p, d, d.port || p.dport, mark);
  }

  /** The conn for a scheduled packet (caddr/cport/vaddr/vport from it), counted (§2.8). */
  private connFor(svc: Service, p: SchedPacket, d: Dest, dport: number, mark: number): number {
    const flags = svc.flags & SVC_F_ONEPACKET && p.protocol === IPPROTO_UDP ? CONN_F_ONE_PACKET : 0;
    const id = this.connNew(
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
    this.countConn(d);
    return id;
  }

  /** ip_vs_sched_persist (§4.5). */
  private schedPersist(svc: Service, p: SchedPacket, mark: number): number {
    const c = this.conns;
    const snet = maskAddr(p.af, p.saddr, svc.netmask, this.snet);
    let tproto = p.protocol;
    let tvaddr = p.daddr;
    let tvport = 0;
    const vaddrMark = this.tmpAddr;
    if (p.dport === svc.port) {
      tvport = svc.port !== 21 ? svc.port : 0;
    } else if (svc.fwmark !== 0) {
      tproto = 0;
      vaddrMark[0] = svc.fwmark;
      vaddrMark[1] = vaddrMark[2] = vaddrMark[3] = 0;
      tvaddr = vaddrMark;
    }
    let t = c.templateLookup(p.af, tproto, snet, 0, tvaddr, tvport);
    let dest: Dest | null = null;
    if (t !== NO_CONN) {
      const d = this.destById[c.dest[t]];
      const valid =
        d !== null &&
        d !== undefined &&
        d.available &&
        !(this.settings.expire_quiescent_template && d.weight === 0);
      if (valid) {
        dest = d;
      } else {
        // neutralise: unmatchable, lives until its timer expires and it controls nobody
        if (c.cport[t] !== 0 || c.vport[t] !== 0xffff) {
          c.unhash(t);
          c.vport[t] = 0xffff;
          c.dport[t] = 0xffff;
          c.cport[t] = 0;
          c.hash(t);
        }
        t = NO_CONN;
      }
    }
    if (t === NO_CONN) {
      dest = svc.scheduler ? svc.scheduler.schedule(svc, p, this.now) : null;
      if (!dest) return SCHED_NODEST;
      const tdport = p.dport === svc.port && svc.port !== 21 ? dest.port : 0;
      t = this.connNew(
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
    }
    const d = dest!;
    const dport = p.dport === svc.port && d.port !== 0 ? d.port : p.dport;
    const id = this.connFor(svc, p, d, dport, mark);
    this.setControl(id, t);
    c.arm(t, this.now);
    return id;
  }

  /** ip_vs_leave (§2.10): no real server available. */
  private leave(svc: Service, pv: PacketView, mark: number, icmp: boolean): number {
    const s = this.settings;
    if (s.cache_bypass && svc.fwmark !== 0 && !icmp) {
      const flags =
        CONN_F_BYPASS |
        (svc.flags & SVC_F_ONEPACKET && pv.proto === IPPROTO_UDP ? CONN_F_ONE_PACKET : 0);
      const zero = this.tmpAddr.fill(0);
      const id = this.connNew(
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
      this.transition(id, DIR_INPUT, pv.tcpFlags);
      const v = this.transmit(id, pv, mark, 0);
      this.conns.inPkts[id]++;
      this.connPut(id);
      return v;
    }
    if (svc.port === 21 && pv.dport !== 21) return V_ACCEPT;
    if (icmp) return this.drop(DropReason.NO_DEST_AVAILABLE);
    this.drops[DropReason.NO_DEST_AVAILABLE]++;
    return this.replyIcmp(pv, pv.af === 4 ? 3 : 1, pv.af === 4 ? 3 : 4, 0, pv.daddr);
  }

  /** Build an ICMP error about the packet in `pv` into the scratch buffer: REPLY. */
  private replyIcmp(
    pv: PacketView,
    type: number,
    code: number,
    info: number,
    src: Uint32Array,
  ): number {
    return this.replyIcmpAbout(
      pv.buf,
      pv.l3off,
      pv.l3len,
      pv.af as AddressFamily,
      type,
      code,
      info,
      src,
      pv.saddr,
    );
  }

  /**
   * Build an ICMP error about the (possibly quoted, truncated) packet at
   * `buf[off..off+len)`, from `src`, into the scratch buffer; it goes to `to` (the
   * packet's source): REPLY.
   */
  private replyIcmpAbout(
    buf: Uint8Array,
    off: number,
    len: number,
    af: AddressFamily,
    type: number,
    code: number,
    info: number,
    src: Uint32Array,
    to: Uint32Array,
  ): number {
    const r = this.result;
    const n = buildIcmpError(
      this.scratch,
      0,
      this.scratch.length,
      buf,
      off,
      len,
      af,
      type,
      code,
      info,
      src,
    );
    if (n === 0) return this.drop(DropReason.NO_ROOM);
    r.verdict = V_REPLY;
    r.reason = 0;
    r.buf = this.scratch;
    r.off = 0;
    r.len = n;
    r.af = af;
    r.nextHop.set(to);
    r.method = -1;
    return V_REPLY;
  }

  // ---------------------------------------------------------------------------
  // Transmitters (§7)

  private transmit(id: number, pv: PacketView, mark: number, pktFlags: number): number {
    const c = this.conns;
    const r = this.result;
    const fwd = c.flags[id] & CONN_F_FWD_MASK;
    r.conn = id;
    r.dest = c.dest[id];
    r.method = fwd;
    switch (fwd) {
      case CONN_F_MASQ:
        return this.xmitNat(id, pv, mark, pktFlags);
      case CONN_F_DROUTE:
        return this.xmitDr(id, pv);
      case CONN_F_TUNNEL:
        return this.xmitTunnel(id, pv, pktFlags);
      case CONN_F_LOCALNODE:
        r.verdict = V_LOCAL;
        return V_LOCAL;
      case CONN_F_BYPASS:
        return this.xmitBypass(pv);
      default:
        return this.drop(DropReason.MALFORMED);
    }
  }

  private forward(pv: PacketView, af: AddressFamily, hop: ArrayLike<number>, hoff: number): number {
    const r = this.result;
    r.verdict = V_FORWARD;
    r.reason = 0;
    r.buf = pv.buf;
    r.off = pv.l3off;
    r.len = pv.l3len;
    r.af = af;
    for (let i = 0; i < 4; i++) r.nextHop[i] = af === 4 && i > 0 ? 0 : hop[hoff + i];
    return V_FORWARD;
  }

  /** TTL check and decrement for forwarded packets (§7.1, §7.6). */
  private ttlOk(pv: PacketView): boolean {
    return pv.ttl > 1;
  }

  private xmitNat(id: number, pv: PacketView, mark: number, pktFlags: number): number {
    const c = this.conns;
    const o = id * 4;
    if (c.flags[id] & CONN_F_NO_CPORT) {
      // §4.4: the first packet fills the client port
      c.unhash(id);
      c.cport[id] = pv.sport;
      c.flags[id] &= ~CONN_F_NO_CPORT;
      c.noCportCount--;
      c.hash(id);
    }
    if (!this.ttlOk(pv)) return this.ttlExceeded(pv);
    let full = false;
    const app = this.appOf.size > 0 ? this.appOf.get(id) : undefined;
    if (app) {
      if (!(pktFlags & (PKT_CSUM_OK | PKT_CSUM_PARTIAL)) && !verifyL4Checksum(pv))
        return this.drop(DropReason.BAD_CHECKSUM);
      const rv = this.appHook(app, id, pv, mark, true);
      if (rv === APP_DROP) return this.drop(DropReason.HELPER);
      full = rv === APP_MANGLED;
    }
    decTtl(pv);
    natRewrite(pv, c.daddr, o, c.dport[id], true, full, (pktFlags & PKT_CSUM_PARTIAL) !== 0);
    return this.forward(pv, c.af[id] as AddressFamily, c.daddr, o);
  }

  private xmitDr(id: number, pv: PacketView): number {
    if (!this.ttlOk(pv)) return this.ttlExceeded(pv);
    decTtl(pv);
    const c = this.conns;
    const d = this.destById[c.dest[id]];
    return this.forward(pv, d ? d.af : (pv.af as AddressFamily), c.daddr, id * 4);
  }

  private xmitBypass(pv: PacketView): number {
    if (!this.ttlOk(pv)) return this.ttlExceeded(pv);
    decTtl(pv);
    return this.forward(pv, pv.af as AddressFamily, pv.daddr, 0);
  }

  private xmitTunnel(id: number, pv: PacketView, pktFlags: number): number {
    const c = this.conns;
    const d = this.destById[c.dest[id]];
    if (!d) return this.drop(DropReason.NO_DEST_CONN);
    if (!this.ttlOk(pv)) return this.ttlExceeded(pv);
    const outerLen = d.af === 4 ? 20 : 40;
    const mtu = this.mtu - outerLen;
    // §7.1: DF set, too big, not GSO → frag-needed with the tunnel MTU
    if (!(pktFlags & PKT_GSO) && pv.l3len > mtu) {
      if (pv.af === 4 && this.settings.pmtu_disc && pv.buf[pv.l3off + 6] & 0x40) {
        this.drops[DropReason.FRAG_NEEDED]++;
        return this.replyIcmp(pv, 3, 4, mtu, pv.daddr);
      }
      if (pv.af === 6) {
        this.drops[DropReason.FRAG_NEEDED]++;
        return this.replyIcmp(pv, 2, 0, mtu, pv.daddr);
      }
    }
    decTtl(pv);
    let src = this.tunSrc.get(d.id);
    if (!src) {
      src = this.tunnelSource?.(d.af, d.addr) ?? new Uint32Array(4);
      this.tunSrc.set(d.id, src);
    }
    const r = this.result;
    let buf = pv.buf;
    let off = pv.l3off;
    if (off < outerLen || this.headroom < outerLen) {
      if (pv.l3len + outerLen > this.scratch.length) return this.drop(DropReason.NO_ROOM);
      this.scratch.set(buf.subarray(off, off + pv.l3len), outerLen);
      buf = this.scratch;
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
      this.settings.pmtu_disc !== 0,
      this.ipId++ & 0xffff,
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

  private ttlExceeded(pv: PacketView): number {
    this.drops[DropReason.TTL_EXCEEDED]++;
    return this.replyIcmp(pv, pv.af === 4 ? 11 : 3, 0, 0, pv.daddr);
  }

  // ---------------------------------------------------------------------------
  // Application helpers and sequence adjustment (§9.1)

  private seqOf(id: number): Uint32Array {
    let s = this.seqs.get(id);
    if (!s) {
      // in: init, delta, prev; out: init, delta, prev
      s = new Uint32Array(6);
      this.seqs.set(id, s);
    }
    return s;
  }

  /**
   * Sequence adjustment around a helper hook (§9.1). `toServer`: a client→RS packet
   * (its own changes are recorded in in_seq, the acks it carries refer to out_seq);
   * otherwise RS→client with the roles swapped. The records are [init, delta,
   * previous_delta] for in (s[0..2]) and out (s[3..5]).
   */
  private appHook(
    app: AppHelper,
    id: number,
    pv: PacketView,
    mark: number,
    toServer: boolean,
  ): number {
    const c = this.conns;
    if (pv.proto !== IPPROTO_TCP)
      return toServer
        ? app.in(this, id, pv, this.now, mark)
        : app.out(this, id, pv, this.now, mark);
    const s = this.seqOf(id);
    const own = toServer ? 0 : 3; // the record of changes made in this direction
    const peer = toServer ? 3 : 0; // the record whose changes our acks refer to
    const ownFlag = toServer ? CONN_F_IN_SEQ : CONN_F_OUT_SEQ;
    const peerFlag = toServer ? CONN_F_OUT_SEQ : CONN_F_IN_SEQ;
    const seq = pv.seq;
    const flags = c.flags[id];
    // setSeq/setAck patch the TCP checksum, so an APP_OK packet stays valid through
    // the address/port-only update of natRewrite.
    if (flags & ownFlag)
      pv.setSeq(seq + (after(seq, s[own]) ? s[own + 1] : s[own + 2]), !this.partial);
    if (flags & peerFlag) {
      // The ack is in the receiver's (changed) space: the changed segment starts there
      // at init_seq + previous_delta. The kernel compares with init_seq + delta, which
      // maps an ack of exactly the segment start beyond it when the payload shrank.
      const ack = pv.ack;
      const d = after(ack, (s[peer] + s[peer + 2]) >>> 0) ? s[peer + 1] : s[peer + 2];
      pv.setAck(ack - d, !this.partial);
    }
    const before = pv.l3len;
    const rv = toServer
      ? app.in(this, id, pv, this.now, mark)
      : app.out(this, id, pv, this.now, mark);
    const diff = pv.l3len - before;
    if (diff !== 0 && (!(c.flags[id] & ownFlag) || after(seq, s[own]))) {
      s[own + 2] = s[own + 1];
      s[own + 1] = (s[own + 1] + diff) >>> 0;
      s[own] = seq;
      c.flags[id] |= ownFlag;
    }
    return rv;
  }

  // ---------------------------------------------------------------------------
  // out: real server → client (§1.3)

  /**
   * Real server → client packet passing through the director (the kernel's
   * `ip_vs_out`). NAT replies are rewritten in place (FORWARD, next hop = client);
   * anything else is ACCEPTed unchanged (or answered per nat_icmp_send).
   */
  out(
    buf: Uint8Array,
    off: number,
    len: number,
    now: number,
    mark = 0,
    pktFlags = 0,
    cap = buf.length - off,
  ): number {
    this.now = now;
    this.room = off + cap;
    this.partial = (pktFlags & PKT_CSUM_PARTIAL) !== 0;
    this.accept(buf, off, len);
    const pv = this.pv;
    if (pv.parse(buf, off, len) !== 0) return this.drop(DropReason.MALFORMED);
    const proto = pv.proto;
    if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) return this.icmpOut(pv);
    if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) return V_ACCEPT;
    if (pv.frag === 2) return this.drop(DropReason.FRAGMENT);
    const af = pv.af as AddressFamily;
    const c = this.conns;
    const id = c.outLookup(af, proto, pv.saddr, 0, pv.sport, pv.daddr, 0, pv.dport);
    if (id === NO_CONN) {
      if (this.settings.nat_icmp_send && !(proto === IPPROTO_TCP && pv.tcpFlags & 0x04)) {
        if (this.isNatRealServer(af, proto, pv.saddr, pv.sport)) {
          this.drops[DropReason.NAT_ICMP_SEND]++;
          return this.replyIcmp(pv, af === 4 ? 3 : 1, af === 4 ? 3 : 4, 0, pv.daddr);
        }
      }
      return V_ACCEPT;
    }
    const r = this.result;
    r.conn = id;
    r.dest = c.dest[id];
    r.method = -1;
    const o = id * 4;
    if ((c.flags[id] & CONN_F_FWD_MASK) === CONN_F_MASQ) {
      let full = false;
      const app = this.appOf.size > 0 ? this.appOf.get(id) : undefined;
      if (app) {
        if (!(pktFlags & (PKT_CSUM_OK | PKT_CSUM_PARTIAL)) && !verifyL4Checksum(pv))
          return this.drop(DropReason.BAD_CHECKSUM);
        const rv = this.appHook(app, id, pv, mark, false);
        if (rv === APP_DROP) return this.drop(DropReason.HELPER);
        full = rv === APP_MANGLED;
      }
      natRewrite(pv, c.vaddr, o, c.vport[id], false, full, (pktFlags & PKT_CSUM_PARTIAL) !== 0);
      const did = c.dest[id];
      const d = did >= 0 ? this.destById[did] : null;
      if (d && d.available) this.countOut(d, pv.l3len);
      this.transition(id, DIR_OUTPUT, pv.tcpFlags);
      this.connPut(id);
      return this.forward(pv, af, c.caddr, o);
    }
    const did = c.dest[id];
    const d = did >= 0 ? this.destById[did] : null;
    if (d && d.available) this.countOut(d, pv.l3len);
    this.transition(id, DIR_OUTPUT, pv.tcpFlags);
    this.connPut(id);
    r.verdict = V_ACCEPT;
    return V_ACCEPT;
  }

  private isNatRealServer(
    af: AddressFamily,
    proto: number,
    addr: Uint32Array,
    port: number,
  ): boolean {
    for (const s of this.services) {
      if (s.af !== af || (s.fwmark === 0 && s.protocol !== proto)) continue;
      for (const d of s.dests)
        if (d.port === port && d.fwd === CONN_F_MASQ && addrEqual(af, d.addr, addr)) return true;
    }
    return false;
  }

  // ---------------------------------------------------------------------------
  // ICMP (§8)

  private isRelatedIcmp(pv: PacketView): boolean {
    if (pv.af === 4) return pv.icmpType === 3 || pv.icmpType === 4 || pv.icmpType === 11;
    return pv.icmpType < 128;
  }

  /**
   * Checks shared by both ICMP paths: a related error (types 3/4/11, ICMPv6 errors)
   * quoting a TCP/UDP header that is now parsed in `this.epv`. Returns -1 to go on,
   * otherwise the verdict for the packet.
   */
  private icmpRelated(pv: PacketView): number {
    if (pv.frag !== 0) return pv.af === 6 ? this.drop(DropReason.FRAGMENT) : V_ACCEPT;
    if (!this.isRelatedIcmp(pv)) return V_ACCEPT;
    const e = this.epv;
    if (!this.parseEmbedded(pv, e)) return V_ACCEPT;
    if (e.proto !== IPPROTO_TCP && e.proto !== IPPROTO_UDP) return V_ACCEPT;
    if (e.frag === 2) return V_ACCEPT;
    return -1;
  }

  /** Incoming ICMP error about a packet we sent to the client (§8.1). */
  private icmpIn(pv: PacketView, mark: number, pktFlags: number): number {
    const tun = this.icmpTunnel(pv, pktFlags);
    if (tun >= 0) return tun;
    const pre = this.icmpRelated(pv);
    if (pre >= 0) return pre;
    const e = this.epv;
    const af = e.af as AddressFamily;
    const c = this.conns;
    // the embedded packet went VIP → client: look it up reversed
    let id = c.inLookup(af, e.proto, e.daddr, 0, e.dport, e.saddr, 0, e.sport);
    if (id === NO_CONN) {
      if (!this.settings.schedule_icmp) return V_ACCEPT;
      const svc = this.serviceFind(af, mark, e.proto, e.saddr, 0, e.sport);
      if (!svc) return V_ACCEPT;
      const sp = this.spkt;
      sp.af = af;
      sp.protocol = e.proto;
      sp.saddr.set(e.daddr);
      sp.sport = e.dport;
      sp.daddr.set(e.saddr);
      sp.dport = e.sport;
      const r = this.schedule(svc, sp, mark, pktFlags);
      if (r === SCHED_IGNORE) return V_ACCEPT;
      if (r === SCHED_NODEST) return this.leave(svc, pv, mark, true);
      if (r < 0) return this.drop(DropReason.NO_ROOM);
      id = r;
    }
    if (!(pktFlags & PKT_CSUM_OK) && !verifyL4Checksum(pv))
      return this.drop(DropReason.BAD_CHECKSUM);
    const did = c.dest[id];
    const d = did >= 0 ? this.destById[did] : null;
    if (d && d.available) this.countIn(d, pv.l3len);
    const fwd = c.flags[id] & CONN_F_FWD_MASK;
    let v: number;
    if (fwd === CONN_F_MASQ) {
      if (!this.ttlOk(pv)) {
        v = this.ttlExceeded(pv);
      } else {
        const o = id * 4;
        decTtl(pv);
        // outer dst := RIP, embedded src := RIP, embedded sport := dport
        writeAddr(pv.buf, pv.daddrOff, c.daddr, o, pv.af as AddressFamily);
        writeAddr(e.buf, e.saddrOff, c.daddr, o, af);
        writePort(e.buf, e.l4off, c.dport[id]);
        if (af === 4) ipv4HeaderChecksum(e.buf, e.l3off, e.ihl);
        if (pv.af === 4) ipv4HeaderChecksum(pv.buf, pv.l3off, pv.ihl);
        icmpChecksumFill(pv);
        this.result.conn = id;
        this.result.dest = did;
        this.result.method = CONN_F_MASQ;
        v = this.forward(pv, af, c.daddr, o);
      }
    } else {
      v = this.transmit(id, pv, mark, pktFlags);
    }
    c.inPkts[id]++;
    this.connPut(id);
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
  private icmpTunnel(pv: PacketView, pktFlags: number): number {
    if (pv.af !== 4 || pv.frag !== 0 || !this.isRelatedIcmp(pv)) return -1;
    const e = this.epv;
    if (!this.parseEmbedded(pv, e) || e.frag !== 0) return -1;
    const end = pv.l3off + pv.l3len;
    const at = this.tunnelInner(e, end);
    if (at < 0) return -1;
    // the client's packet, as far as the error quotes it
    const inner = this.ipv;
    if (at >= end || inner.parseEmbedded(pv.buf, at, end - at) !== 0) return V_ACCEPT;
    if (inner.af !== 4 || (inner.proto !== IPPROTO_TCP && inner.proto !== IPPROTO_UDP))
      return V_ACCEPT;
    if (inner.frag === 2) return V_ACCEPT;
    const c = this.conns;
    const id = c.inLookup(4, inner.proto, inner.saddr, 0, inner.sport, inner.daddr, 0, inner.dport);
    if (id === NO_CONN) return V_ACCEPT;
    if (!(pktFlags & PKT_CSUM_OK) && !verifyL4Checksum(pv))
      return this.drop(DropReason.BAD_CHECKSUM);
    const did = c.dest[id];
    const cd = did >= 0 ? this.destById[did] : null;
    if (cd && cd.available) this.countOut(cd, pv.l3len);
    let info = 0;
    if (pv.icmpType === 3 && pv.icmpCode === 4) {
      // frag-needed: relayed only for a client packet with DF, its MTU less the
      // IPIP header (the kernel takes the MTU from the route it just updated)
      if (!(pv.buf[inner.l3off + 6] & 0x40)) return this.drop(DropReason.FRAG_NEEDED);
      let mtu = (pv.buf[pv.l4off + 6] << 8) | pv.buf[pv.l4off + 7];
      if (mtu > 68 + 20) mtu -= 20;
      info = mtu;
    }
    const v = this.replyIcmpAbout(
      pv.buf,
      inner.l3off,
      end - inner.l3off,
      4,
      pv.icmpType,
      pv.icmpCode,
      info,
      inner.daddr,
      inner.saddr,
    );
    this.result.conn = id;
    return v;
  }

  /**
   * Where the client's packet starts inside a quoted tunnel packet (`e`, the outer
   * header we sent): IPIP to a tunnel dest; UDP to a GUE dest's port with a GUE
   * version-0 data header carrying IPv4; GRE to a GRE dest with no flags but C and
   * protocol IPv4. -1 when `e` is none of those (§8.1 step 4).
   */
  private tunnelInner(e: PacketView, end: number): number {
    const b = e.buf;
    const o = e.l4off;
    const dest = (type: number, port: number): boolean => {
      for (const s of this.services)
        for (const d of s.dests)
          if (
            d.af === 4 &&
            d.fwd === CONN_F_TUNNEL &&
            d.tunType === type &&
            d.addr[0] === e.daddr[0] &&
            (port < 0 || d.tunPort === port)
          )
            return true;
      return false;
    };
    if (e.proto === IPPROTO_IPIP) return dest(TUNNEL_TYPE_IPIP, -1) ? o : -1;
    if (e.proto === IPPROTO_UDP && o + 12 <= end) {
      const g = b[o + 8];
      // GUE: version 0, C clear, proto_ctype 4 (IPIP)
      if (g >> 6 !== 0 || g & 0x20 || b[o + 9] !== IPPROTO_IPIP) return -1;
      if (!dest(TUNNEL_TYPE_GUE, (b[o + 2] << 8) | b[o + 3])) return -1;
      return o + 8 + 4 + (g & 0x1f) * 4;
    }
    if (e.proto === IPPROTO_GRE && o + 4 <= end) {
      const flags = (b[o] << 8) | b[o + 1];
      if ((flags & ~0x8000) !== 0 || ((b[o + 2] << 8) | b[o + 3]) !== 0x0800) return -1;
      if (!dest(TUNNEL_TYPE_GRE, -1)) return -1;
      return o + (flags & 0x8000 ? 8 : 4);
    }
    return -1;
  }

  /** Outgoing ICMP error from a real server about a client packet (§8.2). */
  private icmpOut(pv: PacketView): number {
    const pre = this.icmpRelated(pv);
    if (pre >= 0) return pre;
    const e = this.epv;
    const af = e.af as AddressFamily;
    const c = this.conns;
    // embedded: client → RIP; reversed it is RIP → client
    const id = c.outLookup(af, e.proto, e.daddr, 0, e.dport, e.saddr, 0, e.sport);
    if (id === NO_CONN) return V_ACCEPT;
    const o = id * 4;
    const did = c.dest[id];
    const d = did >= 0 ? this.destById[did] : null;
    const r = this.result;
    if ((c.flags[id] & CONN_F_FWD_MASK) === CONN_F_MASQ) {
      if (!verifyL4Checksum(pv)) return this.drop(DropReason.BAD_CHECKSUM);
      writeAddr(pv.buf, pv.saddrOff, c.vaddr, o, pv.af as AddressFamily);
      writeAddr(e.buf, e.daddrOff, c.vaddr, o, af);
      writePort(e.buf, e.l4off + 2, c.vport[id]);
      if (af === 4) ipv4HeaderChecksum(e.buf, e.l3off, e.ihl);
      if (pv.af === 4) ipv4HeaderChecksum(pv.buf, pv.l3off, pv.ihl);
      icmpChecksumFill(pv);
      if (d && d.available) this.countOut(d, pv.l3len);
      r.conn = id;
      r.dest = did;
      this.connPut(id);
      return this.forward(pv, af, c.caddr, o);
    }
    if (d && d.available) this.countOut(d, pv.l3len);
    this.connPut(id);
    return V_ACCEPT;
  }

  /** Parse the IP header embedded in the ICMP error in `pv` into `e`. */
  private parseEmbedded(pv: PacketView, e: PacketView): boolean {
    const start = pv.l4off + 8;
    const end = pv.l3off + pv.l3len;
    if (start >= end) return false;
    return e.parseEmbedded(pv.buf, start, end - start) === 0;
  }

  // ---------------------------------------------------------------------------
  // Timers and periodic work

  /**
   * Advance the engine clock: expire conns, run the defence update (once a second),
   * the rate estimators (every 2 s), scheduler GC and the dest trash (every 60 s).
   * `availMem` is the available-memory figure (pages) for the automatic defences.
   */
  tick(now: number, availMem?: number): void {
    this.now = now;
    if (availMem !== undefined) this.availMem = availMem;
    this.conns.advance(now, this.expireCb);
    const sec = Math.floor(now / 1000);
    if (sec !== this.lastSecond) {
      this.lastSecond = sec;
      this.defenseLevel();
      if (this.dropEntryActive) this.randomDropEntry();
      for (const s of this.services) s.scheduler?.tick?.(s, now);
    }
    if (this.lastEstimate < 0) this.lastEstimate = now;
    if (
      now - this.lastEstimate >= 2000 &&
      this.settings.run_estimation &&
      this.services.length > 0
    ) {
      while (now - this.lastEstimate >= 2000) {
        this.lastEstimate += 2000;
        this.totals.estimate();
        for (const s of this.services) {
          s.stats.estimate();
          for (const d of s.dests) d.stats.estimate();
        }
      }
    }
    if (this.lastTrash < 0) this.lastTrash = now;
    if (now - this.lastTrash >= 60_000) {
      this.lastTrash = now;
      for (let i = this.trash.length - 1; i >= 0; i--) {
        const d = this.trash[i];
        if (d.refcnt === 0 && now - d.idleSince >= 120_000) {
          this.trash.splice(i, 1);
          this.destById[d.id] = null;
        }
      }
    }
  }

  private readonly expireCb = (id: number): void => this.expireConn(id);

  private dropEntryActive = false;

  /** update_defense_level (§2.6, §2.9). */
  private defenseLevel(): void {
    const s = this.settings;
    const avail = this.availMem;
    const nomem = avail < s.amemthresh;
    // drop_entry
    switch (s.drop_entry) {
      case 0:
        this.dropEntryActive = false;
        break;
      case 1:
        if (nomem) {
          this.dropEntryActive = true;
          s.drop_entry = 2;
        } else this.dropEntryActive = false;
        break;
      case 2:
        if (nomem) this.dropEntryActive = true;
        else {
          this.dropEntryActive = false;
          s.drop_entry = 1;
        }
        break;
      case 3:
        this.dropEntryActive = true;
        break;
    }
    // drop_packet
    switch (s.drop_packet) {
      case 0:
        this.dropRate = 0;
        break;
      case 1:
      case 2:
        if (nomem) {
          const diff = s.amemthresh - avail;
          this.dropRate = this.dropCounter = diff > 0 ? Math.floor(s.amemthresh / diff) : 0;
          s.drop_packet = 2;
        } else {
          this.dropRate = 0;
          s.drop_packet = 1;
        }
        break;
      case 3:
        this.dropRate = s.am_droprate;
        break;
    }
    // secure_tcp
    switch (s.secure_tcp) {
      case 1:
        if (nomem) s.secure_tcp = 2;
        break;
      case 2:
        if (!nomem) s.secure_tcp = 1;
        break;
    }
    this.secureTable = s.secure_tcp > 1;
  }

  /** ip_vs_todrop: one of every drop_rate new-connection packets (§2.9). */
  private todrop(): boolean {
    if (this.dropRate === 0) return false;
    if (--this.dropCounter > 0) return false;
    this.dropCounter = this.dropRate;
    return true;
  }

  /** The "todrop" entry test of §2.9. */
  private todropEntry(id: number): boolean {
    const c = this.conns;
    // keep if idle < 60 s: timeout + now < expires + 60 s
    if (c.timeout[id] + this.now < c.expires[id] + 60_000) return false;
    const i = c.inPkts[id];
    if (i > 8) return false;
    if (i === 0) return false;
    if (--this.todropCounter[i] > 0) return false;
    this.todropCounter[i] = i;
    return true;
  }

  /** ip_vs_random_dropentry: scan 1/32 of the table at random (§2.9). */
  private randomDropEntry(): void {
    const c = this.conns;
    const n = Math.max(1, Math.ceil(c.cap / 32));
    const start = Math.floor(this.random() * c.cap);
    for (let k = 0; k < n; k++) {
      const id = (start + k) % c.cap;
      if (!c.armed(id) || c.nControl[id] > 0) continue;
      const f = c.flags[id];
      let drop = false;
      if (f & CONN_F_TEMPLATE) {
        const d = this.destById[c.dest[id]];
        if (d && d.svc.flags & SVC_F_ONEPACKET) drop = this.todropEntry(id);
        else drop = !(c.state[id] & TEMPLATE_ASSURED);
      } else if (c.proto[id] === IPPROTO_TCP) {
        const st = c.state[id];
        if (st === TCP_S_SYN_RECV || st === TCP_S_SYNACK) drop = true;
        else if (st === TCP_S_ESTABLISHED) drop = this.todropEntry(id);
      } else {
        drop = this.todropEntry(id);
      }
      if (drop) this.deleteConn(id);
    }
  }

  /** Whether the secure_tcp table is currently in use. */
  get secureTcpActive(): boolean {
    return this.secureTable;
  }

  // ---------------------------------------------------------------------------
  // Views

  /** State name of a conn as ipvsadm prints it. */
  stateName(id: number): string {
    const c = this.conns;
    if (c.flags[id] & CONN_F_TEMPLATE) return c.state[id] & TEMPLATE_ASSURED ? 'ASSURED' : 'NONE';
    if (c.proto[id] === IPPROTO_TCP) return TCP_STATE_NAMES[c.state[id]] ?? 'BUG!';
    if (c.proto[id] === IPPROTO_UDP) return 'UDP';
    return 'NONE';
  }

  connInfo(id: number): ConnInfo {
    const c = this.conns;
    const af = c.af[id] as AddressFamily;
    const o = id * 4;
    const did = c.dest[id];
    const d = did >= 0 ? this.destById[did] : null;
    const daf = d ? d.af : af;
    const flags = c.flags[id];
    return {
      id,
      af,
      protocol: c.proto[id],
      caddr: formatAddr(af, c.caddr, o),
      cport: c.cport[id],
      vaddr:
        c.proto[id] === 0 && flags & CONN_F_TEMPLATE
          ? String(c.vaddr[o])
          : formatAddr(af, c.vaddr, o),
      vport: c.vport[id],
      daddr: formatAddr(daf, c.daddr, o),
      dport: c.dport[id],
      state: this.stateName(id),
      expires: Math.max(0, Math.ceil((c.expires[id] - this.now) / 1000)),
      flags,
      fwmark: c.fwmark[id],
      control: c.control[id],
      nControl: c.nControl[id],
      inPkts: c.inPkts[id],
      template: (flags & CONN_F_TEMPLATE) !== 0,
    };
  }

  /** Every live conn (admin path; allocates). */
  connections(): ConnInfo[] {
    const out: ConnInfo[] = [];
    for (const id of this.conns.ids()) out.push(this.connInfo(id));
    return out;
  }

  /** Dests waiting in the trash (deleted, still referenced). */
  get trashDests(): readonly Dest[] {
    return this.trash;
  }

  /** Mark a packet's L3/L4 lengths changed by a helper (payload resized by `delta`). */
  resizePayload(pv: PacketView, delta: number): void {
    pv.resize(delta);
  }
}

/** 32-bit serial-number comparison: a after b. */
function after(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

export { V_ACCEPT, V_DROP, V_FORWARD, V_LOCAL, V_REPLY, DropReason };
export { TCP_S_LISTEN, TCP_S_SYN_RECV, TCP_S_ESTABLISHED };
