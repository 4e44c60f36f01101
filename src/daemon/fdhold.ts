/**
 * The capture's descriptors held across a planned restart without a service manager
 * (issue 14: SIGTERM + start, the restart's stall).
 *
 * While a queue's netlink socket or a TUN device's descriptor is open, the kernel
 * holds what the capture takes (a queue up to its length and socket buffer, a TUN
 * device up to its txqueuelen); once the last one closes, it drops it — fail closed,
 * but a dropped SYN waits a second for the client's retransmission and an idle
 * connection's segment for its retransmission timer, so a restart's stall was the
 * whole gap between the two processes plus the next retransmission.
 *
 * Under systemd the descriptor store keeps them (daemon/notify.ts, FDSTORE). Without
 * one, a stopping daemon hands them to a holder: a `sleep` child of its own, detached,
 * that inherits them and does nothing else, for at most {@link HOLD_SECONDS}; its pid,
 * start time and the descriptors' numbers in it go to `fdhold.json` in the run
 * directory. The next start copies them from the holder (pidfd_getfd), ends it and
 * reads what was held: the packets of the gap arrive late, none is lost. A holder the
 * next start does not find in time (no start, another pid) exits by itself and the
 * capture drops again, as before.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Name of the holder's description in the run directory. */
export const HOLD_FILE = 'fdhold.json';
/** How long a holder keeps the descriptors when no daemon takes them. */
export const HOLD_SECONDS = 60;

interface HoldFile {
  pid: number;
  /** Field 22 of /proc/PID/stat: the pid's start time (a reused pid has another). */
  start: string;
  fds: { name: string; fd: number }[];
}

function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // after the command's closing parenthesis: state is field 3, start time field 22
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * Hands `fds` to a holder process and describes it in `dir`; the caller closes its own
 * copies afterwards. Returns the holder's pid, or throws.
 */
export function holdDescriptors(dir: string, fds: { name: string; fd: number }[]): number {
  const child = spawn('sleep', [String(HOLD_SECONDS)], {
    detached: true,
    // the child's descriptor 3 + i is fds[i]
    stdio: ['ignore', 'ignore', 'ignore', ...fds.map((f) => f.fd)],
  });
  // (no `sleep`: the failure is the missing pid below, not an unhandled event)
  child.on('error', () => undefined);
  const pid = child.pid;
  if (pid === undefined) throw new Error('cannot start the descriptor holder (sleep)');
  child.unref();
  const start = startTime(pid);
  if (start === null) throw new Error('the descriptor holder ended at once');
  const file: HoldFile = { pid, start, fds: fds.map((f, i) => ({ name: f.name, fd: 3 + i })) };
  writeFileSync(join(dir, HOLD_FILE), JSON.stringify(file), { mode: 0o600 });
  return pid;
}

/**
 * Takes the descriptors a holder described in `dir` keeps (copies them with `copy`,
 * then ends the holder and removes the file). Returns them, none when there is no
 * holder (or it is gone), and logs what happened.
 */
export function takeHeldDescriptors(
  dir: string,
  copy: (pid: number, fd: number) => number,
  close: (fd: number) => void,
  log: (line: string) => void,
): { name: string; fd: number }[] {
  const path = join(dir, HOLD_FILE);
  let h: HoldFile;
  try {
    h = JSON.parse(readFileSync(path, 'utf8')) as HoldFile;
  } catch {
    return [];
  }
  rmSync(path, { force: true });
  if (
    !Number.isInteger(h?.pid) ||
    h.pid <= 1 ||
    typeof h.start !== 'string' ||
    !Array.isArray(h.fds) ||
    startTime(h.pid) !== h.start
  ) {
    log(`${path}: no descriptor holder (gone, or not the one described); opening the capture anew`);
    return [];
  }
  const out: { name: string; fd: number }[] = [];
  try {
    for (const f of h.fds) {
      if (typeof f?.name !== 'string' || !Number.isInteger(f.fd)) continue;
      out.push({ name: f.name, fd: copy(h.pid, f.fd) });
    }
  } catch (e) {
    for (const f of out) close(f.fd);
    out.length = 0;
    log(`copying the held descriptors: ${(e as Error).message}; opening the capture anew`);
  }
  try {
    process.kill(h.pid, 'SIGKILL');
  } catch {
    /* it ended meanwhile */
  }
  return out;
}

/** Ends a holder a clean stop leaves behind (its descriptors are closed with it). */
export function dropHeldDescriptors(dir: string): void {
  takeHeldDescriptors(
    dir,
    () => {
      throw new Error('not taken');
    },
    () => undefined,
    () => undefined,
  );
}
