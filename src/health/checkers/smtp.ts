/**
 * SMTP_CHECK (check_smtp.c): connect, read the greeting line and require status 220,
 * send `HELO <helo_name>`, require 250, send `QUIT` and read one more line. A status
 * is three digits followed by a space or the end of the line (so a multi-line `220-`
 * greeting fails, as in keepalived). Each read and write within connect_timeout.
 * The deprecated `host` sub-blocks become one checker each when the file is read.
 *
 * @module
 */
import type { Duplex } from 'node:stream';
import type { KaChecker } from '../keepalived/types.js';
import { connectTcp } from './stream.js';
import { whyOf, type CheckResult, type CheckTarget } from './socket.js';

/** keepalived's smtp_get_status: the code of a line, or -1. */
export function smtpStatus(line: string): number {
  const m = /^(\d{3})(?: |$)/.exec(line);
  return m ? Number(m[1]) : -1;
}

/** Reads up to the first newline (keepalived looks at the first line of what arrived). */
function readLine(sock: Duplex, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (err?: Error, line?: string): void => {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('error', onEnd);
      if (err) reject(err);
      else resolve(line!);
    };
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(undefined, buf.slice(0, nl));
      else if (buf.length >= 511) buf = ''; // keepalived wraps its 512-byte buffer
    };
    const onEnd = (): void => done(new Error('Read failure'));
    const timer = setTimeout(() => done(new Error('Read timeout')), timeoutMs);
    sock.on('data', onData);
    sock.once('end', onEnd);
    sock.once('error', onEnd);
  });
}

/** Runs one SMTP_CHECK. */
export async function smtpCheck(c: KaChecker, t: CheckTarget): Promise<CheckResult> {
  let sock: Duplex;
  try {
    sock = await connectTcp(c, t);
  } catch (e) {
    return { ok: false, why: whyOf(e) };
  }
  const ms = c.connectTimeout * 1000;
  try {
    const banner = await readLine(sock, ms);
    if (smtpStatus(banner) !== 220)
      return { ok: false, why: `Bad greeting banner: ${banner.trim()}` };
    sock.write(`HELO ${c.heloName ?? 'smtpchecker.keepalived.org'}\r\n`);
    const helo = await readLine(sock, ms);
    if (smtpStatus(helo) !== 250) return { ok: false, why: `Bad HELO response: ${helo.trim()}` };
    sock.write('QUIT\r\n');
    await readLine(sock, ms);
    return { ok: true };
  } catch (e) {
    return { ok: false, why: whyOf(e) };
  } finally {
    sock.destroy();
  }
}
