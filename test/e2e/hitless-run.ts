/**
 * The hitless scenario, shared by test/e2e/hitless.test.ts and bench:e2e's `hitless`
 * section: a lab with the real daemon (NAT services for HTTP, a line echo and FTP on
 * two real servers, configured from a rules file and keeping its run-time state in
 * the lab's directory), and one event under load: SIGTERM + restart, `--takeover`, or
 * SIGKILL + restart.
 *
 * Load during an event (about 4 s): wrk with 32 kept-alive connections, a stream of
 * new connections (one request each), 100 idle long-lived connections sending a line
 * every 100 ms (hitless-load.ts), and an FTP download in progress (curl, passive,
 * rate-limited so it spans the event). Counted per event: resets, failed requests,
 * the longest stall and the connections lost.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { labDown, labUp, type LabEnv } from '../../src/sys/lab.js';
import { ControlClient } from '../../src/control/client.js';
import { waitFor } from '../helpers/wait.js';
import type { LoadResult } from './hitless-load.js';
import { startVsftpd } from './ftp-server.js';

const TSVS = fileURLToPath(new URL('../../src/cli/tsvs.js', import.meta.url));
const LOAD = fileURLToPath(new URL('./hitless-load.js', import.meta.url));

export const HTTP_PORT = 80;
export const ECHO_PORT = 9000;
const RS_HTTP = 8080;
const FTP_BYTES = 6 << 20;

/** What happens to the daemon. */
export type HitlessEvent = 'restart' | 'takeover' | 'kill';

/** Counts of one event. */
export interface EventResult {
  event: HitlessEvent;
  /** Connection resets seen by any client. */
  resets: number;
  /** Requests that failed (errors, timeouts, wrong answers), resets not included. */
  failed: number;
  /** The longest wait of one step of one client (ms). */
  stallMs: number;
  /** Established long-lived connections (idle lines, the FTP transfer) that did not carry on. */
  lost: number;
  established: number;
  /** Interruption of the data plane as the daemons saw it (ms), when known. */
  gapMs: number;
  detail: Record<string, unknown>;
}

function sh(
  ns: string,
  cmd: string,
  args: string[],
  timeoutMs = 20_000,
  onOut?: (text: string) => void,
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      onOut?.(out);
    });
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? 1, out, err });
    });
  });
}

/** Keep-alive HTTP on RS_HTTP and a line echo on ECHO_PORT, in one process per real server. */
function servers(ns: string, name: string): ChildProcess {
  const code = `
const http=require('http'),net=require('net');
const s=http.createServer((q,r)=>{r.end(${JSON.stringify(name)}+'\\n')});s.keepAliveTimeout=60000;s.listen(${RS_HTTP},'::');
net.createServer(c=>{c.setNoDelay(true);c.on('error',()=>{});c.pipe(c)}).listen(${ECHO_PORT},'::');`;
  return spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { stdio: 'ignore' });
}

/** One daemon process and its log. */
interface Run {
  /** Sends a signal (nothing once it exited). */
  kill(signal: NodeJS.Signals): void;
  /** Resolves with the exit status (null when unknown: a service manager's child). */
  exited: Promise<number | null>;
  log: string[];
}

/** Starts daemons as a service manager does (the descriptor store: notify-socket.ts). */
export interface ServiceManager {
  path: string;
  messages: string[];
  spawn(
    argv: string[],
    env: NodeJS.ProcessEnv,
    log: string,
  ): Promise<{ pid: number; fds: string[] }>;
}

/** How the lab's services are set up. */
export interface LabOptions {
  /** The HTTP service (wrk and the new connections) behind the SYN proxy (`--synproxy`). */
  synproxy?: boolean;
}

export class HitlessLab {
  readonly env: LabEnv;
  readonly dir: string;
  private readonly children: ChildProcess[] = [];
  private daemon: Run | null = null;
  private readonly args: string[];
  private extra: string[] = [];

  private constructor(
    readonly prefix: string,
    env: LabEnv,
    extraArgs: string[],
    private readonly manager?: ServiceManager,
    opts: LabOptions = {},
  ) {
    this.env = env;
    this.dir = mkdtempSync(join(tmpdir(), `tsvs-${prefix}-`));
    chmodSync(this.dir, 0o755);
    const rules = join(this.dir, 'rules');
    const [r1, r2] = env.rs;
    const vip = env.vip4;
    writeFileSync(
      rules,
      [
        `-A -t ${vip}:${HTTP_PORT} -s rr${opts.synproxy ? ' --synproxy' : ''}`,
        `-a -t ${vip}:${HTTP_PORT} -r ${r1.ip4}:${RS_HTTP} -m`,
        `-a -t ${vip}:${HTTP_PORT} -r ${r2.ip4}:${RS_HTTP} -m`,
        `-A -t ${vip}:${ECHO_PORT} -s wlc`,
        `-a -t ${vip}:${ECHO_PORT} -r ${r1.ip4}:${ECHO_PORT} -m`,
        `-a -t ${vip}:${ECHO_PORT} -r ${r2.ip4}:${ECHO_PORT} -m`,
        `-A -t ${vip}:21 -s rr`,
        `-a -t ${vip}:21 -r ${r1.ip4}:21 -m`,
        '',
      ].join('\n'),
    );
    this.args = [
      TSVS,
      'daemon',
      '--config',
      rules,
      '--control',
      join(this.dir, 'control.sock'),
      '--state',
      join(this.dir, 'config.json'),
      '--name',
      prefix,
    ];
    this.extra = extraArgs;
  }

  /** Builds the lab, the servers and starts the daemon (`extraArgs`: e.g. `--no-journal`). */
  static async up(
    prefix: string,
    extraArgs: string[] = [],
    manager?: ServiceManager,
    opts: LabOptions = {},
  ): Promise<HitlessLab> {
    const l = new HitlessLab(prefix, labUp({ prefix }), extraArgs, manager, opts);
    // a stream of new connections must not run out of client ports (TIME_WAIT)
    for (const ns of [l.env.ns.client, l.env.ns.rs1, l.env.ns.rs2]) {
      await sh(ns, 'sysctl', ['-qw', 'net.ipv4.ip_local_port_range=1024 65000']);
      await sh(ns, 'sysctl', ['-qw', 'net.ipv4.tcp_tw_reuse=1']);
    }
    l.children.push(servers(l.env.ns.rs1, 'rs1'), servers(l.env.ns.rs2, 'rs2'));
    const ftp = await startVsftpd(
      { ns: l.env.ns, env: l.env, track: (c: ChildProcess) => (l.children.push(c), c) } as never,
      0,
      4,
      l.dir,
    );
    writeFileSync(join(ftp.root, 'big'), randomBytes(FTP_BYTES));
    mkdirSync(join(l.dir, 'out'), { recursive: true });
    await waitFor(
      async () => (await sh(l.env.ns.rs2, 'ss', ['-Hltn', `sport = :${ECHO_PORT}`])).out.length > 0,
      { timeout: 10_000, what: 'the servers' },
    );
    l.daemon = await l.start([]);
    return l;
  }

  /** Starts a daemon and waits until it runs (and, with --takeover, until the old one left). */
  private async start(extra: string[]): Promise<Run> {
    if (this.manager) return this.startManaged(extra);
    const log: string[] = [];
    const proc = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.env.ns.director,
        process.execPath,
        ...this.args,
        ...this.extra,
        ...extra,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.children.push(proc);
    const t0 = Date.now();
    proc.stderr?.setEncoding('utf8').on('data', (d: string) =>
      log.push(
        ...d
          .trim()
          .split('\n')
          .map((l) => `+${Date.now() - t0}ms ${l}`),
      ),
    );
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`daemon exited: ${log.join(' | ')}`);
        return log.some((l) => l.includes('daemon running'));
      },
      { timeout: 20_000, what: 'the daemon to run' },
    ).catch((e: Error) => {
      throw new Error(`${e.message}: ${log.slice(-15).join(' | ')}`);
    });
    const exited = new Promise<number | null>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve(proc.exitCode);
      else proc.once('exit', (code) => resolve(code));
    });
    return { kill: (sig) => void proc.kill(sig), exited, log };
  }

  /**
   * The daemon started by the service manager stand-in with its notification socket
   * and its stored descriptors; its output goes to a file read here.
   */
  private async startManaged(extra: string[]): Promise<Run> {
    const m = this.manager!;
    const file = join(this.dir, `daemon-${Date.now()}.log`);
    const t0 = Date.now();
    const { pid } = await m.spawn(
      [
        'ip',
        'netns',
        'exec',
        this.env.ns.director,
        process.execPath,
        ...this.args,
        ...this.extra,
        ...extra,
      ],
      { ...process.env, NOTIFY_SOCKET: m.path },
      file,
    );
    const log: string[] = [];
    let read = 0;
    const alive = (): boolean => existsSync(`/proc/${pid}`);
    const poll = setInterval(() => {
      let text = '';
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        return;
      }
      const whole = text.lastIndexOf('\n') + 1;
      if (whole > read) {
        for (const l of text.slice(read, whole).trim().split('\n'))
          log.push(`+${Date.now() - t0}ms ${l}`);
        read = whole;
      }
    }, 20);
    const exited = new Promise<number | null>((resolve) => {
      const t = setInterval(() => {
        if (alive()) return;
        clearInterval(t);
        setTimeout(() => {
          clearInterval(poll);
          resolve(null);
        }, 50);
      }, 20);
    });
    await waitFor(
      async () => {
        if (!alive()) throw new Error(`daemon exited: ${log.join(' | ')}`);
        return log.some((l) => l.includes('daemon running'));
      },
      { timeout: 20_000, what: 'the daemon to run' },
    ).catch((e: Error) => {
      throw new Error(`${e.message}: ${log.slice(-15).join(' | ')}`);
    });
    return { kill: (sig) => alive() && process.kill(pid, sig), exited, log };
  }

  /**
   * Stops the daemon cleanly and starts it again with other extra arguments (bench:
   * the journal on and off).
   */
  async restartWith(extraArgs: string[]): Promise<void> {
    if (this.daemon) await this.exit(this.daemon, 'SIGINT');
    this.extra = extraArgs;
    this.daemon = await this.start([]);
  }

  /** wrk against the HTTP service: requests per second (`close`: a new connection each). */
  async wrk(seconds: number, close: boolean): Promise<number> {
    const args = ['-c', '32', '-t', '2', '-d', `${seconds}s`, `http://${this.env.vip4}/`];
    if (close) args.unshift('-H', 'Connection: close');
    const r = await sh(this.env.ns.client, 'wrk', args, (seconds + 30) * 1000);
    return Number(/Requests\/sec:\s+([\d.]+)/.exec(r.out)?.[1] ?? NaN);
  }

  /** The running daemon's log. */
  get log(): string[] {
    return this.daemon?.log ?? [];
  }

  /** `tsvs proc NAME` of the running daemon, as `name value` pairs. */
  async proc(name: string): Promise<Map<string, string>> {
    const c = await ControlClient.connect(join(this.dir, 'control.sock'), 3000);
    try {
      const text = String(await c.call({ cmd: 'proc', name }));
      return new Map(
        text
          .trim()
          .split('\n')
          .map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]),
      );
    } finally {
      c.close();
    }
  }

  /** Connections of the running daemon (`ipvsadm -L -c`). */
  async connections(): Promise<number> {
    const c = await ControlClient.connect(join(this.dir, 'control.sock'), 3000);
    try {
      return (await c.call({ cmd: 'listConnections' })).length;
    } finally {
      c.close();
    }
  }

  private exit(r: Run, signal: NodeJS.Signals | null): Promise<number | null> {
    if (signal) r.kill(signal);
    return r.exited;
  }

  /** Runs the load, does `event` after a second, returns the counts. */
  async event(event: HitlessEvent): Promise<EventResult> {
    const vip = this.env.vip4;
    const ns = this.env.ns.client;
    const seconds = 6;
    let ready = false;
    const load = sh(
      ns,
      process.execPath,
      [
        LOAD,
        JSON.stringify({
          host: vip,
          echoPort: ECHO_PORT,
          reqPort: HTTP_PORT,
          idle: 100,
          rate: 50,
          durationMs: seconds * 1000,
        }),
      ],
      60_000,
      (o) => (ready ||= o.includes('ready')),
    );
    await waitFor(async () => ready, { timeout: 20_000, what: 'the idle connections' });
    const wrk = sh(
      ns,
      'wrk',
      ['-c', '32', '-t', '2', '-d', `${seconds + 1}s`, '--timeout', '10s', `http://${vip}/`],
      60_000,
    );
    const ftpOut = join(this.dir, 'out', `big-${event}`);
    const ftp = sh(
      ns,
      'curl',
      [
        '-sS',
        '--max-time',
        '40',
        '--limit-rate',
        `${Math.ceil(FTP_BYTES / 5)}`,
        '-o',
        ftpOut,
        '-w',
        '%{size_download}',
        `ftp://${vip}/big`,
      ],
      60_000,
    );
    // wrk and the FTP transfer get going, then the event
    await new Promise((r) => setTimeout(r, 800));
    const old = this.daemon!;
    const connsBefore = await this.connections().catch(() => -1);
    const t0 = Date.now();
    let exitMs = -1;
    if (event === 'restart') {
      await this.exit(old, 'SIGTERM');
      exitMs = Date.now() - t0;
      this.daemon = await this.start([]);
    } else if (event === 'kill') {
      await this.exit(old, 'SIGKILL');
      exitMs = Date.now() - t0;
      this.daemon = await this.start([]);
    } else {
      this.daemon = await this.start(['--takeover']);
      await this.exit(old, null);
    }
    const switchMs = Date.now() - t0;
    const [l, w, f] = await Promise.all([load, wrk, ftp]);
    let lr: LoadResult;
    try {
      lr = JSON.parse(l.out.trim().split('\n').pop() ?? '') as LoadResult;
    } catch {
      throw new Error(`the load did not report: ${l.err} ${l.out}`);
    }
    // wrk: "Socket errors: connect 0, read 0, write 0, timeout 0", "Non-2xx ...", latency max
    const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(w.out);
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(w.out)?.[1] ?? 0);
    const reqs = Number(/(\d+) requests in/.exec(w.out)?.[1] ?? 0);
    const maxLat = /Latency\s+\S+\s+\S+\s+(\S+)/.exec(w.out)?.[1] ?? '0ms';
    const latMs =
      parseFloat(maxLat) * (maxLat.endsWith('us') ? 0.001 : maxLat.endsWith('ms') ? 1 : 1000);
    const wrkReadErr = se ? Number(se[2]) + Number(se[3]) : 0;
    const wrkFailed = se ? Number(se[1]) + Number(se[4]) : 0;
    const ftpOk = f.code === 0 && Number(f.out.trim()) === FTP_BYTES;
    const gap = this.gapOf(this.daemon.log);
    return {
      event,
      resets: lr.idle.resets + lr.fresh.resets + wrkReadErr + (/reset/i.test(f.err) ? 1 : 0),
      failed: lr.idle.failed + lr.fresh.failed + wrkFailed + non2xx + (ftpOk ? 0 : 1),
      stallMs: Math.max(lr.idle.stallMs, lr.fresh.stallMs, latMs),
      lost: lr.idle.lost + (ftpOk ? 0 : 1),
      established: lr.idle.total + 1,
      gapMs: gap,
      detail: {
        switchMs,
        exitMs,
        connsBefore,
        newLog: this.daemon.log.filter((l) => /restored|recovered|hand-over|running/.test(l)),
        // where the time went: the new daemon's start-up phases, the old one's stop
        phases: this.daemon.log
          .filter((l) => /start-up phases|held capture|took .* over/.test(l))
          .map((l) => l.replace(/\{"level":"\w+","time":"[^"]+","msg":"/, '').replace(/"\}$/, '')),
        oldLog: old.log
          .filter((l) => /hand-over|saved the state|held for the next start|stopping/.test(l))
          .map((l) => l.replace(/\{"level":"\w+","time":"[^"]+","msg":"/, '').replace(/"\}$/, '')),
        idle: lr.idle,
        fresh: lr.fresh,
        wrk: {
          requests: reqs,
          socketErrors: se?.slice(1).map(Number),
          non2xx,
          maxLatencyMs: latMs,
        },
        ftp: { ok: ftpOk, code: f.code, err: f.err.trim().slice(0, 200) },
      },
    };
  }

  /** "took … over in N ms" / restore time from the daemon's log (for the report). */
  private gapOf(log: string[]): number {
    // a hand-over: the window itself (old daemon stopped reading → this one read)
    for (const l of log) {
      const m = /packets not read for (\d+) ms/.exec(l);
      if (m) return Number(m[1]);
    }
    for (const l of log) {
      const m = /in (\d+) ms/.exec(l);
      if (m && /hand-over|restored|recovered/.test(l)) return Number(m[1]);
    }
    return -1;
  }

  /** Stops the daemon with `signal` (and starts none). */
  async signal(signal: NodeJS.Signals): Promise<number | null> {
    const r = this.daemon;
    this.daemon = null;
    return r ? this.exit(r, signal) : null;
  }

  /** Starts the daemon (after {@link signal}). */
  async startAgain(extra: string[] = []): Promise<string[]> {
    this.daemon = await this.start(extra);
    return this.daemon.log;
  }

  /**
   * `tsvs daemon --stop-clean` (the documented way to remove everything): with a daemon
   * running it asks it, without one it removes what the last one left.
   */
  async stopClean(): Promise<{ code: number; err: string }> {
    const r = await sh(this.env.ns.director, process.execPath, [
      TSVS,
      'daemon',
      '--stop-clean',
      '--control',
      join(this.dir, 'control.sock'),
      '--name',
      this.prefix,
    ]);
    if (this.daemon) await this.exit(this.daemon, null);
    this.daemon = null;
    return { code: r.code, err: r.err };
  }

  /** What of the daemon's is left in the director: chains, tc filters, devices, files. */
  async leftovers(): Promise<string[]> {
    const d = this.env.ns.director;
    const out: string[] = [];
    const ipt = await sh(d, 'iptables-legacy-save', ['-t', 'mangle']);
    out.push(...ipt.out.split('\n').filter((l) => l.includes('TSVS_')));
    const links = await sh(d, 'ip', ['-o', 'link', 'show']);
    out.push(...links.out.split('\n').filter((l) => /tsvs[io]-/.test(l)));
    for (const dev of [this.env.director.clientIf, this.env.director.serverIf]) {
      const f = await sh(d, 'tc', ['filter', 'show', 'dev', dev, 'ingress']);
      // (all of it: the fast path's bpf filter comes before the u32 ones)
      if (f.out.trim()) out.push(`${dev}: ${f.out.trim().replace(/\n/g, ' ')}`);
    }
    for (const f of ['engine.state', 'journal.snap', 'journal.log'])
      if (existsSync(join(this.dir, f))) out.push(f);
    return out;
  }

  async down(): Promise<void> {
    if (this.daemon) {
      // a clean stop removes what the daemon keeps
      const r = this.daemon;
      await this.exit(r, 'SIGINT');
    }
    for (const c of this.children) if (c.exitCode === null) c.kill('SIGKILL');
    labDown({ prefix: this.prefix });
    rmSync(this.dir, { recursive: true, force: true });
  }
}
