/**
 * The metrics endpoint the daemon serves with `--metrics HOST:PORT`: `/metrics` in the
 * Prometheus text format 0.0.4, or OpenMetrics 1.0.0 when the scraper's Accept header
 * prefers it (as Prometheus itself does); `/` a small index page; HEAD answers as GET
 * without the body. The families are in ./registry.ts, their sources in ./snapshot.ts.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { MetricsExporter, type MetricsExporterOptions } from './registry.js';
import type { MetricsSource } from './snapshot.js';

export { MetricsExporter, FAMILIES, type Family } from './registry.js';
export { fastpathReport, FASTPATH_STATES } from './fastpath.js';
export {
  takeSnapshot,
  type FastpathReport,
  type MetricsSnapshot,
  type MetricsSource,
  type ServiceFigures,
  type DestFigures,
  type ServiceLabels,
} from './snapshot.js';

/** The exporter of a source: the registry and the snapshot the web page can share. */
export function createMetrics(
  source: MetricsSource,
  opts: MetricsExporterOptions = {},
): MetricsExporter {
  return new MetricsExporter(source, opts);
}

/** Whether an Accept header prefers OpenMetrics to the 0.0.4 text (q-values weighed). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  let om = -1;
  let text = -1;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((x) => x.trim().toLowerCase());
    let q = 1;
    for (const p of params) {
      const m = /^q=([0-9.]+)$/.exec(p);
      if (m) q = Number(m[1]);
    }
    if (type === 'application/openmetrics-text') om = Math.max(om, q);
    else if (type === 'text/plain' || type === '*/*' || type === 'text/*') text = Math.max(text, q);
  }
  return om > 0 && om >= text;
}

const INDEX = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tsvs metrics</title></head>
<body><h1>tsvs</h1><p>IP Virtual Server metrics: <a href="/metrics">/metrics</a>
(Prometheus text; OpenMetrics when the Accept header asks for it).</p></body></html>
`;

/**
 * The request handler: `/metrics` and `/`; anything else 404, methods other than GET
 * and HEAD 405. Returns false for a path it does not serve, so a bigger server (the
 * web page) can mount it and answer the rest itself.
 */
export function metricsHandler(
  exporter: MetricsExporter,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' && path !== '/') return false;
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end();
      return true;
    }
    if (path === '/') {
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end(head ? undefined : INDEX);
      return true;
    }
    exporter.render(wantsOpenMetrics(req.headers.accept)).then(
      ({ contentType, body }) => {
        res
          .writeHead(200, {
            'content-type': contentType,
            'content-length': Buffer.byteLength(body),
          })
          .end(head ? undefined : body);
      },
      (e: unknown) => {
        res
          .writeHead(500, { 'content-type': 'text/plain' })
          .end(`${e instanceof Error ? e.message : String(e)}\n`);
      },
    );
    return true;
  };
}

/**
 * Serves the exporter on `host:port`. Resolves once listening; rejects with the
 * listen error (address in use...).
 */
export function serveMetrics(
  host: string,
  port: number,
  exporter: MetricsExporter,
): Promise<Server> {
  const handle = metricsHandler(exporter);
  const server = createServer((req, res) => {
    if (!handle(req, res))
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
