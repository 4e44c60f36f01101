/**
 * UDP_CHECK (check_udp.c, layer4.c): one datagram — `payload`, else 32 bytes of
 * "keepalived check - " — on a connected UDP socket, then wait connect_timeout. An
 * ICMP error (port or host unreachable: ECONNREFUSED, EHOSTUNREACH on the connected
 * socket) is down. Without `require_reply` no answer within the timeout is up, as is
 * any answer; with it an answer is needed and, when `require_reply` gives bytes, its
 * length must lie in min_reply_length..max_reply_length and its first bytes match
 * (x digits match anything).
 *
 * @module
 */
import { createSocket } from 'node:dgram';
import type { KaChecker } from '../keepalived/types.js';
import { destination, source, type CheckResult, type CheckTarget } from './socket.js';
import { needsSocat, socatUdp } from './socat.js';

const FILL = 'keepalived check - ';
/** keepalived's default payload (layer4.c set_buf with UDP_BUFSIZE 32). */
export const DEFAULT_UDP_PAYLOAD = Buffer.from(FILL.repeat(2).slice(0, 32), 'latin1');

/** keepalived's check_udp_reply: true when the reply matches. */
export function udpReplyMatches(reply: Buffer, c: KaChecker): boolean {
  const min = c.minReplyLength ?? 0;
  const max = c.maxReplyLength ?? 255;
  if (reply.length < min || reply.length > max) return false;
  const want = Buffer.from(c.replyData ?? '', 'hex');
  const mask = c.replyMask !== undefined ? Buffer.from(c.replyMask, 'hex') : undefined;
  const n = Math.min(want.length, reply.length);
  for (let i = 0; i < n; i++) if ((reply[i] ^ want[i]) & ~(mask ? mask[i] : 0) & 0xff) return false;
  return true;
}

/** Runs one UDP_CHECK. */
export function udpCheck(c: KaChecker, t: CheckTarget): Promise<CheckResult> {
  if (needsSocat(c, t)) return udpViaSocat(c, t);
  const { host, port } = destination(c, t);
  const v6 = host.includes(':');
  return new Promise((resolve) => {
    const sock = createSocket({ type: v6 ? 'udp6' : 'udp4' });
    let settled = false;
    const done = (r: CheckResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.close();
      resolve(r);
    };
    const timer = setTimeout(
      () =>
        done(c.requireReply ? { ok: false, why: 'no UDP reply (require_reply)' } : { ok: true }),
      c.connectTimeout * 1000,
    );
    sock.on('error', (e) => done({ ok: false, why: `UDP connection failed: ${e.message}` }));
    sock.on('message', (msg) => {
      // recv() of keepalived reads at most max_reply_length + 1 bytes
      const reply = msg.subarray(0, (c.maxReplyLength ?? 255) + 1);
      if (c.requireReply && c.replyData !== undefined && !udpReplyMatches(reply, c))
        done({ ok: false, why: 'UDP check reply data mismatch' });
      else done({ ok: true });
    });
    const payload = payloadOf(c);
    const go = (): void =>
      sock.connect(port, host, () =>
        sock.send(payload, (e) => e && done({ ok: false, why: e.message })),
      );
    const local = source(c);
    if (local !== undefined || c.bindPort !== undefined)
      sock.bind({ address: local, port: c.bindPort ?? 0 }, go);
    else go();
  });
}

function payloadOf(c: KaChecker): Buffer {
  return c.payload !== undefined ? Buffer.from(c.payload, 'hex') : DEFAULT_UDP_PAYLOAD;
}

/** The same exchange through socat (fwmark, bind_if). */
async function udpViaSocat(c: KaChecker, t: CheckTarget): Promise<CheckResult> {
  let reply: Buffer | null;
  try {
    reply = await socatUdp(c, t, payloadOf(c), c.connectTimeout * 1000);
  } catch (e) {
    return { ok: false, why: `UDP connection failed: ${(e as Error).message}` };
  }
  if (reply === null)
    return c.requireReply ? { ok: false, why: 'no UDP reply (require_reply)' } : { ok: true };
  const r = reply.subarray(0, (c.maxReplyLength ?? 255) + 1);
  if (c.requireReply && c.replyData !== undefined && !udpReplyMatches(r, c))
    return { ok: false, why: 'UDP check reply data mismatch' };
  return { ok: true };
}
