/**
 * Who may use the dashboard. A request from this machine (a loopback peer that also
 * named a loopback host, so that a web page whose name was re-bound to 127.0.0.1 does
 * not count) may read without a token; everything else, and every request that changes
 * state from anywhere, must carry the token in an `Authorization: Bearer` header. A
 * header, not a cookie: a browser never adds it on its own, so another site cannot make
 * the operator's browser act (CSRF), and a cross-origin page cannot set it without a
 * CORS preflight that this server never answers.
 *
 * The token is the content of a file the operator can read (root, mode 0600): given with
 * `--web-token-file`, or generated at start beside the control socket.
 *
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Shortest token accepted from a file (characters). */
export const MIN_TOKEN_LENGTH = 16;

/** A fresh random token (256 bits, base64url). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The token of `file`: read when the file exists (it must not be readable by group or
 * others, and hold at least {@link MIN_TOKEN_LENGTH} characters), else generated and
 * written there with mode 0600. Throws with a message naming the file.
 */
export function loadToken(file: string): { token: string; generated: boolean } {
  if (existsSync(file)) {
    const st = statSync(file);
    if (!st.isFile()) throw new Error(`web token file ${file}: not a regular file`);
    if (st.mode & 0o077)
      throw new Error(
        `web token file ${file}: readable by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`,
      );
    const token = readFileSync(file, 'utf8').trim();
    if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token))
      throw new Error(
        `web token file ${file}: the token must be one word of at least ${MIN_TOKEN_LENGTH} characters`,
      );
    return { token, generated: false };
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const token = newToken();
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return { token, generated: true };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * Whether an `Authorization` header carries `token` (`Bearer TOKEN`). The comparison
 * takes the same time whatever the header holds (digests of equal length, compared
 * with timingSafeEqual).
 */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const given = m ? m[1] : '';
  const ok = timingSafeEqual(digest(given), digest(token));
  return ok && given !== '';
}

/** Whether a peer address is a loopback address (127/8, ::1, ::ffff:127/104). */
export function isLoopbackAddress(addr: string | undefined): boolean {
  if (!addr) return false;
  const a = addr.toLowerCase();
  return a === '::1' || /^127\./.test(a) || /^::ffff:127\./.test(a);
}

/** Whether a `Host` header names this machine by a loopback name or address. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const h = host.toLowerCase();
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(h) ?? /^([^:]+)(?::\d+)?$/.exec(h);
  if (!m) return false;
  const name = m[1];
  return name === 'localhost' || name.endsWith('.localhost') || isLoopbackAddress(name);
}

/** Whether the address a server listens on is a loopback address (or `localhost`). */
export function isLoopbackBind(host: string): boolean {
  return host === 'localhost' || isLoopbackAddress(host);
}
