/**
 * Load of the hitless end-to-end tests, run in the client namespace:
 * `node reload-load.js run '{"host":…,"idlePort":…,"httpPort":…,"idle":100,"ms":4000}'`.
 *
 * - `idle` long-lived TCP connections to `host:idlePort` (a line echo service), each
 *   sending a line every 100 ms and timing its echo;
 * - a stream of new connections: `streams` loops of one HTTP request per new TCP
 *   connection (`Connection: close`) to `host:httpPort`.
 *
 * After `ms` it prints one JSON line of {@link LoadReport} and exits. Without `run` the
 * module does nothing when run (`node --test dist/test/` runs every .js file under test/).
 */
import { createConnection, type Socket } from 'node:net';
import { request } from 'node:http';

export interface LoadArgs {
  host: string;
  idlePort: number;
  httpPort: number;
  idle: number;
  streams: number;
  ms: number;
}

export interface LoadReport {
  /** Idle connections opened / still carrying their lines at the end. */
  idleOpened: number;
  idleAlive: number;
  /** Lines sent and echoed on the idle connections. */
  lines: number;
  echoed: number;
  /** Longest time a line waited for its echo (ms). */
  idleStallMs: number;
  /** New-connection requests made, failed, and the slowest (ms). */
  requests: number;
  failed: number;
  requestMaxMs: number;
  /** Connections reset (ECONNRESET) of either kind. */
  resets: number;
  /** Why things failed (first few). */
  errors: string[];
}

export function runLoad(a: LoadArgs): Promise<LoadReport> {
  const r: LoadReport = {
    idleOpened: 0,
    idleAlive: 0,
    lines: 0,
    echoed: 0,
    idleStallMs: 0,
    requests: 0,
    failed: 0,
    requestMaxMs: 0,
    resets: 0,
    errors: [],
  };
  const note = (what: string, e: Error & { code?: string }): void => {
    if (e.code === 'ECONNRESET') r.resets++;
    if (r.errors.length < 10) r.errors.push(`${what}: ${e.code ?? ''} ${e.message}`);
  };
  const end = Date.now() + a.ms;
  const socks: { s: Socket; dead: boolean; sent: number[]; timer?: NodeJS.Timeout }[] = [];
  for (let i = 0; i < a.idle; i++) {
    const c: (typeof socks)[number] = {
      s: createConnection({ host: a.host, port: a.idlePort }),
      dead: false,
      sent: [],
    };
    socks.push(c);
    c.s.setNoDelay(true);
    let buf = '';
    c.s.setEncoding('utf8');
    c.s.on('connect', () => {
      r.idleOpened++;
      // spread the connections over the 100 ms period
      setTimeout(() => {
        const t = setInterval(() => {
          if (c.dead || Date.now() >= end) return;
          c.sent.push(Date.now());
          r.lines++;
          c.s.write(`line ${i} ${r.lines}\n`);
        }, 100);
        c.timer = t;
      }, i % 100);
    });
    c.s.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        buf = buf.slice(nl + 1);
        const t0 = c.sent.shift();
        if (t0 !== undefined) {
          r.echoed++;
          r.idleStallMs = Math.max(r.idleStallMs, Date.now() - t0);
        }
      }
    });
    c.s.on('error', (e) => {
      c.dead = true;
      note(`idle ${i}`, e);
    });
    c.s.on('close', () => (c.dead = true));
  }
  const oneRequest = (): Promise<void> =>
    new Promise((resolve) => {
      const t0 = Date.now();
      r.requests++;
      const q = request(
        {
          host: a.host,
          port: a.httpPort,
          path: '/',
          agent: false,
          headers: { connection: 'close' },
          timeout: 5000,
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 200) {
              r.failed++;
              if (r.errors.length < 10) r.errors.push(`request: status ${res.statusCode}`);
            }
            r.requestMaxMs = Math.max(r.requestMaxMs, Date.now() - t0);
            resolve();
          });
        },
      );
      q.on('timeout', () =>
        q.destroy(
          new Error(`timed out (local port ${q.socket?.localPort ?? '?'}, ${Date.now() - t0} ms)`),
        ),
      );
      q.on('error', (e) => {
        r.failed++;
        note('request', e);
        resolve();
      });
      q.end();
    });
  const loops: Promise<void>[] = [];
  for (let i = 0; i < a.streams; i++)
    loops.push(
      (async () => {
        while (Date.now() < end) await oneRequest();
      })(),
    );
  return Promise.all(loops)
    .then(() => new Promise((res) => setTimeout(res, Math.max(0, end - Date.now()) + 500)))
    .then(() => {
      for (const c of socks) {
        if (c.timer) clearInterval(c.timer);
        // a line still unanswered at the end waited at least this long
        if (c.sent.length) r.idleStallMs = Math.max(r.idleStallMs, Date.now() - c.sent[0]);
        if (!c.dead && c.sent.length === 0) r.idleAlive++;
        c.s.destroy();
      }
      return r;
    });
}

if (process.argv[2] === 'run') {
  const args = JSON.parse(process.argv[3]) as LoadArgs;
  void runLoad(args).then((r) => {
    process.stdout.write(JSON.stringify(r) + '\n');
    process.exit(0);
  });
}
