/**
 * What the HA (keepalived VRRP pair) and fleet (BGP ECMP) end-to-end tests share: a
 * "switch" namespace of bridges that the other namespaces plug into, the real tsvs
 * daemon, keepalived, FRR and BIRD processes in namespaces, and the flows load
 * (./ha-flows.ts) driven over its stdin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { sh, waitFor, TSVS } from './harness.js';
import type { FlowReport } from './ha-flows.js';

export const FLOWS = fileURLToPath(new URL('./ha-flows.js', import.meta.url));

/** Runs `ip ARGS...`, throwing with its message when it fails. */
export async function ip(...args: string[]): Promise<void> {
  const r = await sh(null, 'ip', args);
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** Runs a command in a namespace, throwing when it fails. */
export async function inNs(ns: string, cmd: string, ...args: string[]): Promise<string> {
  const r = await sh(ns, cmd, args);
  if (r.code !== 0) throw new Error(`${ns}: ${cmd} ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Kills every process of the namespaces and deletes them (idempotent). */
export async function removeNamespaces(names: readonly string[]): Promise<void> {
  for (const n of names) {
    const r = await sh(null, 'ip', ['netns', 'pids', n]);
    for (const pid of r.stdout.split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  for (const n of names) await sh(null, 'ip', ['netns', 'del', n]);
}

/** A namespace with lo up and the given sysctls. */
export async function addNamespace(name: string, sysctls: string[] = []): Promise<void> {
  await ip('netns', 'add', name);
  await ip('-n', name, 'link', 'set', 'lo', 'up');
  for (const k of sysctls) await inNs(name, 'sysctl', '-qw', k);
}

/**
 * Plugs `ns` into bridge `br` of the switch namespace: a veth pair, `ifname` inside
 * `ns` with `addrs`, `swName` on the bridge.
 */
export async function plug(
  sw: string,
  br: string,
  swName: string,
  ns: string,
  ifname: string,
  addrs: string[],
): Promise<void> {
  await ip('link', 'add', swName, 'netns', sw, 'type', 'veth', 'peer', 'name', ifname, 'netns', ns);
  await ip('-n', sw, 'link', 'set', swName, 'master', br, 'up');
  for (const a of addrs) await ip('-n', ns, 'addr', 'add', a, 'dev', ifname);
  await ip('-n', ns, 'link', 'set', ifname, 'up');
}

/** A process in a namespace whose output is kept (for failures' messages). */
export interface Proc {
  proc: ChildProcess;
  log: string[];
  /** Resolves once it exited. */
  exited: Promise<void>;
  kill(sig?: NodeJS.Signals): Promise<void>;
}

export function run(ns: string, cmd: string, args: string[]): Proc {
  const proc = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  const keep = (d: string): void => {
    log.push(...d.trim().split('\n'));
    if (log.length > 2000) log.splice(0, log.length - 2000);
  };
  proc.stdout?.setEncoding('utf8').on('data', keep);
  proc.stderr?.setEncoding('utf8').on('data', keep);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    proc,
    log,
    exited,
    async kill(sig: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(sig);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

/** The real tsvs daemon in `ns` (its own control socket and instance name). */
export async function tsvsDaemon(
  ns: string,
  sock: string,
  name: string,
  extra: string[],
): Promise<Proc> {
  const p = run(ns, process.execPath, [
    TSVS,
    'daemon',
    '--control',
    sock,
    '--name',
    name,
    '--no-state',
    ...extra,
  ]);
  await waitFor(`tsvs in ${ns} to run`, 20_000, async () => {
    if (p.proc.exitCode !== null) throw new Error(`tsvs in ${ns} exited: ${p.log.join(' | ')}`);
    return p.log.some((l) => l.includes('daemon running'));
  });
  return p;
}

/** `tsvs status --ready` against a socket: exit code and its line. */
export async function ready(ns: string, sock: string, vip?: string): Promise<[number, string]> {
  const r = await sh(ns, process.execPath, [
    TSVS,
    'status',
    '--ready',
    '--control',
    sock,
    ...(vip ? [vip] : []),
  ]);
  return [r.code, (r.stdout + r.stderr).trim()];
}

/** keepalived, VRRP only (-P), in the foreground, with its own pid files. */
export function keepalived(ns: string, dir: string, name: string, conf: string): Proc {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.conf`);
  writeFileSync(file, conf);
  return run(ns, 'keepalived', [
    '-P',
    '-n',
    '-l',
    '-D',
    '-f',
    file,
    '-p',
    join(dir, `${name}.pid`),
    '-r',
    join(dir, `${name}-vrrp.pid`),
  ]);
}

/** The flows load in the client namespace, driven over its stdin. */
export class Flows {
  private readonly lines: string[] = [];
  private waiting: ((l: string) => void) | null = null;
  readonly proc: ChildProcess;

  private constructor(ns: string, cfg: object) {
    this.proc = spawn('ip', ['netns', 'exec', ns, process.execPath, FLOWS, JSON.stringify(cfg)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w(l);
      } else this.lines.push(l);
    });
  }

  private next(ms: number): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the flows did not answer')), ms);
      this.waiting = (x) => {
        clearTimeout(t);
        resolve(x);
      };
    });
  }

  static async open(
    ns: string,
    cfg: { host: string; port: number; flows: number; intervalMs?: number },
  ): Promise<Flows> {
    const f = new Flows(ns, cfg);
    const first = JSON.parse(await f.next(60_000)) as { opened?: number; error?: string };
    if (first.error) throw new Error(`flows: ${first.error}`);
    return f;
  }

  async report(): Promise<FlowReport[]> {
    this.proc.stdin!.write('report\n');
    return JSON.parse(await this.next(10_000)) as FlowReport[];
  }

  async mark(): Promise<void> {
    this.proc.stdin!.write('mark\n');
    await this.next(10_000);
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    this.proc.stdin!.write('stop\n');
    await Promise.race([
      new Promise((r) => this.proc.once('exit', r)),
      new Promise((r) => setTimeout(r, 3000)),
    ]);
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

/** Waits until every flow has had a line answered since `answered` (per port). */
export async function allFlowing(flows: Flows, what: string, ms: number): Promise<FlowReport[]> {
  const before = new Map((await flows.report()).map((f) => [f.port, f.answered]));
  let last: FlowReport[] = [];
  await waitFor(what, ms, async () => {
    last = await flows.report();
    return last.every((f) => f.lost || f.answered > (before.get(f.port) ?? 0) + 1);
  });
  return last;
}

/** Milliseconds since `t0`, rounded. */
export function since(t0: number): number {
  return Math.round(Date.now() - t0);
}

/**
 * What the pair and the fleet labs share (./ha-pair-run.ts, ./ha-fleet-run.ts): the
 * namespaces `PREFIX-NAME` for the names given, a private directory, the processes
 * started (killed at {@link down}), the flows opened (stopped at {@link down}), a
 * "switch" namespace of bridges and the real tsvs daemon. A subclass builds its
 * topology in {@link build}; {@link HaLab.start} runs it and tears a half-built lab
 * down when it fails.
 */
export abstract class HaLab<K extends string> {
  readonly ns: Record<K, string>;
  /** The lab's own directory (control sockets, configurations, pid files). */
  protected readonly dir: string;
  protected readonly procs: Proc[] = [];
  protected readonly flowsets: Flows[] = [];
  /** Other directories to remove at {@link down}. */
  protected readonly extraDirs: string[] = [];

  protected constructor(
    readonly prefix: string,
    names: readonly K[],
  ) {
    this.ns = Object.fromEntries(names.map((n) => [n, `${prefix}-${n}`])) as Record<K, string>;
    this.dir = mkdtempSync(join(tmpdir(), `tsvs-${prefix}-`));
  }

  /** Creates the namespaces, links and processes; resolves once the lab is in its steady state. */
  protected abstract build(): Promise<void>;

  /** Builds `lab`; on a failure removes what was built and rethrows. */
  protected static async start<L extends HaLab<string>>(lab: L): Promise<L> {
    try {
      await lab.build();
    } catch (e) {
      await lab.down();
      throw e;
    }
    return lab;
  }

  /** Removes what an earlier run left, then makes the switch namespace with `bridges`. */
  protected async switchWith(sw: string, bridges: string[]): Promise<void> {
    await removeNamespaces(Object.values(this.ns));
    await addNamespace(sw);
    for (const br of bridges) {
      await ip('-n', sw, 'link', 'add', br, 'type', 'bridge');
      await ip('-n', sw, 'link', 'set', br, 'up');
    }
  }

  /** A process of the lab's (killed at {@link down}). */
  protected track(p: Proc): Proc {
    this.procs.push(p);
    return p;
  }

  /** The real tsvs daemon in `ns`, instance `PREFIXn`, with `extra` options. */
  protected async tsvs(ns: string, sock: string, n: number, extra: string[]): Promise<Proc> {
    return this.track(await tsvsDaemon(ns, sock, `${this.prefix}${n}`, extra));
  }

  /** Opens long-lived flows from `ns` (stopped at {@link down}, or by the caller). */
  protected async openFlows(
    ns: string,
    cfg: { host: string; port: number; flows: number; intervalMs?: number },
  ): Promise<Flows> {
    const f = await Flows.open(ns, cfg);
    this.flowsets.push(f);
    return f;
  }

  async down(): Promise<void> {
    for (const f of this.flowsets.splice(0)) await f.stop();
    for (const p of this.procs) await p.kill('SIGKILL');
    await removeNamespaces(Object.values(this.ns));
    for (const d of [this.dir, ...this.extraDirs]) rmSync(d, { recursive: true, force: true });
  }
}
