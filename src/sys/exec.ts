/**
 * Running the system's tools (iptables, ip, tc, sysctl, ping), optionally inside a
 * named network namespace (`ip netns exec NAME CMD …`). Control path only: every
 * call starts a process.
 *
 * @module
 */
import { execFile, execFileSync } from 'node:child_process';

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
  return new Promise((resolve, reject) => {
    const child = execFile(bin, argv, { encoding: 'utf8', timeout: 10_000 }, (err, out) =>
      err ? reject(Object.assign(err, { stdout: out })) : resolve(out),
    );
    if (input !== undefined) child.stdin?.end(input);
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
  return new Promise((resolve) => {
    const child = execFile(bin, argv, { encoding: 'utf8', timeout: 30_000 }, (_err, _out, err) => {
      const failedLines: number[] = [];
      for (const m of (err ?? '').matchAll(/Command failed [^:\n]*:(\d+)/g))
        failedLines.push(Number(m[1]) - 1);
      resolve({ stderr: err ?? '', failedLines });
    });
    child.stdin?.end(lines.join('\n') + '\n');
  });
}
