/**
 * A scripted FTP client for the end-to-end FTP tests, so a test can look at the
 * director's connection table between two FTP steps (after `PASV`, before the data
 * connection is opened; after `PORT`, before the server connects).
 *
 * Two halves in one module:
 * - `node ftp-probe.js serve` (run in the client namespace) reads one JSON command per
 *   line on stdin and answers one JSON line on stdout. Every command has a time limit.
 *   Without `serve` the module does nothing when run (`node --test dist/test/` runs
 *   every .js file under test/).
 * - {@link FtpProbe}, the test side: spawns the probe in a namespace and sends commands,
 *   each with a time limit, so a broken data path fails the test instead of hanging it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** A command to the probe. */
export type ProbeCommand =
  /** Open the control connection and read the greeting. */
  | { op: 'open'; host: string; port: number }
  /** Send one command line (CRLF added) and read one complete reply. */
  | { op: 'cmd'; line: string }
  /** Open a data connection (passive mode) and start reading it. */
  | { op: 'dataOpen'; host: string; port: number }
  /** Listen for the server's data connection (active mode) on `host`, any port. */
  | { op: 'dataListen'; host: string }
  /** Wait until the data connection ended; sha256 of what arrived. */
  | { op: 'dataWait' }
  /** End the data connection with a RST (after the server's FIN, if any). */
  | { op: 'dataReset' }
  /** Read one more reply on the control connection (e.g. 226 after a transfer). */
  | { op: 'reply' }
  /** Close everything and exit. */
  | { op: 'exit' };

/** The probe's answer to a command. */
export interface ProbeAnswer {
  ok: boolean;
  error?: string;
  /** Control reply (all lines of a multi-line reply). */
  reply?: string;
  /** Local port of the socket just opened (control or data) or listened on. */
  port?: number;
  /** Remote end of an accepted / opened data connection. */
  remoteAddress?: string;
  remotePort?: number;
  bytes?: number;
  sha256?: string;
}

const STEP_MS = 15_000;

/** Resolves with the first complete FTP reply in the control text. */
class ControlReader {
  private text = '';
  private waiter: ((r: string) => void) | null = null;
  private failed: Error | null = null;
  private failWaiter: ((e: Error) => void) | null = null;

  push(s: string): void {
    this.text += s;
    this.deliver();
  }

  fail(e: Error): void {
    this.failed = e;
    if (this.failWaiter) this.failWaiter(e);
  }

  /** A reply: "ddd text" or "ddd-…" continued up to a line starting "ddd ". */
  private take(): string | null {
    const lines = this.text.split('\r\n');
    if (lines.length < 2) return null;
    const first = /^(\d{3})([ -])/.exec(lines[0]);
    if (!first) return null;
    let end = 0;
    if (first[2] === '-') {
      end = lines.findIndex(
        (l, i) => i > 0 && i < lines.length - 1 && l.startsWith(first[1] + ' '),
      );
      if (end < 0) return null;
    }
    const reply = lines.slice(0, end + 1).join('\r\n');
    this.text = lines.slice(end + 1).join('\r\n');
    return reply;
  }

  private deliver(): void {
    if (!this.waiter) return;
    const r = this.take();
    if (r === null) return;
    const w = this.waiter;
    this.waiter = null;
    this.failWaiter = null;
    w(r);
  }

  next(): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      this.waiter = resolve;
      this.failWaiter = reject;
      this.deliver();
    });
  }
}

function withTimeout<T>(what: string, p: Promise<T>, ms = STEP_MS): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** Data connection state: what arrived and whether it ended. */
class DataConn {
  sock: Socket | null = null;
  private readonly hash = createHash('sha256');
  bytes = 0;
  private ended: Promise<void>;
  private markEnded!: () => void;
  private failed: Error | null = null;

  constructor() {
    this.ended = new Promise((r) => (this.markEnded = r));
  }

  attach(s: Socket): void {
    this.sock = s;
    s.on('data', (d: Buffer) => {
      this.hash.update(d);
      this.bytes += d.length;
    });
    s.on('end', () => this.markEnded());
    s.on('close', () => this.markEnded());
    s.on('error', (e) => {
      this.failed = e;
      this.markEnded();
    });
  }

  async wait(): Promise<ProbeAnswer> {
    await this.ended;
    if (this.failed) throw this.failed;
    return {
      ok: true,
      bytes: this.bytes,
      sha256: this.hash.digest('hex'),
      remoteAddress: this.sock?.remoteAddress,
      remotePort: this.sock?.remotePort,
    };
  }
}

async function serve(): Promise<void> {
  let ctl: Socket | null = null;
  const reader = new ControlReader();
  let data = new DataConn();
  let server: Server | null = null;

  const run = async (c: ProbeCommand): Promise<ProbeAnswer> => {
    switch (c.op) {
      case 'open': {
        const s = createConnection({ host: c.host, port: c.port });
        ctl = s;
        s.setEncoding('latin1');
        s.on('data', (d: string) => reader.push(d));
        s.on('error', (e) => reader.fail(e));
        s.on('close', () => reader.fail(new Error('control connection closed')));
        await new Promise<void>((res, rej) => {
          s.once('connect', res);
          s.once('error', rej);
        });
        return { ok: true, reply: await reader.next(), port: s.localPort };
      }
      case 'cmd': {
        if (!ctl) throw new Error('not open');
        ctl.write(`${c.line}\r\n`);
        return { ok: true, reply: await reader.next() };
      }
      case 'reply':
        return { ok: true, reply: await reader.next() };
      case 'dataOpen': {
        data = new DataConn();
        const s = createConnection({ host: c.host, port: c.port, allowHalfOpen: true });
        data.attach(s);
        await new Promise<void>((res, rej) => {
          s.once('connect', res);
          s.once('error', rej);
        });
        return { ok: true, port: s.localPort };
      }
      case 'dataListen': {
        data = new DataConn();
        const d = data;
        server?.close();
        const srv = createServer({ allowHalfOpen: true }, (s) => {
          if (d.sock) return void s.destroy();
          d.attach(s);
          srv.close();
        });
        server = srv;
        await new Promise<void>((res, rej) => {
          srv.once('error', rej);
          srv.listen(0, c.host, res);
        });
        const a = srv.address();
        return { ok: true, port: typeof a === 'object' && a ? a.port : 0 };
      }
      case 'dataWait':
        return data.wait();
      case 'dataReset': {
        const s = data.sock;
        if (!s) throw new Error('no data connection');
        s.resetAndDestroy();
        return { ok: true };
      }
      case 'exit':
        ctl?.destroy();
        data.sock?.destroy();
        server?.close();
        return { ok: true };
    }
  };

  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let answer: ProbeAnswer;
    let cmd: ProbeCommand | null = null;
    try {
      cmd = JSON.parse(line) as ProbeCommand;
      answer = await withTimeout(cmd.op, run(cmd));
    } catch (e) {
      answer = { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
    process.stdout.write(`${JSON.stringify(answer)}\n`);
    if (cmd?.op === 'exit') break;
  }
  process.exit(0);
}

const SELF = fileURLToPath(import.meta.url);

/** The test side: a probe running in a network namespace. */
export class FtpProbe {
  private readonly proc: ChildProcess;
  private readonly lines: string[] = [];
  private waiter: (() => void) | null = null;
  private stderr = '';

  constructor(ns: string) {
    this.proc = spawn('ip', ['netns', 'exec', ns, process.execPath, SELF, 'serve'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const rl = createInterface({ input: this.proc.stdout! });
    rl.on('line', (l) => {
      this.lines.push(l);
      this.waiter?.();
    });
    this.proc.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.proc.on('exit', () => this.waiter?.());
  }

  /** Send a command; rejects when the probe does not answer in time or answers !ok. */
  async send(c: ProbeCommand, ms = STEP_MS + 2000): Promise<ProbeAnswer> {
    this.proc.stdin!.write(`${JSON.stringify(c)}\n`);
    const end = Date.now() + ms;
    while (this.lines.length === 0) {
      if (this.proc.exitCode !== null) throw new Error(`probe exited: ${this.stderr}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`probe: no answer to ${JSON.stringify(c)} in ${ms} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiter = () => {
          clearTimeout(t);
          r();
        };
      });
      this.waiter = null;
    }
    const a = JSON.parse(this.lines.shift()!) as ProbeAnswer;
    if (!a.ok) throw new Error(`probe ${JSON.stringify(c)}: ${a.error}`);
    return a;
  }

  /** Send a command and return the reply text (which must start with `code`, if given). */
  async cmd(line: string, code?: string): Promise<string> {
    const r = (await this.send({ op: 'cmd', line })).reply ?? '';
    if (code && !r.startsWith(code)) throw new Error(`${line}: expected ${code}, got ${r}`);
    return r;
  }

  /** Stop the probe (never throws). */
  async close(): Promise<void> {
    if (this.proc.exitCode === null) {
      try {
        await this.send({ op: 'exit' }, 3000);
      } catch {
        /* killed below */
      }
    }
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

if (process.argv[2] === 'serve' && process.argv[1] === SELF) void serve();
