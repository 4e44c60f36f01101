/**
 * The dashboard's HTTP side (src/web/server.ts, auth.ts, actions.ts, sample.ts), served
 * in-process over a real control model on 127.0.0.1: the page and its security
 * headers, who may read and who may act, the actions through the control model, the
 * event stream, the history and the rates from the engine's counters.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { ControlModel } from '../../src/control/model.js';
import { WebServer, parseListen, startDashboard } from '../../src/web/server.js';
import { isLoopbackHost, loadToken, tokenMatches } from '../../src/web/auth.js';
import { Sampler, canonicalLabel } from '../../src/web/sample.js';
import { SYN, buildPacket, rng } from '../helpers/packets.js';

const TOKEN = 'test-token-0123456789abcdef';
const SVC = { af: 4 as const, protocol: 6, addr: '10.0.3.100', port: 80 };

function newModel(): ControlModel {
  const m = new ControlModel(new Engine({ random: rng(3) }));
  m.addService({ ...SVC, scheduler: 'wrr' });
  m.addDest(SVC, { addr: '10.0.2.11', port: 8080, fwd: 'masq', weight: 3, uThreshold: 7 });
  m.addDest(SVC, { addr: '10.0.2.12', port: 8080, fwd: 'masq', weight: 2 });
  return m;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

let web: WebServer;
let model: ControlModel;
const logged: string[] = [];

function call(
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  const { port } = web.address;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: opts.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const post = (action: string, body: unknown, token: string | null = TOKEN): Promise<Reply> =>
  call('POST', `/api/action/${action}`, {
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });

const weights = (): string[] =>
  model
    .service(SVC)
    .dests.map((d) => `${d.addr}:${d.port}=${d.weight}`)
    .sort();

before(async () => {
  model = newModel();
  web = await WebServer.start({ port: 0, token: TOKEN, model, log: (l) => logged.push(l) });
});

after(async () => {
  await web.close();
});

test('the page, its module and uPlot are served with a CSP that forbids inline code', async () => {
  const r = await call('GET', '/');
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'] as string, /^text\/html/);
  const csp = r.headers['content-security-policy'] as string;
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  // no inline script or style in the page
  assert.doesNotMatch(r.body, /<script(?![^>]*\bsrc=)[^>]*>/);
  assert.doesNotMatch(r.body, /\sstyle=|<style|\son[a-z]+=/i);
  for (const f of [
    '/static/app.js',
    '/static/style.css',
    '/static/uplot.js',
    '/static/uplot.css',
  ]) {
    const s = await call('GET', f);
    assert.equal(s.status, 200, f);
    assert.ok(s.body.length > 100, f);
  }
  assert.match((await call('GET', '/static/uplot.js')).body, /export \{ uPlot as default \}/);
  assert.equal((await call('GET', '/static/../server.js')).status, 404);
  assert.equal((await call('GET', '/nothing')).status, 404);
  assert.equal((await call('DELETE', '/')).status, 405);
});

test('this machine reads without the token; a foreign host name or another machine needs it', async () => {
  const local = await call('GET', '/api/state');
  assert.equal(local.status, 200);
  const s = JSON.parse(local.body);
  assert.deepEqual(
    s.services.map((x: { key: string }) => x.key),
    ['TCP 10.0.3.100:80'],
  );
  // a page whose name was re-bound to 127.0.0.1 is not this machine
  const rebound = await call('GET', '/api/state', { headers: { host: 'evil.example:80' } });
  assert.equal(rebound.status, 401);
  assert.match(rebound.headers['www-authenticate'] as string, /^Bearer/);
  const withToken = await call('GET', '/api/state', {
    headers: { host: 'evil.example:80', authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(withToken.status, 200);
  // through a reverse proxy on this machine, a request is not local
  const proxied = await call('GET', '/api/state', {
    headers: { host: '127.0.0.1:8080', 'x-forwarded-for': '192.0.2.7' },
  });
  assert.equal(proxied.status, 401);
  const fwd = await call('GET', '/api/state', { headers: { forwarded: 'for=192.0.2.7' } });
  assert.equal(fwd.status, 401);
  const session = await call('GET', '/api/session', { headers: { host: 'dash.example' } });
  assert.deepEqual(JSON.parse(session.body), { local: false, authorized: false });
});

test('every action needs the token, even from this machine, in a header', async () => {
  const before = weights();
  const body = { service: 'TCP 10.0.3.100:80', server: '10.0.2.11:8080' };
  assert.equal((await post('drain', body, null)).status, 401);
  assert.equal((await post('drain', body, 'wrong-token-0123456789abcdef')).status, 401);
  // a cookie is no token
  const cookie = await call('POST', '/api/action/drain', {
    headers: { 'content-type': 'application/json', cookie: `token=${TOKEN}` },
    body: JSON.stringify(body),
  });
  assert.equal(cookie.status, 401);
  // a form post from another site cannot carry it, and is refused anyway
  const form = await call('POST', '/api/action/drain', {
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Bearer ${TOKEN}`,
    },
    body: 'service=x',
  });
  assert.equal(form.status, 415);
  const cross = await call('POST', '/api/action/drain', {
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${TOKEN}`,
      origin: 'http://evil.example',
    },
    body: JSON.stringify(body),
  });
  assert.equal(cross.status, 403);
  assert.deepEqual(weights(), before);
  // logged, but a flood of refusals is not a flood of lines
  assert.deepEqual(
    logged.filter((l) => l.includes('refused')),
    ['web: refused drain from 127.0.0.1: no valid token'],
  );
});

test('drain sets weight 0 through the control model keeping every other field; restore gives it back', async () => {
  const r = await post('drain', { service: 'TCP 10.0.3.100:80', server: '10.0.2.11:8080' });
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(weights(), ['10.0.2.11:8080=0', '10.0.2.12:8080=2']);
  const d = model.service(SVC).dests.find((x) => x.addr === '10.0.2.11')!;
  assert.equal(d.uThreshold, 7);
  assert.equal(d.fwd, 'masq');
  assert.ok(
    logged.some(
      (l) => l === 'web: drained 10.0.2.11:8080 of TCP 10.0.3.100:80 (weight 3 → 0) by 127.0.0.1',
    ),
  );
  // the page sees it with the next sample
  web.sampler.sample();
  const st = JSON.parse((await call('GET', '/api/state')).body);
  const dd = st.services[0].dests.find((x: { server: string }) => x.server === '10.0.2.11:8080');
  assert.equal(dd.weight, 0);
  assert.equal(dd.lastWeight, 3);
  assert.equal(
    (await post('restore', { service: 'TCP 10.0.3.100:80', server: '10.0.2.11:8080' })).status,
    200,
  );
  assert.deepEqual(weights(), ['10.0.2.11:8080=3', '10.0.2.12:8080=2']);
});

test('quiesce takes every real server of a service to weight 0, unquiesce brings each back', async () => {
  assert.equal((await post('quiesce', { service: 'TCP 10.0.3.100:80' })).status, 200);
  assert.deepEqual(weights(), ['10.0.2.11:8080=0', '10.0.2.12:8080=0']);
  assert.equal((await post('unquiesce', { service: 'TCP 10.0.3.100:80' })).status, 200);
  assert.deepEqual(weights(), ['10.0.2.11:8080=3', '10.0.2.12:8080=2']);
});

test('unknown targets and bad requests are refused and change nothing', async () => {
  const before = weights();
  const cases: [string, unknown, number, RegExp][] = [
    ['drain', { service: 'TCP 10.9.9.9:80', server: '10.0.2.11:8080' }, 404, /no virtual service/],
    ['drain', { service: 'TCP 10.0.3.100:80', server: '10.0.2.99:8080' }, 404, /no real server/],
    ['drain', { service: 'TCP 10.0.3.100:80' }, 400, /server: expected/],
    ['drain', [1, 2], 400, /JSON object/],
    ['explode', { service: 'TCP 10.0.3.100:80' }, 404, /no action/],
  ];
  for (const [a, b, status, msg] of cases) {
    const r = await post(a, b);
    assert.equal(r.status, status, `${a} ${JSON.stringify(b)}: ${r.body}`);
    assert.match(JSON.parse(r.body).error, msg);
  }
  const bad = await call('POST', '/api/action/drain', {
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: '{"service":',
  });
  assert.equal(bad.status, 400);
  const big = await call('POST', '/api/action/drain', {
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ service: 'x'.repeat(10_000) }),
  });
  assert.equal(big.status, 413);
  // a real server added with weight 0 has no weight to restore
  model.addDest(SVC, { addr: '10.0.2.13', port: 8080, fwd: 'masq', weight: 0 });
  const r = await post('restore', { service: 'TCP 10.0.3.100:80', server: '10.0.2.13:8080' });
  assert.equal(r.status, 409);
  model.delDest(SVC, { addr: '10.0.2.13', port: 8080 });
  assert.deepEqual(weights(), before);
});

test('the event stream sends the state at once and then every interval', async () => {
  const { port } = web.address;
  const events = await new Promise<string[]>((resolve, reject) => {
    const got: string[] = [];
    const req = request({ host: '127.0.0.1', port, path: '/api/events' }, (res) => {
      assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
      let buf = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          got.push(buf.slice(0, i));
          buf = buf.slice(i + 2);
          if (got.length === 2) {
            req.destroy();
            resolve(got);
          }
        }
      });
    });
    req.on('error', (e) => (got.length >= 2 ? undefined : reject(e)));
    req.end();
  });
  for (const e of events) {
    const data = e.split('\n').find((l) => l.startsWith('data: '))!;
    assert.match(e, /^(retry: 2000\n)?event: state\n/);
    assert.equal(JSON.parse(data.slice(6)).services[0].key, 'TCP 10.0.3.100:80');
  }
});

test('connection search answers a page, and refuses a bad query', async () => {
  const e = model.engine;
  for (let i = 0; i < 30; i++) {
    const p = buildPacket({
      src: '10.0.1.2',
      dst: '10.0.3.100',
      sport: 30000 + i,
      dport: 80,
      flags: SYN,
    });
    e.in(p, 0, p.length, e.now + 1);
  }
  const r = JSON.parse((await call('GET', '/api/conns?q=10.0.1.2&limit=10')).body);
  assert.equal(r.matches, 30);
  assert.equal(r.rows.length, 10);
  assert.notEqual(r.next, null);
  const r2 = JSON.parse((await call('GET', `/api/conns?q=10.0.1.2&limit=10&after=${r.next}`)).body);
  assert.equal(r2.rows.length, 10);
  assert.ok(r2.rows[0].id > r.next);
  const bad = await call('GET', '/api/conns?q=port%3Dx');
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.body).error, /not a port/);
});

test('rates are counter differences over the time between samples; history keeps them', () => {
  const m = newModel();
  const s = new Sampler(m, {}, { capacity: 10 });
  s.sample(10_000);
  const svc = m.engine.services[0];
  const d = svc.dests.find((x) => x.port === 8080 && x.weight === 3)!;
  d.stats.conns += 20;
  d.stats.inpkts += 100;
  svc.stats.conns += 20;
  const st = s.sample(12_000);
  const dd = st.services[0].dests.find((x) => x.server === '10.0.2.11:8080')!;
  assert.equal(dd.rates.cps, 10);
  assert.equal(dd.rates.inpps, 50);
  assert.equal(st.services[0].rates.cps, 10);
  const w = s.history.window('TCP 10.0.3.100:80/10.0.2.11:8080')!;
  assert.deepEqual(w.t, [10_000, 12_000]);
  assert.deepEqual(w.values[0], [0, 10]);
  // ipvsadm -Z: counters go down, the rate counts from 0 instead of going negative
  m.zero();
  d.stats.conns += 4;
  const z = s.sample(13_000);
  assert.equal(z.services[0].dests.find((x) => x.server === '10.0.2.11:8080')!.rates.cps, 4);
  const z2 = s.sample(14_000);
  assert.equal(z2.services[0].dests.find((x) => x.server === '10.0.2.11:8080')!.rates.cps, 0);
});

test('health, sync and VRRP come from the daemon; drops by reason from the engine', () => {
  const m = newModel();
  m.engine.drops[1] = 5;
  const tx = new Map([['tx-errno-90', 1]]);
  const s = new Sampler(m, {
    txErrors: () => tx,
    health: () => [
      { service: 'TCP 10.0.3.100:80', servers: [{ server: '10.0.2.12:8080', alive: false }] },
    ],
    vrrp: () => 'BACKUP',
  });
  const st = s.sample(1000);
  const byServer = new Map(st.services[0].dests.map((d) => [d.server, d.alive]));
  assert.equal(byServer.get('10.0.2.12:8080'), false);
  assert.equal(byServer.get('10.0.2.11:8080'), null);
  assert.equal(st.vrrp, 'BACKUP');
  // keepalived.conf may write an IPv6 address in any of its forms
  const m6 = new ControlModel(new Engine());
  const v6 = { af: 6 as const, protocol: 6, addr: 'fd00::100', port: 80 };
  m6.addService({ ...v6, scheduler: 'rr' });
  m6.addDest(v6, { addr: 'fd00::2', port: 80, fwd: 'masq', weight: 1 });
  const s6 = new Sampler(m6, {
    health: () => [
      {
        service: 'TCP [FD00:0:0:0:0:0:0:100]:80',
        servers: [{ server: '[fd00:0::2]:80', alive: true }],
      },
    ],
  });
  assert.equal(s6.sample(1000).services[0].dests[0].alive, true);
  assert.deepEqual(st.drops, [
    { stage: 'engine', reason: 'malformed', total: 5, rate: 0 },
    { stage: 'transmit', reason: 'tx-errno-90', total: 1, rate: 0 },
  ]);
  m.engine.drops[1] = 9;
  tx.set('tx-errno-90', 3);
  const st2 = s.sample(3000);
  assert.deepEqual(
    st2.drops.map((d) => d.rate),
    [2, 1],
  );
  assert.equal(st2.totals.drops, 3);
});

test('labels are compared with their addresses written as inet_ntop writes them', () => {
  assert.equal(canonicalLabel('TCP [FD00:0::0100]:80'), 'TCP [fd00::100]:80');
  assert.equal(canonicalLabel('[::ffff:10.0.0.1]:8080'), '[::ffff:10.0.0.1]:8080');
  assert.equal(canonicalLabel('UDP 10.0.0.1:53'), 'UDP 10.0.0.1:53');
  assert.equal(canonicalLabel('FWM 7'), 'FWM 7');
  assert.equal(canonicalLabel('TCP [nonsense]:80'), 'TCP [nonsense]:80');
});

test('the token: compared in constant time, from a private file or generated into one', () => {
  assert.ok(tokenMatches(`Bearer ${TOKEN}`, TOKEN));
  assert.ok(tokenMatches(`bearer   ${TOKEN} `, TOKEN));
  assert.ok(!tokenMatches(undefined, TOKEN));
  assert.ok(!tokenMatches(TOKEN, TOKEN));
  assert.ok(!tokenMatches(`Bearer ${TOKEN}x`, TOKEN));
  assert.ok(!tokenMatches('Bearer ', TOKEN));
  for (const h of ['localhost:8080', '127.0.0.1', '[::1]:80', 'a.localhost'])
    assert.ok(isLoopbackHost(h), h);
  for (const h of ['evil.example', '10.0.0.1:80', '[fd00::1]:80', 'localhost.evil.example', ''])
    assert.ok(!isLoopbackHost(h), h);
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-web-'));
  try {
    const f = join(dir, 'sub', 'web.token');
    const g = loadToken(f);
    assert.ok(g.generated);
    assert.equal(statSync(f).mode & 0o777, 0o600);
    assert.ok(g.token.length >= 40);
    assert.deepEqual(loadToken(f), { token: g.token, generated: false });
    chmodSync(f, 0o644);
    assert.throws(() => loadToken(f), /readable by others \(mode 644\)/);
    const short = join(dir, 'short');
    writeFileSync(short, 'abc\n', { mode: 0o600 });
    assert.throws(() => loadToken(short), /at least 16 characters/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--web takes PORT, HOST:PORT or [IPv6]:PORT; the daemon start says where the token is', async () => {
  assert.deepEqual(parseListen('8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseListen('0.0.0.0:80'), { host: '0.0.0.0', port: 80 });
  assert.deepEqual(parseListen('[::1]:8080'), { host: '::1', port: 8080 });
  assert.equal(parseListen('80:80:80'), null);
  assert.equal(parseListen('host:99999'), null);
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-web-'));
  const lines: string[] = [];
  try {
    await assert.rejects(
      startDashboard({
        listen: 'nowhere',
        tokenFile: join(dir, 't'),
        model: newModel(),
        log: () => {},
      }),
      /--web nowhere: expected PORT/,
    );
    const w = await startDashboard({
      listen: '127.0.0.1:0',
      tokenFile: join(dir, 'web.token'),
      model: newModel(),
      log: (l) => lines.push(l),
    });
    await w.close();
    assert.match(
      lines[0],
      /^dashboard at http:\/\/127\.0\.0\.1:\d+\/ \(this machine reads without a token; actions need the token generated in .*web\.token\)$/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
