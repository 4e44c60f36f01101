/**
 * `tsvs check FILE…` and `tsvs daemon --check`: the configuration files judged exactly
 * as start and reload judge them (`config.ts`), every problem printed as
 * `file:line: reason`, exit status 0 when they would be applied, 1 when not — like
 * `keepalived -t` and `haproxy -c`. Nothing runs: no root, no data plane, no socket.
 *
 * A positional file is a keepalived.conf when it reads like one (a `virtual_server`,
 * `global_defs`, `vrrp_*` or other block keyword, or a `{` opening a block), otherwise a
 * rules or JSON configuration; `--config`/`--keepalived` name the kind outright. Each
 * positional file is checked alone; `--config` and `--keepalived` together are checked
 * as the daemon would load them (one owner per service).
 */
import { readFileSync } from 'node:fs';
import { formatProblem, loadConfig, type ConfigSources } from './config.js';

export interface CheckIo {
  out(text: string): void;
  err(text: string): void;
}

const stdio: CheckIo = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

/** Whether a file reads like a keepalived.conf rather than ipvsadm rules or JSON. */
export function looksLikeKeepalived(text: string): boolean {
  if (text.trimStart().startsWith('{')) return false;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[!#].*$/, '').trim();
    if (line === '') continue;
    if (/^(ipvsadm\b|-[A-Za-z]|--[a-z])/.test(line)) return false;
    if (
      /^(virtual_server|virtual_server_group|global_defs|vrrp_\w+|include|static_\w+)\b/.test(line)
    )
      return true;
    if (/\{\s*$/.test(line)) return true;
  }
  return false;
}

/** Check `sources` as one daemon configuration; prints, returns whether it is clean. */
export async function checkSources(src: ConfigSources, io: CheckIo = stdio): Promise<boolean> {
  const l = await loadConfig(src);
  for (const w of l.warnings)
    io.err(`${formatProblem({ ...w, message: `warning: ${w.message}` })}\n`);
  for (const p of l.problems) io.err(`${formatProblem(p)}\n`);
  const files = [src.config, src.keepalived].filter(Boolean).join(', ');
  if (l.problems.length) {
    io.err(`${files}: ${l.problems.length} problem(s): the configuration would be refused\n`);
    return false;
  }
  io.out(`${files}: configuration valid (${l.services} service(s), ${l.dests} real server(s))\n`);
  return true;
}

/**
 * `tsvs check [--config FILE] [--keepalived FILE] [FILE…]`; resolves with the exit
 * status (0 valid, 1 a problem, 2 nothing to check).
 */
export async function runCheck(
  files: string[],
  named: ConfigSources = {},
  io: CheckIo = stdio,
): Promise<number> {
  const jobs: ConfigSources[] = [];
  if (named.config || named.keepalived) jobs.push(named);
  for (const f of files) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      // loadConfig reports the file that cannot be read
    }
    jobs.push(looksLikeKeepalived(text) ? { keepalived: f } : { config: f });
  }
  if (jobs.length === 0) {
    io.err('tsvs check: no file to check (tsvs check FILE… | --config FILE | --keepalived FILE)\n');
    return 2;
  }
  let ok = true;
  for (const j of jobs) if (!(await checkSources(j, io))) ok = false;
  return ok ? 0 : 1;
}
