/**
 * HTTP_GET and SSL_GET (check_http.c, check_ssl.c): for each url, one GET on a new
 * connection with keepalived's own request —
 *
 *     GET <path> HTTP/1.<0|1>\r\n
 *     User-Agent: KeepAliveClient\r\n
 *     [Connection: close\r\n]            (http_protocol 1.0C and 1.1)
 *     Host: <virtualhost | addr:port>\r\n\r\n
 *
 * — then the whole response up to the server's close (each read within
 * connect_timeout). The url passes when the status line's code is in its
 * status_code ranges, the MD5 of the body (bounded by Content-Length when given,
 * chunked bodies as received, as keepalived does) equals its digest, and its regex
 * matches (or, with regex_no_match, does not). Every url must pass.
 *
 * The regex runs over the response as received, status line and headers included,
 * with regex_min_offset/regex_max_offset counted from its first byte: this is what
 * keepalived's PCRE2 matching sees when the headers and the start of the body arrive
 * in one read. JavaScript's RegExp stands in for PCRE2 (see docs/keepalived-checkers.md).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { KaChecker, KaUrl } from '../keepalived/types.js';
import { connectTcp } from './stream.js';
import { destination, hostPort, whyOf, type CheckResult, type CheckTarget } from './socket.js';
import { tlsWrap } from './ssl.js';

/** keepalived's request for `url` (check_http.c's request_template). */
export function httpRequest(c: KaChecker, t: CheckTarget, url: KaUrl): string {
  const { host, port } = destination(c, t);
  const vhost = url.virtualhost ?? c.virtualhost;
  const proto = c.httpProtocol ?? '1.0';
  return (
    `GET ${url.path} HTTP/1.${proto === '1.1' ? 1 : 0}\r\n` +
    'User-Agent: KeepAliveClient\r\n' +
    (proto === '1.0' ? '' : 'Connection: close\r\n') +
    `Host: ${vhost ?? hostPort(host, port)}\r\n\r\n`
  );
}

/** The status code of a status line as keepalived reads it (html.c): 0 when there is none. */
export function statusCode(resp: Buffer): number {
  const sp = resp.indexOf(0x20);
  const cr = resp.indexOf(0x0d);
  if (sp < 0 || (cr >= 0 && cr < sp)) return 0;
  const s = resp.subarray(sp + 1, sp + 5).toString('latin1');
  return /^\d{3} $/.test(s) ? Number(s.slice(0, 3)) : 0;
}

/** Judges one complete response against `url` (exported for unit tests). */
export function judge(resp: Buffer, url: KaUrl): CheckResult {
  const end = resp.indexOf('\r\n\r\n');
  if (end < 0) return { ok: false, why: `${url.path}: Read, no data received` };
  const code = statusCode(resp);
  if (!url.statusCodes.some(([lo, hi]) => code >= lo && code <= hi))
    return { ok: false, why: `${url.path}: HTTP status code error (${code})` };
  if (url.digest !== undefined) {
    const head = resp.subarray(0, end).toString('latin1');
    const m = /Content-Length:\s*(\d+)\s*(?:\r|$)/.exec(head);
    let body = resp.subarray(end + 4);
    if (m) body = body.subarray(0, Number(m[1]));
    if (createHash('md5').update(body).digest('hex') !== url.digest)
      return { ok: false, why: `${url.path}: MD5 digest error` };
  }
  if (url.regex !== undefined) {
    const re = new RegExp(url.regex, `${url.regexFlags ?? ''}g`);
    re.lastIndex = url.regexMinOffset ?? 0;
    const m = re.exec(resp.toString('latin1'));
    const matched =
      m !== null && (url.regexMaxOffset === undefined || m.index <= url.regexMaxOffset);
    if (matched === (url.regexNoMatch ?? false))
      return { ok: false, why: `${url.path}: Regex match failed` };
  }
  return { ok: true };
}

/** Sends the request and collects the response until the server closes, each read within the timeout. */
function exchange(sock: Duplex, req: string, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    // each read within the timeout, as keepalived's thread_add_read(…, connection_to)
    let timer: NodeJS.Timeout;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        sock.destroy();
        reject(new Error('Timeout HTTP read'));
      }, timeoutMs);
    };
    arm();
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      arm();
    });
    sock.once('end', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(Buffer.concat(chunks));
    });
    sock.once('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      sock.destroy();
      // an SSL stream cut short still gives what was read (keepalived judges it)
      if (chunks.length) resolve(Buffer.concat(chunks));
      else reject(new Error(`Read error: ${e.message}`));
    });
    sock.write(req);
  });
}

async function urlCheck(c: KaChecker, t: CheckTarget, url: KaUrl): Promise<CheckResult> {
  let sock: Duplex;
  try {
    sock = await connectTcp(c, t);
    if (c.type === 'SSL_GET') sock = await tlsWrap(c, sock, url);
  } catch (e) {
    return { ok: false, why: `${url.path}: ${whyOf(e)}` };
  }
  try {
    return judge(await exchange(sock, httpRequest(c, t, url), c.connectTimeout * 1000), url);
  } catch (e) {
    return { ok: false, why: `${url.path}: ${whyOf(e)}` };
  }
}

/** Where a checker's url walk stands (keepalived's url_it and failed_url). */
interface Walk {
  /** The url to check next. */
  it: number;
  /** The url that failed, until it passes again (then the walk starts over). */
  failed: number;
}

const walks = new WeakMap<KaChecker, Walk>();

/**
 * Runs one step of an HTTP_GET / SSL_GET as keepalived 2.2's check_http.c does
 * (epilog): one url per step. A url that passes moves to the next one after
 * delay_loop (a pending step: the checker's state does not change), and the last one
 * completes the check (up). A url that fails is tried again, the same url, after
 * delay_before_retry, `retry` times, before the checker goes down; from then on that
 * url is checked every max(delay_before_retry, delay_loop), and when it passes the walk
 * starts over from the first url, the checker going up only at the end of a complete
 * walk. fast_recovery: while the checker is not up and no url is known failed (at
 * start, or retrying), the next step follows at once.
 */
export async function httpCheck(c: KaChecker, t: CheckTarget): Promise<CheckResult> {
  if (c.urls.length === 0) return { ok: false, why: 'no urls' };
  let w = walks.get(c);
  if (!w || w.it >= c.urls.length) walks.set(c, (w = { it: 0, failed: -1 }));
  const up = t.up ?? true;
  const hasRun = t.hasRun ?? true;
  const fast = c.fastRecovery === true;
  const r = await urlCheck(c, t, c.urls[w.it]);
  if (!r.ok) {
    // keepalived marks the url failed when the checker goes down (while it retries, a
    // pass continues the walk); a checker already down is not retried, its failed url
    // checked again every max(delay_before_retry, delay_loop)
    w.failed = w.it;
    const down = Math.max(c.delayBeforeRetry, c.delayLoop);
    return { ...r, failDelays: { retry: !up && hasRun ? down : c.delayBeforeRetry, down } };
  }
  if (w.failed >= 0 && !up) {
    // the failed url passes: check them all again, from the first
    w.failed = -1;
    w.it = 0;
    return { ok: true, pending: true, delay: fast ? 0 : c.delayLoop };
  }
  w.failed = -1;
  w.it++;
  if (w.it < c.urls.length)
    return { ok: true, pending: true, delay: fast && (!hasRun || !up) ? 0 : c.delayLoop };
  w.it = 0;
  return { ok: true };
}
