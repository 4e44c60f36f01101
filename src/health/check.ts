/**
 * One health check, run once (keepalived's checkers, spec keepalived-lvs-reference
 * §3.1): TCP_CHECK (a TCP connect completes within the connect timeout), HTTP_GET
 * (every url answers with a status in its ranges and, when a digest is given, a body
 * whose MD5 matches), MISC_CHECK (a program exits 0; with misc_dynamic an exit code
 * 2..255 also sets the weight to code − 2). Checks run from the director's own
 * network namespace, as keepalived's do.
 *
 * @module
 */
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import type { KaChecker } from './keepalived.js';

/** Outcome of one check: up or not, and a weight for misc_dynamic programs. */
export interface CheckResult {
  ok: boolean;
  /** misc_dynamic: the weight the exit code asks for. */
  weight?: number;
  /** Why it failed (for the log). */
  why?: string;
}

/** Where a checker connects: its connect_ip/connect_port, else the real server's. */
export interface CheckTarget {
  addr: string;
  port: number;
}

function tcp(
  c: KaChecker,
  t: CheckTarget,
  timeoutMs: number,
): Promise<{ sock: Socket | null; why?: string }> {
  return new Promise((resolve) => {
    const sock = connect({
      host: c.connectIp ?? t.addr,
      port: c.connectPort ?? t.port,
      localAddress: c.bindto,
      localPort: c.bindPort,
    });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ sock: null, why: 'connect timeout' });
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      resolve({ sock });
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ sock: null, why: e.message });
    });
  });
}

async function tcpCheck(c: KaChecker, t: CheckTarget): Promise<CheckResult> {
  const r = await tcp(c, t, c.connectTimeout * 1000);
  if (!r.sock) return { ok: false, why: r.why };
  r.sock.destroy();
  return { ok: true };
}

function httpOnce(
  c: KaChecker,
  t: CheckTarget,
  url: KaChecker['urls'][number],
): Promise<CheckResult> {
  return new Promise((resolve) => {
    const host = c.connectIp ?? t.addr;
    const port = c.connectPort ?? t.port;
    const vhost = url.virtualhost ?? c.virtualhost;
    const req = request(
      {
        host,
        port,
        path: url.path,
        method: 'GET',
        localAddress: c.bindto,
        headers: { host: vhost ?? (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`) },
        timeout: c.connectTimeout * 1000,
        agent: false,
      },
      (res) => {
        const code = res.statusCode ?? 0;
        const inRange = url.statusCodes.some(([lo, hi]) => code >= lo && code <= hi);
        const md5 = url.digest ? createHash('md5') : null;
        res.on('data', (d: Buffer) => md5?.update(d));
        res.on('end', () => {
          if (!inRange) return resolve({ ok: false, why: `${url.path}: status ${code}` });
          if (md5 && md5.digest('hex') !== url.digest!.toLowerCase())
            return resolve({ ok: false, why: `${url.path}: digest mismatch` });
          resolve({ ok: true });
        });
        res.on('error', (e) => resolve({ ok: false, why: e.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ ok: false, why: `${url.path}: ${e.message}` }));
    req.end();
  });
}

async function httpCheck(c: KaChecker, t: CheckTarget): Promise<CheckResult> {
  const urls = c.urls.length
    ? c.urls
    : [{ path: '/', statusCodes: [[200, 299]] as [number, number][] }];
  for (const u of urls) {
    const r = await httpOnce(c, t, u);
    if (!r.ok) return r;
  }
  return { ok: true };
}

function miscCheck(c: KaChecker): Promise<CheckResult> {
  return new Promise((resolve) => {
    if (!c.miscPath) return resolve({ ok: false, why: 'no misc_path' });
    const child = spawn('/bin/sh', ['-c', c.miscPath], { stdio: 'ignore' });
    const limit = (c.miscTimeout ?? c.delayLoop) * 1000;
    const timer = setTimeout(() => child.kill('SIGKILL'), limit);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, why: e.message });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal) return resolve({ ok: false, why: `killed by ${signal}` });
      if (code === 0) return resolve({ ok: true });
      if (c.miscDynamic && code !== null && code >= 2)
        return resolve({ ok: true, weight: code - 2 });
      resolve({ ok: false, why: `exit ${code}` });
    });
  });
}

/** Runs one check of `c` against the real server `t`. */
export function runCheck(c: KaChecker, t: CheckTarget): Promise<CheckResult> {
  switch (c.type) {
    case 'TCP_CHECK':
      return tcpCheck(c, t);
    case 'HTTP_GET':
      return httpCheck(c, t);
    case 'MISC_CHECK':
      return miscCheck(c);
  }
}
