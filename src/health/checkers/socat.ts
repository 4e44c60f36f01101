/**
 * The socket options node cannot set — SO_MARK (`fwmark`) and SO_BINDTODEVICE
 * (`bind_if` off an IPv6 link-local address) — for the checkers that use TCP or UDP:
 * the connection is made by socat, which sets them on its own socket before it binds
 * and connects (`sockopt-listen=SOL_SOCKET:SO_MARK:N` is applied before bind, so the
 * SYN or the datagram already carries the mark; `if=` binds to the device), and the
 * checker speaks its protocol through socat's standard input and output. socat comes
 * with Debian's socat package; without it the check fails and says so.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Duplex } from 'node:stream';
import type { KaChecker } from '../keepalived/types.js';
import { destination, hostPort, type CheckTarget } from './socket.js';

const LINK_LOCAL = /^fe[89ab][0-9a-f]:/i;
const SOL_SOCKET = 1;
const SO_MARK = 36;

/** True when `c` needs socat: a mark, or a device that is not an IPv6 link-local zone. */
export function needsSocat(c: KaChecker, t: CheckTarget): boolean {
  if (c.fwmark) return true;
  if (c.bindIf === undefined) return false;
  return !LINK_LOCAL.test(c.connectIp ?? t.addr);
}

/** socat's address for the checker's connection (exported for tests). */
export function socatAddress(c: KaChecker, t: CheckTarget, proto: 'TCP' | 'UDP'): string {
  const { host, port } = destination(c, t);
  const v6 = host.includes(':');
  const h = host.replace(/%.*$/, '');
  const opts: string[] = [];
  const any = v6 ? '[::]' : '0.0.0.0';
  opts.push(
    `bind=${c.bindto !== undefined ? (v6 ? `[${c.bindto}]` : c.bindto) : any}:${c.bindPort ?? 0}`,
  );
  if (c.fwmark) opts.push(`sockopt-listen=${SOL_SOCKET}:${SO_MARK}:${c.fwmark}`);
  if (c.bindIf !== undefined && !LINK_LOCAL.test(h)) opts.push(`if=${c.bindIf}`);
  if (proto === 'TCP') opts.push(`connect-timeout=${c.connectTimeout}`);
  return `${proto}${v6 ? '6' : '4'}:${v6 ? `[${h}]` : h}:${port},${opts.join(',')}`;
}

/** socat's standard output and input as one stream; destroying it ends socat. */
class ChildStream extends Duplex {
  constructor(private readonly child: ChildProcess) {
    super();
    child.stdout!.on('data', (d: Buffer) => {
      if (!this.push(d)) child.stdout!.pause();
    });
    child.stdout!.once('end', () => this.push(null));
    child.stdin!.on('error', () => undefined); // socat gone: the read side reports it
  }

  override _read(): void {
    this.child.stdout!.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.child.stdin!.write(chunk, cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.child.stdin!.end(cb);
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.child.kill('SIGKILL');
    cb(err);
  }
}

function start(args: string[]): ChildProcess {
  return spawn('socat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
}

/** socat's error line, shortened ("E connect(5, …): Connection refused" → "Connection refused"). */
function errorOf(stderr: string): string {
  const line =
    stderr.split('\n').find((l) => / E /.test(l)) ?? stderr.trim().split('\n').pop() ?? '';
  const m = /: ([^:]+)$/.exec(line.trim());
  return m ? m[1] : line.trim() || 'socat failed';
}

/**
 * A TCP connection through socat: resolves once socat reports it connected, to a
 * stream whose reads are the server's bytes and whose writes go to the server.
 */
export function socatTcp(c: KaChecker, t: CheckTarget): Promise<Duplex> {
  const { host, port } = destination(c, t);
  const where = hostPort(host, port);
  return new Promise((resolve, reject) => {
    const child = start(['-d', '-d', '-', socatAddress(c, t, 'TCP')]);
    let err = '';
    let connected = false;
    const timer = setTimeout(
      () => {
        child.kill('SIGKILL');
        reject(new Error(`Timeout connecting ${where}`));
      },
      c.connectTimeout * 1000 + 500,
    );
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`socat cannot run (${e.message}): needed for fwmark/bind_if`));
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (!connected && /successfully connected|starting data transfer loop/.test(err)) {
        connected = true;
        clearTimeout(timer);
        resolve(new ChildStream(child));
      }
    });
    child.on('exit', () => {
      if (connected) return;
      clearTimeout(timer);
      reject(new Error(`Error connecting ${where}: ${errorOf(err)}`));
    });
  });
}

/**
 * One UDP exchange through socat: sends `payload`, then waits up to `ms` for a reply.
 * Resolves to the reply, to null on silence, or rejects with the socket error (an
 * ICMP unreachable reported on the connected socket).
 */
export function socatUdp(
  c: KaChecker,
  t: CheckTarget,
  payload: Buffer,
  ms: number,
  accept: (reply: Buffer) => boolean = () => true,
): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const child = start(['-d', '-d', '-T', String(ms / 1000 + 1), '-', socatAddress(c, t, 'UDP')]);
    let err = '';
    let settled = false;
    let sent = false;
    const done = (f: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      f();
    };
    // the wait counts from the send, as keepalived's; socat's start-up is not part of it
    let timer = setTimeout(() => done(() => reject(new Error('socat did not start'))), ms + 5000);
    child.on('error', (e) =>
      done(() => reject(new Error(`socat cannot run (${e.message}): needed for fwmark/bind_if`))),
    );
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (!sent && /starting data transfer loop/.test(err)) {
        sent = true;
        child.stdin!.write(payload);
        clearTimeout(timer);
        timer = setTimeout(() => done(() => resolve(null)), ms);
      }
    });
    child.stdout!.on('data', (d: Buffer) => {
      if (accept(d)) done(() => resolve(d));
    });
    child.on('exit', (code) => {
      if (code) done(() => reject(new Error(errorOf(err))));
    });
  });
}
