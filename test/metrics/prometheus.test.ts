/**
 * The Prometheus exposition of src/metrics/prometheus.ts: metric names, HELP/TYPE once
 * per metric, labels as ipvsadm names services and real servers, values from real
 * traffic through an engine, and the HTTP endpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/engine/engine.js';
import { ControlModel } from '../../src/control/model.js';
import { renderMetrics, serveMetrics } from '../../src/metrics/prometheus.js';
import { parseHostPort } from '../../src/daemon/daemon.js';
import { ACK, SYN, buildPacket, rng } from '../helpers/packets.js';

function model(): ControlModel {
  const m = new ControlModel(new Engine({ random: rng(1) }));
  m.addService({ af: 4, protocol: 6, addr: '10.0.3.100', port: 80, scheduler: 'rr' });
  const id = { af: 4 as const, protocol: 6, addr: '10.0.3.100', port: 80 };
  m.addDest(id, { addr: '10.0.2.11', port: 8080, fwd: 'masq', weight: 3 });
  m.addService({ af: 6, protocol: 17, addr: 'fd00::100', port: 53, scheduler: 'wlc' });
  m.addService({ af: 4, protocol: 6, fwmark: 7, scheduler: 'rr' });
  return m;
}

function sample(text: string, name: string, labels: string): number {
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith(`${name}{${labels}} `) ||
        l === `${name} ` ||
        (l.startsWith(`${name} `) && labels === ''),
    );
  assert.ok(line, `${name}{${labels}} in\n${text}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('services, real servers, the table and drops, from real packets', () => {
  const m = model();
  const e = m.engine;
  for (const [flags, payload] of [
    [SYN, ''],
    [ACK, 'hello'],
  ] as const) {
    const p = buildPacket({
      src: '10.0.1.2',
      dst: '10.0.3.100',
      sport: 40000,
      dport: 80,
      flags,
      payload,
    });
    e.in(p, 0, p.length, 1000);
  }
  const bad = new Uint8Array([0x45, 0, 0, 10]);
  e.in(bad, 0, bad.length, 1001);
  const t = renderMetrics(m, {
    steered: { in: 5, out: 4 },
    txErrors: new Map([['tx-errno-90', 2]]),
    sync: [{ role: 'master', datagrams: 3, conns: 7 }],
  });
  const svc = 'service="TCP 10.0.3.100:80"';
  const srv = `${svc},server="10.0.2.11:8080"`;
  assert.equal(sample(t, 'tsvs_service_connections_total', svc), 1);
  assert.equal(sample(t, 'tsvs_service_packets_total', `${svc},direction="in"`), 2);
  assert.equal(sample(t, 'tsvs_server_packets_total', `${srv},direction="in"`), 2);
  assert.equal(sample(t, 'tsvs_server_active_connections', srv), 1);
  assert.equal(sample(t, 'tsvs_server_weight', srv), 3);
  assert.equal(sample(t, 'tsvs_service_connections_total', 'service="UDP [fd00::100]:53"'), 0);
  assert.equal(sample(t, 'tsvs_service_connections_total', 'service="FWM 7"'), 0);
  assert.equal(sample(t, 'tsvs_connections', ''), 1);
  assert.equal(sample(t, 'tsvs_drops_total', 'reason="malformed"'), 1);
  assert.equal(sample(t, 'tsvs_steered_packets_total', 'direction="reply"'), 4);
  assert.equal(sample(t, 'tsvs_transmit_errors_total', 'reason="tx-errno-90"'), 2);
  assert.equal(sample(t, 'tsvs_sync_connections_total', 'role="master"'), 7);
  // HELP and TYPE once per metric, before its samples
  for (const name of ['tsvs_service_packets_total', 'tsvs_server_weight', 'tsvs_drops_total']) {
    assert.equal(t.split('\n').filter((l) => l.startsWith(`# TYPE ${name} `)).length, 1);
    const help = t.indexOf(`# HELP ${name} `);
    assert.ok(help >= 0 && help < t.indexOf(`\n${name}{`));
  }
  assert.match(t, /# TYPE tsvs_server_active_connections gauge/);
  assert.match(t, /# TYPE tsvs_service_bytes_total counter/);
});

test('the endpoint: /metrics 200 text/plain 0.0.4, anything else 404', async () => {
  const m = model();
  const server = await serveMetrics('127.0.0.1', 0, () => renderMetrics(m));
  try {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    const r = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /text\/plain; version=0\.0\.4/);
    assert.match(await r.text(), /tsvs_service_connections_total\{service="TCP 10.0.3.100:80"\} 0/);
    assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 404);
  } finally {
    server.close();
  }
});

test('--metrics argument: PORT, HOST:PORT, [IPv6]:PORT; nonsense refused', () => {
  assert.deepEqual(parseHostPort('9101'), { host: '127.0.0.1', port: 9101 });
  assert.deepEqual(parseHostPort('0.0.0.0:9101'), { host: '0.0.0.0', port: 9101 });
  assert.deepEqual(parseHostPort('[::1]:9101'), { host: '::1', port: 9101 });
  assert.equal(parseHostPort('host:99999'), null);
  assert.equal(parseHostPort('::1:9101'), null);
  assert.equal(parseHostPort('abc'), null);
});
