/**
 * Running the system's tools (iptables, ip, tc, sysctl, ping), optionally inside a
 * named network namespace (`ip netns exec NAME CMD …`). Control path only: every
 * call starts a process.
 *
 * The asynchronous ones ({@link runAsync}, {@link runBatch}) start their process from a
 * helper thread: starting a process blocks the calling thread until the child has
 * called exec() (libuv waits for it), 20–100 ms on a loaded machine (measured,
 * docs/dataplane.md "Latency"), and the daemon's main thread is the data plane.
 *
 * @module
 */
import { execFile, execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';

/** What the spawning thread answers: stdout, stderr, and the error if it failed. */
interface SpawnReply {
  id: number;
  out: string;
  errOut: string;
  err: { message: string; code?: number | string; killed?: boolean; signal?: string } | null;
}

/** The helper thread's code: runs execFile for each message, answers with the result. */
const SPAWNER = `
const { parentPort } = require('node:worker_threads');
const { execFile } = require('node:child_process');
parentPort.on('message', (m) => {
  const c = execFile(m.bin, m.argv, { encoding: 'utf8', timeout: m.timeout, maxBuffer: 64 << 20 },
    (err, out, errOut) => parentPort.postMessage({ id: m.id, out: out ?? '', errOut: errOut ?? '',
      err: err ? { message: err.message, code: err.code, killed: err.killed, signal: err.signal } : null }));
  if (m.input !== undefined) c.stdin.end(m.input);
});`;

let spawner: Worker | null = null;
let spawnSeq = 0;
const spawning = new Map<number, (r: SpawnReply) => void>();

/**
 * Runs `bin argv` from the helper thread (started on first use; it holds the process
 * open only while a command runs). Falls back to this thread when no thread can start.
 */
function spawnOff(
  bin: string,
  argv: string[],
  timeout: number,
  input: string | undefined,
): Promise<SpawnReply> {
  return new Promise((resolve) => {
    const id = ++spawnSeq;
    const local = (): void => {
      const child = execFile(
        bin,
        argv,
        { encoding: 'utf8', timeout, maxBuffer: 64 << 20 },
        (err, out, errOut) =>
          resolve({
            id,
            out: out ?? '',
            errOut: errOut ?? '',
            err: err
              ? {
                  message: err.message,
                  code: err.code ?? undefined,
                  killed: err.killed,
                  signal: err.signal ?? undefined,
                }
              : null,
          }),
      );
      if (input !== undefined) child.stdin?.end(input);
    };
    if (spawner === null) {
      try {
        const w = new Worker(SPAWNER, { eval: true });
        w.on('message', (r: SpawnReply) => {
          const done = spawning.get(r.id);
          spawning.delete(r.id);
          if (spawning.size === 0) w.unref();
          done?.(r);
        });
        w.on('error', () => undefined);
        w.on('exit', () => {
          // (never expected) what was in flight is answered as failed; the next call
          // starts a new thread
          if (spawner === w) spawner = null;
          for (const [rid, done] of spawning)
            done({ id: rid, out: '', errOut: '', err: { message: 'spawning thread exited' } });
          spawning.clear();
        });
        w.unref();
        spawner = w;
      } catch {
        local();
        return;
      }
    }
    spawning.set(id, resolve);
    spawner.ref();
    spawner.postMessage({ id, bin, argv, timeout, input });
  });
}

/** An Error like execFile's from a {@link SpawnReply}. */
function spawnError(r: SpawnReply): Error & { stdout: string; stderr: string } {
  const e = new Error(r.err!.message) as Error & {
    stdout: string;
    stderr: string;
    code?: number | string;
    killed?: boolean;
    signal?: string;
  };
  e.code = r.err!.code;
  e.killed = r.err!.killed;
  e.signal = r.err!.signal;
  e.stdout = r.out;
  e.stderr = r.errOut;
  return e;
}

/** Run a command (optionally inside a network namespace) and return stdout. */
export function run(
  netns: string | undefined,
  cmd: string,
  args: string[],
  input?: string,
): string {
  const argv = netns ? ['netns', 'exec', netns, cmd, ...args] : args;
  const bin = netns ? 'ip' : cmd;
  return execFileSync(bin, argv, {
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: 10_000,
  });
}

/**
 * {@link run} without blocking: resolves with stdout; rejects with the error, its
 * `stdout` set to what the command printed before failing.
 */
export function runAsync(
  netns: string | undefined,
  cmd: string,
  args: string[],
  input?: string,
): Promise<string> {
  const argv = netns ? ['netns', 'exec', netns, cmd, ...args] : args;
  const bin = netns ? 'ip' : cmd;
  return spawnOff(bin, argv, 10_000, input).then((r) => {
    if (r.err) throw spawnError(r);
    return r.out;
  });
}

/** Like {@link run}, ignoring failure (best-effort clean-up). */
export function runQuiet(netns: string | undefined, cmd: string, args: string[]): void {
  try {
    run(netns, cmd, args);
  } catch {
    /* best effort */
  }
}

/**
 * Runs `CMD -force -batch -` with these lines and reports which lines failed (from
 * "Command failed -:N"; 0-based), without throwing on them.
 */
export function runBatch(
  netns: string | undefined,
  cmd: string,
  lines: string[],
): Promise<{ stderr: string; failedLines: number[] }> {
  const argv = netns
    ? ['netns', 'exec', netns, cmd, '-force', '-batch', '-']
    : ['-force', '-batch', '-'];
  const bin = netns ? 'ip' : cmd;
  return spawnOff(bin, argv, 30_000, lines.join('\n') + '\n').then((r) => {
    const failedLines: number[] = [];
    for (const m of r.errOut.matchAll(/Command failed [^:\n]*:(\d+)/g))
      failedLines.push(Number(m[1]) - 1);
    return { stderr: r.errOut, failedLines };
  });
}
