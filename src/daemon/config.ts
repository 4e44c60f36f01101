/**
 * The daemon's configuration files read and validated whole, without touching the
 * running configuration: what start, reload (SIGHUP, `tsvs reload`) and `tsvs check`
 * share, so the three judge a file alike.
 *
 * Every command of the files runs against a scratch control model over an engine of
 * its own (no data plane): the same parser, the same checks, the same errors as if it
 * ran for real. What the scratch model holds at the end is the wanted configuration;
 * the caller applies it by difference (`control/reconcile.ts`), and only when no file
 * had a problem.
 *
 * - `--config FILE`: ipvsadm rules (`ipvsadm -S` format, run as `ipvsadm -R` runs
 *   them) or a tsvs JSON configuration (`getConfig`/the state file's format). A rules
 *   file governs the services and real servers, and the timeouts and sync daemons when
 *   it sets them (`--set`, `--start-daemon`); a JSON file governs everything it holds.
 * - `--keepalived FILE`: the virtual servers of a keepalived.conf, each service and real
 *   server also checked against the scratch model (scheduler names, methods, ranges).
 *   A virtual server that the rules file also defines is a problem: one owner each.
 */
import { readFileSync } from 'node:fs';
import { Engine } from '../engine/engine.js';
import { ControlModel, type ConfigSnapshot } from '../control/model.js';
import type { DaemonSpec, SyncState, Timeouts } from '../control/model.js';
import { decodeConfig } from '../control/persist.js';
import { serviceKeyOf, type ReconcileScope } from '../control/reconcile.js';
import { applyRules } from '../control/ipvsadm/restore.js';
import type { Resolver } from '../control/ipvsadm/resolve.js';
import { parseKeepalived, type KaConfig } from '../health/keepalived.js';
import { serviceLabel, servicesWithDests } from '../health/keepalived/control.js';

/** One problem of a file: where and why. */
export interface ConfigProblem {
  file: string;
  /** Line (from 1), when the problem has one. */
  line?: number;
  message: string;
}

/** `file:line: message` (as compilers and `keepalived -t` print them). */
export function formatProblem(p: ConfigProblem): string {
  return `${p.file}${p.line !== undefined ? `:${p.line}` : ''}: ${p.message}`;
}

/** The files a daemon was started with. */
export interface ConfigSources {
  /** ipvsadm rules or a tsvs JSON configuration. */
  config?: string;
  /** keepalived.conf. */
  keepalived?: string;
}

/** The files read and checked: what to apply, or why not. */
export interface LoadedConfig {
  /** The rules/JSON file's configuration and what it governs (with `config`). */
  rules?: { snapshot: ConfigSnapshot; scope: ReconcileScope };
  /** The keepalived configuration (with `keepalived`). */
  keepalived?: KaConfig;
  /** Keys ({@link serviceKeyOf}) of the keepalived virtual servers: theirs, not the rules'. */
  keepalivedServices: Set<string>;
  /** Problems: any one means the files are refused. */
  problems: ConfigProblem[];
  /** Remarks that do not refuse the files (keepalived's ignored keywords...). */
  warnings: ConfigProblem[];
  /** Services and real servers the files describe (for messages). */
  services: number;
  dests: number;
}

/** A control model that remembers which kinds of settings its commands touched. */
class ScratchModel extends ControlModel {
  readonly touched = new Set<'timeouts' | 'daemons' | 'sysctl'>();
  constructor() {
    // a small table: the scratch engine never sees a packet
    super(new Engine({ capacity: 16 }));
  }
  override setTimeouts(t: Partial<Timeouts>): void {
    super.setTimeouts(t);
    this.touched.add('timeouts');
  }
  override startDaemon(spec: DaemonSpec): void {
    super.startDaemon(spec);
    this.touched.add('daemons');
  }
  override stopDaemon(state: SyncState): void {
    super.stopDaemon(state);
    this.touched.add('daemons');
  }
  override sysctlSet(name: string, value: string): ReturnType<ControlModel['sysctlSet']> {
    const r = super.sysctlSet(name, value);
    this.touched.add('sysctl');
    return r;
  }
}

/** A `line N: text` message of the keepalived reader as a problem. */
function kaProblem(file: string, text: string): ConfigProblem {
  const m = /^line (\d+): (.*)$/s.exec(text);
  return m ? { file, line: Number(m[1]), message: m[2] } : { file, message: text };
}

/**
 * The line of a JSON.parse error: from the position older V8 names, else from the
 * excerpt newer V8 quotes (`Unexpected token '}', ..."vices": [}" is not valid JSON`).
 */
function jsonProblem(file: string, text: string, e: Error): ConfigProblem {
  const msg = e.message.replace(/\s+/g, ' ');
  let pos = -1;
  const at = /position (\d+)/.exec(e.message);
  if (at) pos = Number(at[1]);
  else {
    const ex = /"(?:\.\.\.)?([\s\S]*?)(?:\.\.\.)?" is not valid JSON/.exec(e.message);
    const tok = /Unexpected token '(.)'/.exec(e.message);
    if (ex && ex[1] !== '') {
      const i = text.indexOf(ex[1]);
      if (i >= 0) pos = i + Math.max(0, tok ? ex[1].lastIndexOf(tok[1]) : 0);
    } else if (/end of JSON input/.test(e.message)) pos = text.length;
  }
  if (pos < 0) return { file, message: msg };
  const line = text.slice(0, pos).split('\n').length;
  return { file, line, message: msg.replace(/ in JSON at position \d+.*$/, '') };
}

function readText(file: string, problems: ConfigProblem[]): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    problems.push({ file, message: (e as Error).message });
    return null;
  }
}

async function loadRules(
  m: ScratchModel,
  file: string,
  problems: ConfigProblem[],
  resolver?: Resolver,
): Promise<ReconcileScope | null> {
  const text = readText(file, problems);
  if (text === null) return null;
  if (text.trimStart().startsWith('{')) {
    let snap: ConfigSnapshot;
    try {
      snap = decodeConfig(text);
    } catch (e) {
      problems.push(jsonProblem(file, text, e as Error));
      return null;
    }
    for (const p of m.applySnapshot(snap)) problems.push({ file, message: p });
    return { services: true, timeouts: true, sysctl: true, daemons: true };
  }
  const lines = text.split('\n');
  for (const p of await applyRules(m, text, { resolver })) {
    const rule = (lines[p.line - 1] ?? '').trim();
    problems.push({ file, line: p.line, message: rule ? `${p.message} (${rule})` : p.message });
  }
  return {
    services: true,
    timeouts: m.touched.has('timeouts'),
    sysctl: false,
    daemons: m.touched.has('daemons'),
  };
}

function loadKeepalived(
  m: ScratchModel,
  file: string,
  out: LoadedConfig,
  rulesFile: string | undefined,
): KaConfig | undefined {
  const text = readText(file, out.problems);
  if (text === null) return undefined;
  const ka = parseKeepalived(text);
  for (const w of ka.warnings) out.warnings.push(kaProblem(file, w));
  for (const e of ka.errors) out.problems.push(kaProblem(file, e));
  const attempt = (line: number | undefined, what: string, fn: () => void): boolean => {
    try {
      fn();
      return true;
    } catch (e) {
      out.problems.push({ file, line, message: `${what}: ${(e as Error).message}` });
      return false;
    }
  };
  if (ka.lvsTimeouts) {
    const t = ka.lvsTimeouts;
    attempt(undefined, 'global_defs lvs_timeouts', () => m.setTimeouts(t));
  }
  const ruled = new Set(m.snapshot().services.map(serviceKeyOf));
  for (const vs of ka.virtualServers) {
    const label = `virtual_server ${serviceLabel(vs)}`;
    // one service per address and fwmark of a virtual_server_group
    for (const { svc, dests } of servicesWithDests(vs)) {
      let existing: string | undefined;
      try {
        existing = serviceKeyOf(m.service(svc.id));
      } catch {
        existing = undefined;
      }
      if (existing !== undefined && ruled.has(existing)) {
        out.problems.push({
          file,
          line: vs.line,
          message: `${label} is also defined in ${rulesFile}: one file must own it`,
        });
        continue;
      }
      // a group shared by several virtual_server blocks: its services are there already
      if (existing === undefined && !attempt(vs.line, label, () => m.addService(svc.spec)))
        continue;
      out.keepalivedServices.add(serviceKeyOf(m.service(svc.id)));
      for (const d of dests)
        attempt(vs.line, `${label}: real server ${d.addr} ${d.port ?? 0}`, () => {
          if (!m.service(svc.id).dests.some((x) => x.addr === d.addr && x.port === d.port))
            m.addDest(svc.id, d);
        });
    }
  }
  return ka;
}

/**
 * Read and check every file of `src` as start and reload do. Never throws: a file that
 * cannot be read is a problem like any other.
 */
export async function loadConfig(
  src: ConfigSources,
  opts: { resolver?: Resolver } = {},
): Promise<LoadedConfig> {
  const out: LoadedConfig = {
    keepalivedServices: new Set(),
    problems: [],
    warnings: [],
    services: 0,
    dests: 0,
  };
  const m = new ScratchModel();
  if (src.config) {
    const scope = await loadRules(m, src.config, out.problems, opts.resolver);
    if (scope) out.rules = { snapshot: m.snapshot(), scope };
  }
  if (src.keepalived) out.keepalived = loadKeepalived(m, src.keepalived, out, src.config);
  const all = m.snapshot().services;
  out.services = all.length;
  out.dests = all.reduce((n, s) => n + s.dests.length, 0);
  return out;
}
