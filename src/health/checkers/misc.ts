/**
 * MISC_CHECK (check_misc.c, notify.c): runs misc_path — its words split as keepalived
 * splits them (quotes and backslash escapes), the program found in PATH when it has no
 * slash — as `user`/group (else global_defs script_user, else `keepalived_script` when
 * that user exists, else root), in its own process group. Exit 0 is up; with
 * misc_dynamic an exit 2..255 is up too and asks for weight code − 2; anything else,
 * a signal or the timeout (misc_timeout, else delay_loop: SIGTERM to the group, SIGKILL
 * two seconds later) is down.
 *
 * Before running it the script is checked as keepalived's check_script_secure does:
 * not found or not executable for that user is down; a script run as root whose path
 * has a component not owned by root, or writable by a non-root group or by others, is
 * refused when global_defs has `enable_script_security` (keepalived only logs it
 * otherwise, and so does this check's reason on failure).
 *
 * @module
 */
import { spawn, execFile } from 'node:child_process';
import { lstat, open, stat, realpath } from 'node:fs/promises';
import { constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { KaChecker } from '../keepalived/types.js';
import { quotedEscapedWords } from '../keepalived/checker.js';

const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_ISVTX = 0o1000;
import type { CheckResult, CheckTarget } from './socket.js';

/** uid/gid of a user (and group) through the system's name service (getent). */
function getent(db: 'passwd' | 'group', name: string): Promise<string[] | undefined> {
  return new Promise((resolve) => {
    execFile('getent', [db, name], (err, out) => {
      if (err) return resolve(undefined);
      resolve(out.trim().split('\n')[0]?.split(':'));
    });
  });
}

interface Ids {
  uid: number;
  gid: number;
  name: string;
}
const idCache = new WeakMap<KaChecker, Ids>();

/** The user and group the script runs as (keepalived's script uid/gid rules). */
export async function scriptIds(c: KaChecker): Promise<Ids> {
  const have = idCache.get(c);
  if (have) return have;
  let ids: Ids;
  if (c.miscUser !== undefined) {
    const pw = await getent('passwd', c.miscUser);
    if (!pw) throw new Error(`Script user '${c.miscUser}' does not exist`);
    ids = { uid: Number(pw[2]), gid: Number(pw[3]), name: c.miscUser };
    if (c.miscGroup !== undefined) {
      const gr = await getent('group', c.miscGroup);
      if (!gr) throw new Error(`Script group '${c.miscGroup}' does not exist`);
      ids.gid = Number(gr[2]);
    }
  } else {
    const pw = await getent('passwd', 'keepalived_script');
    ids = pw
      ? { uid: Number(pw[2]), gid: Number(pw[3]), name: 'keepalived_script' }
      : { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, name: 'root' };
  }
  idCache.set(c, ids);
  return ids;
}

/** Resolves a bare program name through PATH. */
async function findPath(prog: string): Promise<string | undefined> {
  if (prog.includes('/')) return prog;
  for (const d of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    const f = join(d, prog);
    try {
      if ((await stat(f)).isFile()) return f;
    } catch {
      /* next */
    }
  }
  return undefined;
}

function executableBy(st: { mode: number; uid: number; gid: number }, ids: Ids): boolean {
  if (ids.uid === 0) return (st.mode & 0o111) !== 0;
  if (st.uid === ids.uid) return (st.mode & constants.S_IXUSR) !== 0;
  if (st.gid === ids.gid) return (st.mode & constants.S_IXGRP) !== 0;
  return (st.mode & constants.S_IXOTH) !== 0;
}

/** keepalived's check_security: the first unsafe component of `file`'s path, if any. */
export async function unsafeComponent(file: string): Promise<string | undefined> {
  const parts = file.split('/').filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const p = i === 0 ? '/' : `/${parts.slice(0, i).join('/')}`;
    const st = await lstat(p);
    const dir = st.isDirectory();
    const sticky = (st.mode & S_ISVTX) !== 0;
    if (
      st.uid !== 0 ||
      (((dir && !sticky) || st.isFile()) &&
        ((st.gid !== 0 && st.mode & constants.S_IWGRP) || st.mode & constants.S_IWOTH))
    )
      return p;
  }
  return undefined;
}

/** Runs one MISC_CHECK. */
export async function miscCheck(c: KaChecker, t: CheckTarget): Promise<CheckResult> {
  const words = quotedEscapedWords(c.miscPath ?? '');
  if (!words.length) return { ok: false, why: 'no misc_path' };
  let ids: Ids;
  try {
    ids = await scriptIds(c);
  } catch (e) {
    return { ok: false, why: (e as Error).message };
  }
  const prog = await findPath(words[0]);
  if (prog === undefined) return { ok: false, why: `Cannot find script ${words[0]} in path` };
  let real: string;
  let st;
  try {
    real = await realpath(prog);
    st = await stat(real);
  } catch (e) {
    return { ok: false, why: `Script ${prog} cannot be accessed - ${(e as Error).message}` };
  }
  if (!st.isFile() || !executableBy(st, ids))
    return {
      ok: false,
      why: `script '${prog}' is not executable for uid:gid ${ids.uid}:${ids.gid}`,
    };
  let unsafe: string | undefined;
  const asRoot =
    ids.uid === 0 ||
    ids.gid === 0 ||
    (st.uid === 0 && (st.mode & S_ISUID) !== 0) ||
    (st.gid === 0 && (st.mode & S_ISGID) !== 0);
  if (asRoot) unsafe = (await unsafeComponent(prog)) ?? (await unsafeComponent(real));
  if (unsafe !== undefined && c.scriptSecurity)
    return {
      ok: false,
      why: `Unsafe permissions found for script '${prog}' (${unsafe}) - disabling`,
    };
  // keepalived execs a program directly, and hands anything else (a script with no
  // #! line) to the shell with every word quoted (cmd_str)
  const argv = [prog, ...words.slice(1)];
  const direct = await isProgram(real);
  const cmd = direct
    ? argv
    : ['/bin/sh', '-c', argv.map((w) => `'${w.replace(/'/g, "'\\''")}'`).join(' ')];
  return run(c, t, cmd, ids, unsafe);
}

/** An ELF binary or a script with a #! line (what keepalived's libmagic test accepts). */
async function isProgram(file: string): Promise<boolean> {
  try {
    const fh = await open(file, 'r');
    const b = Buffer.alloc(4);
    await fh.read(b, 0, 4, 0);
    await fh.close();
    return (b[0] === 0x23 && b[1] === 0x21) || b.toString('latin1') === '\x7fELF';
  } catch {
    return false;
  }
}

function run(
  c: KaChecker,
  t: CheckTarget,
  argv: string[],
  ids: Ids,
  unsafe: string | undefined,
): Promise<CheckResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), {
      stdio: 'ignore',
      detached: true, // its own process group, so a timeout kills what it started too
      uid: ids.uid,
      gid: ids.gid,
    });
    const note = unsafe !== undefined ? ` (unsafe permissions at ${unsafe})` : '';
    let state: 'running' | 'term' | 'kill' = 'running';
    const killGroup = (sig: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    const limit = (c.miscTimeout || c.delayLoop) * 1000;
    let timer = setTimeout(function onTimeout() {
      state = state === 'running' ? 'term' : 'kill';
      killGroup(state === 'term' ? 'SIGTERM' : 'SIGKILL');
      timer = setTimeout(onTimeout, 2000);
    }, limit);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, why: `${argv[0]}: ${e.message}${note}` });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal) {
        if (state !== 'running') killGroup('SIGKILL');
        return resolve({
          ok: false,
          why: state !== 'running' ? `timed out${note}` : `failed (due to signal ${signal})${note}`,
        });
      }
      if (code === 0 || (c.miscDynamic && code !== null && code >= 2 && code <= 255)) {
        const r: CheckResult = { ok: true };
        if (c.miscDynamic) {
          // keepalived: the real server's weight becomes code − 2 (0: its own weight)
          const w = code ? code - 2 : t.weight;
          if (w !== undefined) r.weight = w;
          if (t.weight !== undefined) r.curWeight = code ? code - 2 - t.weight : 0;
        }
        return resolve(r);
      }
      resolve({ ok: false, why: `exited with status ${code}${note}` });
    });
  });
}
