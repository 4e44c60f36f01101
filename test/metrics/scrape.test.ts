/**
 * A real Prometheus server (Debian's `prometheus`) scrapes the endpoint: it asks for
 * OpenMetrics first, as it always does, so this is the OpenMetrics output parsed by the
 * Prometheus project's own parser; the series it stores must be the ones we serve,
 * node_exporter's labels included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { ControlModel } from '../../src/control/model.js';
import { createMetrics, serveMetrics } from '../../src/metrics/prometheus.js';

const havePrometheus = spawnSync('prometheus', ['--version']).status === 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

interface Vector {
  metric: Record<string, string>;
  value: [number, string];
}

test(
  'Prometheus scrapes it (OpenMetrics negotiated) and stores the node_ipvs_* and tsvs_* series',
  { skip: !havePrometheus && 'prometheus is not installed', timeout: 60_000 },
  async () => {
    const m = new ControlModel(new Engine({}));
    const fwm = { af: 6 as const, protocol: 6, fwmark: 10 };
    m.addService({ ...fwm, scheduler: 'rr' });
    m.addDest(fwm, { addr: 'fd00::12', port: 443, fwd: 'tunnel', weight: 7 });
    const tcp = { af: 4 as const, protocol: 6, addr: '10.0.3.100', port: 80 };
    m.addService({ ...tcp, scheduler: 'wlc' });
    m.addDest(tcp, { addr: '10.0.2.11', port: 8080, fwd: 'masq', weight: 3 });
    const exporter = createMetrics({ model: m });
    let accepts = '';
    const server = await serveMetrics('127.0.0.1', 0, exporter);
    server.prependListener('request', (req) => {
      if (req.url === '/metrics') accepts = String(req.headers.accept);
    });
    const a = server.address();
    const target = `127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
    const dir = mkdtempSync(join(tmpdir(), 'tsvs-prom-'));
    const web = await freePort();
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: tsvs\n    static_configs:\n      - targets: ['${target}']\n`,
    );
    const prom = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${web}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    prom.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
    const query = async (q: string): Promise<Vector[]> => {
      const r = await fetch(`http://127.0.0.1:${web}/api/v1/query?query=${encodeURIComponent(q)}`);
      const j = (await r.json()) as { data: { result: Vector[] } };
      return j.data.result;
    };
    try {
      let up: Vector[] = [];
      for (let i = 0; i < 100; i++) {
        await new Promise((r) => setTimeout(r, 200));
        try {
          up = await query('up{job="tsvs"}');
        } catch {
          continue; // not listening yet
        }
        if (up.length && up[0].value[1] === '1') break;
      }
      assert.equal(up[0]?.value[1], '1', `target up\n${log}`);
      assert.match(accepts, /application\/openmetrics-text/);
      const w = await query('node_ipvs_backend_weight');
      // Prometheus stores an empty label as no label, as for node_exporter's series
      const byMark = w
        .map((v) => [
          v.metric.proto,
          v.metric.local_mark ?? '',
          v.metric.remote_address,
          v.value[1],
        ])
        .sort();
      assert.deepEqual(byMark, [
        ['FWM', '0000000A', 'fd00::12', '7'],
        ['TCP', '', '10.0.2.11', '3'],
      ]);
      const tcpRow = w.find((v) => v.metric.proto === 'TCP');
      assert.equal(tcpRow?.metric.local_address, '10.0.3.100');
      assert.equal(tcpRow?.metric.local_port, '80');
      // a counter family, by its sample name; the build info; the runtime
      assert.equal((await query('node_ipvs_connections_total'))[0]?.value[1], '0');
      assert.equal((await query('tsvs_build_info'))[0]?.value[1], '1');
      assert.equal((await query('tsvs_server_weight{mark="10"}'))[0]?.value[1], '7');
      assert.ok((await query('process_resident_memory_bytes')).length === 1);
    } finally {
      prom.kill('SIGTERM');
      await new Promise((r) => prom.once('close', r));
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
