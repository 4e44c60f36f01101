/**
 * The metric families, as one table, registered with prom-client: node_exporter's
 * `node_ipvs_*` (./node.ts), tsvs's own `tsvs_*` families with the service as separate
 * labels, `tsvs_build_info`, and prom-client's process and Node.js runtime metrics.
 *
 * Every family reads the engine at scrape time through a collect() callback: one
 * {@link takeSnapshot} per scrape, shared by all families; nothing runs per packet.
 *
 * @module
 */
import {
  Counter,
  Gauge,
  Registry,
  collectDefaultMetrics,
  type RegistryContentType,
} from 'prom-client';
import { buildInfo } from './build.js';
import { FASTPATH_FAMILIES } from './fastpath.js';
import {
  NODE_IPVS_BACKEND,
  NODE_IPVS_BACKEND_LABELS,
  NODE_IPVS_TOTALS,
  nodeIpvsBackends,
  nodeIpvsTotal,
} from './node.js';
import {
  takeSnapshot,
  type MetricsSnapshot,
  type MetricsSource,
  type ServiceLabels,
} from './snapshot.js';
import type { Family, Labels } from './family.js';
import type { RateSnapshot, StatsSnapshot } from '../engine/stats.js';

export type { Family } from './family.js';

const SERVICE_LABELS = ['family', 'protocol', 'address', 'port', 'mark'] as const;
const SERVER_LABELS = [...SERVICE_LABELS, 'server_address', 'server_port'] as const;

function svc(l: ServiceLabels): Labels {
  return { family: l.family, protocol: l.protocol, address: l.address, port: l.port, mark: l.mark };
}

/** What service/server families share: totals and rates, in and out. */
function statsFamilies(
  prefix: 'tsvs_service' | 'tsvs_server',
  what: string,
  each: (snap: MetricsSnapshot) => Iterable<[Labels, StatsSnapshot, RateSnapshot]>,
): Family[] {
  const labelNames = prefix === 'tsvs_service' ? SERVICE_LABELS : SERVER_LABELS;
  const dir = [...labelNames, 'direction'];
  const inOut = (
    name: string,
    type: Family['type'],
    help: string,
    get: (st: StatsSnapshot, r: RateSnapshot) => [number, number],
  ): Family => ({
    name: `${prefix}_${name}`,
    type,
    help: `${help} of the ${what}, by direction.`,
    labelNames: dir,
    *samples(snap) {
      for (const [l, st, r] of each(snap)) {
        const [i, o] = get(st, r);
        yield [{ ...l, direction: 'in' }, i];
        yield [{ ...l, direction: 'out' }, o];
      }
    },
  });
  return [
    {
      name: `${prefix}_connections_total`,
      type: 'counter',
      help: `Connections scheduled to the ${what}.`,
      labelNames,
      *samples(snap) {
        for (const [l, st] of each(snap)) yield [l, st.conns];
      },
    },
    {
      name: `${prefix}_connection_rate`,
      type: 'gauge',
      help: `New connections per second of the ${what} (the kernel's estimator).`,
      labelNames,
      *samples(snap) {
        for (const [l, , r] of each(snap)) yield [l, r.cps];
      },
    },
    inOut('packets_total', 'counter', 'Packets', (s) => [s.inpkts, s.outpkts]),
    inOut('bytes_total', 'counter', 'Bytes', (s) => [s.inbytes, s.outbytes]),
    inOut('packet_rate', 'gauge', 'Packets per second (estimator)', (_, r) => [r.inpps, r.outpps]),
    inOut('byte_rate', 'gauge', 'Bytes per second (estimator)', (_, r) => [r.inbps, r.outbps]),
  ];
}

function* services(snap: MetricsSnapshot): Iterable<[Labels, StatsSnapshot, RateSnapshot]> {
  for (const s of snap.services) yield [svc(s.labels), s.stats, s.rates];
}

function* servers(snap: MetricsSnapshot): Iterable<[Labels, StatsSnapshot, RateSnapshot]> {
  for (const s of snap.services)
    for (const d of s.dests)
      yield [
        { ...svc(s.labels), server_address: d.address, server_port: String(d.port) },
        d.stats,
        d.rates,
      ];
}

function serverGauge(
  name: string,
  help: string,
  value: (d: MetricsSnapshot['services'][number]['dests'][number]) => number,
): Family {
  return {
    name,
    type: 'gauge',
    help,
    labelNames: SERVER_LABELS,
    *samples(snap) {
      for (const s of snap.services)
        for (const d of s.dests)
          yield [
            { ...svc(s.labels), server_address: d.address, server_port: String(d.port) },
            value(d),
          ];
    },
  };
}

/** Every family tsvs exports besides prom-client's default ones, in output order. */
export const FAMILIES: readonly Family[] = [
  // node_exporter's, exactly
  ...NODE_IPVS_TOTALS.map(([name, help, field]): Family => ({
    name,
    type: 'counter',
    help,
    labelNames: [],
    samples: (snap) => [[{}, nodeIpvsTotal(snap, field)]],
  })),
  ...NODE_IPVS_BACKEND.map(([name, help, field]): Family => ({
    name,
    type: 'gauge',
    help,
    labelNames: NODE_IPVS_BACKEND_LABELS,
    samples: (snap) => nodeIpvsBackends(snap).map((b) => [b.labels, b[field]] as const),
  })),
  {
    name: 'tsvs_build_info',
    type: 'gauge',
    help: 'The running tsvs: its version and the Node.js and V8 versions under it (always 1).',
    labelNames: ['version', 'node', 'v8'],
    samples: () => {
      const b = buildInfo();
      return [[{ version: b.version, node: b.node, v8: b.v8 }, 1]];
    },
  },
  // totals over every service (/proc/net/ip_vs_stats; the connections are node_ipvs_*'s)
  {
    name: 'tsvs_packets_total',
    type: 'counter',
    help: 'Packets of every virtual service, by direction.',
    labelNames: ['direction'],
    samples: (s) => [
      [{ direction: 'in' }, s.totals.inpkts],
      [{ direction: 'out' }, s.totals.outpkts],
    ],
  },
  {
    name: 'tsvs_bytes_total',
    type: 'counter',
    help: 'Bytes of every virtual service, by direction.',
    labelNames: ['direction'],
    samples: (s) => [
      [{ direction: 'in' }, s.totals.inbytes],
      [{ direction: 'out' }, s.totals.outbytes],
    ],
  },
  {
    name: 'tsvs_connection_rate',
    type: 'gauge',
    help: "New connections per second over every virtual service (the kernel's estimator).",
    labelNames: [],
    samples: (s) => [[{}, s.totalRates.cps]],
  },
  {
    name: 'tsvs_packet_rate',
    type: 'gauge',
    help: 'Packets per second over every virtual service (estimator), by direction.',
    labelNames: ['direction'],
    samples: (s) => [
      [{ direction: 'in' }, s.totalRates.inpps],
      [{ direction: 'out' }, s.totalRates.outpps],
    ],
  },
  {
    name: 'tsvs_byte_rate',
    type: 'gauge',
    help: 'Bytes per second over every virtual service (estimator), by direction.',
    labelNames: ['direction'],
    samples: (s) => [
      [{ direction: 'in' }, s.totalRates.inbps],
      [{ direction: 'out' }, s.totalRates.outbps],
    ],
  },
  {
    name: 'tsvs_connections',
    type: 'gauge',
    help: 'Entries in the connection table (templates included).',
    labelNames: [],
    samples: (s) => [[{}, s.connections]],
  },
  // per virtual service
  {
    name: 'tsvs_service_info',
    type: 'gauge',
    help: 'A virtual service (always 1): its scheduler and its name as ipvsadm writes it.',
    labelNames: [...SERVICE_LABELS, 'scheduler', 'service'],
    *samples(snap) {
      for (const s of snap.services)
        yield [{ ...svc(s.labels), scheduler: s.scheduler, service: s.name }, 1];
    },
  },
  ...statsFamilies('tsvs_service', 'virtual service', services),
  // per real server
  ...statsFamilies('tsvs_server', 'real server', servers),
  serverGauge(
    'tsvs_server_active_connections',
    'ActiveConn of the real server (ipvsadm -L).',
    (d) => d.activeconns,
  ),
  serverGauge(
    'tsvs_server_inactive_connections',
    'InActConn of the real server (ipvsadm -L).',
    (d) => d.inactconns,
  ),
  serverGauge(
    'tsvs_server_persistent_connections',
    'Persistence templates bound to the real server.',
    (d) => d.persistconns,
  ),
  serverGauge('tsvs_server_weight', 'Weight of the real server (0: quiesced).', (d) => d.weight),
  {
    name: 'tsvs_server_info',
    type: 'gauge',
    help: 'A real server (always 1): its forwarding method (masq, droute, tunnel, local, bypass).',
    labelNames: [...SERVER_LABELS, 'forward'],
    *samples(snap) {
      for (const s of snap.services)
        for (const d of s.dests)
          yield [
            {
              ...svc(s.labels),
              server_address: d.address,
              server_port: String(d.port),
              forward: d.forward,
            },
            1,
          ];
    },
  },
  {
    name: 'tsvs_health_server_up',
    type: 'gauge',
    help: 'Health checks: 1 while every checker of the real server passes.',
    labelNames: SERVER_LABELS,
    *samples(snap) {
      for (const h of snap.health) {
        const l = h.service ?? {
          family: 'ipv4',
          protocol: '',
          address: h.serviceName,
          port: '',
          mark: '',
        };
        yield [{ ...svc(l), server_address: h.address, server_port: h.port }, h.alive ? 1 : 0];
      }
    },
  },
  // the engine and the data plane
  {
    name: 'tsvs_drops_total',
    type: 'counter',
    help: 'Packets the engine dropped, by reason.',
    labelNames: ['reason'],
    samples: (s) => s.drops.map((d) => [{ reason: d.reason }, d.packets] as const),
  },
  {
    name: 'tsvs_transmit_errors_total',
    type: 'counter',
    help: 'Packets the director could not transmit, by reason.',
    labelNames: ['reason'],
    samples: (s) => s.txErrors.map((d) => [{ reason: d.reason }, d.packets] as const),
  },
  {
    name: 'tsvs_steered_packets_total',
    type: 'counter',
    help: 'Packets taken by the tc fast path, by direction.',
    labelNames: ['direction'],
    samples: (s) =>
      s.steered
        ? [
            [{ direction: 'request' }, s.steered.in],
            [{ direction: 'reply' }, s.steered.out],
          ]
        : [],
  },
  ...FASTPATH_FAMILIES,
  {
    name: 'tsvs_capture_dropped_packets_total',
    type: 'counter',
    help: 'Packets the kernel dropped in a full capture queue before the engine saw them, by queue (TUN device or netfilter queue).',
    labelNames: ['queue'],
    samples: (s) => s.captureDrops.map((d) => [{ queue: d.queue }, d.packets] as const),
  },
  // the SYN proxy and the defences (tsvs's own figures: the kernel has no SYN proxy)
  {
    name: 'tsvs_synproxy_total',
    type: 'counter',
    help: "The SYN proxy's events: cookies sent, valid, failed; DR address proofs sent and passed; client packets held; handshakes with real servers started and completed.",
    labelNames: ['event'],
    samples: (s) => s.synproxy.map((d) => [{ event: d.event }, d.count] as const),
  },
  {
    name: 'tsvs_synproxy_held_packets',
    type: 'gauge',
    help: 'Client packets the SYN proxy holds now until their real server answers.',
    labelNames: [],
    samples: (s) => [[{}, s.synproxyHeld]],
  },
  {
    name: 'tsvs_synproxy_kernel_services',
    type: 'gauge',
    help: "Services whose SYNs the kernel answers with the SYN proxy's cookie (tc BPF); 0 with the reason when the kernel refused the program (SYNs then go to the daemon).",
    labelNames: ['reason'],
    samples: (s) =>
      s.synproxyKernel
        ? [
            [
              { reason: s.synproxyKernel.reason },
              s.synproxyKernel.loaded ? s.synproxyKernel.services : 0,
            ],
          ]
        : [],
  },
  {
    name: 'tsvs_defense_active',
    type: 'gauge',
    help: 'The defences of net.ipv4.vs: drop_entry active (1/0), drop_packet rate (1 in N dropped, 0 off), secure_tcp table in use (1/0).',
    labelNames: ['defense'],
    samples: (s) => [
      [{ defense: 'drop_entry' }, s.defense.dropEntry ? 1 : 0],
      [{ defense: 'drop_packet' }, s.defense.dropRate],
      [{ defense: 'secure_tcp' }, s.defense.secureTcp ? 1 : 0],
    ],
  },
  {
    name: 'tsvs_connection_table_capacity',
    type: 'gauge',
    help: 'Entries the connection table has room for now (it grows and shrinks with its use).',
    labelNames: [],
    samples: (s) => [[{}, s.connTable.capacity]],
  },
  {
    name: 'tsvs_connection_table_max',
    type: 'gauge',
    help: 'conn_max: the most entries the connection table may hold (0 = no limit, as the kernel).',
    labelNames: [],
    samples: (s) => [[{}, s.connTable.max]],
  },
  // connection sync
  {
    name: 'tsvs_sync_role',
    type: 'gauge',
    help: 'Connection sync: 1 while the sync daemon of this role runs (ipvsadm --start-daemon).',
    labelNames: ['role'],
    samples: (s) =>
      (['master', 'backup'] as const).map(
        (role) => [{ role }, s.sync.some((d) => d.role === role) ? 1 : 0] as const,
      ),
  },
  {
    name: 'tsvs_sync_daemon_info',
    type: 'gauge',
    help: 'A running sync daemon (always 1): its sync id, interface and multicast group.',
    labelNames: ['role', 'syncid', 'interface', 'group'],
    samples: (s) =>
      s.sync.map(
        (d) =>
          [
            {
              role: d.role,
              syncid: String(d.config.syncId),
              interface: d.config.mcastIfn,
              group: `${d.config.mcastGroup.includes(':') ? `[${d.config.mcastGroup}]` : d.config.mcastGroup}:${d.config.mcastPort}`,
            },
            1,
          ] as const,
      ),
  },
  // readiness and VRRP (docs/ha.md)
  {
    name: 'tsvs_ready',
    type: 'gauge',
    help: 'Readiness: 1 when the data plane runs, the configuration is loaded and the connection table is not being learned from sync (tsvs status --ready).',
    labelNames: [],
    samples: (s) => (s.ready ? [[{}, s.ready.ready ? 1 : 0] as const] : []),
  },
  {
    name: 'tsvs_service_ready',
    type: 'gauge',
    help: 'Readiness of a virtual service: 1 when the director is ready and the service has a real server with weight > 0 that is alive (tsvs status --ready VIP).',
    labelNames: SERVICE_LABELS,
    *samples(snap) {
      for (const s of snap.services) if (s.ready !== null) yield [svc(s.labels), s.ready ? 1 : 0];
    },
  },
  {
    name: 'tsvs_sync_learning',
    type: 'gauge',
    help: "1 while the director learns its connection table from a master's sync (after its first sync backup daemon started).",
    labelNames: [],
    samples: (s) => (s.ready ? [[{}, s.ready.learning ? 1 : 0] as const] : []),
  },
  {
    name: 'tsvs_vrrp_state',
    type: 'gauge',
    help: "keepalived's VRRP state of an instance or sync group, as last notified: 1 for the current state, 0 for the others.",
    labelNames: ['type', 'name', 'state'],
    *samples(snap) {
      for (const v of snap.vrrp)
        for (const state of ['MASTER', 'BACKUP', 'FAULT', 'STOP'])
          yield [{ type: v.type, name: v.name, state }, v.state === state ? 1 : 0];
    },
  },
  {
    name: 'tsvs_sync_datagrams_total',
    type: 'counter',
    help: 'Sync datagrams sent (master) or received (backup).',
    labelNames: ['role'],
    samples: (s) => s.sync.map((d) => [{ role: d.role }, d.datagrams] as const),
  },
  {
    name: 'tsvs_sync_connections_total',
    type: 'counter',
    help: 'Connection records sent (master) or received (backup).',
    labelNames: ['role'],
    samples: (s) => s.sync.map((d) => [{ role: d.role }, d.conns] as const),
  },
];

function finite(v: number): number {
  return Number.isFinite(v) && v >= 0 ? v : 0;
}

/** prom-client default gauges whose names end in _total. */
const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** Options of {@link MetricsExporter}. */
export interface MetricsExporterOptions {
  /** prom-client's process_* and nodejs_* metrics (default true). */
  defaultMetrics?: boolean;
}

/** The two exposition formats and their content types. */
export const PROMETHEUS_TEXT = Registry.PROMETHEUS_CONTENT_TYPE;
export const OPENMETRICS_TEXT = Registry.OPENMETRICS_CONTENT_TYPE;

/**
 * The families of {@link FAMILIES} over one source, in both exposition formats.
 * prom-client renames a counter family for OpenMetrics in place, so each format has
 * its own registry (and its own metric objects).
 */
export class MetricsExporter {
  private readonly registries: {
    text: Registry<RegistryContentType>;
    om: Registry<RegistryContentType>;
  };
  private current: MetricsSnapshot | undefined;

  constructor(
    private readonly source: MetricsSource,
    opts: MetricsExporterOptions = {},
  ) {
    this.registries = {
      text: this.registry(PROMETHEUS_TEXT, opts),
      om: this.registry(OPENMETRICS_TEXT, opts),
    };
  }

  /**
   * The numbers now. Within one scrape every family's collect() runs in the same
   * tick, so they share one snapshot, dropped once that tick's work is done.
   */
  snapshot(): MetricsSnapshot {
    if (!this.current) {
      this.current = takeSnapshot(this.source);
      queueMicrotask(() => (this.current = undefined));
    }
    return this.current;
  }

  /** The exposition, Prometheus text 0.0.4 or (openMetrics) OpenMetrics 1.0.0. */
  async render(openMetrics = false): Promise<{ contentType: string; body: string }> {
    const r = openMetrics ? this.registries.om : this.registries.text;
    return { contentType: r.contentType, body: await r.metrics() };
  }

  private registry(
    contentType: typeof PROMETHEUS_TEXT | typeof OPENMETRICS_TEXT,
    opts: MetricsExporterOptions,
  ): Registry<RegistryContentType> {
    // the typings lack the constructor's content-type argument
    const reg = new Registry<RegistryContentType>();
    reg.setContentType(contentType);
    const snap = (): MetricsSnapshot => this.snapshot();
    for (const f of FAMILIES) {
      const common = {
        name: f.name,
        help: f.help,
        labelNames: [...f.labelNames],
        registers: [reg],
      };
      if (f.type === 'counter')
        new Counter({
          ...common,
          collect(this: Counter) {
            this.reset();
            let n = 0;
            for (const [l, v] of f.samples(snap())) {
              this.inc(l, finite(v));
              n++;
            }
            // a family without labels and without samples shows none, not a made-up 0
            if (n === 0 && f.labelNames.length === 0) this.remove({});
          },
        });
      else
        new Gauge({
          ...common,
          collect(this: Gauge) {
            this.reset();
            let n = 0;
            for (const [l, v] of f.samples(snap())) {
              this.set(l, finite(v));
              n++;
            }
            // a family without labels and without samples shows none, not a made-up 0
            if (n === 0 && f.labelNames.length === 0) this.remove({});
          },
        });
    }
    if (opts.defaultMetrics !== false) {
      collectDefaultMetrics({ register: reg });
      // gauges named like counters (promtool's lint refuses them); the per-type
      // nodejs_active_{handles,requests,resources} gauges beside them hold the same
      for (const n of MISNAMED_DEFAULTS) reg.removeSingleMetric(n);
    }
    return reg;
  }
}
