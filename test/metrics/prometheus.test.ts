/**
 * The metrics endpoint (src/metrics/): the exposition passes the Prometheus project's
 * own checker (`promtool check metrics`), the node_ipvs_* series equal what
 * node_exporter computes from /proc/net/ip_vs and /proc/net/ip_vs_stats of the same
 * state (IPv4, IPv6, fwmark services of both families), the tsvs_* families carry the
 * service as separate labels, and the HTTP endpoint negotiates OpenMetrics, answers
 * HEAD and `/`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Engine } from '../../src/engine/engine.js';
import { ControlModel } from '../../src/control/model.js';
import { procText } from '../../src/control/proc.js';
import { createMetrics, serveMetrics, wantsOpenMetrics } from '../../src/metrics/prometheus.js';
import { goIPString } from '../../src/metrics/node.js';
import { parseHostPort } from '../../src/daemon/daemon.js';
import { ACK, SYN, buildPacket, rng } from '../helpers/packets.js';

const TCP80 = { af: 4 as const, protocol: 6, addr: '10.0.3.100', port: 80 };
const UDP53 = { af: 6 as const, protocol: 17, addr: 'fd00::100', port: 53 };
const FWM7 = { af: 4 as const, protocol: 6, fwmark: 7 };
const FWM7V6 = { af: 6 as const, protocol: 6, fwmark: 7 };
const FWM10V6 = { af: 6 as const, protocol: 6, fwmark: 10 };

/** IPv4, IPv6 and fwmark services of both families, with traffic through them. */
function model(): ControlModel {
  const m = new ControlModel(new Engine({ random: rng(1) }));
  m.addService({ ...TCP80, scheduler: 'rr' });
  m.addDest(TCP80, { addr: '10.0.2.11', port: 8080, fwd: 'masq', weight: 3 });
  m.addDest(TCP80, { addr: '10.0.2.12', port: 8080, fwd: 'masq', weight: 1 });
  m.addService({ ...UDP53, scheduler: 'wlc' });
  // zero runs of equal length: Go compresses the first; a single zero group stays
  m.addDest(UDP53, { addr: '2001:db8:0:0:1:0:0:1', port: 53, fwd: 'masq', weight: 2 });
  m.addDest(UDP53, { addr: 'fd00:0:1:0:2:3:4:5', port: 5353, fwd: 'droute', weight: 1 });
  m.addService({ ...FWM7, scheduler: 'rr' });
  m.addDest(FWM7, { addr: '10.0.2.11', port: 0, fwd: 'droute', weight: 5 });
  m.addService({ ...FWM7V6, scheduler: 'rr' });
  m.addDest(FWM7V6, { addr: 'fd00::11', port: 0, fwd: 'droute', weight: 4 });
  m.addService({ ...FWM10V6, scheduler: 'sh' });
  m.addDest(FWM10V6, { addr: 'fd00::12', port: 443, fwd: 'tunnel', weight: 7 });
  const e = m.engine;
  let now = 1000;
  const tcp = (sport: number, dst: string, mark = 0): void => {
    for (const [flags, payload] of [
      [SYN, ''],
      [ACK, 'hello'],
    ] as const) {
      const p = buildPacket({
        src: dst.includes(':') ? 'fd00::2' : '10.0.1.2',
        dst,
        sport,
        dport: 80,
        flags,
        payload,
      });
      e.in(p, 0, p.length, now++, mark);
    }
  };
  for (let i = 0; i < 5; i++) tcp(40000 + i, '10.0.3.100');
  tcp(41000, '10.9.9.9', 7);
  tcp(41001, 'fd00::9', 10);
  const u = buildPacket({
    src: 'fd00::2',
    dst: 'fd00::100',
    sport: 5000,
    dport: 53,
    proto: 'udp',
    payload: 'q',
  });
  e.in(u, 0, u.length, now++);
  const bad = new Uint8Array([0x45, 0, 0, 10]);
  e.in(bad, 0, bad.length, now++);
  return m;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of an exposition (label values unescaped). */
function parseSamples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `sample line: ${line}`);
    const labels: Record<string, string> = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g;
    for (let l; (l = re.exec(m[2] ?? ''));)
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const s = samples.filter(
    (x) =>
      x.name === name &&
      Object.keys(labels).length === Object.keys(x.labels).length &&
      Object.entries(labels).every(([k, v]) => x.labels[k] === v),
  );
  assert.equal(s.length, 1, `${name}${JSON.stringify(labels)}`);
  return s[0].value;
}

// ---------------------------------------------------------------------------------
// node_exporter's computation, written from its rules (procfs's ipvs.go and
// node_exporter's collector/ipvs_linux.go): parse the /proc text, label, sum.

/** Go's net.ParseIP(...).String() of a full `%pI6` address, written independently. */
function goIPv6(full: string): string {
  const g = full.split(':').map((h) => parseInt(h, 16));
  assert.equal(g.length, 8);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff)
    return [g[6] >> 8, g[6] & 255, g[7] >> 8, g[7] & 255].join('.');
  let e0 = -1;
  let e1 = -1;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j > i && j - i > e1 - e0) {
      e0 = i;
      e1 = j;
      i = j;
    }
  }
  if (e1 - e0 <= 1) {
    e0 = -1;
    e1 = -1;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === e0) {
      s += '::';
      i = e1 - 1;
      continue;
    }
    if (i > 0 && i !== e1) s += ':';
    s += g[i].toString(16);
  }
  return s;
}

/** procfs's parseIPPort: 13 characters (hex IPv4) or 46 ([IPv6]), port in hex. */
function parseIPPort(s: string): [string, number] {
  let ip: string;
  if (s.length === 13) {
    const v = parseInt(s.slice(0, 8), 16);
    ip = [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
  } else if (s.length === 46) ip = goIPv6(s.slice(1, 40));
  else throw new Error(`unexpected IP:Port ${s}`);
  return [ip, parseInt(s.slice(-4), 16)];
}

function nodeExporterSays(ipVs: string, ipVsStats: string): Sample[] {
  const out: Sample[] = [];
  const f = ipVsStats.split('\n', 4)[2].trim().split(/\s+/);
  assert.equal(f.length, 5);
  const totals = [
    'connections',
    'incoming_packets',
    'outgoing_packets',
    'incoming_bytes',
    'outgoing_bytes',
  ];
  totals.forEach((n, i) =>
    out.push({ name: `node_ipvs_${n}_total`, labels: {}, value: parseInt(f[i], 16) }),
  );
  let proto = '';
  let mark = '';
  let laddr = '';
  let lport = 0;
  const sums = new Map<
    string,
    { labels: Record<string, string>; a: number; i: number; w: number }
  >();
  for (const line of ipVs.split('\n')) {
    const x = line.trim().split(/\s+/).filter(Boolean);
    if (x.length === 0) continue;
    if (x[0] === 'IP' || x[0] === 'Prot' || x[1] === 'RemoteAddress:Port') continue;
    if (x[0] === 'TCP' || x[0] === 'UDP') {
      proto = x[0];
      mark = '';
      [laddr, lport] = parseIPPort(x[1]);
    } else if (x[0] === 'FWM') {
      proto = 'FWM';
      mark = x[1];
      laddr = '';
      lport = 0;
    } else if (x[0] === '->') {
      const [raddr, rport] = parseIPPort(x[1]);
      const labels = {
        local_address: laddr,
        local_port: String(lport),
        remote_address: raddr,
        remote_port: String(rport),
        proto,
        local_mark: mark,
      };
      const key = Object.values(labels).join('-');
      const s = sums.get(key) ?? { labels, a: 0, i: 0, w: 0 };
      s.w += Number(x[3]);
      s.a += Number(x[4]);
      s.i += Number(x[5]);
      sums.set(key, s);
    }
  }
  for (const s of sums.values()) {
    out.push({ name: 'node_ipvs_backend_connections_active', labels: s.labels, value: s.a });
    out.push({ name: 'node_ipvs_backend_connections_inactive', labels: s.labels, value: s.i });
    out.push({ name: 'node_ipvs_backend_weight', labels: s.labels, value: s.w });
  }
  return out;
}

function sorted(s: Sample[]): string[] {
  return s.map((x) => `${x.name}${JSON.stringify(x.labels)} ${x.value}`).sort();
}

test('node_ipvs_* equal what node_exporter reads from /proc/net/ip_vs{,_stats}, fwmark and IPv6 included', async () => {
  const m = model();
  const { body } = await createMetrics({ model: m }, { defaultMetrics: false }).render();
  const ours = parseSamples(body).filter((s) => s.name.startsWith('node_ipvs_'));
  const theirs = nodeExporterSays(procText(m, 'ip_vs'), procText(m, 'ip_vs_stats'));
  assert.deepEqual(sorted(ours), sorted(theirs));
  // the state is the one intended: traffic counted, fwmark of both families, IPv6 forms
  assert.equal(value(ours, 'node_ipvs_connections_total'), 8);
  const fwm = ours.filter((s) => s.labels.proto === 'FWM' && s.name.endsWith('_weight'));
  assert.deepEqual(
    fwm
      .map((s) => [
        s.labels.local_mark,
        s.labels.local_address,
        s.labels.local_port,
        s.labels.remote_address,
        s.value,
      ])
      .sort(),
    [
      ['00000007', '', '0', '10.0.2.11', 5],
      ['00000007', '', '0', 'fd00::11', 4],
      ['0000000A', '', '0', 'fd00::12', 7],
    ],
  );
  const v6 = ours
    .filter((s) => s.labels.local_address === 'fd00::100')
    .map((s) => s.labels.remote_address);
  assert.deepEqual([...new Set(v6)].sort(), ['2001:db8::1:0:0:1', 'fd00:0:1:0:2:3:4:5']);
  assert.equal(
    value(ours, 'node_ipvs_backend_connections_active', {
      local_address: '10.0.3.100',
      local_port: '80',
      remote_address: '10.0.2.11',
      remote_port: '8080',
      proto: 'TCP',
      local_mark: '',
    }),
    2,
  );
});

test('node_exporter sums backends with the same labels (an IPv4-mapped real server)', async () => {
  const m = model();
  // Go prints ::ffff:10.0.2.11 as 10.0.2.11: the same labels as FWM 7's IPv4 real server
  m.addDest(FWM7V6, { addr: '::ffff:10.0.2.11', port: 0, fwd: 'droute', weight: 2 });
  const { body } = await createMetrics({ model: m }, { defaultMetrics: false }).render();
  const ours = parseSamples(body).filter((s) => s.name.startsWith('node_ipvs_'));
  assert.deepEqual(
    sorted(ours),
    sorted(nodeExporterSays(procText(m, 'ip_vs'), procText(m, 'ip_vs_stats'))),
  );
  const l = {
    local_address: '',
    local_port: '0',
    remote_address: '10.0.2.11',
    remote_port: '0',
    proto: 'FWM',
    local_mark: '00000007',
  };
  assert.equal(value(ours, 'node_ipvs_backend_weight', l), 7);
});

test("Go's IP formatting: RFC 5952 with Go's IPv4-mapped and IPv4-compatible forms", () => {
  assert.equal(goIPString('10.0.0.1'), '10.0.0.1');
  assert.equal(goIPString('fd00:0:0:0:0:0:0:100'), 'fd00::100');
  assert.equal(goIPString('::ffff:1.2.3.4'), '1.2.3.4');
  assert.equal(goIPString('::1.2.3.4'), '::102:304');
  assert.equal(goIPString('1:0:2:0:0:3:0:0'), '1:0:2::3:0:0');
  assert.equal(goIPString('1:2:3:4:5:6:0:8'), '1:2:3:4:5:6:0:8');
  assert.equal(goIPString('::'), '::');
});

test('promtool check metrics passes on the whole exposition (process and runtime metrics included)', async () => {
  const m = model();
  const exp = createMetrics({
    model: m,
    steered: () => ({ in: 5, out: 4 }),
    txErrors: () => new Map([['tx-errno-90', 2]]),
    sync: () => [{ role: 'master', datagrams: 3, conns: 7 }],
    health: () => [
      { service: 'TCP 10.0.3.100:80', servers: [{ server: '10.0.2.11:8080', alive: true }] },
    ],
  });
  const { body, contentType } = await exp.render();
  assert.equal(contentType, 'text/plain; version=0.0.4; charset=utf-8');
  const r = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
  assert.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`);
  const s = parseSamples(body);
  for (const n of [
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_heap_size_used_bytes',
    'nodejs_eventloop_lag_seconds',
  ])
    assert.ok(
      s.some((x) => x.name === n),
      n,
    );
  const b = s.find((x) => x.name === 'tsvs_build_info');
  assert.ok(
    b && b.value === 1 && b.labels.version === '0.1.0' && b.labels.node === process.versions.node,
  );
});

test('tsvs_* families: the service as separate labels, real servers, drops, sync, health, fast path', async () => {
  const m = model();
  m.startDaemon({ state: 'master', mcastIfn: 'lo', syncId: 9 });
  const exp = createMetrics(
    {
      model: m,
      steered: () => ({ in: 5, out: 4 }),
      txErrors: () => new Map([['tx-errno-90', 2]]),
      sync: () => [{ role: 'master', datagrams: 3, conns: 7 }],
      health: () => [
        {
          service: 'TCP 10.0.3.100:80',
          servers: [
            { server: '10.0.2.11:8080', alive: true },
            { server: '10.0.2.12:8080', alive: false },
          ],
        },
        { service: 'FWM 7', servers: [{ server: '10.0.2.11:0', alive: true }] },
      ],
    },
    { defaultMetrics: false },
  );
  const s = parseSamples((await exp.render()).body);
  const tcp = { family: 'ipv4', protocol: 'TCP', address: '10.0.3.100', port: '80', mark: '' };
  const udp6 = { family: 'ipv6', protocol: 'UDP', address: 'fd00::100', port: '53', mark: '' };
  const fwm = { family: 'ipv4', protocol: 'FWM', address: '', port: '', mark: '7' };
  const fwm10 = { family: 'ipv6', protocol: 'FWM', address: '', port: '', mark: '10' };
  assert.equal(value(s, 'tsvs_service_connections_total', tcp), 5);
  assert.equal(value(s, 'tsvs_service_packets_total', { ...tcp, direction: 'in' }), 10);
  assert.equal(value(s, 'tsvs_service_connections_total', udp6), 1);
  assert.equal(value(s, 'tsvs_service_connections_total', fwm), 1);
  assert.equal(value(s, 'tsvs_service_connections_total', fwm10), 1);
  assert.equal(
    value(s, 'tsvs_service_info', { ...tcp, scheduler: 'rr', service: 'TCP 10.0.3.100:80' }),
    1,
  );
  const srv = { ...tcp, server_address: '10.0.2.11', server_port: '8080' };
  // rr over two real servers, five connections: 2 here, 3 on 10.0.2.12
  assert.equal(value(s, 'tsvs_server_connections_total', srv), 2);
  assert.equal(value(s, 'tsvs_server_active_connections', srv), 2);
  assert.equal(value(s, 'tsvs_server_weight', srv), 3);
  assert.equal(value(s, 'tsvs_server_info', { ...srv, forward: 'masq' }), 1);
  assert.equal(
    value(s, 'tsvs_server_weight', { ...fwm10, server_address: 'fd00::12', server_port: '443' }),
    7,
  );
  assert.equal(value(s, 'tsvs_connections'), 8);
  assert.equal(value(s, 'tsvs_packets_total', { direction: 'in' }), 15);
  assert.equal(value(s, 'tsvs_drops_total', { reason: 'malformed' }), 1);
  assert.equal(value(s, 'tsvs_drops_total', { reason: 'bad-checksum' }), 0);
  assert.equal(value(s, 'tsvs_steered_packets_total', { direction: 'reply' }), 4);
  assert.equal(value(s, 'tsvs_transmit_errors_total', { reason: 'tx-errno-90' }), 2);
  assert.equal(value(s, 'tsvs_sync_role', { role: 'master' }), 1);
  assert.equal(value(s, 'tsvs_sync_role', { role: 'backup' }), 0);
  assert.equal(
    value(s, 'tsvs_sync_daemon_info', {
      role: 'master',
      syncid: '9',
      interface: 'lo',
      group: '224.0.0.81:8848',
    }),
    1,
  );
  assert.equal(value(s, 'tsvs_sync_connections_total', { role: 'master' }), 7);
  assert.equal(
    value(s, 'tsvs_health_server_up', { ...tcp, server_address: '10.0.2.12', server_port: '8080' }),
    0,
  );
  assert.equal(
    value(s, 'tsvs_health_server_up', { ...fwm, server_address: '10.0.2.11', server_port: '0' }),
    1,
  );
  // read at scrape time: a change shows in the next scrape
  m.editDest(TCP80, { addr: '10.0.2.11', port: 8080, fwd: 'masq', weight: 0 });
  assert.equal(value(parseSamples((await exp.render()).body), 'tsvs_server_weight', srv), 0);
});

test('OpenMetrics when the Accept header prefers it; counters as families without _total; # EOF', async () => {
  assert.equal(wantsOpenMetrics(undefined), false);
  assert.equal(wantsOpenMetrics('text/plain'), false);
  // what Prometheus 2.x sends
  assert.equal(
    wantsOpenMetrics(
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
    ),
    true,
  );
  assert.equal(wantsOpenMetrics('application/openmetrics-text;q=0.2,text/plain;q=0.9'), false);
  const exp = createMetrics({ model: model() });
  // twice, and the text format between: the formats do not disturb each other
  for (let i = 0; i < 2; i++) {
    const om = await exp.render(true);
    assert.equal(om.contentType, 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    assert.match(om.body, /# TYPE node_ipvs_connections counter\nnode_ipvs_connections_total 8\n/);
    assert.match(om.body, /\n# EOF\n$/);
    const text = await exp.render(false);
    assert.match(
      text.body,
      /# TYPE node_ipvs_connections_total counter\nnode_ipvs_connections_total 8\n/,
    );
    assert.deepEqual(
      sorted(
        parseSamples(om.body.replace(/# EOF\n$/, '')).filter(
          (x) => !/^(process|nodejs)_/.test(x.name),
        ),
      ),
      sorted(parseSamples(text.body).filter((x) => !/^(process|nodejs)_/.test(x.name))),
    );
  }
});

test('the endpoint: /metrics (GET, HEAD, OpenMetrics by Accept), / an index, 404 and 405', async () => {
  const m = model();
  const server = await serveMetrics('127.0.0.1', 0, createMetrics({ model: m }));
  try {
    const addr = server.address();
    const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    const r = await fetch(`${url}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const body = await r.text();
    assert.match(body, /\nnode_ipvs_connections_total 8\n/);
    const h = await fetch(`${url}/metrics`, { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(await h.text(), '');
    assert.ok(Number(h.headers.get('content-length')) > 1000);
    const om = await fetch(`${url}/metrics`, {
      headers: { accept: 'application/openmetrics-text; version=1.0.0' },
    });
    assert.match(
      om.headers.get('content-type') ?? '',
      /^application\/openmetrics-text; version=1\.0\.0/,
    );
    assert.match(await om.text(), /# EOF\n$/);
    const idx = await fetch(`${url}/`);
    assert.equal(idx.status, 200);
    assert.match(await idx.text(), /href="\/metrics"/);
    assert.equal((await fetch(`${url}/`, { method: 'HEAD' })).status, 200);
    assert.equal((await fetch(`${url}/other`)).status, 404);
    assert.equal((await fetch(`${url}/metrics`, { method: 'POST' })).status, 405);
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

test('an SCTP service keeps its own labels (node_exporter would file it under the service before it)', async () => {
  const m = model();
  const sctp = { af: 4 as const, protocol: 132, addr: '10.0.3.101', port: 3868 };
  m.addService({ ...sctp, scheduler: 'rr' });
  m.addDest(sctp, { addr: '10.0.2.20', port: 3868, fwd: 'masq', weight: 9 });
  const { body } = await createMetrics({ model: m }, { defaultMetrics: false }).render();
  const s = parseSamples(body);
  assert.equal(
    value(s, 'node_ipvs_backend_weight', {
      local_address: '10.0.3.101',
      local_port: '3868',
      remote_address: '10.0.2.20',
      remote_port: '3868',
      proto: 'SCTP',
      local_mark: '',
    }),
    9,
  );
  // every other series is still node_exporter's
  const others = s.filter((x) => x.name.startsWith('node_ipvs_') && x.labels.proto !== 'SCTP');
  const theirs = nodeExporterSays(procText(m, 'ip_vs'), procText(m, 'ip_vs_stats'));
  const mine = new Set(sorted(others));
  // procfs skips the SCTP line: its real server lands under the service listed before
  assert.ok(sorted(theirs).filter((x) => !mine.has(x)).length > 0);
  m.delService(sctp);
  const again = parseSamples(
    (await createMetrics({ model: m }, { defaultMetrics: false }).render()).body,
  );
  assert.deepEqual(
    sorted(again.filter((x) => x.name.startsWith('node_ipvs_'))),
    sorted(nodeExporterSays(procText(m, 'ip_vs'), procText(m, 'ip_vs_stats'))),
  );
});
