/**
 * End-to-end harness: a lab of network namespaces (scripts/lab.sh), the real daemon
 * (`tsvs daemon`, as a child process in the director namespace), real programs in the
 * other namespaces. Every step has a timeout, so a broken data plane fails a test
 * instead of hanging it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labDown, labUp, type LabEnv } from '../../src/sys/lab.js';
import { ControlClient } from '../../src/control/client.js';
import { waitFor as waitForCondition } from '../helpers/wait.js';
import type { ServiceId, ServiceSpec, DestSpec } from '../../src/control/model.js';

export const TSVS = fileURLToPath(new URL('../../src/cli/tsvs.js', import.meta.url));
export const TSVSADM = fileURLToPath(new URL('../../src/cli/tsvsadm.js', import.meta.url));

/** Why e2e tests cannot run here, or null. */
export function e2eUnavailable(): string | null {
  if (process.getuid && process.getuid() !== 0) return 'end-to-end tests need root';
  return null;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Run a command (in a netns if given) with a timeout; never rejects. */
export function sh(
  ns: string | null,
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; input?: Buffer | string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  const argv = ns ? ['netns', 'exec', ns, cmd, ...args] : args;
  const bin = ns ? 'ip' : cmd;
  return new Promise((resolve) => {
    const child = execFile(
      bin,
      argv,
      {
        timeout: opts.timeoutMs ?? 15_000,
        encoding: 'buffer',
        maxBuffer: 64 * 1024 * 1024,
        env: opts.env ?? process.env,
      },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as NodeJS.ErrnoException).code === 'number'
            ? Number((err as NodeJS.ErrnoException).code)
            : 1
          : 0;
        resolve({
          stdout: stdout.toString('latin1'),
          stderr: stderr.toString(),
          code: err && code === 0 ? 1 : code,
        });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** {@link waitForCondition} with the harness's argument order: what, deadline, condition. */
export function waitFor(what: string, ms: number, fn: () => Promise<boolean>): Promise<void> {
  return waitForCondition(fn, { timeout: ms, what });
}

/** A long-running program in a namespace, killed by the lab's cleanup. */
export function bg(ns: string, cmd: string, args: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: 'ignore' });
}

/** An HTTP server answering with its name on every address (IPv4 and IPv6). */
export function httpServer(ns: string, name: string, port: number): ChildProcess {
  const code = `require('http').createServer((q,s)=>{s.setHeader('connection','close');s.end(${JSON.stringify(name)}+'\\n')}).listen(${port},'::')`;
  return bg(ns, process.execPath, ['-e', code]);
}

export interface Daemon {
  proc: ChildProcess;
  sock: string;
  client: ControlClient;
  log: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export class Lab {
  readonly env: LabEnv;
  readonly dir: string;
  private readonly children: ChildProcess[] = [];
  private daemons: Daemon[] = [];

  private constructor(
    readonly prefix: string,
    env: LabEnv,
  ) {
    this.env = env;
    this.dir = mkdtempSync(join(tmpdir(), `tsvs-${prefix}-`));
  }

  static up(prefix: string): Lab {
    return new Lab(prefix, labUp({ prefix }));
  }

  get ns(): LabEnv['ns'] {
    return this.env.ns;
  }

  track(c: ChildProcess): ChildProcess {
    this.children.push(c);
    return c;
  }

  http(rs: 0 | 1, port: number): ChildProcess {
    return this.track(httpServer(rs === 0 ? this.ns.rs1 : this.ns.rs2, `rs${rs + 1}`, port));
  }

  /** Start the real daemon in the director namespace and connect a control client. */
  async daemon(
    extra: string[] = [],
    sock = join(this.dir, 'control.sock'),
    ns = this.ns.director,
  ): Promise<Daemon> {
    const log: string[] = [];
    const proc = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        TSVS,
        'daemon',
        '--control',
        sock,
        '--no-state',
        '--name',
        this.prefix,
        ...extra,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => log.push(...d.trim().split('\n')));
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => log.push(...d.trim().split('\n')));
    let client: ControlClient | undefined;
    await waitFor('the daemon to answer', 15_000, async () => {
      if (proc.exitCode !== null) throw new Error(`daemon exited: ${log.join(' | ')}`);
      client = await ControlClient.connect(sock, 1000);
      return true;
    });
    await waitFor('the daemon to run', 10_000, async () =>
      log.some((l) => l.includes('daemon running')),
    );
    const d: Daemon = {
      proc,
      sock,
      client: client!,
      log,
      stop: (signal: NodeJS.Signals = 'SIGTERM') =>
        new Promise((resolve) => {
          client!.close();
          if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
          const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
          proc.once('exit', (code) => {
            clearTimeout(t);
            resolve(code);
          });
          proc.kill(signal);
        }),
    };
    this.daemons.push(d);
    return d;
  }

  /** Client-side command. */
  client(
    cmd: string,
    args: string[],
    opts: { timeoutMs?: number; input?: Buffer | string } = {},
  ): Promise<RunResult> {
    return sh(this.ns.client, cmd, args, opts);
  }

  async down(): Promise<void> {
    for (const d of this.daemons) await d.stop();
    for (const c of this.children) if (c.exitCode === null) c.kill('SIGKILL');
    labDown({ prefix: this.prefix });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Configure one service with its dests through the JSON control API. */
export async function configure(
  c: ControlClient,
  svc: ServiceSpec,
  dests: DestSpec[],
): Promise<ServiceId> {
  await c.call({ cmd: 'addService', service: svc });
  const id: ServiceId = {
    af: svc.af,
    protocol: svc.protocol,
    addr: svc.addr,
    port: svc.port,
    fwmark: svc.fwmark,
  };
  for (const d of dests) await c.call({ cmd: 'addDest', service: id, dest: d });
  return id;
}

/** Wait until both real servers have a socket listening on each port (`ss`). */
export async function serversListening(lab: Lab, tcp: number[], udp: number[] = []): Promise<void> {
  for (const ns of [lab.ns.rs1, lab.ns.rs2]) {
    for (const [kind, ports] of [
      ['-Hltn', tcp],
      ['-Hlun', udp],
    ] as [string, number[]][]) {
      for (const port of ports) {
        await waitFor(`a listener on ${ns} port ${port}`, 10_000, async () => {
          const r = await sh(ns, 'ss', [kind, `sport = :${port}`], { timeoutMs: 2000 });
          return r.code === 0 && r.stdout.trim() !== '';
        });
      }
    }
  }
}
