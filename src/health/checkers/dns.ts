/**
 * DNS_CHECK (check_dns.c): one query over UDP — a random id, recursion desired, the
 * `name` (default the root, ".") with the `type` (default SOA), class IN — and up when
 * a response (QR set) with the same id and RCODE 0 arrives within connect_timeout.
 * Datagrams that are too short, carry another id or are not responses are ignored
 * and the wait goes on; keepalived does not look at the answer section, nor does tsvs.
 *
 * @module
 */
import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { KaChecker } from '../keepalived/types.js';
import { DNS_TYPES } from '../keepalived/checker.js';
import { destination, source, type CheckResult, type CheckTarget } from './socket.js';
import { needsSocat, socatUdp } from './socat.js';

/** The query keepalived sends (dns_make_query). */
export function dnsQuery(id: number, name: string, type: string): Buffer {
  const labels = name === '.' ? [] : name.replace(/\.$/, '').split('.');
  const qname = Buffer.concat([
    ...labels.map((l) => {
      const b = Buffer.from(l, 'latin1');
      return Buffer.concat([Buffer.from([b.length & 0xff]), b]);
    }),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE(0x0100, 2); // RD
  head.writeUInt16BE(1, 4); // QDCOUNT
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(DNS_TYPES[type] ?? 6, 0);
  tail.writeUInt16BE(1, 2); // IN
  return Buffer.concat([head, qname, tail]);
}

/** What a datagram means to the check: ignored, or a verdict. */
export function dnsJudge(reply: Buffer, id: number): 'ignore' | CheckResult {
  if (reply.length < 12) return 'ignore';
  if (reply.readUInt16BE(0) !== id) return 'ignore';
  const flags = reply.readUInt16BE(2);
  if (!(flags & 0x8000)) return 'ignore';
  const rcode = flags & 0x0f;
  if (rcode !== 0) return { ok: false, why: `read error occurred. (rcode = ${rcode})` };
  return { ok: true };
}

/** Runs one DNS_CHECK. */
export function dnsCheck(c: KaChecker, t: CheckTarget): Promise<CheckResult> {
  const { host, port } = destination(c, t);
  const id = randomInt(0, 65536);
  if (needsSocat(c, t)) return dnsViaSocat(c, t, id);
  return new Promise((resolve) => {
    const sock = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
    let settled = false;
    const done = (r: CheckResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.close();
      resolve(r);
    };
    const timer = setTimeout(
      () => done({ ok: false, why: 'read timeout from socket' }),
      c.connectTimeout * 1000,
    );
    sock.on('error', (e) => done({ ok: false, why: `failed to read socket: ${e.message}` }));
    sock.on('message', (msg) => {
      const r = dnsJudge(msg, id);
      if (r !== 'ignore') done(r);
    });
    const q = dnsQuery(id, c.dnsName ?? '.', c.dnsType ?? 'SOA');
    const go = (): void =>
      sock.connect(port, host, () => sock.send(q, (e) => e && done({ ok: false, why: e.message })));
    const local = source(c);
    if (local !== undefined || c.bindPort !== undefined)
      sock.bind({ address: local, port: c.bindPort ?? 0 }, go);
    else go();
  });
}

/** The same query through socat (fwmark, bind_if). */
async function dnsViaSocat(c: KaChecker, t: CheckTarget, id: number): Promise<CheckResult> {
  const q = dnsQuery(id, c.dnsName ?? '.', c.dnsType ?? 'SOA');
  try {
    const r = await socatUdp(c, t, q, c.connectTimeout * 1000, (d) => dnsJudge(d, id) !== 'ignore');
    if (r === null) return { ok: false, why: 'read timeout from socket' };
    return dnsJudge(r, id) as CheckResult;
  } catch (e) {
    return { ok: false, why: `failed to read socket: ${(e as Error).message}` };
  }
}
