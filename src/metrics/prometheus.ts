/**
 * Metrics in the Prometheus text exposition format (version 0.0.4), served by the
 * daemon with `--metrics HOST:PORT` at `/metrics`: the counters and rates `ipvsadm
 * -L --stats/--rate` shows, per virtual service and per real server, the real servers'
 * connection counts and weights, the connection table, the engine's drop reasons, and
 * what the data plane and the sync daemons count.
 *
 * Labels: `service` as ipvsadm names it (`TCP 10.0.3.100:80`, `FWM 7`), `server` as
 * `addr:port` (IPv6 in brackets).
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { ControlModel, DestEntry, ServiceEntry } from '../control/model.js';
import { DROP_REASON_NAMES } from '../engine/drop.js';
import { protoName } from '../engine/spec.js';

/** What the daemon adds to the engine's own figures. */
export interface MetricsExtra {
  /** Packets the director could not transmit, by reason. */
  txErrors?: ReadonlyMap<string, number>;
  /** Packets taken by the fast path (tc steering), by direction. */
  steered?: { in: number; out: number };
  /** Sync daemons: datagrams and conns sent (master) or received (backup). */
  sync?: { role: string; datagrams: number; conns: number }[];
  /** Health checks: each checked real server and whether it is up. */
  health?: { service: string; servers: { server: string; alive: boolean }[] }[];
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function serviceLabel(s: ServiceEntry): string {
  if (s.fwmark !== 0) return `FWM ${s.fwmark}`;
  const a = s.af === 6 ? `[${s.addr}]` : s.addr;
  return `${protoName(s.protocol)} ${a}:${s.port}`;
}

function serverLabel(d: DestEntry): string {
  return `${d.af === 6 ? `[${d.addr}]` : d.addr}:${d.port}`;
}

/** Collects samples per metric so each metric's HELP/TYPE comes once. */
class Out {
  private readonly order: string[] = [];
  private readonly metrics = new Map<string, { help: string; type: string; lines: string[] }>();

  add(
    name: string,
    type: 'counter' | 'gauge',
    help: string,
    labels: Record<string, string>,
    value: number,
  ): void {
    let m = this.metrics.get(name);
    if (!m) {
      m = { help, type, lines: [] };
      this.metrics.set(name, m);
      this.order.push(name);
    }
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${esc(v)}"`)
      .join(',');
    m.lines.push(`${name}${l ? `{${l}}` : ''} ${Number.isFinite(value) ? value : 0}`);
  }

  text(): string {
    const out: string[] = [];
    for (const name of this.order) {
      const m = this.metrics.get(name)!;
      out.push(`# HELP ${name} ${m.help}`, `# TYPE ${name} ${m.type}`, ...m.lines);
    }
    return out.join('\n') + '\n';
  }
}

/** The exposition text for a model (its engine) and what the daemon adds. */
export function renderMetrics(model: ControlModel, extra: MetricsExtra = {}): string {
  const o = new Out();
  const engine = model.engine;
  for (const s of model.services()) {
    const svc = { service: serviceLabel(s) };
    const stats = (
      prefix: string,
      what: string,
      labels: Record<string, string>,
      st: ServiceEntry['stats'],
      r: ServiceEntry['rates'],
    ): void => {
      o.add(
        `${prefix}_connections_total`,
        'counter',
        `Connections scheduled to the ${what}.`,
        labels,
        st.conns,
      );
      o.add(
        `${prefix}_connection_rate`,
        'gauge',
        `New connections per second of the ${what} (the kernel's estimator).`,
        labels,
        r.cps,
      );
      // [metric, type, help, in, out]
      const pairs: [string, 'counter' | 'gauge', string, number, number][] = [
        ['packets_total', 'counter', 'Packets', st.inpkts, st.outpkts],
        ['bytes_total', 'counter', 'Bytes', st.inbytes, st.outbytes],
        ['packet_rate', 'gauge', 'Packets per second (estimator)', r.inpps, r.outpps],
        ['byte_rate', 'gauge', 'Bytes per second (estimator)', r.inbps, r.outbps],
      ];
      for (const [name, type, help, vin, vout] of pairs) {
        const h = `${help} of the ${what}, by direction.`;
        o.add(`${prefix}_${name}`, type, h, { ...labels, direction: 'in' }, vin);
        o.add(`${prefix}_${name}`, type, h, { ...labels, direction: 'out' }, vout);
      }
    };
    stats('tsvs_service', 'virtual service', svc, s.stats, s.rates);
    for (const d of s.dests) {
      const l = { ...svc, server: serverLabel(d) };
      stats('tsvs_server', 'real server', l, d.stats, d.rates);
      o.add(
        'tsvs_server_active_connections',
        'gauge',
        'ActiveConn of the real server (ipvsadm -L).',
        l,
        d.activeconns,
      );
      o.add(
        'tsvs_server_inactive_connections',
        'gauge',
        'InActConn of the real server (ipvsadm -L).',
        l,
        d.inactconns,
      );
      o.add(
        'tsvs_server_persistent_connections',
        'gauge',
        'Persistence templates bound to the real server.',
        l,
        d.persistconns,
      );
      o.add('tsvs_server_weight', 'gauge', 'Weight of the real server (0: quiesced).', l, d.weight);
    }
  }
  o.add(
    'tsvs_connections',
    'gauge',
    'Entries in the connection table (templates included).',
    {},
    engine.conns.count,
  );
  DROP_REASON_NAMES.forEach((reason, i) => {
    if (i > 0)
      o.add(
        'tsvs_drops_total',
        'counter',
        'Packets the engine dropped, by reason.',
        { reason },
        engine.drops[i],
      );
  });
  for (const [what, n] of extra.txErrors ?? [])
    o.add(
      'tsvs_transmit_errors_total',
      'counter',
      'Packets the director could not transmit, by reason.',
      { reason: what },
      n,
    );
  if (extra.steered) {
    o.add(
      'tsvs_steered_packets_total',
      'counter',
      'Packets taken by the tc fast path, by direction.',
      { direction: 'request' },
      extra.steered.in,
    );
    o.add(
      'tsvs_steered_packets_total',
      'counter',
      'Packets taken by the tc fast path, by direction.',
      { direction: 'reply' },
      extra.steered.out,
    );
  }
  for (const s of extra.sync ?? []) {
    o.add(
      'tsvs_sync_datagrams_total',
      'counter',
      'Sync datagrams sent (master) or received (backup).',
      { role: s.role },
      s.datagrams,
    );
    o.add(
      'tsvs_sync_connections_total',
      'counter',
      'Connection records sent (master) or received (backup).',
      { role: s.role },
      s.conns,
    );
  }
  for (const h of extra.health ?? [])
    for (const r of h.servers)
      o.add(
        'tsvs_health_server_up',
        'gauge',
        'Health checks: 1 while every checker of the real server passes.',
        { service: h.service, server: r.server },
        r.alive ? 1 : 0,
      );
  return o.text();
}

/**
 * Serves `render()` at `GET /metrics` on `host:port` (anything else: 404). Resolves
 * once listening; rejects with the listen error (address in use...).
 */
export function serveMetrics(host: string, port: number, render: () => string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      let body: string;
      try {
        body = render();
      } catch (e) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
