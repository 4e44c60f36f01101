/**
 * The current numbers, once: every figure the metrics endpoint (and the web page)
 * shows, read from the engine through the control model at the moment someone asks
 * — never counted per packet here. {@link takeSnapshot} is the one function the
 * Prometheus registry, the node_exporter families and the dashboard all read.
 *
 * @module
 */
import type { ControlModel, DestEntry, ServiceEntry } from '../control/model.js';
import type { DaemonEntry } from '../control/daemons.js';
import { DROP_REASON_NAMES } from '../engine/drop.js';
import { SP_COUNTER_NAMES } from '../engine/synproxy-state.js';
import type { RateSnapshot, StatsSnapshot } from '../engine/stats.js';
import { protoName } from '../engine/spec.js';

/** A health-checked real server, as the health manager reports it. */
export interface HealthReport {
  /** The virtual service as ipvsadm names it: `TCP 10.0.0.1:80`, `TCP [fd00::1]:80`, `FWM 7`. */
  service: string;
  servers: { server: string; alive: boolean }[];
}

/** A sync daemon's counters, as the sync daemons report them. */
export interface SyncReport {
  role: string;
  datagrams: number;
  conns: number;
}

/** The established-flow fast path (docs/dataplane.md), as the director reports it. */
export interface FastpathReport {
  /**
   * One of FASTPATH_STATES (./fastpath.ts): `active`; `suspended` while a defence or
   * backup_only is in effect; else why it is off: `disabled` (--no-fastpath,
   * TSVS_FASTPATH=0), `no_steering`, `refused` (not built, loaded or attached),
   * `stopped`.
   */
  state: string;
  /** The detail: the suspending defence, or why it is off ('' while active). */
  reason: string;
  /** Conns put into the flow map, and taken out; in it now. */
  inserted: number;
  removed: number;
  flows: number;
  /** Packets and bytes the kernel forwarded for them (folded so far). */
  packets: number;
  bytes: number;
  /** Map updates the kernel refused (map full...). */
  errors: number;
}

/**
 * Where the numbers come from: the control model (and its engine) plus what the
 * daemon's other parts count. Each function is called once per snapshot.
 */
export interface MetricsSource {
  model: ControlModel;
  /** Packets the director could not transmit, by reason. */
  txErrors?: () => ReadonlyMap<string, number>;
  /** Packets taken by the fast path (tc steering into TUN), by direction. */
  steered?: () => { in: number; out: number };
  /**
   * The established-flow fast path. Called first in a snapshot: the daemon folds the
   * kernel's per-flow counts into the engine there, so every figure includes them.
   */
  fastpath?: () => FastpathReport;
  /** Packets the kernel dropped before the engine saw them (full capture queues), by queue. */
  captureDrops?: () => ReadonlyMap<string, number>;
  /** The kernel SYN-cookie program (dataplane/syncookie.ts): loaded, services, why off. */
  synCookies?: () => { loaded: boolean; services: number; reason: string };
  /** Sync daemons' counters. */
  sync?: () => readonly SyncReport[];
  /** Health checks: each checked real server and whether it is up. */
  health?: () => readonly HealthReport[] | undefined;
  /** Readiness (docs/ha.md): the director's, learning, and per service (by ipvsadm name). */
  ready?: () => ReadyReport;
  /** keepalived's VRRP instances and groups, as last notified. */
  vrrp?: () => readonly VrrpReport[];
}

/** The director's readiness, as the daemon evaluates it. */
export interface ReadyReport {
  ready: boolean;
  learning: boolean;
  /** By service name (`TCP 10.0.0.1:80`): the director ready and a real server available. */
  services: ReadonlyMap<string, boolean>;
}

/** A VRRP instance or sync group and its last state. */
export interface VrrpReport {
  type: string;
  name: string;
  state: string;
}

/**
 * A virtual service's identity as separate labels: `protocol` is ipvsadm's word (TCP,
 * UDP, SCTP; FWM for a fwmark service), `address`/`port` are empty for a fwmark
 * service and `mark` (decimal) is empty for an address service.
 */
export interface ServiceLabels {
  family: 'ipv4' | 'ipv6';
  protocol: string;
  address: string;
  port: string;
  mark: string;
}

/** A real server in a snapshot. */
export interface DestFigures {
  address: string;
  port: number;
  /** ipvsadm's forwarding name: masq, droute, tunnel, local, bypass. */
  forward: string;
  weight: number;
  activeconns: number;
  inactconns: number;
  persistconns: number;
  stats: StatsSnapshot;
  rates: RateSnapshot;
  /** As the model lists it (af, addr, port, tunnel settings...). */
  entry: DestEntry;
}

/** A virtual service in a snapshot. */
export interface ServiceFigures {
  labels: ServiceLabels;
  /** As ipvsadm names it: `TCP 10.0.3.100:80`, `UDP [fd00::1]:53`, `FWM 7`. */
  name: string;
  scheduler: string;
  stats: StatsSnapshot;
  rates: RateSnapshot;
  dests: DestFigures[];
  entry: ServiceEntry;
  /** The director ready and a real server available (null: not reported). */
  ready: boolean | null;
}

/** Everything at one instant. */
export interface MetricsSnapshot {
  /** Milliseconds since the epoch when it was taken. */
  time: number;
  /** /proc/net/ip_vs_stats: totals over every service. */
  totals: StatsSnapshot;
  totalRates: RateSnapshot;
  services: ServiceFigures[];
  /** Entries in the connection table (templates included). */
  connections: number;
  /** Packets the engine dropped, by reason (every reason, zeros included). */
  drops: { reason: string; packets: number }[];
  txErrors: { reason: string; packets: number }[];
  steered: { in: number; out: number } | null;
  /** The established-flow fast path (null: no director behind the source). */
  fastpath: FastpathReport | null;
  /** Packets dropped in full capture queues (TUN devices, netfilter queues), by queue. */
  captureDrops: { queue: string; packets: number }[];
  /** The SYN proxy's counters (tsvs's own), by event. */
  synproxy: { event: string; count: number }[];
  /** The SYN proxy's held early data now, and the proxied services (or all with the setting). */
  synproxyHeld: number;
  /** SYNs answered in the kernel: loaded, services answered, why off ('' when on). */
  synproxyKernel: { loaded: boolean; services: number; reason: string } | null;
  /** The kernel's defences: drop_entry active, drop_packet's rate (0 off), secure_tcp's table in use. */
  defense: { dropEntry: boolean; dropRate: number; secureTcp: boolean };
  /** The connection table: entries allocated (its capacity) and conn_max (0 no limit). */
  connTable: { capacity: number; max: number };
  /** Sync daemons configured (ipvsadm --start-daemon), with their counters. */
  sync: { role: string; config: DaemonEntry; datagrams: number; conns: number }[];
  health: {
    service: ServiceLabels | null;
    serviceName: string;
    address: string;
    port: string;
    alive: boolean;
  }[];
  /** Readiness, when the daemon reports it. */
  ready: { ready: boolean; learning: boolean } | null;
  /** VRRP instances and groups known. */
  vrrp: VrrpReport[];
}

function bracket(af: number, addr: string): string {
  return af === 6 ? `[${addr}]` : addr;
}

/** A service's labels. */
export function serviceLabels(s: ServiceEntry): ServiceLabels {
  const family = s.af === 6 ? 'ipv6' : 'ipv4';
  if (s.fwmark !== 0)
    return { family, protocol: 'FWM', address: '', port: '', mark: String(s.fwmark) };
  return {
    family,
    protocol: protoName(s.protocol),
    address: s.addr,
    port: String(s.port),
    mark: '',
  };
}

/** A service as ipvsadm names it. */
export function serviceName(s: ServiceEntry): string {
  if (s.fwmark !== 0) return `FWM ${s.fwmark}`;
  return `${protoName(s.protocol)} ${bracket(s.af, s.addr)}:${s.port}`;
}

/** `TCP 10.0.0.1:80` / `UDP [fd00::1]:53` / `FWM 7` back into labels (null: neither). */
export function parseServiceName(name: string): ServiceLabels | null {
  const fwm = /^FWM (\d+)$/.exec(name);
  if (fwm) return { family: 'ipv4', protocol: 'FWM', address: '', port: '', mark: fwm[1] };
  const m = /^([A-Z]+) (?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d+)$/.exec(name);
  if (!m) return null;
  return {
    family: m[2] !== undefined ? 'ipv6' : 'ipv4',
    protocol: m[1],
    address: m[2] ?? m[3],
    port: m[4],
    mark: '',
  };
}

function splitHostPort(text: string): { address: string; port: string } {
  const m = /^(?:\[(.*)\]|(.*)):(\d+)$/.exec(text);
  return m ? { address: m[1] ?? m[2], port: m[3] } : { address: text, port: '' };
}

/** Read every figure now. Cheap enough to run per scrape; never per packet. */
export function takeSnapshot(src: MetricsSource): MetricsSnapshot {
  const model = src.model;
  const engine = model.engine;
  // first: it folds the kernel's counts into the engine's
  const fp = src.fastpath?.();
  const ready = src.ready?.();
  const services = model.services().map((s): ServiceFigures => ({
    labels: serviceLabels(s),
    name: serviceName(s),
    scheduler: s.scheduler,
    stats: s.stats,
    rates: s.rates,
    entry: s,
    ready: ready?.services.get(serviceName(s)) ?? null,
    dests: s.dests.map((d) => ({
      address: d.addr,
      port: d.port,
      forward: d.fwd,
      weight: d.weight,
      activeconns: d.activeconns,
      inactconns: d.inactconns,
      persistconns: d.persistconns,
      stats: d.stats,
      rates: d.rates,
      entry: d,
    })),
  }));
  const drops: MetricsSnapshot['drops'] = [];
  DROP_REASON_NAMES.forEach((reason, i) => {
    if (i > 0) drops.push({ reason, packets: engine.drops[i] });
  });
  const counters = new Map((src.sync?.() ?? []).map((c) => [c.role, c]));
  const health: MetricsSnapshot['health'] = [];
  for (const h of src.health?.() ?? [])
    for (const r of h.servers)
      health.push({
        service: parseServiceName(h.service),
        serviceName: h.service,
        ...splitHostPort(r.server),
        alive: r.alive,
      });
  return {
    time: Date.now(),
    totals: engine.totals.snapshot(),
    totalRates: engine.totals.rates(),
    services,
    connections: engine.conns.count,
    drops,
    txErrors: [...(src.txErrors?.() ?? [])].map(([reason, packets]) => ({ reason, packets })),
    steered: src.steered ? { ...src.steered() } : null,
    fastpath: fp ? { ...fp } : null,
    captureDrops: [...(src.captureDrops?.() ?? [])].map(([queue, packets]) => ({ queue, packets })),
    synproxy: SP_COUNTER_NAMES.map((event, i) => ({ event, count: engine.ipvs.sp.counters[i] })),
    synproxyHeld: engine.ipvs.sp.heldNow,
    synproxyKernel: src.synCookies ? { ...src.synCookies() } : null,
    defense: {
      dropEntry: engine.ipvs.dropEntryActive,
      dropRate: engine.ipvs.dropRate,
      secureTcp: engine.ipvs.secureTable,
    },
    connTable: { capacity: engine.conns.cap, max: engine.settings.conn_max },
    sync: model.daemons().map((d) => ({
      role: d.state,
      config: d,
      datagrams: counters.get(d.state)?.datagrams ?? 0,
      conns: counters.get(d.state)?.conns ?? 0,
    })),
    health,
    ready: ready ? { ready: ready.ready, learning: ready.learning } : null,
    vrrp: [...(src.vrrp?.() ?? [])].map((v) => ({ type: v.type, name: v.name, state: v.state })),
  };
}
