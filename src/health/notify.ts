/**
 * keepalived's notifications for LVS (lib/notify.c, check/ipwrapper.c): notify_up /
 * notify_down / quorum_up / quorum_down scripts, run as keepalived runs them (the
 * script's own user and group, else `script_user`, else `keepalived_script` when that
 * user exists, else ours; with `enable_script_security`, a script a non-root user could
 * change is not run), and the notify FIFOs (`notify_fifo`, `lvs_notify_fifo`) with
 * their reader scripts, written with keepalived's exact lines:
 *
 *     VS [10.0.0.1]:tcp:80 UP
 *     RS [10.0.1.1]:tcp:80 [10.0.0.1]:tcp:80 DOWN
 *
 * Nothing here throws: a script that cannot start or a FIFO that cannot be written is
 * logged and skipped, as keepalived does.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  chownSync,
  closeSync,
  constants,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { KaConfig, KaFifo, KaScript } from './keepalived.js';

/** uid/gid of a user (and group) from /etc/passwd and /etc/group; undefined if unknown. */
export function lookupUser(user: string, group?: string): { uid: number; gid: number } | undefined {
  const find = (file: string, name: string): string[] | undefined => {
    try {
      for (const l of readFileSync(file, 'utf8').split('\n')) {
        const f = l.split(':');
        if (f[0] === name) return f;
      }
    } catch {
      /* no such file: unknown */
    }
    return undefined;
  };
  const pw = /^\d+$/.test(user) ? ['', '', user, user] : find('/etc/passwd', user);
  if (!pw) return undefined;
  let gid = Number(pw[3]);
  if (group !== undefined) {
    const gr = /^\d+$/.test(group) ? ['', '', group] : find('/etc/group', group);
    if (!gr) return undefined;
    gid = Number(gr[2]);
  }
  return { uid: Number(pw[2]), gid };
}

/** Why a script may not run under enable_script_security, or undefined when it is safe. */
export function scriptInsecurity(path: string): string | undefined {
  let p = resolve(path);
  for (;;) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      return `${p}: ${(e as Error).message}`;
    }
    // writable by group or others, or owned by a non-root user who may write it
    if (st.mode & 0o022 || (st.uid !== 0 && st.mode & 0o200))
      return `${p} is writable by a non-root user`;
    const up = dirname(p);
    if (up === p) return undefined;
    p = up;
  }
}

/** Runs keepalived's notify scripts and writes its FIFO lines. */
export class Notifier {
  private readonly fifos: { f: KaFifo; fd: number; created: boolean; reader?: ChildProcess }[] = [];

  constructor(
    private readonly cfg: KaConfig,
    private readonly log: (line: string) => void,
  ) {}

  /** keepalived's user for a script without its own. */
  private defaultUser(): { uid: number; gid: number } | undefined {
    if (this.cfg.scriptUser) return lookupUser(this.cfg.scriptUser.user, this.cfg.scriptUser.group);
    return lookupUser('keepalived_script');
  }

  /** Starts `s` (not waited for; its exit status is not a health result). */
  run(s: KaScript, extra: string[] = []): ChildProcess | undefined {
    const args = [...s.args, ...extra];
    let who: { uid: number; gid: number } | undefined;
    if (s.user !== undefined) {
      who = lookupUser(s.user, s.group);
      if (!who) {
        this.log(`health: Invalid user/group for script ${args[0]} - ignoring`);
        return undefined;
      }
    } else who = this.defaultUser();
    if (this.cfg.scriptSecurity) {
      const why = scriptInsecurity(args[0]);
      if (why) {
        this.log(`health: SECURITY VIOLATION - script ${args[0]} not run: ${why}`);
        return undefined;
      }
    }
    let executable = false;
    try {
      accessSync(args[0], constants.X_OK);
      executable = statSync(args[0]).isFile();
    } catch {
      /* not a file we can exec: through the shell, as keepalived's system() */
    }
    try {
      const child = executable
        ? spawn(args[0], args.slice(1), { stdio: 'ignore', detached: true, ...who })
        : spawn('/bin/sh', ['-c', args.join(' ')], { stdio: 'ignore', detached: true, ...who });
      child.on('error', (e) => this.log(`health: script ${args[0]}: ${e.message}`));
      child.unref();
      return child;
    } catch (e) {
      this.log(`health: script ${args[0]}: ${(e as Error).message}`);
      return undefined;
    }
  }

  /** Creates (when missing) and opens the FIFOs, starting their reader scripts first. */
  open(): void {
    for (const f of [this.cfg.notifyFifo, this.cfg.lvsNotifyFifo]) {
      if (!f || this.fifos.some((x) => x.f.path === f.path)) continue;
      let created = false;
      try {
        execFileSync('mkfifo', ['-m', '644', f.path], { stdio: 'ignore' });
        created = true;
        if (f.user !== undefined) {
          const who = lookupUser(f.user, f.group);
          if (who) chownSync(f.path, who.uid, who.gid);
          else this.log(`health: Failed to set uid:gid for fifo ${f.path}`);
        }
      } catch {
        try {
          if (!statSync(f.path).isFIFO()) throw new Error('not a FIFO');
        } catch (e) {
          this.log(`health: Unable to create notify fifo ${f.path}: ${(e as Error).message}`);
          continue;
        }
      }
      const reader = f.script ? this.run(f.script, [f.path]) : undefined;
      try {
        const fd = openSync(f.path, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOFOLLOW);
        this.fifos.push({ f, fd, created, reader });
      } catch (e) {
        this.log(`health: Unable to open notify fifo ${f.path}: ${(e as Error).message}`);
        if (created) unlinkSync(f.path);
      }
    }
  }

  /** One line to every FIFO (a full FIFO drops it, as keepalived's non-blocking write). */
  write(line: string): void {
    const b = Buffer.from(`${line}\n`);
    for (const x of this.fifos) {
      try {
        writeSync(x.fd, b);
      } catch {
        /* EAGAIN: nobody reads */
      }
    }
  }

  /** Closes the FIFOs, removes those tsvs created and stops their reader scripts. */
  close(): void {
    for (const x of this.fifos.splice(0)) {
      if (x.created) {
        try {
          unlinkSync(x.f.path);
        } catch {
          /* already gone */
        }
      }
      // the reader gets EOF once it has drained the FIFO, as keepalived's do; one that
      // keeps running anyway is stopped a little later
      closeSync(x.fd);
      const reader = x.reader;
      if (reader?.pid && reader.exitCode === null) {
        const t = setTimeout(() => {
          try {
            if (reader.exitCode === null) process.kill(-reader.pid!, 'SIGTERM');
          } catch {
            /* gone */
          }
        }, 2000);
        t.unref();
      }
    }
  }
}
