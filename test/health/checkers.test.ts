/**
 * Each checker against real servers on loopback: SSL_GET (a TLS server with a
 * certificate made by openssl, SNI, a client certificate), SMTP_CHECK (a responder
 * speaking SMTP), UDP_CHECK (an echo, a closed port, reply matching), DNS_CHECK (a
 * responder with the answer codes), FILE_CHECK (values, weight, reverse), PING_CHECK
 * (127.0.0.1 and an address nobody answers) and HTTP_GET's request forms and regex.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { runCheck } from '../../src/health/check.js';
import type { KaChecker } from '../../src/health/keepalived/types.js';
import { nativeAvailable } from '../../src/dataplane/native.js';
import { pingArgs } from '../../src/health/checkers/ping.js';

let dir: string;
const closers: (() => void)[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsvs-checkers-'));
  for (const [name, cn] of [
    ['server', 'rs.example'],
    ['client', 'director'],
  ])
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${cn}`,
        '-keyout',
        join(dir, `${name}.key`),
        '-out',
        join(dir, `${name}.crt`),
      ],
      { stdio: 'ignore' },
    );
});
after(() => {
  for (const c of closers) c();
  rmSync(dir, { recursive: true, force: true });
});

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

function listen(s: Server): Promise<number> {
  closers.push(() => s.close());
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
}

test('SSL_GET: TLS, status and digest as HTTP_GET, SNI only with enable_sni, client certificate', async () => {
  const seen: { sni: string | false | null; req: string; cert: boolean }[] = [];
  const srv = createTlsServer(
    {
      key: readFileSync(join(dir, 'server.key')),
      cert: readFileSync(join(dir, 'server.crt')),
      requestCert: true,
      rejectUnauthorized: false,
    },
    (s: TLSSocket) => {
      let req = '';
      s.on('data', (d: Buffer) => {
        req += d.toString();
        if (!req.endsWith('\r\n\r\n')) return;
        seen.push({ sni: s.servername, req, cert: s.getPeerCertificate()?.subject !== undefined });
        const path = req.split(' ')[1];
        s.end(
          path === '/ok'
            ? 'HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello'
            : 'HTTP/1.0 503 Busy\r\n\r\n',
        );
      });
    },
  );
  const port = await listen(srv);
  const t = { addr: '127.0.0.1', port };
  const url = { path: '/ok', statusCodes: [[200, 299]] as [number, number][] };
  const md5 = createHash('md5').update('hello').digest('hex');
  assert.deepEqual(await runCheck(base({ type: 'SSL_GET', urls: [{ ...url, digest: md5 }] }), t), {
    ok: true,
  });
  assert.equal(seen[0].sni, false, 'no SNI without enable_sni');
  assert.match(
    seen[0].req,
    /^GET \/ok HTTP\/1\.0\r\nUser-Agent: KeepAliveClient\r\nHost: 127\.0\.0\.1:\d+\r\n\r\n$/,
  );
  const down = await runCheck(base({ type: 'SSL_GET', urls: [{ ...url, path: '/busy' }] }), t);
  assert.equal(down.ok, false);
  assert.match(down.why ?? '', /status code/);
  await runCheck(
    base({ type: 'SSL_GET', urls: [url], enableSni: true, virtualhost: 'www.example' }),
    t,
  );
  assert.equal(seen.at(-1)?.sni, 'www.example');
  assert.match(seen.at(-1)?.req ?? '', /Host: www\.example\r\n/);
  // the SSL block's certificate is presented when the server asks
  const ssl = { certificate: join(dir, 'client.crt'), key: join(dir, 'client.key') };
  assert.equal((await runCheck(base({ type: 'SSL_GET', urls: [url], ssl }), t)).ok, true);
  assert.equal(seen.at(-1)?.cert, true);
  // an unreadable certificate is a failed check with keepalived's reason
  const bad = await runCheck(
    base({ type: 'SSL_GET', urls: [url], ssl: { certificate: join(dir, 'none.crt') } }),
    t,
  );
  assert.equal(bad.ok, false);
  assert.match(bad.why ?? '', /Cant load certificate/);
  // a plain HTTP server is not an SSL server
  const plain = createTcpServer((s) => s.end('HTTP/1.0 200 OK\r\n\r\n'));
  const pp = await listen(plain);
  assert.equal(
    (await runCheck(base({ type: 'SSL_GET', urls: [url] }), { addr: '127.0.0.1', port: pp })).ok,
    false,
  );
});

test('HTTP_GET: http_protocol request lines, regex and regex_no_match with offsets', async () => {
  const reqs: string[] = [];
  const srv = createTcpServer((s) => {
    let req = '';
    s.on('data', (d: Buffer) => {
      req += d.toString();
      if (!req.endsWith('\r\n\r\n')) return;
      reqs.push(req);
      s.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nstatus: healthy\n');
    });
  });
  const port = await listen(srv);
  const t = { addr: '127.0.0.1', port };
  const u = (extra: Partial<KaChecker['urls'][number]>) => [
    { path: '/', statusCodes: [[200, 299]] as [number, number][], ...extra },
  ];
  await runCheck(base({ type: 'HTTP_GET', urls: u({}), httpProtocol: '1.0C' }), t);
  assert.match(
    reqs.at(-1)!,
    /^GET \/ HTTP\/1\.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: /,
  );
  await runCheck(base({ type: 'HTTP_GET', urls: u({}), httpProtocol: '1.1' }), t);
  assert.match(
    reqs.at(-1)!,
    /^GET \/ HTTP\/1\.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\n/,
  );
  const chk = (extra: Partial<KaChecker['urls'][number]>) =>
    runCheck(base({ type: 'HTTP_GET', urls: u(extra) }), t);
  assert.equal((await chk({ regex: 'healthy' })).ok, true);
  assert.equal((await chk({ regex: 'sick' })).ok, false);
  assert.equal((await chk({ regex: 'sick', regexNoMatch: true })).ok, true);
  assert.equal((await chk({ regex: 'healthy', regexNoMatch: true })).ok, false);
  assert.equal((await chk({ regex: 'HEALTHY', regexFlags: 'i' })).ok, true);
  // offsets count from the first byte of the response
  assert.equal((await chk({ regex: 'HTTP', regexMinOffset: 1 })).ok, false);
  assert.equal((await chk({ regex: 'healthy', regexMaxOffset: 5 })).ok, false);
});

test('SMTP_CHECK: 220 banner, HELO with helo_name answered 250, QUIT; bad banner or HELO reply is down', async () => {
  let mode: 'good' | 'badbanner' | 'badhelo' | 'multiline' = 'good';
  const heard: string[] = [];
  const srv = createTcpServer((s) => {
    s.write(
      mode === 'badbanner'
        ? '554 go away\r\n'
        : mode === 'multiline'
          ? '220-mx.example\r\n220 ok\r\n'
          : '220 mx.example ESMTP\r\n',
    );
    s.on('data', (d: Buffer) => {
      const line = d.toString();
      heard.push(line);
      if (line.startsWith('HELO'))
        s.write(mode === 'badhelo' ? '501 no\r\n' : '250 mx.example\r\n');
      else if (line.startsWith('QUIT')) s.end('221 bye\r\n');
    });
  });
  const port = await listen(srv);
  const t = { addr: '127.0.0.1', port };
  assert.deepEqual(await runCheck(base({ type: 'SMTP_CHECK', heloName: 'director.example' }), t), {
    ok: true,
  });
  assert.deepEqual(heard.slice(-2), ['HELO director.example\r\n', 'QUIT\r\n']);
  for (const m of ['badbanner', 'badhelo', 'multiline'] as const) {
    mode = m;
    const r = await runCheck(base({ type: 'SMTP_CHECK' }), t);
    assert.equal(r.ok, false, m);
  }
  mode = 'good';
  await runCheck(base({ type: 'SMTP_CHECK' }), t);
  assert.equal(heard.at(-2), 'HELO smtpchecker.keepalived.org\r\n');
});

async function udpServer(
  onMsg: (s: UdpSocket, msg: Buffer, port: number, addr: string) => void,
): Promise<number> {
  const s = createSocket('udp4');
  closers.push(() => s.close());
  s.on('message', (m, r) => onMsg(s, m, r.port, r.address));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return s.address().port;
}

test('UDP_CHECK: payload, no reply is up, port unreachable is down, require_reply and reply matching', async () => {
  const got: Buffer[] = [];
  const echo = await udpServer((s, m, port, addr) => {
    got.push(m);
    s.send(Buffer.concat([Buffer.from([0xab, 0x12]), m]), port, addr);
  });
  const silent = await udpServer((_s, m) => got.push(m));
  const closedSock = createSocket('udp4');
  await new Promise<void>((r) => closedSock.bind(0, '127.0.0.1', r));
  const closed = closedSock.address().port;
  closedSock.close();
  const at = (port: number) => ({ addr: '127.0.0.1', port });
  const udp = (extra: Partial<KaChecker>) =>
    base({ type: 'UDP_CHECK', connectTimeout: 0.3, ...extra });
  assert.equal((await runCheck(udp({}), at(echo))).ok, true);
  assert.equal(got.at(-1)!.toString(), 'keepalived check - keepalived ch');
  assert.equal(
    (await runCheck(udp({}), at(silent))).ok,
    true,
    'silence is up without require_reply',
  );
  assert.equal((await runCheck(udp({ requireReply: true }), at(silent))).ok, false);
  const unreach = await runCheck(udp({}), at(closed));
  assert.equal(unreach.ok, false, 'ICMP port unreachable is down');
  assert.match(unreach.why ?? '', /ECONNREFUSED/);
  assert.equal((await runCheck(udp({ payload: '0102' }), at(echo))).ok, true);
  assert.deepEqual([...got.at(-1)!], [1, 2]);
  const rr = (data: string, mask?: string, min?: number, max?: number) =>
    runCheck(
      udp({
        payload: '0102',
        requireReply: true,
        replyData: data,
        replyMask: mask,
        minReplyLength: min,
        maxReplyLength: max,
      }),
      at(echo),
    );
  assert.equal((await rr('ab12')).ok, true);
  assert.equal((await rr('ab13')).ok, false);
  assert.equal((await rr('a012', '0f00')).ok, true, 'x digits match anything');
  assert.equal((await rr('ab12', undefined, 5)).ok, false, 'shorter than min_reply_length');
  assert.equal((await rr('ab12', undefined, 0, 3)).ok, false, 'longer than max_reply_length');
});

test('DNS_CHECK: the query keepalived sends; id, QR and rcode decide', async () => {
  let rcode = 0;
  let mode: 'answer' | 'wrongid' | 'query' = 'answer';
  const queries: Buffer[] = [];
  const port = await udpServer((s, q, p, a) => {
    queries.push(q);
    const r = Buffer.from(q);
    if (mode === 'wrongid') r.writeUInt16BE((q.readUInt16BE(0) + 1) & 0xffff, 0);
    r.writeUInt16BE((mode === 'query' ? 0 : 0x8000) | 0x0100 | rcode, 2);
    s.send(r, p, a);
  });
  const t = { addr: '127.0.0.1', port };
  const dns = (extra: Partial<KaChecker>) =>
    base({ type: 'DNS_CHECK', connectTimeout: 0.3, dnsType: 'SOA', dnsName: '.', ...extra });
  assert.equal((await runCheck(dns({}), t)).ok, true);
  // root SOA IN, recursion desired
  assert.equal(queries.at(-1)!.subarray(2).toString('hex'), '010000010000000000000000060001');
  await runCheck(dns({ dnsType: 'AAAA', dnsName: 'www.example.org.' }), t);
  assert.equal(
    queries.at(-1)!.subarray(12).toString('hex'),
    '03777777076578616d706c65036f726700001c0001',
  );
  rcode = 2;
  const fail = await runCheck(dns({}), t);
  assert.equal(fail.ok, false);
  assert.match(fail.why ?? '', /rcode = 2/);
  rcode = 0;
  mode = 'wrongid';
  assert.equal((await runCheck(dns({}), t)).ok, false, 'another id is ignored: timeout');
  mode = 'query';
  assert.equal((await runCheck(dns({}), t)).ok, false, 'a query is not an answer');
});

test('FILE_CHECK: the number in the file, weight and reverse', async () => {
  const f = join(dir, 'state');
  const chk = (weight: number, reverse = false) =>
    runCheck(base({ type: 'FILE_CHECK', trackFile: { name: 'st', path: f, weight, reverse } }), {
      addr: '10.0.0.2',
      port: 80,
      weight: 10,
    });
  writeFileSync(f, '0\n');
  assert.deepEqual(await chk(0), { ok: true, curWeight: 0, weight: 10 });
  assert.equal((await chk(0, true)).ok, false, 'reverse: 0 is down');
  writeFileSync(f, '3\n');
  assert.equal((await chk(0)).ok, false, 'weight 0: non-zero is down');
  assert.deepEqual(await chk(2), { ok: true, curWeight: 6, weight: 16 });
  assert.deepEqual(await chk(2, true), { ok: true, curWeight: -6, weight: 4 });
  writeFileSync(f, '0x10 trailing\n');
  assert.equal((await chk(1)).curWeight, 16);
  writeFileSync(f, '-2147483648');
  assert.equal((await chk(1)).ok, false, 'the fault value');
  rmSync(f);
  assert.equal((await chk(0)).ok, true, 'a missing file reads as 0');
});

test(
  'PING_CHECK: an echo reply is up (IPv4 and IPv6)',
  { skip: nativeAvailable() ? false : 'native addon not built' },
  async () => {
    const ping = base({ type: 'PING_CHECK', connectTimeout: 0.5 });
    assert.deepEqual(await runCheck(ping, { addr: '127.0.0.1', port: 0 }), { ok: true });
    assert.deepEqual(await runCheck(ping, { addr: '::1', port: 0 }), { ok: true });
    // with bindto, bind_if or fwmark the echo goes through iputils' ping
    const via = { addr: '127.0.0.1', port: 0 };
    assert.deepEqual(await runCheck({ ...ping, bindto: '127.0.0.1', fwmark: 5 }, via), {
      ok: true,
    });
    assert.deepEqual(await runCheck({ ...ping, bindIf: 'lo' }, via), { ok: true });
    assert.deepEqual(pingArgs({ ...ping, bindIf: 'lo', fwmark: 5 }, '10.0.0.2'), [
      '-n',
      '-q',
      '-c',
      '1',
      '-s',
      '128',
      '-W',
      '0.5',
      '-I',
      'lo',
      '-m',
      '5',
      '-4',
      '10.0.0.2',
    ]);
    // silence (an address nobody answers) is in the e2e test: here every route may answer
  },
);

test('an unusable checker always fails with its reason', async () => {
  const r = await runCheck(
    base({ type: 'TCP_CHECK', unusable: 'TCP_CHECK: fwmark 5: no SO_MARK' }),
    { addr: '127.0.0.1', port: 1 },
  );
  assert.deepEqual(r, { ok: false, why: 'TCP_CHECK: fwmark 5: no SO_MARK' });
});

test('MISC_CHECK user: the script runs as that user; an unsafe script is refused with enable_script_security', async () => {
  const d = mkdtempSync(join(tmpdir(), 'tsvs-user-'));
  execFileSync('chmod', ['755', d]);
  const script = join(d, 'whoami.sh');
  writeFileSync(script, '#!/bin/sh\n[ "$(id -un)" = "$1" ]\n', { mode: 0o755 });
  const t = { addr: '127.0.0.1', port: 0 };
  const misc = (extra: Partial<KaChecker>) => runCheck(base({ type: 'MISC_CHECK', ...extra }), t);
  assert.equal((await misc({ miscPath: `${script} nobody`, miscUser: 'nobody' })).ok, true);
  assert.equal((await misc({ miscPath: `${script} root`, miscUser: 'nobody' })).ok, false);
  const none = await misc({ miscPath: `${script} x`, miscUser: 'no-such-user-here' });
  assert.match(none.why ?? '', /does not exist/);
  // run as root from a world-writable file: only logged, unless enable_script_security
  execFileSync('chmod', ['777', script]);
  assert.equal((await misc({ miscPath: `${script} root` })).ok, true);
  const refused = await misc({ miscPath: `${script} root`, scriptSecurity: true });
  assert.equal(refused.ok, false);
  assert.match(refused.why ?? '', /Unsafe permissions/);
  rmSync(d, { recursive: true });
});

test('fwmark and bind_if: TCP, HTTP, SSL, UDP and DNS checks through socat', async () => {
  const http = createTcpServer((s) => s.on('data', () => s.end('HTTP/1.0 200 OK\r\n\r\nfine')));
  const hp = await listen(http);
  const tls = createTlsServer(
    { key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.crt')) },
    (s) => s.on('data', () => s.end('HTTP/1.0 200 OK\r\n\r\nfine')),
  );
  const tp = await listen(tls);
  const url = [{ path: '/', statusCodes: [[200, 299]] as [number, number][], regex: 'fine' }];
  const at = (port: number) => ({ addr: '127.0.0.1', port });
  const mark = { fwmark: 0x7a5 };
  assert.deepEqual(await runCheck(base({ ...mark }), at(hp)), { ok: true });
  const refused = await runCheck(base({ ...mark }), at(1));
  assert.equal(refused.ok, false);
  assert.match(refused.why ?? '', /Connection refused/);
  assert.deepEqual(await runCheck(base({ type: 'HTTP_GET', urls: url, bindIf: 'lo' }), at(hp)), {
    ok: true,
  });
  assert.deepEqual(await runCheck(base({ type: 'SSL_GET', urls: url, ...mark }), at(tp)), {
    ok: true,
  });
  const echo = await udpServer((s, m, port, addr) => s.send(m, port, addr));
  const udp = base({
    type: 'UDP_CHECK',
    connectTimeout: 0.5,
    requireReply: true,
    replyData: '6b65',
    ...mark,
  });
  assert.deepEqual(await runCheck(udp, at(echo)), { ok: true });
  const dns = await udpServer((s, q, port, addr) => {
    const r = Buffer.from(q);
    r.writeUInt16BE(0x8180, 2);
    s.send(r, port, addr);
  });
  const d = base({ type: 'DNS_CHECK', connectTimeout: 0.5, bindIf: 'lo', ...mark });
  assert.deepEqual(await runCheck(d, at(dns)), { ok: true });
  const closedSock = createSocket('udp4');
  await new Promise<void>((r) => closedSock.bind(0, '127.0.0.1', r));
  const closed = closedSock.address().port;
  closedSock.close();
  const un = await runCheck({ ...udp, requireReply: false }, at(closed));
  assert.equal(un.ok, false, 'port unreachable through socat is down too');
});
