/**
 * Start and reload of the daemon's configuration files (SIGHUP, `tsvs reload`, the
 * control API's `reload`), as HAProxy and keepalived reload: every file is re-read and
 * validated whole first (`config.ts`); a file with any problem changes nothing and each
 * problem is reported as `file:line: reason`; otherwise only the difference is applied
 * (`control/reconcile.ts`), so unchanged services and real servers keep their
 * connections, scheduler state, templates and counters, changed ones are edited in
 * place as `ipvsadm -E/-e` would, removed real servers go the kernel's way (trash,
 * expire_nodest_conn).
 *
 * The file wins: a change made at run time (tsvsadm, the API) to what a file governs
 * is undone by the next reload, as keepalived and HAProxy do; what no file governs (the
 * services of a daemon started without `--config`, the sysctls under a rules file) is
 * left as it is. The saved state file follows the result like any other change.
 *
 * keepalived.conf: its virtual servers belong to the health checker. With a
 * `HealthManager.reload(cfg)` (unchanged checkers keep their state, changed virtual and
 * real servers edited in place) it is called; a manager without one is stopped and a
 * new one started on the new configuration (checkers start over), and the virtual
 * servers gone from the file are deleted.
 */
import { ControlClient, ControlUnavailableError, controlPath } from '../control/client.js';
import type { ControlModel } from '../control/model.js';
import { formatAddr, parseAddr } from '../engine/addr.js';
import { destSpecOf } from '../health/keepalived/control.js';
import type { ReloadResult } from '../control/protocol.js';
import { reconcileOrRollBack, serviceKeyOf } from '../control/reconcile.js';
import type { KaConfig } from '../health/keepalived.js';
import { serviceIdOf } from '../control/model.js';
import { formatProblem, loadConfig, type ConfigSources, type LoadedConfig } from './config.js';
import type { Logger } from './log.js';

/** What the configurator needs of a health checker (HealthManager). */
export interface HealthLike {
  start(): void;
  stop(): void;
  /** Follow a new keepalived configuration, keeping the state of unchanged checkers. */
  reload?(cfg: KaConfig): void;
  /** keepalived's shutdown: remove what it installed (lvs_flush_on_stop), omega notifies. */
  shutdown?(): void;
}

export interface ConfiguratorOptions {
  model: ControlModel;
  sources: ConfigSources;
  log: Logger;
  /** A health checker over a keepalived configuration (started by the configurator). */
  health?: (cfg: KaConfig) => HealthLike;
  /** Start even when a file has problems, with what did validate. */
  ignoreErrors?: boolean;
}

/** Applies the daemon's files at start and on every reload, one reload at a time. */
export class Configurator {
  private readonly opts: ConfiguratorOptions;
  private healthMgr: HealthLike | undefined;
  private ka: KaConfig | undefined;
  private kaLoaded: LoadedConfig | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Reloads done (successful or not). */
  reloads = 0;

  constructor(opts: ConfiguratorOptions) {
    this.opts = opts;
  }

  /** The running health checker, if any. */
  get health(): HealthLike | undefined {
    return this.healthMgr;
  }

  /**
   * Validate and apply the files at start (the rules; the health checker waits for
   * {@link startHealth}). Returns the problems (then nothing was applied, unless
   * `ignoreErrors`, in which case what validated was).
   */
  async start(): Promise<string[]> {
    const { sources, log } = this.opts;
    if (!sources.config && !sources.keepalived) return [];
    const loaded = await loadConfig(sources);
    for (const w of loaded.warnings) log.warn(formatProblem(w));
    const problems = loaded.problems.map(formatProblem);
    for (const p of problems) log.error(p);
    if (problems.length && !this.opts.ignoreErrors) return problems;
    if (problems.length) log.warn(`starting with ${problems.length} problem(s) ignored`);
    try {
      const changes = this.apply(loaded, false);
      log.info(`configuration loaded: ${summary(loaded)}, ${changes.length} change(s)`);
      this.ka = loaded.keepalived;
      this.kaLoaded = loaded;
    } catch (e) {
      const msg = `applying the configuration: ${(e as Error).message}`;
      log.error(msg);
      return [msg];
    }
    return this.opts.ignoreErrors ? [] : problems;
  }

  /**
   * Start the health checker on the keepalived configuration read by {@link start}
   * (once the data plane follows the model, so that its changes reach it).
   */
  startHealth(): void {
    if (this.kaLoaded?.keepalived) this.applyKeepalived(this.kaLoaded);
    this.kaLoaded = undefined;
  }

  /** Re-read every file and apply the difference (queued behind a reload in progress). */
  reload(): Promise<ReloadResult> {
    const run = this.queue.then(() => this.reloadNow());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(): Promise<ReloadResult> {
    const { sources, log } = this.opts;
    this.reloads++;
    if (!sources.config && !sources.keepalived) {
      log.info('reload: no configuration file to re-read (started without --config/--keepalived)');
      return { ok: true, changes: [], problems: [], warnings: [] };
    }
    const files = [sources.config, sources.keepalived].filter(Boolean).join(', ');
    log.info(`reload: re-reading ${files}`);
    const loaded = await loadConfig(sources);
    const warnings = loaded.warnings.map(formatProblem);
    for (const w of warnings) log.warn(w);
    const problems = loaded.problems.map(formatProblem);
    if (problems.length) {
      for (const p of problems) log.error(p);
      log.error(`reload refused: ${problems.length} problem(s), nothing changed`);
      return { ok: false, changes: [], problems, warnings };
    }
    let changes: string[];
    try {
      changes = this.apply(loaded);
    } catch (e) {
      const msg = `reload refused: ${(e as Error).message}; the configuration is as it was`;
      log.error(msg);
      return { ok: false, changes: [], problems: [msg], warnings };
    }
    for (const c of changes) log.info(`reload: ${c}`);
    log.info(
      `reload done: ${summary(loaded)}, ${changes.length ? `${changes.length} change(s)` : 'nothing changed'}`,
    );
    return { ok: true, changes, problems: [], warnings };
  }

  /** Apply validated files; the rules all or nothing, then the health checker. */
  private apply(loaded: LoadedConfig, health = true): string[] {
    const { model } = this.opts;
    const changes: string[] = [];
    const kaKeys = loaded.keepalivedServices;
    if (loaded.rules) {
      const scope = {
        ...loaded.rules.scope,
        keep: (s: Parameters<typeof serviceKeyOf>[0]) => kaKeys.has(serviceKeyOf(s)),
      };
      changes.push(...reconcileOrRollBack(model, loaded.rules.snapshot, scope));
    }
    if (health && loaded.keepalived) changes.push(...this.applyKeepalived(loaded));
    return changes;
  }

  private applyKeepalived(loaded: LoadedConfig): string[] {
    const cfg = loaded.keepalived!;
    const make = this.opts.health;
    const old = this.healthMgr;
    const changes: string[] = [];
    if (old?.reload) {
      old.reload(cfg);
    } else {
      old?.stop();
      // virtual servers gone from the file (unless the rules file has them now)
      if (this.ka && old) {
        const ruled = new Set(loaded.rules?.snapshot.services.map(serviceKeyOf));
        for (const vs of this.ka.virtualServers) {
          const id = serviceIdOf(vs);
          let key: string;
          try {
            key = serviceKeyOf(this.opts.model.service(id));
          } catch {
            continue;
          }
          if (ruled.has(key)) continue;
          if (!loaded.keepalivedServices.has(key)) {
            this.opts.model.delService(id);
            changes.push(`virtual_server ${key.replace(/\|/g, ' ')} deleted`);
            continue;
          }
          // kept: its real servers gone from the file leave (the new checker adds the rest)
          const now = cfg.virtualServers.find((v) => sameKey(this.opts.model, v, key));
          const keep = new Set(
            [...(now?.realServers ?? []), ...(now?.sorryServer ? [now.sorryServer] : [])].map(
              (r) => `${canonical(r.addr)}|${r.port}`,
            ),
          );
          for (const d of this.opts.model.service(id).dests) {
            const rs = now?.realServers.find(
              (r) => canonical(r.addr) === d.addr && r.port === d.port,
            );
            // a changed weight or method, edited in place (weight 0: the checker's)
            if (rs && now && d.weight !== 0) {
              const want = destSpecOf(now, rs.addr, rs.port, rs.weight, rs);
              if (want.weight !== d.weight || want.fwd !== d.fwd) {
                this.opts.model.editDest(id, want);
                changes.push(
                  `real_server ${d.addr} ${d.port} of ${key.replace(/\|/g, ' ')} edited`,
                );
              }
            }
            if (keep.has(`${d.addr}|${d.port}`)) continue;
            this.opts.model.delDest(id, { addr: d.addr, port: d.port });
            changes.push(`real_server ${d.addr} ${d.port} of ${key.replace(/\|/g, ' ')} deleted`);
          }
        }
      }
      if (make) {
        this.healthMgr = make(cfg);
        this.healthMgr.start();
      }
    }
    this.ka = cfg;
    this.opts.log.info(
      `health checks: ${cfg.virtualServers.length} virtual server(s) from ${this.opts.sources.keepalived}${old ? (old.reload ? ' (reloaded, checkers kept)' : ' (checkers restarted)') : ''}`,
    );
    return changes;
  }

  /** Stop the health checker: keepalived's shutdown when it has one (lvs_flush_on_stop, omega). */
  stop(): void {
    const h = this.healthMgr;
    if (h?.shutdown) h.shutdown();
    else h?.stop();
  }
}

/** Whether virtual server `v` is the model's service with key `key`. */
function sameKey(m: ControlModel, v: KaConfig['virtualServers'][number], key: string): boolean {
  try {
    return serviceKeyOf(m.service(serviceIdOf(v))) === key;
  } catch {
    return false;
  }
}

/** An address as the model lists it. */
function canonical(a: string): string {
  const p = parseAddr(a);
  return p ? formatAddr(p.af, p.words) : a;
}

function summary(l: LoadedConfig): string {
  return `${l.services} service(s), ${l.dests} real server(s)`;
}

/** What a reload request (SIGHUP, `tsvs reload`) does around {@link Configurator.reload}. */
export interface ReloadHooks {
  configurator: Configurator;
  /** Tell the service manager (RELOADING=1 … READY=1). */
  notifier?: { reloading(): Promise<void>; reloaded(status: string): Promise<void> };
  /** Resolves when the data plane carries the model and the state file has it. */
  settle: () => Promise<void>;
}

/**
 * A reload as SIGHUP and the control API's `reload` run it: the service manager is
 * told, the files applied, and the answer given once the data plane carries the
 * result (and the state file has it).
 */
export async function runReload(h: ReloadHooks): Promise<ReloadResult> {
  await h.notifier?.reloading();
  const r = await h.configurator.reload();
  await h.settle().catch(() => undefined);
  await h.notifier?.reloaded(
    r.ok
      ? `running; last reload applied ${r.changes.length} change(s)`
      : `running; last reload refused (${r.problems.length} problem(s))`,
  );
  return r;
}

/**
 * `tsvs reload [--control PATH]`: ask the running daemon to reload, wait for the
 * outcome, print every change or problem; resolves with the exit status (0 applied,
 * 1 refused, 2 no daemon).
 */
export async function runReloadCommand(
  path: string = controlPath(),
  io: { out(t: string): void; err(t: string): void } = {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
  },
): Promise<number> {
  let c: ControlClient;
  try {
    c = await ControlClient.connect(path);
  } catch (e) {
    io.err(`tsvs reload: ${(e as Error).message}\n`);
    return 2;
  }
  try {
    const r = await c.call({ cmd: 'reload' });
    for (const w of r.warnings) io.err(`warning: ${w}\n`);
    if (!r.ok) {
      for (const p of r.problems) io.err(`${p}\n`);
      io.err('tsvs reload: refused, nothing changed\n');
      return 1;
    }
    for (const ch of r.changes) io.out(`${ch}\n`);
    io.out(
      `tsvs reload: ${r.changes.length ? `${r.changes.length} change(s)` : 'nothing changed'}\n`,
    );
    return 0;
  } catch (e) {
    io.err(`tsvs reload: ${(e as Error).message}\n`);
    return e instanceof ControlUnavailableError ? 2 : 1;
  } finally {
    c.close();
  }
}
