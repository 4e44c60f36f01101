/**
 * PING_CHECK (check_ping.c): one ICMP (ICMPv6) echo request with keepalived's
 * 128-byte payload to the real server (or connect_ip); up when an echo reply from it
 * arrives within connect_timeout.
 *
 * Node has no ICMP socket of any kind, so the echo goes through the native shim's raw
 * IP socket (the same addon the data plane uses; tsvs runs as root, so CAP_NET_RAW is
 * there). A raw socket sees every ICMP message of the host: the reply is recognised
 * by its source address, type, identifier and sequence number. Without the addon the
 * check cannot run and says so (down, fail closed).
 *
 * bindto, bind_if and fwmark cannot be set on the shim's raw socket: a PING_CHECK with
 * one of them runs iputils' `ping` (-I for the address or interface, -m for the mark,
 * -s 128, -W connect_timeout) instead, which sets them on its own socket.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { allocBatch, openRawSocket, type PacketChannel } from '../../dataplane/native.js';
import { M_LEN, M_OFF, M_RAW_ADDR } from '../../dataplane/native-meta.js';
import { finishSum, sumBytes } from '../../wire/checksum.js';
import { parseIpv4, parseIpv6 } from '../../wire/addr.js';
import type { KaChecker } from '../keepalived/types.js';
import { destination, type CheckResult, type CheckTarget } from './socket.js';

const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;
const ICMP_BUFSIZE = 128;
const FILL = 'keepalived check - ';

let seq = 0;

/** The echo request keepalived sends: 8-byte header, 128 bytes of "keepalived check - ". */
export function echoRequest(v6: boolean, id: number, sequence: number): Uint8Array {
  const b = new Uint8Array(8 + ICMP_BUFSIZE);
  b[0] = v6 ? 128 : 8;
  b[4] = id >>> 8;
  b[5] = id & 0xff;
  b[6] = sequence >>> 8;
  b[7] = sequence & 0xff;
  for (let i = 0; i < ICMP_BUFSIZE; i++) b[8 + i] = FILL.charCodeAt(i % FILL.length);
  // ICMPv6: the kernel fills the checksum of raw ICMPv6 sockets (RFC 3542 §3.1)
  if (!v6) {
    const ck = finishSum(sumBytes(b, 0, b.length));
    b[2] = ck >>> 8;
    b[3] = ck & 0xff;
  }
  return b;
}

/** Runs one PING_CHECK. */
export function pingCheck(c: KaChecker, t: CheckTarget): Promise<CheckResult> {
  const { host } = destination(c, t);
  if (c.bindto !== undefined || c.bindIf !== undefined || c.fwmark !== undefined)
    return pingProgram(c, host.replace(/%.*$/, ''));
  const v6 = !isIPv4(host);
  const want = new Uint32Array(4);
  if (v6 ? !parseIpv6(host, want) : ((want[0] = parseIpv4(host)), false))
    return Promise.resolve({ ok: false, why: `PING_CHECK: invalid address ${host}` });
  let ch: PacketChannel;
  try {
    ch = openRawSocket({
      family: v6 ? 6 : 4,
      protocol: v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP,
      slot: 2048,
    });
  } catch (e) {
    return Promise.resolve({
      ok: false,
      why: `PING_CHECK cannot open an ICMP socket: ${(e as Error).message}`,
    });
  }
  const id = randomInt(0, 65536);
  const sq = (seq = (seq + 1) & 0xffff);
  const batch = allocBatch(2048 * 8, 8);
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: CheckResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ch.close();
      resolve(r);
    };
    const timer = setTimeout(
      () => done({ ok: false, why: `ICMP connection to address ${host} timeout` }),
      c.connectTimeout * 1000,
    );
    ch.onReadable(
      () => {
        let n: number;
        try {
          n = ch.read(batch);
        } catch (e) {
          return done({ ok: false, why: `recv ICMP packet error: ${(e as Error).message}` });
        }
        for (let i = 0; i < n; i++) {
          const m = i * 8;
          const from = batch.meta.subarray(m + M_RAW_ADDR, m + M_RAW_ADDR + (v6 ? 4 : 1));
          if (!from.every((w, k) => w >>> 0 === want[k] >>> 0)) continue;
          let off = batch.meta[m + M_OFF];
          let len = batch.meta[m + M_LEN];
          if (!v6) {
            // IPv4 raw reads carry the IP header
            const ihl = (batch.buf[off] & 0x0f) * 4;
            off += ihl;
            len -= ihl;
          }
          if (len < 8) continue;
          const b = batch.buf;
          const type = b[off];
          const rid = (b[off + 4] << 8) | b[off + 5];
          const rsq = (b[off + 6] << 8) | b[off + 7];
          if (type === (v6 ? 129 : 0) && rid === id && rsq === sq) return done({ ok: true });
        }
      },
      (e) => done({ ok: false, why: `recv ICMP packet error: ${e.message}` }),
    );
    const pkt = echoRequest(v6, id, sq);
    batch.buf.set(pkt, 0);
    batch.meta[M_OFF] = 0;
    batch.meta[M_LEN] = pkt.length;
    for (let k = 0; k < (v6 ? 4 : 1); k++) batch.meta[M_RAW_ADDR + k] = want[k] | 0;
    try {
      ch.write(batch, 1);
      if (batch.meta[7]) done({ ok: false, why: `send ICMP packet fail: errno ${batch.meta[7]}` });
    } catch (e) {
      done({ ok: false, why: `send ICMP packet fail: ${(e as Error).message}` });
    }
  });
}

/** The arguments of iputils' ping for one keepalived echo (exported for tests). */
export function pingArgs(c: KaChecker, host: string): string[] {
  const a = ['-n', '-q', '-c', '1', '-s', String(ICMP_BUFSIZE), '-W', String(c.connectTimeout)];
  const via = c.bindIf ?? c.bindto;
  if (via !== undefined) a.push('-I', via);
  if (c.fwmark !== undefined) a.push('-m', String(c.fwmark));
  a.push(host.includes(':') ? '-6' : '-4', host);
  return a;
}

/** PING_CHECK through iputils' ping, for the options the raw socket cannot carry. */
function pingProgram(c: KaChecker, host: string): Promise<CheckResult> {
  return new Promise((resolve) => {
    execFile(
      'ping',
      pingArgs(c, host),
      { timeout: (c.connectTimeout + 2) * 1000 },
      (err, _out, stderr) => {
        if (!err) return resolve({ ok: true });
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT')
          return resolve({ ok: false, why: 'PING_CHECK: ping (iputils-ping) is not installed' });
        resolve({
          ok: false,
          why: `ICMP CHECK to ${host} failed${stderr.trim() ? `: ${stderr.trim()}` : ' (no reply)'}`,
        });
      },
    );
  });
}
