/**
 * The live dashboard the daemon serves with `--web [HOST:]PORT` (127.0.0.1 by default):
 * plain files from `static/` (an ES module, a style sheet, uPlot's own dist files from
 * node_modules — no build step) and a small JSON API over the control model:
 *
 * | request                         | answer                                                   |
 * | ------------------------------- | -------------------------------------------------------- |
 * | `GET /api/state`                | the last sample ({@link DashState})                      |
 * | `GET /api/events`               | server-sent events: `state` once a second                |
 * | `GET /api/history?key=K&metric=M` | the last 15 minutes of series K (repeatable), column M |
 * | `GET /api/history?total=1`      | the totals, every column                                 |
 * | `GET /api/conns?q=&after=&limit=` | a page of the connection table ({@link searchConns})   |
 * | `POST /api/action/NAME`         | drain, restore, quiesce, unquiesce ({@link Actions})     |
 *
 * Security: reading needs the token unless the request comes from this machine by a
 * loopback address and host name; every POST needs it, in an `Authorization: Bearer`
 * header (see `auth.ts`). Every answer carries a Content-Security-Policy that allows
 * scripts and styles from this origin only (no inline script, no eval), and the page
 * builds its DOM with text nodes only.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { ControlModel } from '../control/model.js';
import { ActionError, Actions, parseActionRequest, type ActionName } from './actions.js';
import {
  isLoopbackAddress,
  isLoopbackBind,
  isLoopbackHost,
  loadToken,
  tokenMatches,
} from './auth.js';
import { ConnQueryError, parseConnQuery, searchConnsSliced, type ConnQuery } from './conns.js';
import type { HistoryOptions } from './history.js';
import {
  OBJECT_METRICS,
  Sampler,
  TOTAL_KEY,
  TOTAL_METRICS,
  type DashExtra,
  type DashState,
} from './sample.js';

/** How the dashboard is served. */
export interface WebOptions {
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (0: any free port). */
  port: number;
  /** The token POSTs (and reads from other machines) must carry. */
  token: string;
  model: ControlModel;
  /** What the daemon adds: health checks, sync counters, the VRRP role. */
  extra?: DashExtra;
  log?: (line: string) => void;
  /** Resolves when a change has reached the data plane (and is saved). */
  afterChange?: () => Promise<void>;
  /** Sampling interval in ms (default 1000). */
  intervalMs?: number;
  history?: HistoryOptions;
}

/** Most event streams served at once. */
const MAX_STREAMS = 32;
/** An event stream whose unsent data exceeds this is closed (a client too slow to read). */
const MAX_BACKLOG = 4 << 20;
/** Most connection searches running at once (each scans the whole table). */
const MAX_SEARCHES = 2;
/** Largest request body accepted. */
const MAX_BODY = 4096;

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const COMMON_HEADERS: Record<string, string> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};

interface StaticFile {
  type: string;
  body: Buffer;
}

/** Where the page's files are: beside this module, or in the source tree beside dist/. */
export function staticDir(): string {
  const candidates = [
    new URL('./static/', import.meta.url),
    new URL('../../../src/web/static/', import.meta.url),
  ];
  for (const u of candidates) {
    const p = fileURLToPath(u);
    if (existsSync(`${p}index.html`)) return p;
  }
  throw new Error(
    `cannot find the dashboard's files (index.html) in ${candidates.map((u) => fileURLToPath(u)).join(' or ')}`,
  );
}

/** The page's files, read once at start (a missing one fails the start, not a request). */
function loadStatic(): Map<string, StaticFile> {
  const dir = staticDir();
  const req = createRequire(import.meta.url);
  const files = new Map<string, StaticFile>();
  const add = (url: string, path: string, type: string): void => {
    files.set(url, { type, body: readFileSync(path) });
  };
  add('/', `${dir}index.html`, 'text/html; charset=utf-8');
  add('/static/app.js', `${dir}app.js`, 'text/javascript; charset=utf-8');
  add('/static/style.css', `${dir}style.css`, 'text/css; charset=utf-8');
  add('/static/icon.svg', `${dir}icon.svg`, 'image/svg+xml');
  add('/static/uplot.js', req.resolve('uplot/dist/uPlot.esm.js'), 'text/javascript; charset=utf-8');
  add('/static/uplot.css', req.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8');
  return files;
}

function peerOf(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '?';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** The dashboard's HTTP server and its once-a-second sampler. */
export class WebServer {
  readonly sampler: Sampler;
  private readonly actions: Actions;
  private readonly files: Map<string, StaticFile>;
  private readonly streams = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private searches = 0;
  private refusedAt = -Infinity;
  private refusedQuiet = 0;
  private readonly log: (line: string) => void;

  private constructor(
    private readonly server: Server,
    private readonly opts: WebOptions,
  ) {
    this.log = opts.log ?? (() => {});
    this.sampler = new Sampler(opts.model, opts.extra, opts.history);
    this.actions = new Actions(opts.model, this.log);
    this.files = loadStatic();
  }

  /** Listen and start sampling; rejects with the listen error (address in use…). */
  static async start(opts: WebOptions): Promise<WebServer> {
    if (opts.token.length < 16) throw new Error('the web token must have at least 16 characters');
    const server = createServer();
    const web = new WebServer(server, opts);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      web.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent)
          web.send(res, 500, { error: e instanceof Error ? e.message : String(e) });
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    web.sampler.sample();
    web.timer = setInterval(() => web.tick(), opts.intervalMs ?? 1000);
    web.timer.unref();
    return web;
  }

  /** The address listened on. */
  get address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** `http://HOST:PORT/` of the page. */
  get url(): string {
    const a = this.address;
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/`;
  }

  /** Stop sampling, end the event streams, stop listening. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const s of this.streams) s.end();
    this.streams.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Take a sample and send it to every event stream. */
  private tick(): void {
    let state: DashState;
    try {
      state = this.sampler.sample();
    } catch (e) {
      this.log(`web: sampling failed: ${(e as Error).message}`);
      return;
    }
    if (!this.streams.size) return;
    const msg = `event: state\ndata: ${JSON.stringify(state)}\n\n`;
    for (const s of this.streams) {
      if (s.writableLength > MAX_BACKLOG) {
        s.destroy();
        this.streams.delete(s);
        continue;
      }
      s.write(msg);
    }
  }

  /**
   * Log a refused request: the first at once, then at most one line every 10 s with
   * the number left out, so that a flood of guesses does not flood the log.
   */
  private refused(line: string): void {
    const now = Date.now();
    if (now - this.refusedAt < 10_000) {
      this.refusedQuiet++;
      return;
    }
    const quiet = this.refusedQuiet;
    this.refusedAt = now;
    this.refusedQuiet = 0;
    this.log(quiet ? `${line} (and ${quiet} more refused since the last such line)` : line);
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      ...COMMON_HEADERS,
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(text),
    });
    res.end(res.req.method === 'HEAD' ? undefined : text);
  }

  /**
   * Whether the request comes from this machine by loopback address and host name, and
   * not through a proxy (a reverse proxy on this machine makes every request look local:
   * one that says it forwarded is not).
   */
  private isLocal(req: IncomingMessage): boolean {
    const h = req.headers;
    return (
      isLoopbackAddress(req.socket.remoteAddress) &&
      isLoopbackHost(h.host) &&
      h['x-forwarded-for'] === undefined &&
      h.forwarded === undefined &&
      h['x-real-ip'] === undefined
    );
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const isGet = method === 'GET' || method === 'HEAD';
    if (!path.startsWith('/api/')) {
      const f = this.files.get(path === '/index.html' ? '/' : path);
      if (!f) return this.send(res, 404, { error: `no such page ${path}` });
      if (!isGet) return this.send(res, 405, { error: `${method} not allowed` });
      // the page and its code hold no data: served to anyone, the data needs the token
      res.writeHead(200, {
        ...COMMON_HEADERS,
        'content-type': f.type,
        'content-length': f.body.length,
        'cache-control': 'no-cache',
      });
      res.end(method === 'HEAD' ? undefined : f.body);
      return;
    }
    const authorized = tokenMatches(req.headers.authorization, this.opts.token);
    if (method === 'POST') {
      const m = /^\/api\/action\/([a-z]+)$/.exec(path);
      if (!m) return this.send(res, 404, { error: `no such action ${path}` });
      if (!authorized) {
        this.refused(`web: refused ${m[1]} from ${peerOf(req)}: no valid token`);
        res.setHeader('www-authenticate', 'Bearer realm="tsvs"');
        return this.send(res, 401, { error: 'this action needs the token' });
      }
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `http://${req.headers.host}`)
        return this.send(res, 403, { error: `cross-origin request from ${origin}` });
      if (!/^application\/json\b/i.test(req.headers['content-type'] ?? ''))
        return this.send(res, 415, { error: 'expected application/json' });
      return this.action(m[1], req, res);
    }
    if (!isGet) return this.send(res, 405, { error: `${method} not allowed` });
    // what the page needs to know to ask for the token: no data in it
    if (path === '/api/session')
      return this.send(res, 200, { local: this.isLocal(req), authorized });
    if (!authorized && !this.isLocal(req)) {
      res.setHeader('www-authenticate', 'Bearer realm="tsvs"');
      return this.send(res, 401, { error: 'the token is needed from another machine' });
    }
    switch (path) {
      case '/api/state':
        return this.send(res, 200, this.sampler.state());
      case '/api/events':
        return this.events(req, res);
      case '/api/history':
        return this.history(url, res);
      case '/api/conns':
        return this.conns(url, res);
      default:
        return this.send(res, 404, { error: `no such API ${path}` });
    }
  }

  private history(url: URL, res: ServerResponse): void {
    if (url.searchParams.get('total')) {
      const w = this.sampler.totals.window(TOTAL_KEY);
      const series: Record<string, (number | null)[]> = {};
      TOTAL_METRICS.forEach((m, i) => (series[m] = w ? w.values[i] : []));
      return this.send(res, 200, { t: w ? w.t : [], series });
    }
    const metric = url.searchParams.get('metric') ?? 'cps';
    const col = (OBJECT_METRICS as readonly string[]).indexOf(metric);
    if (col < 0)
      return this.send(res, 400, { error: `metric: one of ${OBJECT_METRICS.join(', ')}` });
    const keys = url.searchParams.getAll('key').slice(0, 256);
    const series: Record<string, (number | null)[]> = {};
    let t: number[] = [];
    for (const k of keys) {
      const w = this.sampler.history.window(k);
      if (!w) continue;
      // every series of the ring has the same sample times
      t = w.t;
      series[k] = w.values[col];
    }
    return this.send(res, 200, { t, series });
  }

  private async conns(url: URL, res: ServerResponse): Promise<void> {
    const p = url.searchParams;
    const after = Number(p.get('after') ?? -1);
    const limit = Number(p.get('limit') ?? 50);
    if (!Number.isInteger(after) || !Number.isInteger(limit))
      return this.send(res, 400, { error: 'after and limit must be integers' });
    let q: ConnQuery;
    try {
      q = parseConnQuery(p.get('q') ?? '');
    } catch (e) {
      if (e instanceof ConnQueryError) return this.send(res, 400, { error: e.message });
      throw e;
    }
    if (this.searches >= MAX_SEARCHES)
      return this.send(res, 503, { error: 'other searches are running: try again' });
    this.searches++;
    try {
      const page = await searchConnsSliced(this.opts.model.engine, q, after, limit);
      return this.send(res, 200, page);
    } finally {
      this.searches--;
    }
  }

  private events(req: IncomingMessage, res: ServerResponse): void {
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...COMMON_HEADERS, 'content-type': 'text/event-stream; charset=utf-8' });
      res.end();
      return;
    }
    if (this.streams.size >= MAX_STREAMS)
      return this.send(res, 503, { error: 'too many event streams' });
    res.writeHead(200, {
      ...COMMON_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\nevent: state\ndata: ${JSON.stringify(this.sampler.state())}\n\n`);
    this.streams.add(res);
    req.socket.setNoDelay(true);
    res.on('close', () => this.streams.delete(res));
  }

  private async action(name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (e) {
      const large = e instanceof RangeError;
      // the rest of a body too large is not read: the connection ends with the answer
      if (large) res.shouldKeepAlive = false;
      return this.send(res, large ? 413 : 400, { error: `request body: ${(e as Error).message}` });
    }
    let message: string;
    try {
      const r = parseActionRequest(name, body);
      message = this.actions.run(name as ActionName, r, peerOf(req));
    } catch (e) {
      if (e instanceof ActionError) {
        this.log(`web: ${name} refused: ${e.message}`);
        return this.send(res, e.status, { error: e.message });
      }
      throw e;
    }
    // the page sees the change with the next sample (a sample taken now would make
    // rates over a fraction of a second)
    await this.opts.afterChange?.();
    return this.send(res, 200, { ok: true, message });
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > MAX_BODY) {
        reject(new RangeError(`larger than ${MAX_BODY} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** `PORT`, `HOST:PORT` or `[IPv6]:PORT` (a bare port: 127.0.0.1); null when not one. */
export function parseListen(text: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  if (!m) return null;
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return null;
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

/** What the daemon passes to {@link startDashboard}. */
export interface DashboardArgs {
  /** `--web [HOST:]PORT`. */
  listen: string;
  /** `--web-token-file`: read, or generated there (0600) when absent. */
  tokenFile: string;
  model: ControlModel;
  extra?: DashExtra;
  log: (line: string) => void;
  afterChange?: () => Promise<void>;
}

/**
 * Start the dashboard for the daemon: parse `--web`, load (or make) the token, listen,
 * and log where the page is and where its token is. Throws with a message for the
 * operator.
 */
export async function startDashboard(a: DashboardArgs): Promise<WebServer> {
  const at = parseListen(a.listen);
  if (!at) throw new Error(`--web ${a.listen}: expected PORT, HOST:PORT or [IPv6]:PORT`);
  const { token, generated } = loadToken(a.tokenFile);
  let web: WebServer;
  try {
    web = await WebServer.start({
      host: at.host,
      port: at.port,
      token,
      model: a.model,
      extra: a.extra,
      log: a.log,
      afterChange: a.afterChange,
    });
  } catch (e) {
    throw new Error(`cannot serve the dashboard on ${a.listen}: ${(e as Error).message}`);
  }
  a.log(
    `dashboard at ${web.url} (${isLoopbackBind(at.host) ? 'this machine reads without a token; ' : ''}` +
      `actions need the token ${generated ? 'generated in' : 'of'} ${a.tokenFile})`,
  );
  return web;
}
