/**
 * One data-plane worker per core (`tsvs daemon --workers N`, docs/dataplane.md "One
 * worker per core"): the daemon's own director is worker 0, and N − 1 worker threads
 * (worker-thread.ts) each run a director of their own — its own engine, its own
 * steering devices and filters, its own sockets and I/O — over its share of the flows:
 * the tc filters of worker k take the requests whose client port has k in its low bits
 * and the NAT replies whose destination port (the client's port again) has, so both
 * directions of a flow reach the same worker (persistent services: the client's
 * address instead, steer.ts addressPartitioned).
 *
 * The configuration is shared by applying every command of the control model to every
 * worker's engine, in order: a worker starts from the configuration as it is (a
 * snapshot) and is sent each command the main thread's model applies after that
 * (control/model.ts `applied`). Listings (`ipvsadm -L`, `--stats`, `--rate`, `-L -c`),
 * and through them metrics and the dashboard, add the workers' counters and
 * connections to the main engine's (`shards`), asked for synchronously (a shared flag
 * and `receiveMessageOnPort`) since the control model answers synchronously.
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import {
  MessageChannel,
  receiveMessageOnPort,
  Worker,
  type MessagePort,
} from 'node:worker_threads';
import type { ConnEntry, DestEntry, ServiceEntry } from '../control/entries.js';
import type { ConfigSnapshot, EngineCommand } from '../control/model.js';
import { MAX_SHARDS } from '../dataplane/steer-share.js';

/** What a worker thread is started with (worker-thread.ts). */
export interface WorkerInit {
  id: number;
  count: number;
  name: string;
  netns?: string;
  queueIn?: number;
  queueOut?: number;
  steer?: boolean;
  snapshot: ConfigSnapshot;
  /** Set to 1 by the worker when its answer to a listing request is posted. */
  flag: SharedArrayBuffer;
  rpc: MessagePort;
}

/** Messages from a worker thread. */
export type FromWorker =
  | { t: 'log'; line: string }
  | { t: 'started' }
  | { t: 'failed'; why: string }
  | { t: 'settled'; n: number }
  | { t: 'stopped' };

/** Messages to a worker thread. */
export type ToWorker =
  | { t: 'cmd'; m: EngineCommand; args: unknown[] }
  | { t: 'settle'; n: number }
  | { t: 'stop'; how: 'clean' | 'park' };

/** How long a listing waits for a worker's answer before leaving it out. */
const LIST_TIMEOUT_MS = 2000;
/** Connection ids of worker k are offset by k × this in merged listings. */
const CONN_ID_STRIDE = 1 << 24;

/**
 * `--workers`: a number from 1 to {@link MAX_SHARDS} that is a power of two (the
 * filters match the low bits of the client's port), or `auto` (the largest such
 * number of cores available). Returns a message for anything else.
 */
export function parseWorkers(text: string, cores = availableParallelism()): number | string {
  if (text === 'auto') {
    let n = 1;
    while (n * 2 <= Math.min(cores, MAX_SHARDS)) n *= 2;
    return n;
  }
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_SHARDS || (n & (n - 1)) !== 0)
    return `--workers ${text}: expected 1, 2, 4 or 8 (a power of two: the steering filters match the low bits of the client's port), or auto`;
  return n;
}

/**
 * What several workers cannot do yet (docs/dataplane.md, "One worker per core"): the
 * message refusing the start, or null.
 */
export function workersRefused(
  n: number,
  a: { takeover?: boolean; ftpPorts?: readonly number[]; syncInterface?: string; steer?: boolean },
): string | null {
  if (n <= 1) return null;
  const no = a.takeover
    ? '--takeover'
    : a.ftpPorts?.some((p) => p !== 0)
      ? '--ftp-ports (an FTP data connection would reach another worker than its control connection)'
      : a.syncInterface
        ? '--sync-interface (connection sync)'
        : a.steer === false
          ? '--no-steer (workers read steering devices only)'
          : null;
  return no ? `--workers ${n}: not with ${no}; use --workers 1` : null;
}

/** The control model's `shards`: listings with the workers' (once they run). */
export function workersListings(get: () => Workers | null): {
  services(own: ServiceEntry[]): ServiceEntry[];
  connections(own: ConnEntry[]): ConnEntry[];
} {
  return {
    services: (own) => get()?.services(own) ?? own,
    connections: (own) => get()?.connections(own) ?? own,
  };
}

interface Thread {
  id: number;
  worker: Worker;
  flag: Int32Array;
  rpc: MessagePort;
  settles: Map<number, () => void>;
  stopped: Promise<void>;
  alive: boolean;
}

const add = <T extends object>(a: T, b: T): T => {
  const out = { ...a } as Record<string, unknown>;
  for (const [k, v] of Object.entries(b))
    if (typeof v === 'number' && typeof out[k] === 'number') out[k] = (out[k] as number) + v;
  return out as T;
};

const svcKey = (s: ServiceEntry): string => `${s.af}|${s.protocol}|${s.addr}|${s.port}|${s.fwmark}`;
const destKey = (d: DestEntry): string => `${d.addr}|${d.port}`;

/** Adds the workers' service entries to the main engine's (counters, rates, connection counts). */
export function mergeServices(own: ServiceEntry[], others: ServiceEntry[][]): ServiceEntry[] {
  const by = new Map<string, ServiceEntry[]>();
  for (const list of others)
    for (const s of list) {
      const k = svcKey(s);
      const l = by.get(k);
      if (l) l.push(s);
      else by.set(k, [s]);
    }
  return own.map((s) => {
    const theirs = by.get(svcKey(s));
    if (!theirs) return s;
    let stats = s.stats;
    let rates = s.rates;
    const dests = s.dests.map((d) => ({ ...d }));
    for (const t of theirs) {
      stats = add(stats, t.stats);
      rates = add(rates, t.rates);
      for (const td of t.dests) {
        const d = dests.find((x) => destKey(x) === destKey(td));
        if (!d) continue;
        d.activeconns += td.activeconns;
        d.inactconns += td.inactconns;
        d.persistconns += td.persistconns;
        d.stats = add(d.stats, td.stats);
        d.rates = add(d.rates, td.rates);
      }
    }
    return { ...s, stats, rates, dests };
  });
}

/** The workers' connections after the main engine's, their ids made distinct. */
export function mergeConnections(own: ConnEntry[], others: ConnEntry[][]): ConnEntry[] {
  const out = own.slice();
  others.forEach((list, i) => {
    const off = (i + 1) * CONN_ID_STRIDE;
    for (const c of list)
      out.push({ ...c, id: c.id + off, control: c.control >= 0 ? c.control + off : c.control });
  });
  return out;
}

/** The worker threads of a daemon (workers 1 … N − 1; worker 0 is the daemon's director). */
export class Workers {
  private readonly threads: Thread[] = [];
  private settleN = 0;

  private constructor(private readonly log: (line: string) => void) {}

  /**
   * Starts workers 1 … count − 1 over `snapshot` (the configuration as it is); resolves
   * once every one carries it (devices open, filters in place), rejects (with every
   * started one stopped) when one cannot start.
   */
  static async start(
    o: Omit<WorkerInit, 'id' | 'flag' | 'rpc'>,
    log: (line: string) => void,
  ): Promise<Workers> {
    const w = new Workers(log);
    const started: Promise<void>[] = [];
    for (let id = 1; id < o.count; id++) {
      const sab = new SharedArrayBuffer(4);
      const { port1, port2 } = new MessageChannel();
      const init: WorkerInit = { ...o, id, flag: sab, rpc: port2 };
      const worker = new Worker(new URL('./worker-thread.js', import.meta.url), {
        workerData: init,
        transferList: [port2],
      });
      let up: (() => void) | undefined;
      let down: ((e: Error) => void) | undefined;
      started.push(
        new Promise<void>((res, rej) => {
          up = res;
          down = rej;
        }),
      );
      let stopped!: () => void;
      const t: Thread = {
        id,
        worker,
        flag: new Int32Array(sab),
        rpc: port1,
        settles: new Map(),
        stopped: new Promise<void>((r) => (stopped = r)),
        alive: true,
      };
      worker.on('message', (m: FromWorker) => {
        if (m.t === 'log') log(`worker ${id}: ${m.line}`);
        else if (m.t === 'started') up?.();
        else if (m.t === 'failed') down?.(new Error(`worker ${id}: ${m.why}`));
        else if (m.t === 'settled') {
          t.settles.get(m.n)?.();
          t.settles.delete(m.n);
        }
      });
      worker.on('error', (e) => {
        log(`worker ${id}: ${e.message}`);
        down?.(e);
      });
      worker.on('exit', (code) => {
        t.alive = false;
        for (const r of t.settles.values()) r();
        t.settles.clear();
        stopped();
        down?.(new Error(`worker ${id} exited (${code})`));
      });
      w.threads.push(t);
    }
    try {
      await Promise.all(started);
    } catch (e) {
      await w.stop('clean');
      throw e;
    }
    return w;
  }

  /** How many workers in all (with the daemon's own director). */
  get count(): number {
    return this.threads.length + 1;
  }

  /** A command the main model applied: every worker applies it too, in order. */
  command(m: EngineCommand, args: unknown[]): void {
    for (const t of this.threads)
      if (t.alive) t.worker.postMessage({ t: 'cmd', m, args } satisfies ToWorker);
  }

  /** Resolves when every worker has applied the commands sent so far to its data plane. */
  settled(): Promise<void> {
    const n = ++this.settleN;
    return Promise.all(
      this.threads
        .filter((t) => t.alive)
        .map(
          (t) =>
            new Promise<void>((res) => {
              t.settles.set(n, res);
              t.worker.postMessage({ t: 'settle', n } satisfies ToWorker);
            }),
        ),
    ).then(() => undefined);
  }

  /** Asks every worker for a listing, synchronously (see the module comment). */
  private ask<T>(what: 'services' | 'connections'): T[] {
    const out: T[] = [];
    for (const t of this.threads) {
      if (!t.alive) {
        out.push([] as unknown as T);
        continue;
      }
      Atomics.store(t.flag, 0, 0);
      t.rpc.postMessage(what);
      const r = Atomics.wait(t.flag, 0, 0, LIST_TIMEOUT_MS);
      const m = receiveMessageOnPort(t.rpc);
      if (r === 'timed-out' || !m) {
        this.log(`worker ${t.id}: no answer to a listing in ${LIST_TIMEOUT_MS} ms: left out`);
        out.push([] as unknown as T);
      } else out.push(m.message as T);
    }
    return out;
  }

  /** The main engine's service entries with the workers' counters added. */
  services(own: ServiceEntry[]): ServiceEntry[] {
    return this.threads.length ? mergeServices(own, this.ask<ServiceEntry[]>('services')) : own;
  }

  /** The main engine's connections and the workers'. */
  connections(own: ConnEntry[]): ConnEntry[] {
    return this.threads.length ? mergeConnections(own, this.ask<ConnEntry[]>('connections')) : own;
  }

  /**
   * Stops every worker: `clean` removes its devices and filters, `park` leaves them
   * (a restart: the kernel drops that share until the next daemon reads it).
   */
  async stop(how: 'clean' | 'park'): Promise<void> {
    for (const t of this.threads)
      if (t.alive) t.worker.postMessage({ t: 'stop', how } satisfies ToWorker);
    await Promise.all(
      this.threads.map((t) =>
        Promise.race([
          t.stopped,
          new Promise<void>((r) =>
            setTimeout(() => {
              void t.worker.terminate();
              r();
            }, 5000).unref(),
          ),
        ]),
      ),
    );
    for (const t of this.threads) t.rpc.close();
  }
}
