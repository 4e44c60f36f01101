/**
 * The checks themselves against real sockets and programs on loopback: TCP_CHECK
 * (connect, refused, timeout), HTTP_GET (status ranges, MD5 digest, several urls,
 * virtualhost), MISC_CHECK (exit codes, misc_dynamic, timeout).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCheck } from '../../src/health/check.js';
import type { KaChecker } from '../../src/health/keepalived.js';

let server: Server;
let port = 0;
const hosts: string[] = [];

before(async () => {
  server = createServer((req, res) => {
    hosts.push(req.headers.host ?? '');
    if (req.url === '/ok') res.writeHead(200).end('hello');
    else if (req.url === '/moved') res.writeHead(301).end();
    else res.writeHead(500).end('no');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
after(() => server.close());

const base = (over: Partial<KaChecker>): KaChecker => ({
  type: 'TCP_CHECK',
  connectTimeout: 1,
  retry: 1,
  delayBeforeRetry: 1,
  delayLoop: 1,
  alpha: false,
  urls: [],
  miscDynamic: false,
  line: 1,
  ...over,
});

test('TCP_CHECK: a listening port is up, a closed one down', async () => {
  assert.equal((await runCheck(base({}), { addr: '127.0.0.1', port })).ok, true);
  const r = await runCheck(base({}), { addr: '127.0.0.1', port: 1 });
  assert.equal(r.ok, false);
  assert.match(r.why ?? '', /ECONNREFUSED/);
  // connect_port overrides the real server's port
  assert.equal(
    (await runCheck(base({ connectPort: port }), { addr: '127.0.0.1', port: 1 })).ok,
    true,
  );
});

test('HTTP_GET: status ranges, digest, every url, virtualhost', async () => {
  const md5 = createHash('md5').update('hello').digest('hex');
  const t = { addr: '127.0.0.1', port };
  const get = (urls: KaChecker['urls'], extra: Partial<KaChecker> = {}) =>
    runCheck(base({ type: 'HTTP_GET', urls, ...extra }), t);
  assert.equal((await get([{ path: '/ok', statusCodes: [[200, 299]] }])).ok, true);
  assert.equal((await get([{ path: '/moved', statusCodes: [[200, 299]] }])).ok, false);
  assert.equal((await get([{ path: '/moved', statusCodes: [[301, 301]] }])).ok, true);
  assert.equal((await get([{ path: '/ok', statusCodes: [[200, 200]], digest: md5 }])).ok, true);
  const bad = await get([{ path: '/ok', statusCodes: [[200, 200]], digest: '0'.repeat(32) }]);
  assert.equal(bad.ok, false);
  assert.match(bad.why ?? '', /digest/);
  // one url per check (keepalived's walk): the first passes and the walk goes on,
  // the second fails
  const two = base({
    type: 'HTTP_GET',
    urls: [
      { path: '/ok', statusCodes: [[200, 299]] },
      { path: '/err', statusCodes: [[200, 299]] },
    ],
  });
  const step1 = await runCheck(two, t);
  assert.equal(step1.ok, true);
  assert.equal(step1.pending, true, 'one url of two: the check goes on');
  const step2 = await runCheck(two, t);
  assert.equal(step2.ok, false, 'every url must pass');
  assert.match(step2.why ?? '', /\/err/);
  await get([{ path: '/ok', statusCodes: [[200, 299]] }], { virtualhost: 'www.example.org' });
  assert.equal(hosts.at(-1), 'www.example.org');
});

test('MISC_CHECK: exit 0 up, 1 down, misc_dynamic weight, timeout', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-misc-'));
  const script = join(dir, 'exit.sh');
  writeFileSync(script, '#!/bin/sh\n[ "$1" = sleep ] && exec sleep 5\nexit "$1"\n', {
    mode: 0o755,
  });
  const t = { addr: '127.0.0.1', port: 0 };
  const misc = (arg: string, extra: Partial<KaChecker> = {}) =>
    runCheck(base({ type: 'MISC_CHECK', miscPath: `${script} ${arg}`, ...extra }), t);
  assert.equal((await misc('0')).ok, true);
  assert.equal((await misc('1')).ok, false);
  assert.deepEqual(await misc('7', { miscDynamic: true }), { ok: true, weight: 5 });
  assert.equal((await misc('7')).ok, false, 'without misc_dynamic only 0 is up');
  const slow = await misc('sleep', { miscTimeout: 0.2 });
  assert.equal(slow.ok, false);
  assert.match(slow.why ?? '', /timed out/);
  rmSync(dir, { recursive: true });
});
