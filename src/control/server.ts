/**
 * The control socket: a Unix stream socket speaking the newline-delimited JSON of
 * `protocol.ts`. The socket file is created with mode 0600 (root-only when the daemon
 * runs as root) in a parent directory created on demand; a stale socket left by a
 * crashed daemon is replaced, a live one is not.
 */
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { ControlError, type ControlModel } from './model.js';
import { dispatch, encodeResponse, MAX_LINE, type Request } from './protocol.js';

export interface ControlServer {
  /** The socket path. */
  readonly path: string;
  /** Stop listening, drop the connections and remove the socket file. */
  close(): Promise<void>;
}

export interface ControlServerOptions {
  /**
   * Called after a request changed the configuration; the response is sent when the
   * returned promise settles (the daemon passes its persister here, so an
   * acknowledged change is on disk).
   */
  afterChange?: () => Promise<void>;
  /** Told about internal failures (a failed save, a broken client). */
  onError?: (e: Error) => void;
  /**
   * Commands the model does not hold, served by the daemon (e.g. `reload`): the
   * answer is sent when the promise settles, in request order.
   */
  handlers?: Partial<Record<Request['cmd'], (req: Record<string, unknown>) => Promise<unknown>>>;
  /** Runs before each request reaches the model (the data plane folds its counts in). */
  beforeRequest?: () => void;
  /**
   * Answers a client may leave unread (bytes) before it is dropped; default
   * {@link MAX_UNREAD}.
   */
  maxUnread?: number;
}

/**
 * Unread answers (bytes) after which a client is dropped: a client that sends requests
 * and never reads would otherwise make the daemon buffer without limit. One answer of
 * any size is always written; the next one finds the limit passed.
 */
export const MAX_UNREAD = 16 << 20;

/** Whether something answers on a Unix socket path. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let old: number | undefined;
    try {
      old = process.umask(0o177);
    } catch {
      old = undefined; // worker threads cannot change the umask; chmod below still applies
    }
    const restore = (): void => {
      if (old !== undefined) process.umask(old);
      old = undefined;
    };
    server.once('error', (e) => {
      restore();
      reject(e);
    });
    server.listen(path, () => {
      restore();
      resolve();
    });
  });
}

/**
 * Serve `model` on the Unix socket `path`. Requests on one connection are answered in
 * order; several may be in flight.
 */
export async function startControlServer(
  model: ControlModel,
  path: string,
  opts: ControlServerOptions = {},
): Promise<ControlServer> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  let st;
  try {
    st = lstatSync(path);
  } catch {
    st = null;
  }
  if (st) {
    if (!st.isSocket()) throw new Error(`${path} exists and is not a socket`);
    if (await answers(path)) {
      const e = new Error(`another daemon answers on ${path}`) as NodeJS.ErrnoException;
      e.code = 'EADDRINUSE';
      throw e;
    }
    unlinkSync(path);
  }
  const sockets = new Set<Socket>();
  // half-open: a client may shut down its side after its last request and still
  // read the answers
  const server = createServer({ allowHalfOpen: true }, (sock) => serve(sock, model, opts, sockets));
  await listen(server, path);
  chmodSync(path, 0o600);
  let closed = false;
  return {
    path,
    close(): Promise<void> {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        try {
          unlinkSync(path);
        } catch {
          // already gone
        }
      });
    },
  };
}

function serve(
  sock: Socket,
  model: ControlModel,
  opts: ControlServerOptions,
  sockets: Set<Socket>,
): void {
  sockets.add(sock);
  sock.setEncoding('utf8');
  const maxUnread = opts.maxUnread ?? MAX_UNREAD;
  let buf = '';
  // responses are written in request order, each after its change is saved and
  // carried by the data plane; a change that could not be saved is answered with
  // the error (the model has been taken back by then)
  let tail: Promise<void> = Promise.resolve();
  const write = (line: string): void => {
    if (sock.destroyed) return;
    if (sock.writableLength > maxUnread) {
      opts.onError?.(new Error(`control client dropped: ${sock.writableLength} bytes unread`));
      sock.destroy();
      return;
    }
    sock.write(line);
  };
  const send = (
    line: string | Promise<string>,
    durable?: Promise<void>,
    id?: number | string,
  ): void => {
    // awaited in turn below: marked handled now so an early failure is not "unhandled"
    if (typeof line !== 'string') line.catch(() => undefined);
    durable?.catch(() => undefined);
    tail = tail.then(async () => {
      let out: string;
      try {
        await durable;
        out = await line;
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        opts.onError?.(err);
        out = encodeResponse(
          id,
          null,
          e instanceof ControlError
            ? e
            : new ControlError('request', 'EIO', err.message, err.message),
        );
      }
      write(out);
    });
  };
  const tooLong = (): void => {
    send(
      encodeResponse(
        undefined,
        null,
        new ControlError('request', 'EMSGSIZE', undefined, 'line too long'),
      ),
    );
    buf = '';
    closing = true;
    void tail.then(() => sock.end());
  };
  let closing = false;
  const handle = (line: string): void => {
    if (line.trim() === '') return;
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch {
      send(
        encodeResponse(
          undefined,
          null,
          new ControlError('request', 'EINVAL', undefined, 'bad JSON'),
        ),
      );
      return;
    }
    const id =
      req !== null && typeof req === 'object' && 'id' in req
        ? ((req as { id: unknown }).id as number | string | undefined)
        : undefined;
    const cmd =
      req !== null && typeof req === 'object' ? (req as { cmd?: unknown }).cmd : undefined;
    const own = typeof cmd === 'string' ? opts.handlers?.[cmd as Request['cmd']] : undefined;
    if (own) {
      // after the answers before it, like every request on this connection
      const run = tail.then(() => own(req as Record<string, unknown>));
      send(
        run.then((r) => encodeResponse(id, r)),
        undefined,
        id,
      );
      return;
    }
    const before = model.generation;
    try {
      opts.beforeRequest?.();
      const result = dispatch(model, req);
      // a change, and a zeroing (every data-plane worker zeroes its counters too)
      const durable =
        model.generation !== before || (req as { cmd?: unknown }).cmd === 'zero'
          ? opts.afterChange?.()
          : undefined;
      send(encodeResponse(id, result), durable, id);
    } catch (e) {
      send(encodeResponse(id, null, ControlError.from(e)));
    }
  };
  const longLine = (line: string): boolean =>
    line.length > MAX_LINE || (line.length > MAX_LINE >> 2 && Buffer.byteLength(line) > MAX_LINE);
  sock.on('data', (chunk: string) => {
    if (closing) return;
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      // every line is held to the limit, not only the unfinished end of a chunk
      if (longLine(line)) return tooLong();
      handle(line);
    }
    if (longLine(buf)) tooLong();
  });
  sock.on('end', () => {
    if (!closing && buf !== '') handle(buf);
    buf = '';
    void tail.then(() => sock.end());
  });
  sock.on('error', () => sock.destroy());
  sock.on('close', () => sockets.delete(sock));
}
