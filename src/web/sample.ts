/**
 * What the dashboard shows, read once a second from the control model (the engine's
 * own counters, through the same listing `ipvsadm -L` uses — never per packet): every
 * virtual service and real server with its weight, health and connection counts, the
 * rates of the last second (differences of the engine's counters over the time that
 * passed; `ipvsadm --rate` shows the kernel's smoothed estimator instead), the drops by
 * reason, the sync and VRRP roles. Each sample is also recorded in the history rings
 * the charts are drawn from.
 *
 * @module
 */
import type { ControlModel, DestEntry, ServiceEntry } from '../control/model.js';
import { protoName } from '../control/model.js';
import { DROP_REASON_NAMES } from '../engine/drop.js';
import { formatAddr, parseAddr } from '../engine/addr.js';
import { SVC_F_PERSISTENT } from '../engine/constants.js';
import type { Engine } from '../engine/engine.js';
import { HistoryRing, type HistoryOptions } from './history.js';

/** Columns of a service's or real server's history, in order. */
export const OBJECT_METRICS = [
  'cps',
  'inpps',
  'outpps',
  'inbps',
  'outbps',
  'active',
  'inactive',
] as const;

/** Columns of the totals' history, in order. */
export const TOTAL_METRICS = [
  'cps',
  'inpps',
  'outpps',
  'inbps',
  'outbps',
  'conns',
  'drops',
] as const;

/** The key of the totals' series. */
export const TOTAL_KEY = 'total';

/** Per-second rates (from counter differences). */
export interface Rates {
  cps: number;
  inpps: number;
  outpps: number;
  inbps: number;
  outbps: number;
}

/** A real server as the page shows it. */
export interface DashDest {
  /** History key (`<service label>/<server>`). */
  key: string;
  /** `addr:port` (IPv6 in brackets), as health checks and metrics name it. */
  server: string;
  fwd: string;
  weight: number;
  /** The last non-zero weight (the kernel's last_weight): what a restore gives back; 0: none. */
  lastWeight: number;
  /** Health checks: true/false, or null when the server is not checked. */
  alive: boolean | null;
  active: number;
  inactive: number;
  persistent: number;
  rates: Rates;
}

/** A virtual service as the page shows it. */
export interface DashService {
  /** `TCP 10.0.0.1:80`, `FWM 7` (`FWM 7 IPv6`): also its history key. */
  key: string;
  scheduler: string;
  persistent: boolean;
  active: number;
  inactive: number;
  rates: Rates;
  dests: DashDest[];
}

/** One reason packets were dropped: by the engine, or failed to transmit. */
export interface DashDrop {
  stage: 'engine' | 'transmit' | 'capture';
  reason: string;
  total: number;
  /** Per second over the last sample. */
  rate: number;
}

/** Everything the page shows but the connection table: one a second over SSE. */
export interface DashState {
  /** Sample time (ms since the epoch). */
  t: number;
  /** Entries in the connection table (templates included). */
  conns: number;
  totals: Rates & { drops: number };
  drops: DashDrop[];
  services: DashService[];
  /** Sync daemons running (ipvsadm --start-daemon), with what they counted. */
  sync: { role: string; syncId: number; ifname: string; datagrams: number; conns: number }[];
  /** The VRRP role (MASTER, BACKUP, FAULT...) when the daemon knows it, else null. */
  vrrp: string | null;
}

/** What the daemon adds to the model's figures (the parts the web room cannot import). */
export interface DashExtra {
  /** Health checks: per service label, each checked server and whether it is up. */
  health?: () => readonly {
    service: string;
    servers: readonly { server: string; alive: boolean }[];
  }[];
  /** Sync daemons' counters by role. */
  sync?: () => readonly { role: string; datagrams: number; conns: number }[];
  /** The VRRP role, when known. */
  vrrp?: () => string | null | undefined;
  /** Packets the data plane could not transmit, by reason. */
  txErrors?: () => ReadonlyMap<string, number>;
  /** Packets dropped in full capture queues before the engine saw them, by queue. */
  captureDrops?: () => ReadonlyMap<string, number>;
}

/** `addr:port`, IPv6 in brackets (as health checks and metrics name a server). */
export function hostPort(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** A service's label and history key: `TCP 10.0.0.1:80`, `FWM 7`, `FWM 7 IPv6`. */
export function serviceLabel(
  s: Pick<ServiceEntry, 'af' | 'protocol' | 'addr' | 'port' | 'fwmark'>,
): string {
  if (s.fwmark !== 0) return `FWM ${s.fwmark}${s.af === 6 ? ' IPv6' : ''}`;
  return `${protoName(s.protocol)} ${hostPort(s.addr, s.port)}`;
}

/**
 * A label ending in `ADDR:PORT` or `[ADDR]:PORT` with the address written as inet_ntop
 * writes it (keepalived.conf may spell an IPv6 address any way it likes), so that the
 * health checker's names meet the listing's.
 */
export function canonicalLabel(label: string): string {
  return label.replace(
    /(?:\[([^\]]+)\]|(\d+\.\d+\.\d+\.\d+)):(\d+)$/,
    (all: string, v6: string | undefined, v4: string | undefined, port: string) => {
      const a = parseAddr(v6 ?? v4 ?? '');
      return a ? hostPort(formatAddr(a.af, a.words), Number(port)) : all;
    },
  );
}

/** A real server's history key. */
export function destKey(service: string, d: Pick<DestEntry, 'addr' | 'port'>): string {
  return `${service}/${hostPort(d.addr, d.port)}`;
}

/**
 * The last non-zero weight of every real server (the kernel's last_weight, which the
 * listing does not carry), by history key.
 */
export function lastWeights(engine: Engine): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of engine.services) {
    const label = serviceLabel({
      af: s.af,
      protocol: s.protocol,
      addr: formatAddr(s.af, s.addr),
      port: s.port,
      fwmark: s.fwmark,
    });
    for (const d of s.dests)
      out.set(destKey(label, { addr: formatAddr(d.af, d.addr), port: d.port }), d.lastWeight);
  }
  return out;
}

const COUNTERS = 5;

/** Reads the model once a second and keeps what the page shows and draws. */
export class Sampler {
  /** Services and real servers, {@link OBJECT_METRICS} each. */
  readonly history: HistoryRing;
  /** The totals, {@link TOTAL_METRICS}. */
  readonly totals: HistoryRing;
  private last: DashState | null = null;
  private prevTime = 0;
  private readonly prev = new Map<string, Float64Array>();
  private readonly prevDrops: Float64Array;
  private readonly prevTx = new Map<string, number>();
  private readonly prevCap = new Map<string, number>();

  constructor(
    readonly model: ControlModel,
    private readonly extra: DashExtra = {},
    opts: HistoryOptions = {},
  ) {
    this.history = new HistoryRing(OBJECT_METRICS, opts);
    this.totals = new HistoryRing(TOTAL_METRICS, { ...opts, maxSeries: 1 });
    this.prevDrops = new Float64Array(DROP_REASON_NAMES.length);
  }

  /** The last sample (taking one if none was taken yet). */
  state(): DashState {
    return this.last ?? this.sample();
  }

  /**
   * Per-second rates of counters `c` (conns, inpkts, outpkts, inbytes, outbytes) of
   * `key` since the last sample; a counter that went down was zeroed (ipvsadm -Z) and
   * counts from 0. `seen` collects the keys still present.
   */
  private rates(key: string, c: readonly number[], dt: number, seen: Set<string>): Rates {
    seen.add(key);
    let p = this.prev.get(key);
    const first = !p;
    if (!p) {
      p = new Float64Array(COUNTERS);
      this.prev.set(key, p);
    }
    const r = [0, 0, 0, 0, 0];
    for (let i = 0; i < COUNTERS; i++) {
      const d = c[i] >= p[i] ? c[i] - p[i] : c[i];
      r[i] = first || dt <= 0 ? 0 : d / dt;
      p[i] = c[i];
    }
    return { cps: r[0], inpps: r[1], outpps: r[2], inbps: r[3], outbps: r[4] };
  }

  /** Take a sample at `now` (ms since the epoch) and record it in the history. */
  sample(now = Date.now()): DashState {
    const dt = this.prevTime ? (now - this.prevTime) / 1000 : 0;
    this.prevTime = now;
    const seen = new Set<string>();
    const alive = new Map<string, boolean>();
    for (const h of this.extra.health?.() ?? [])
      for (const s of h.servers)
        alive.set(`${canonicalLabel(h.service)}/${canonicalLabel(s.server)}`, s.alive);
    const points = new Map<string, number[]>();
    const last = lastWeights(this.model.engine);
    const services: DashService[] = [];
    for (const s of this.model.services()) {
      const key = serviceLabel(s);
      const st = s.stats;
      const rates = this.rates(
        key,
        [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes],
        dt,
        seen,
      );
      let active = 0;
      let inactive = 0;
      const dests: DashDest[] = [];
      for (const d of s.dests) {
        const dk = destKey(key, d);
        const ds = d.stats;
        const dr = this.rates(
          dk,
          [ds.conns, ds.inpkts, ds.outpkts, ds.inbytes, ds.outbytes],
          dt,
          seen,
        );
        active += d.activeconns;
        inactive += d.inactconns;
        dests.push({
          key: dk,
          server: hostPort(d.addr, d.port),
          fwd: d.fwd,
          weight: d.weight,
          lastWeight: last.get(dk) ?? 0,
          alive: alive.get(`${key}/${hostPort(d.addr, d.port)}`) ?? null,
          active: d.activeconns,
          inactive: d.inactconns,
          persistent: d.persistconns,
          rates: dr,
        });
        points.set(dk, [
          dr.cps,
          dr.inpps,
          dr.outpps,
          dr.inbps,
          dr.outbps,
          d.activeconns,
          d.inactconns,
        ]);
      }
      services.push({
        key,
        scheduler: s.scheduler,
        persistent: (s.flags & SVC_F_PERSISTENT) !== 0,
        active,
        inactive,
        rates,
        dests,
      });
      points.set(key, [
        rates.cps,
        rates.inpps,
        rates.outpps,
        rates.inbps,
        rates.outbps,
        active,
        inactive,
      ]);
    }
    for (const k of this.prev.keys()) if (!seen.has(k) && k !== TOTAL_KEY) this.prev.delete(k);

    const engine = this.model.engine;
    const ts = engine.totals.snapshot();
    const totalRates = this.rates(
      TOTAL_KEY,
      [ts.conns, ts.inpkts, ts.outpkts, ts.inbytes, ts.outbytes],
      dt,
      seen,
    );
    const drops: DashDrop[] = [];
    let dropRate = 0;
    for (let i = 1; i < DROP_REASON_NAMES.length; i++) {
      const n = engine.drops[i];
      const d = n >= this.prevDrops[i] ? n - this.prevDrops[i] : n;
      const rate = dt > 0 ? d / dt : 0;
      this.prevDrops[i] = n;
      dropRate += rate;
      if (n > 0) drops.push({ stage: 'engine', reason: DROP_REASON_NAMES[i], total: n, rate });
    }
    for (const [reason, n] of this.extra.txErrors?.() ?? []) {
      const p = this.prevTx.get(reason) ?? 0;
      const rate = dt > 0 ? (n >= p ? n - p : n) / dt : 0;
      this.prevTx.set(reason, n);
      dropRate += rate;
      if (n > 0) drops.push({ stage: 'transmit', reason, total: n, rate });
    }
    for (const [queue, n] of this.extra.captureDrops?.() ?? []) {
      const p = this.prevCap.get(queue) ?? 0;
      const rate = dt > 0 ? (n >= p ? n - p : n) / dt : 0;
      this.prevCap.set(queue, n);
      dropRate += rate;
      if (n > 0) drops.push({ stage: 'capture', reason: queue, total: n, rate });
    }
    this.history.push(now, points);
    const conns = engine.conns.count;
    this.totals.push(
      now,
      new Map([
        [
          TOTAL_KEY,
          [
            totalRates.cps,
            totalRates.inpps,
            totalRates.outpps,
            totalRates.inbps,
            totalRates.outbps,
            conns,
            dropRate,
          ],
        ],
      ]),
    );
    const counters = new Map((this.extra.sync?.() ?? []).map((x) => [x.role, x]));
    this.last = {
      t: now,
      conns,
      totals: { ...totalRates, drops: dropRate },
      drops,
      services,
      sync: this.model.daemons().map((d) => ({
        role: d.state,
        syncId: d.syncId,
        ifname: d.mcastIfn,
        datagrams: counters.get(d.state)?.datagrams ?? 0,
        conns: counters.get(d.state)?.conns ?? 0,
      })),
      vrrp: this.extra.vrrp?.() ?? null,
    };
    return this.last;
  }
}
