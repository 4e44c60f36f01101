/**
 * Readiness: the one signal keepalived's `track_script` and a BGP speaker's check act
 * on (docs/ha.md, docs/scale-out.md). A director is ready when
 *
 * 1. its data plane runs (capture installed and read: not starting, not parked for a
 *    hand-over, not stopping),
 * 2. its configuration is loaded and applied (the start's files, then the data plane),
 * 3. it is not learning its connection table from sync: from the start of its first
 *    sync backup daemon until one window later (`SyncDaemons.learning`, a master's
 *    full pass plus the time a datagram may wait), and
 * 4. for a VIP (`ADDR`, `ADDR:PORT`, `[V6]:PORT`): there is a service of that address
 *    (and port), and every such service has an available real server — weight above 0
 *    and, where health checks run, alive.
 *
 * `tsvs status --ready` asks the daemon over the control socket; a daemon that does not
 * answer is not ready (exit 1).
 *
 * @module
 */
import { parseAddr, addrEqual } from '../engine/addr.js';
import type { ControlModel, ServiceEntry } from '../control/model.js';
import type { ReadyResult } from '../control/protocol.js';
import type { LearningState } from '../sync/daemon.js';
import { ControlClient, controlPath } from '../control/client.js';
import { protoName } from '../engine/spec.js';

/** A parsed VIP argument. */
export interface VipTarget {
  af: 4 | 6;
  words: Uint32Array;
  /** null: every port. */
  port: number | null;
  text: string;
}

/** `ADDR`, `ADDR:PORT`, `[V6]`, `[V6]:PORT` or a bare IPv6 address; a message if not. */
export function parseVipTarget(text: string): VipTarget | string {
  const t = text.trim();
  let addr = t;
  let port: number | null = null;
  const br = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  const v4 = /^([0-9.]+):(\d+)$/.exec(t);
  if (br) {
    addr = br[1];
    if (br[2] !== undefined) port = Number(br[2]);
  } else if (v4) {
    addr = v4[1];
    port = Number(v4[2]);
  }
  const p = parseAddr(addr);
  if (!p) return `'${text}': expected ADDR, ADDR:PORT or [IPv6]:PORT`;
  if (port !== null && (!Number.isInteger(port) || port < 1 || port > 65535))
    return `'${text}': port out of range`;
  return { af: p.af, words: p.words, port, text: t };
}

/** A service as ipvsadm names it: `TCP 10.0.0.1:80`, `UDP [fd00::1]:53`, `FWM 7`. */
export function serviceText(s: ServiceEntry): string {
  if (s.fwmark !== 0) return `FWM ${s.fwmark}`;
  return `${protoName(s.protocol)} ${s.af === 6 ? `[${s.addr}]` : s.addr}:${s.port}`;
}

/** Health as the manager reports it: `TCP 10.0.0.1:80` → servers `10.0.1.1:80` alive or not. */
export type HealthStatus = readonly {
  service: string;
  servers: readonly { server: string; alive: boolean }[];
}[];

/** What readiness reads. */
export interface ReadinessSources {
  model: ControlModel;
  /** Data plane running and configuration applied. */
  phase: () => { dataPlane: boolean; configured: boolean; syncProblem?: string | null };
  learning: () => LearningState;
  vrrp?: () => string | null;
  health?: () => HealthStatus | undefined;
}

function hostPort(af: number, addr: string, port: number): string {
  return af === 6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** Real servers of a service that can take a new connection (weight > 0, alive). */
export function availableServers(s: ServiceEntry, health?: HealthStatus): number {
  const h = health?.find((x) => x.service === serviceText(s));
  let n = 0;
  for (const d of s.dests) {
    if (d.weight <= 0) continue;
    const checked = h?.servers.find((r) => r.server === hostPort(d.af, d.addr, d.port));
    if (checked && !checked.alive) continue;
    n++;
  }
  return n;
}

function matches(s: ServiceEntry, t: VipTarget): boolean {
  if (s.fwmark !== 0 || s.af !== t.af) return false;
  if (t.port !== null && s.port !== t.port) return false;
  const p = parseAddr(s.addr);
  return p !== null && addrEqual(t.af, p.words, t.words);
}

/** The readiness now, for the director alone or (with `target`) for one VIP. */
export function evaluateReadiness(
  src: ReadinessSources,
  target?: VipTarget,
  now = Date.now(),
): ReadyResult {
  const reasons: string[] = [];
  const { dataPlane, configured, syncProblem } = src.phase();
  if (!dataPlane) reasons.push('the data plane is not running');
  if (!configured) reasons.push('the configuration is not loaded yet');
  if (syncProblem) reasons.push(syncProblem);
  const l = src.learning();
  if (l.learning)
    reasons.push(
      `learning the connection table from sync (${Math.ceil(l.remainingMs / 1000)} s left of ${Math.round(l.windowMs / 1000)} s)`,
    );
  let services: ReadyResult['services'];
  if (target) {
    const health = src.health?.();
    const list = src.model.services().filter((s) => matches(s, target));
    services = list.map((s) => ({
      service: serviceText(s),
      available: availableServers(s, health),
      servers: s.dests.length,
    }));
    if (list.length === 0) reasons.push(`no virtual service on ${target.text}`);
    for (const s of services)
      if (s.available === 0)
        reasons.push(
          `${s.service} has no available real server (${s.servers} configured, none with weight > 0 and alive)`,
        );
  }
  void now;
  return {
    ready: reasons.length === 0,
    reason: reasons[0] ?? 'ready',
    reasons,
    dataPlane,
    configured,
    learning: {
      learning: l.learning,
      since: l.since,
      remainingMs: l.remainingMs,
      windowMs: l.windowMs,
    },
    vrrp: src.vrrp?.() ?? null,
    ...(services ? { services } : {}),
  };
}

/** Per service, for the metrics: the director ready and an available real server. */
export function serviceReadiness(src: ReadinessSources): Map<string, boolean> {
  const director = evaluateReadiness(src).ready;
  const health = src.health?.();
  const out = new Map<string, boolean>();
  for (const s of src.model.services())
    out.set(serviceText(s), director && availableServers(s, health) > 0);
  return out;
}

/**
 * `tsvs status --ready [VIP]`: exit 0 ready, 1 not ready (a daemon that does not
 * answer is not ready), 2 usage. One line on stdout when ready, on stderr when not
 * (`--quiet`: none); `--json` prints the whole answer on stdout.
 */
export async function runReadyCommand(
  opts: { control?: string; vip?: string; json?: boolean; quiet?: boolean; timeoutMs?: number },
  io: { out(t: string): void; err(t: string): void } = {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
  },
): Promise<number> {
  if (opts.vip !== undefined) {
    const t = parseVipTarget(opts.vip);
    if (typeof t === 'string') {
      io.err(`tsvs status: ${t}\n`);
      return 2;
    }
  }
  const path = opts.control ?? controlPath();
  let c: ControlClient;
  try {
    c = await ControlClient.connect(path, opts.timeoutMs ?? 2000);
  } catch (e) {
    if (opts.json)
      io.out(
        JSON.stringify({
          ready: false,
          reason: `the daemon does not answer: ${(e as Error).message}`,
        }) + '\n',
      );
    else if (!opts.quiet)
      io.err(`not ready: the daemon does not answer (${(e as Error).message})\n`);
    return 1;
  }
  try {
    const r = await Promise.race([
      c.call({ cmd: 'ready', ...(opts.vip !== undefined ? { vip: opts.vip } : {}) }),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no answer in time')), opts.timeoutMs ?? 2000).unref(),
      ),
    ]);
    const what = opts.vip !== undefined ? ` (${opts.vip})` : '';
    if (opts.json) io.out(JSON.stringify(r) + '\n');
    else if (!opts.quiet) {
      if (r.ready) io.out(`ready${what}\n`);
      else io.err(`not ready${what}: ${r.reasons.join('; ')}\n`);
    }
    return r.ready ? 0 : 1;
  } catch (e) {
    if (!opts.quiet && !opts.json) io.err(`not ready: ${(e as Error).message}\n`);
    if (opts.json) io.out(JSON.stringify({ ready: false, reason: (e as Error).message }) + '\n');
    return 1;
  } finally {
    c.close();
  }
}

/** `tsvs status` without --ready: the whole report, readable; exit status as --ready. */
export async function runStatusCommand(
  opts: { control?: string; vip?: string },
  io: { out(t: string): void; err(t: string): void } = {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
  },
): Promise<number> {
  let json = '';
  const code = await runReadyCommand(
    { ...opts, json: true },
    { out: (t) => (json += t), err: (t) => io.err(t) },
  );
  if (!json) return code;
  const r = JSON.parse(json) as Partial<ReadyResult> & { ready: boolean; reason: string };
  const lines = [
    `ready:       ${r.ready ? 'yes' : `no — ${(r.reasons ?? [r.reason]).join('; ')}`}`,
  ];
  if (r.dataPlane !== undefined)
    lines.push(`data plane:  ${r.dataPlane ? 'running' : 'not running'}`);
  if (r.configured !== undefined)
    lines.push(`config:      ${r.configured ? 'loaded' : 'not loaded'}`);
  if (r.learning) {
    const l = r.learning;
    lines.push(
      `sync:        ${l.since === null ? 'no backup daemon has run (nothing to learn)' : l.learning ? `learning, ${Math.ceil(l.remainingMs / 1000)} s left of ${Math.round(l.windowMs / 1000)} s` : 'table learned'}`,
    );
  }
  if (r.ready !== undefined && 'vrrp' in r)
    lines.push(`vrrp:        ${r.vrrp ?? 'unknown (no notification yet)'}`);
  for (const s of r.services ?? [])
    lines.push(
      `service:     ${s.service}: ${s.available} of ${s.servers} real server(s) available`,
    );
  io.out(lines.join('\n') + '\n');
  return code;
}

/** Options of {@link runReadyWatch}. */
export interface ReadyWatchOptions {
  control?: string;
  vip?: string;
  /** Seconds between two questions. */
  intervalMs: number;
  /** Shell commands run on becoming ready / not ready (and at the start). */
  onReady?: string;
  onNotReady?: string;
  log?: (line: string) => void;
  /** Stops the loop (tests); default: runs until SIGINT/SIGTERM. */
  signal?: AbortSignal;
}

/**
 * `tsvs status --ready VIP --watch SECONDS --on-ready CMD --on-not-ready CMD`: asks the
 * daemon every interval and runs the command of the new verdict at the start and on
 * every change — the BGP speaker's side of readiness (examples/fleet/): announce the
 * VIP while ready, withdraw it when not, also when the daemon is dead. A command that
 * fails is run again at the next interval until it succeeds.
 */
export async function runReadyWatch(o: ReadyWatchOptions): Promise<number> {
  const { spawn } = await import('node:child_process');
  const log = o.log ?? ((l: string) => void process.stderr.write(`${l}\n`));
  const runCmd = (cmd: string): Promise<boolean> =>
    new Promise((resolve) => {
      const c = spawn('/bin/sh', ['-c', cmd], { stdio: ['ignore', 'inherit', 'inherit'] });
      c.once('error', () => resolve(false));
      c.once('exit', (code) => resolve(code === 0));
    });
  let last: boolean | null = null;
  let done = false; // the command of `last` succeeded
  let lastReason = '';
  const stop = new Promise<void>((resolve) => {
    if (o.signal) o.signal.addEventListener('abort', () => resolve(), { once: true });
    if (!o.signal) {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    }
  });
  let stopped = false;
  void stop.then(() => (stopped = true));
  while (!stopped) {
    let reason = '';
    const code = await runReadyCommand(
      { control: o.control, vip: o.vip, timeoutMs: Math.max(500, Math.min(2000, o.intervalMs)) },
      { out: () => undefined, err: (t) => (reason = t.trim()) },
    );
    if (code === 2) return 2;
    const now = code === 0;
    if (now !== last || (!done && !stopped)) {
      if (now !== last || reason !== lastReason)
        log(`tsvs status: ${now ? `ready${o.vip ? ` (${o.vip})` : ''}` : reason}`);
      last = now;
      lastReason = reason;
      const cmd = now ? o.onReady : o.onNotReady;
      done = cmd ? await runCmd(cmd) : true;
      if (!done) log(`tsvs status: '${cmd}' failed; again in ${o.intervalMs} ms`);
    }
    await Promise.race([stop, new Promise((r) => setTimeout(r, o.intervalMs))]);
  }
  return 0;
}
