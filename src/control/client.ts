/**
 * TypeScript client of the JSON control API.
 *
 * ```ts
 * const c = await ControlClient.connect();          // $TSVS_CONTROL or /run/tsvs/control.sock
 * await c.call({ cmd: 'addService', service: { af: 4, protocol: 6, addr: '10.0.0.1', port: 80 } });
 * const services = await c.call({ cmd: 'listServices' });
 * c.close();
 * ```
 *
 * A refused command rejects with {@link ControlError} (errno, op and ipvsadm's
 * message); no daemon, or a connection lost, rejects with {@link ControlUnavailableError}.
 */
import { currentNetnsName } from '../sys/netns.js';
import { createConnection, type Socket } from 'node:net';
import { ControlError, type ControlOp } from './model.js';
import type { Request, ResultOf, Response } from './protocol.js';

export { ControlError };

/** Default control socket path. */
export const DEFAULT_CONTROL_PATH = '/run/tsvs/control.sock';

/**
 * The control socket path: `$TSVS_CONTROL`, else /run/tsvs/control.sock — or, inside a
 * named network namespace (`ip netns exec NAME …`), /run/tsvs/netns/NAME/control.sock,
 * so daemons in different namespaces on one machine do not collide.
 */
export function controlPath(env: NodeJS.ProcessEnv = process.env): string {
  const p = env.TSVS_CONTROL;
  if (p !== undefined && p !== '') return p;
  const ns = currentNetnsName();
  return ns ? `/run/tsvs/netns/${ns}/control.sock` : DEFAULT_CONTROL_PATH;
}

/** Nothing answers on the control socket (or the connection broke). */
export class ControlUnavailableError extends Error {
  /** errno code of the failure: ENOENT, ECONNREFUSED, EACCES, ECLOSED, ETIMEDOUT... */
  readonly code: string;
  readonly path: string;
  constructor(path: string, code: string, message: string) {
    super(message);
    this.name = 'ControlUnavailableError';
    this.code = code;
    this.path = path;
  }
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

export class ControlClient {
  readonly path: string;
  private readonly sock: Socket;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private buf = '';
  private dead: Error | null = null;

  private constructor(path: string, sock: Socket) {
    this.path = path;
    this.sock = sock;
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => this.onData(chunk));
    sock.on('error', (e: NodeJS.ErrnoException) =>
      this.fail(
        new ControlUnavailableError(
          path,
          e.code ?? 'EIO',
          `control connection to ${path} failed: ${e.message}`,
        ),
      ),
    );
    sock.on('close', () =>
      this.fail(
        new ControlUnavailableError(
          path,
          'ECLOSED',
          `the daemon closed the control connection ${path}`,
        ),
      ),
    );
  }

  /** Connect to the daemon's control socket. */
  static connect(path: string = controlPath(), timeoutMs = 5000): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(path);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new ControlUnavailableError(path, 'ETIMEDOUT', `no answer on ${path}`));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        resolve(new ControlClient(path, sock));
      });
      sock.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const code = e.code ?? 'EIO';
        const why =
          code === 'ENOENT'
            ? 'no control socket'
            : code === 'ECONNREFUSED'
              ? 'nothing listens on the control socket'
              : code === 'EACCES' || code === 'EPERM'
                ? 'Permission denied (you must be root)'
                : e.message;
        reject(new ControlUnavailableError(path, code, `${why} (${path})`));
      });
    });
  }

  /** Send one request; resolves with its result. Requests may be pipelined. */
  call<R extends Request>(req: R): Promise<ResultOf<R>> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.sock.write(JSON.stringify({ ...req, id }) + '\n');
    });
  }

  close(): void {
    this.sock.end();
    this.sock.unref();
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (line.trim() === '') continue;
      let r: Response;
      try {
        r = JSON.parse(line) as Response;
      } catch {
        this.fail(
          new ControlUnavailableError(this.path, 'EPROTO', 'garbled answer from the daemon'),
        );
        this.sock.destroy();
        return;
      }
      const p = typeof r.id === 'number' ? this.pending.get(r.id) : undefined;
      if (!p) continue;
      this.pending.delete(r.id as number);
      if (r.ok) p.resolve(r.result);
      else
        p.reject(
          new ControlError(r.error.op as ControlOp, r.error.errno, r.error.message, r.error.detail),
        );
    }
  }

  private fail(e: Error): void {
    if (!this.dead) this.dead = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
