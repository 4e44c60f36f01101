/**
 * The load of the hitless tests and of bench:e2e's `hitless` section, run in the
 * client namespace as its own process (`node hitless-load.js CONFIG-JSON`): idle
 * long-lived TCP connections that send a line every 100 ms and wait for its echo, and
 * a stream of new connections, each one request and its answer. It prints one JSON
 * line: per kind, the resets, failures, the longest stall, and the connections lost.
 *
 * "Stall" is the longest time one step waited: a line for its echo, a new connection
 * for its answer. A connection is lost when it was reset, closed or errored, or when it
 * made no progress during the last second of the run.
 *
 * @module
 */
import { connect, type Socket } from 'node:net';

export interface LoadConfig {
  host: string;
  /** Echo port (idle connections) and request port (new connections). */
  echoPort: number;
  reqPort: number;
  idle: number;
  /** New connections per second. */
  rate: number;
  durationMs: number;
  /** Line interval of the idle connections. */
  intervalMs?: number;
}

export interface KindResult {
  total: number;
  resets: number;
  failed: number;
  stallMs: number;
  lost: number;
}

export interface LoadResult {
  idle: KindResult;
  fresh: KindResult;
}

function kind(): KindResult {
  return { total: 0, resets: 0, failed: 0, stallMs: 0, lost: 0 };
}

async function run(cfg: LoadConfig): Promise<LoadResult> {
  const out: LoadResult = { idle: kind(), fresh: kind() };
  const interval = cfg.intervalMs ?? 100;
  // idle, long-lived connections
  interface Idle {
    s: Socket;
    dead: boolean;
    last: number;
    sentAt: number;
    waiting: boolean;
  }
  const idles: Idle[] = [];
  await Promise.all(
    Array.from(
      { length: cfg.idle },
      () =>
        new Promise<void>((resolve) => {
          const s = connect(cfg.echoPort, cfg.host);
          const c: Idle = { s, dead: false, last: Date.now(), sentAt: 0, waiting: false };
          out.idle.total++;
          s.setNoDelay(true);
          s.on('connect', () => {
            c.last = Date.now();
            resolve();
          });
          let buf = '';
          s.setEncoding('utf8').on('data', (d: string) => {
            buf += d;
            while (buf.includes('\n')) {
              buf = buf.slice(buf.indexOf('\n') + 1);
              const now = Date.now();
              if (c.waiting) out.idle.stallMs = Math.max(out.idle.stallMs, now - c.sentAt);
              c.waiting = false;
              c.last = now;
            }
          });
          const die = (reset: boolean): void => {
            if (c.dead) return;
            c.dead = true;
            if (reset) out.idle.resets++;
            else out.idle.failed++;
            resolve();
          };
          s.on('error', (e: NodeJS.ErrnoException) => die(e.code === 'ECONNRESET'));
          s.on('close', () => die(false));
          idles.push(c);
        }),
    ),
  );
  // the run is timed from here: every idle connection is established
  process.stdout.write('ready\n');
  const end = Date.now() + cfg.durationMs;
  const tick = setInterval(() => {
    const now = Date.now();
    for (const c of idles) {
      if (c.dead || c.waiting) continue;
      c.waiting = true;
      c.sentAt = now;
      c.s.write(`ping ${now}\n`);
    }
  }, interval);
  // a stream of new connections
  const pending = new Set<Promise<void>>();
  const one = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const t0 = Date.now();
      out.fresh.total++;
      const s = connect(cfg.reqPort, cfg.host);
      let got = '';
      let done = false;
      const finish = (ok: boolean, reset: boolean): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        s.destroy();
        out.fresh.stallMs = Math.max(out.fresh.stallMs, Date.now() - t0);
        if (!ok) {
          if (reset) out.fresh.resets++;
          else out.fresh.failed++;
        }
        resolve();
      };
      const timer = setTimeout(() => finish(false, false), 10_000);
      s.on('connect', () => s.write('GET / HTTP/1.0\r\n\r\n'));
      s.setEncoding('utf8').on('data', (d: string) => (got += d));
      s.on('end', () => finish(got.startsWith('HTTP/1.1 200'), false));
      s.on('error', (e: NodeJS.ErrnoException) => finish(false, e.code === 'ECONNRESET'));
    });
  const gap = 1000 / cfg.rate;
  while (Date.now() < end) {
    const p = one();
    pending.add(p);
    void p.then(() => pending.delete(p));
    await new Promise((r) => setTimeout(r, gap));
  }
  clearInterval(tick);
  // the last round of echoes, then judge
  await new Promise((r) => setTimeout(r, Math.max(300, interval * 3)));
  const now = Date.now();
  for (const c of idles) {
    if (c.dead || now - c.last > 1000) out.idle.lost++;
    if (c.waiting && !c.dead) out.idle.stallMs = Math.max(out.idle.stallMs, now - c.sentAt);
    c.dead = true; // closed by us from here on
    c.s.destroy();
  }
  await Promise.all([...pending]);
  out.fresh.lost = out.fresh.failed + out.fresh.resets;
  return out;
}

if (process.argv[2]) {
  const cfg = JSON.parse(process.argv[2]) as LoadConfig;
  run(cfg).then(
    (r) => {
      process.stdout.write(JSON.stringify(r) + '\n');
      process.exit(0);
    },
    (e: Error) => {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    },
  );
}
