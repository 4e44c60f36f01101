/**
 * The IPVS engine: services, dests, the connection table and the `in` / `out` / ICMP
 * packet paths of spec §1–§8. Pure and deterministic: bytes in, verdicts out, time
 * passed in by the caller (ms). Create as many engines as you like.
 *
 * `Engine` is the facade: the state lives in an {@link Ipvs} (the kernel's
 * netns_ipvs) and the work in plain functions over it, one concept to a file —
 * core.ts (in/out), icmp.ts, schedule.ts, conn/, proto/, xmit/, ctl.ts, defense.ts.
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
import type { AddressFamily } from './constants.js';
import { ConnTable, type ConnNewArgs } from './conn/table.js';
import {
  connDelete,
  connExpireNow,
  connNew,
  connPut,
  connSetControl,
  connSetState,
} from './conn/conn.js';
import { connInfo, connStateName, type ConnInfo } from './conn/info.js';
import { ipvsIn, ipvsOut } from './core.js';
import * as ctl from './ctl.js';
import { updateDefenseLevel } from './defense.js';
import { Ipvs, type FastpathHooks, type TunnelSource } from './ipvs.js';
import { defaultTimeoutTables, tcpProtocol, udpProtocol } from './proto/index.js';
import { UDP_S_NORMAL } from './proto/udp.js';
import { registerBuiltinSchedulers } from './sched/index.js';
import type { Dest, Service } from './service.js';
import { defaultSettings, type Settings } from './settings.js';
import type { DestSpec, ServiceId, ServiceParams, Timeouts } from './spec.js';
import type { Stats } from './stats.js';
import { expireCallback, ipvsTick } from './timer.js';
import type { PacketResult } from './verdict.js';
import type { AppContext, AppHelper } from './app/types.js';
import { appPorts, registerApp } from './app/seq.js';
import { serviceFind } from './svc.js';
import type { PacketView } from '../wire/packet.js';

export { PKT_CSUM_OK, PKT_CSUM_PARTIAL, PKT_GSO, PKT_LOCAL, PKT_TUNNELED } from './ipvs.js';
export type { FastpathHooks } from './ipvs.js';
export { PacketResult, Why, WHY_NAMES } from './verdict.js';
export type { ConnInfo } from './conn/info.js';

/** What a service is identified by (ipvsadm -t/-u/-f): spec.ts's one shape. */
export type ServiceKey = ServiceId;
/** A service's parameters: spec.ts's one shape. */
export type ServiceOptions = ServiceParams;
/** A real server: spec.ts's one shape. */
export type DestOptions = DestSpec;

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
  tunnelSource?: TunnelSource;
  /** Path MTU towards real servers, for the tunnel MTU check (default 1500). */
  mtu?: number;
}

/** Headroom the engine needs in front of a packet to encapsulate in place. */
export const TUNNEL_HEADROOM = 40;

export class Engine implements AppContext {
  /** The engine's state (netns_ipvs); everything below reads and writes it. */
  readonly ipvs: Ipvs;
  private readonly expireCb: (id: number) => void;

  constructor(opts: EngineOptions = {}) {
    registerBuiltinSchedulers();
    const settings = { ...defaultSettings(), ...opts.settings };
    this.ipvs = new Ipvs(
      settings,
      new ConnTable(opts.capacity ?? 1024, opts.hashSeed),
      defaultTimeoutTables(),
      opts.random ?? Math.random,
      opts.tunnelSource,
      opts.mtu ?? 1500,
    );
    this.ipvs.appCtx = this;
    this.expireCb = expireCallback(this.ipvs);
  }

  // ---------------------------------------------------------------------------
  // State, as callers have always seen it

  get settings(): Settings {
    return this.ipvs.settings;
  }
  get conns(): ConnTable {
    return this.ipvs.conns;
  }
  get totals(): Stats {
    return this.ipvs.totals;
  }
  /** Drop counters by DropReason. */
  get drops(): Float64Array {
    return this.ipvs.drops;
  }
  /** TCP per-state timeouts in ms. */
  get tcpTimeouts(): Uint32Array {
    return this.ipvs.timeouts[tcpProtocol.protocol];
  }
  /** The UDP timeout in ms. */
  get udpTimeout(): number {
    return this.ipvs.timeouts[udpProtocol.protocol][UDP_S_NORMAL];
  }
  set udpTimeout(ms: number) {
    this.ipvs.timeouts[udpProtocol.protocol][UDP_S_NORMAL] = ms;
  }
  get result(): PacketResult {
    return this.ipvs.result;
  }
  /** Services in creation order. */
  get services(): Service[] {
    return this.ipvs.services;
  }
  /** Dests by id (including dests waiting in the trash); null = free slot. */
  get destById(): (Dest | null)[] {
    return this.ipvs.destById;
  }
  /** Dests waiting in the trash (deleted, still referenced). */
  get trashDests(): readonly Dest[] {
    return this.ipvs.trash;
  }
  /** Per-conn helper and sequence-adjust state (sparse: only helper conns). */
  get appOf(): Map<number, AppHelper> {
    return this.ipvs.appOf;
  }
  get appData(): Map<number, number> {
    return this.ipvs.appData;
  }
  get seqs(): Map<number, Uint32Array> {
    return this.ipvs.seqs;
  }
  get mtu(): number {
    return this.ipvs.mtu;
  }
  /** Engine clock (ms), the `now` of the last call. */
  get now(): number {
    return this.ipvs.now;
  }
  set now(ms: number) {
    this.ipvs.now = ms;
  }
  /**
   * End (exclusive index in the buffer) of the room the current packet may grow into:
   * `off + cap` of the `in`/`out` call. Helpers that lengthen a payload stay below it.
   */
  get room(): number {
    return this.ipvs.room;
  }
  set room(end: number) {
    this.ipvs.room = end;
  }
  /**
   * Observer of the expiry routine (timer, "expire now", delete, one-packet release),
   * called with the conn id before anything changes: while `conns.nControl[id] > 0`
   * the expiry is deferred by 60 s, otherwise the conn is freed right after. For
   * `tsvs trace`; null otherwise, so it costs one null check per expiry.
   */
  get onExpire(): ((id: number) => void) | null {
    return this.ipvs.onExpire;
  }
  set onExpire(f: ((id: number) => void) | null) {
    this.ipvs.onExpire = f;
  }
  /**
   * Connection sync master (§12.4): called for every INPUT packet of a conn with its
   * new in_pkts (sync_threshold for ONE_PACKET conns), and for a conn that expires
   * later because it still controls others (with sync_threshold). Null when no master
   * sync daemon runs.
   */
  get syncMaster(): ((id: number, pkts: number) => void) | null {
    return this.ipvs.syncMaster;
  }
  set syncMaster(f: ((id: number, pkts: number) => void) | null) {
    this.ipvs.syncMaster = f;
  }
  /**
   * The data plane's established-flow fast path: asked before a conn's timer expires
   * it, told before a conn is freed (see `FastpathHooks`). Null without one.
   */
  get fastpath(): FastpathHooks | null {
    return this.ipvs.fastpath;
  }
  set fastpath(f: FastpathHooks | null) {
    this.ipvs.fastpath = f;
  }
  /** A backup sync daemon runs: with backup_only set, nothing is forwarded (§12.5). */
  get syncBackup(): boolean {
    return this.ipvs.syncBackup;
  }
  set syncBackup(on: boolean) {
    this.ipvs.syncBackup = on;
  }
  /** Available memory in pages, as the caller last reported it. */
  get availMem(): number {
    return this.ipvs.availMem;
  }
  set availMem(pages: number) {
    this.ipvs.availMem = pages;
  }
  /** Whether the secure_tcp table is currently in use. */
  get secureTcpActive(): boolean {
    return this.ipvs.secureTable;
  }

  // ---------------------------------------------------------------------------
  // Administration (ipvsadm -A/-E/-D/-C/-a/-e/-d/-Z/--set): ctl.ts

  /** Find a configured service by its key (exact, as ipvsadm addresses it). */
  findService(key: ServiceKey): Service | undefined {
    return ctl.findService(this.ipvs, key);
  }
  /** ipvsadm -A. */
  addService(key: ServiceKey, opts: ServiceOptions = {}): Service {
    return ctl.addService(this.ipvs, key, opts);
  }
  /** ipvsadm -E: replaces the service's parameters. */
  editService(key: ServiceKey, opts: ServiceOptions = {}): Service {
    return ctl.editService(this.ipvs, key, opts);
  }
  /** ipvsadm -D: dests go to the trash; conns stay until they expire (§4.6). */
  delService(key: ServiceKey): void {
    ctl.delService(this.ipvs, key);
  }
  /** ipvsadm -C. */
  flush(): void {
    ctl.flush(this.ipvs);
  }
  findDest(svc: Service, addr: string, port: number): Dest | undefined {
    return ctl.findDest(svc, addr, port);
  }
  /** ipvsadm -a: the new dest goes to the head of the list (§15). */
  addDest(key: ServiceKey, opts: DestOptions): Dest {
    return ctl.addDest(this.ipvs, key, opts);
  }
  /** ipvsadm -e: replaces the dest's parameters. */
  editDest(key: ServiceKey, opts: DestOptions): Dest {
    return ctl.editDest(this.ipvs, key, opts);
  }
  /** ipvsadm -d: the dest goes to the trash (§2.14); its conns follow §2.12. */
  delDest(key: ServiceKey, addr: string, port: number): void {
    ctl.delDest(this.ipvs, key, addr, port);
  }
  /** ipvsadm -Z [service]. */
  zero(key?: ServiceKey): void {
    ctl.zero(this.ipvs, key);
  }
  /** ipvsadm --set tcp tcpfin udp (seconds; 0 leaves a value unchanged). */
  setTimeouts(t: Partial<Timeouts>): void {
    ctl.setTimeouts(this.ipvs, t);
  }
  getTimeouts(): Timeouts {
    return ctl.getTimeouts(this.ipvs);
  }
  /** Set a timeout by protocol and state name (e.g. 'tcp', 'SYN_RECV', 30). */
  setStateTimeout(protocol: 'tcp' | 'udp' | 'sctp', state: string, seconds: number): void {
    ctl.setStateTimeout(this.ipvs, protocol, state, seconds);
  }
  /** Register an application helper (FTP …) for its (protocol, ports). */
  registerApp(app: AppHelper): void {
    registerApp(this.ipvs, app);
  }
  /** Ports of the registered helpers for a protocol (the data plane queues their data). */
  appPorts(protocol: number): number[] {
    return appPorts(this.ipvs, protocol);
  }
  /** Sysctl-style update with side effects (secure_tcp switches tables at once). */
  updateDefense(): void {
    updateDefenseLevel(this.ipvs);
  }

  // ---------------------------------------------------------------------------
  // Connections (helpers and sync create and release them): conn/conn.ts

  /**
   * Create a conn (ip_vs_conn_new). Addresses are word arrays with offsets; `dest` may
   * be null (bypass). Returns the id, hashed unless ONE_PACKET, timeout 3 s.
   */
  connNew(...args: ConnNewArgs): number {
    return connNew(this.ipvs, ...args);
  }
  /** Release after a packet: re-arm the idle timer (§4.6); ONE_PACKET conns die now. */
  connPut(id: number): void {
    connPut(this.ipvs, id);
  }
  /** Delete now (flush, drop_entry, nodest): the whole chain if it has a controller. */
  deleteConn(id: number): void {
    connDelete(this.ipvs, id);
  }
  /** Move a pending timer to now, handled synchronously (single-threaded). */
  expireNow(id: number): void {
    connExpireNow(this.ipvs, id);
  }
  /** Make a controlled conn: ct controls id. */
  setControl(id: number, ct: number): void {
    connSetControl(this.ipvs, id, ct);
  }
  /** Put a conn into a given state (helpers: LISTEN for FTP data conns). */
  setState(id: number, state: number): void {
    connSetState(this.ipvs, id, state);
  }
  /** Mark a packet's L3/L4 lengths changed by a helper (payload resized by `delta`). */
  resizePayload(pv: PacketView, delta: number): void {
    pv.resize(delta);
  }

  // ---------------------------------------------------------------------------
  // Packet paths: core.ts, icmp.ts

  /**
   * Client → director packet (the kernel's `ip_vs_in`, §1.2). `buf[off..off+len)` is
   * one IP packet; it may be rewritten in place. Returns the verdict (also in
   * `this.result`, with `result.why`). `cap` is the room the packet may grow into from
   * `off` (helpers lengthen payloads), `head` the bytes before `off` that may be
   * overwritten: with fewer than the tunnel header needs, the engine encapsulates
   * into its own buffer.
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
    return ipvsIn(this.ipvs, buf, off, len, now, mark, pktFlags, cap, head);
  }

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
    return ipvsOut(this.ipvs, buf, off, len, now, mark, pktFlags, cap);
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
    return serviceFind(this.ipvs, af, mark, proto, vaddr, voff, vport);
  }

  // ---------------------------------------------------------------------------
  // Timers: timer.ts

  /**
   * Advance the engine clock: expire conns, run the defence update (once a second),
   * the rate estimators (every 2 s), scheduler GC and the dest trash (every 60 s).
   * `availMem` is the available-memory figure (pages) for the automatic defences.
   */
  tick(now: number, availMem?: number): void {
    if (availMem !== undefined) this.ipvs.availMem = availMem;
    ipvsTick(this.ipvs, now, this.expireCb);
  }

  // ---------------------------------------------------------------------------
  // Views: conn/info.ts

  /** State name of a conn as ipvsadm prints it. */
  stateName(id: number): string {
    return connStateName(this.ipvs, id);
  }
  connInfo(id: number): ConnInfo {
    return connInfo(this.ipvs, id);
  }
  /** Every live conn (admin path; allocates). */
  connections(): ConnInfo[] {
    const out: ConnInfo[] = [];
    for (const id of this.ipvs.conns.ids()) out.push(connInfo(this.ipvs, id));
    return out;
  }
}

export { V_ACCEPT, V_DROP, V_FORWARD, V_LOCAL, V_REPLY, DropReason } from './drop.js';
export { TCP_S_LISTEN, TCP_S_SYN_RECV, TCP_S_ESTABLISHED } from './proto/tcp.js';
