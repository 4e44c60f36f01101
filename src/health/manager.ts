/**
 * Health checking as keepalived's checker process does it for LVS (check/ipwrapper.c,
 * ipvswrapper.c, check_tcp.c's epilog; spec keepalived-lvs-reference §3, §5), driving the
 * control model the way keepalived drives the kernel:
 *
 * - start: `lvs_flush` flushes; each virtual server's services are added (one per
 *   address and fwmark of a virtual_server_group); a real server without a failed
 *   checker is added and alive (with `alpha` its checkers start failed, so it waits for
 *   a success; with `inhibit_on_failure` it is added anyway, at weight 0); then the
 *   quorum is looked at with keepalived's init rules (quorum_up runs when it is met; the
 *   sorry server goes in when it is not), and a `sorry_server_inhibit` sorry server is
 *   added at weight 0;
 * - checks: every `delay_loop`; a failure is retried `retry` times `delay_before_retry`
 *   apart before the checker goes down (the first failure after start is final, as the
 *   retry counter starts used up); one success brings it back; a real server is alive
 *   while none of its checkers has failed; a checker that cannot run counts as failed
 *   for good (fail closed) and the reason is logged;
 * - a real server going down is removed (`inhibit_on_failure`: set to weight 0) and
 *   coming up added back, unless the sorry server stands in; notify_up/notify_down and
 *   the FIFO's `RS` line follow; quorum is lost when the live weight falls below
 *   `quorum − hysteresis` and regained at `quorum + hysteresis`: the live servers make
 *   way for the sorry server and back, quorum_up/quorum_down and the `VS` line follow;
 * - `ha_suspend`: the checks of a service pause while its address is not local;
 * - reload: keepalived's SIGHUP diff (clear_diff_services, migrate_checkers) — see
 *   {@link HealthManager.reload};
 * - shutdown: keepalived's clear_services with `lvs_flush_on_stop`, and with `omega` the
 *   down notifications.
 *
 * Every change goes through the control model, as an `ipvsadm` command would.
 *
 * @module
 */
import { networkInterfaces } from 'node:os';
import type { ControlModel, Timeouts } from '../control/model.js';
import type { KaChecker, KaConfig, KaRealServer, KaVirtualServer } from './keepalived.js';
import {
  destOf,
  serverLabel,
  serviceLabel,
  servicesOf,
  sorryServerOf,
  type KaServer,
  type KaService,
} from './keepalived/control.js';
import { addrKey, hostPort } from './keepalived/values.js';
import { runCheck, type CheckResult } from './check.js';
import { Notifier } from './notify.js';
import {
  idKey,
  Pools,
  statusLabel,
  type CheckerState,
  type HealthEvent,
  type SrvState,
  type VsState,
} from './pool.js';

export type { HealthEvent } from './pool.js';

/** Collaborators tests replace. */
export interface HealthOptions {
  /** The check itself. */
  check?: typeof runCheck;
  /** The director's local addresses (for ha_suspend). */
  localAddresses?: () => Set<string>;
  /** How often ha_suspend looks at the local addresses, ms. */
  addressPollMs?: number;
}

function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) out.add(addrKey(a.address.replace(/%.*$/, '')));
  return out;
}

/** Whether two virtual servers are the same one across a reload (keepalived's vs_iseq). */
function sameVs(a: KaVirtualServer, b: KaVirtualServer): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'group') return a.group === b.group && a.groupMember === b.groupMember;
  if (a.af !== b.af) return false;
  if (a.kind === 'fwmark') return a.fwmark === b.fwmark;
  return a.protocol === b.protocol && addrKey(a.addr) === addrKey(b.addr) && a.port === b.port;
}

/** A checker's configuration without its timers, to tell an unchanged checker on reload. */
const TIMER_FIELDS = new Set(['line', 'delayLoop', 'retry', 'delayBeforeRetry', 'warmup', 'alpha']);

function checkerKey(c: CheckerState): string {
  if (!c.c) return `!${c.type}`;
  return JSON.stringify(c.c, (k, v: unknown) => (TIMER_FIELDS.has(k) ? undefined : v));
}

export class HealthManager {
  private vss: VsState[] = [];
  private stopped = false;
  private cfg: KaConfig;
  private readonly check: typeof runCheck;
  private notifier: Notifier;
  private readonly localAddrs: () => Set<string>;
  private addrTimer: NodeJS.Timeout | undefined;
  private readonly addrPollMs: number;
  /** The timeouts before lvs_timeouts changed them (a reload without it puts them back). */
  private initialTimeouts: Timeouts | undefined;
  /** Every up/down change of a real server, oldest first (bounded). */
  readonly events: HealthEvent[] = [];
  private readonly pool: Pools;

  constructor(
    private readonly model: ControlModel,
    cfg: KaConfig,
    private readonly log: (line: string) => void = () => undefined,
    /** The check itself (tests inject one), or the collaborators. */
    opts: typeof runCheck | HealthOptions = {},
  ) {
    this.cfg = cfg;
    const o: HealthOptions = typeof opts === 'function' ? { check: opts } : opts;
    this.check = o.check ?? runCheck;
    this.localAddrs = o.localAddresses ?? localAddresses;
    this.notifier = new Notifier(cfg, log);
    this.pool = new Pools({
      model,
      log,
      events: this.events,
      notifier: () => this.notifier,
      cfg: () => this.cfg,
      all: () => this.vss,
    });
    this.addrPollMs = o.addressPollMs ?? 1000;
  }

  /** Creates the services and the initially alive real servers, starts the checkers. */
  start(): void {
    const t = this.cfg.lvsTimeouts;
    this.initialTimeouts = this.model.getTimeouts();
    if (t) this.guard('lvs_timeouts', () => this.model.setTimeouts(t));
    this.startSync();
    this.notifier.open();
    if (this.cfg.lvsFlush) this.guard('lvs_flush', () => this.model.flush());
    for (const vs of this.cfg.virtualServers) {
      const st = this.newVs(vs);
      this.vss.push(st);
      this.pool.initVs(st);
    }
    for (const st of this.vss)
      for (const r of st.rs) for (const c of r.checkers) this.schedule(st, r, c, firstDelay(c.c));
    this.watchAddresses();
  }

  /** Stops every checker (the configuration stays as it is). */
  stop(): void {
    this.stopped = true;
    if (this.addrTimer) clearInterval(this.addrTimer);
    for (const st of this.vss)
      for (const r of st.rs) for (const c of r.checkers) if (c.timer) clearTimeout(c.timer);
  }

  /**
   * keepalived's shutdown (clear_services): the checkers stop; with `lvs_flush_on_stop`
   * everything is flushed, with `lvs_flush_on_stop VS` each service is deleted, else each
   * real server and then each service; with `omega` notify_down and quorum_down run and
   * the FIFO gets the down lines. The FIFOs are closed.
   */
  shutdown(): void {
    this.stop();
    const mode = this.cfg.lvsFlushOnStop;
    if (mode === 'full') {
      this.guard('lvs_flush_on_stop', () => this.model.flush());
      for (const st of this.vss) this.pool.vsNotifiesDown(st, true);
    } else for (const st of this.vss) this.pool.clearVs(st, true, mode === 'vs');
    this.vss = [];
    this.notifier.close();
  }

  /** Real servers and whether they are alive, per service (for metrics, tests and logs). */
  status(): { service: string; servers: { server: string; alive: boolean; present: string }[] }[] {
    return this.vss.map((st) => ({
      service: statusLabel(st.vs),
      servers: st.rs.map((r) => ({
        server: hostPort(r.srv.addr, r.srv.port),
        alive: r.alive,
        present: !r.set ? 'no' : r.inhibit && !r.alive ? 'inhibited' : 'yes',
      })),
    }));
  }

  // ---------------------------------------------------------------------------
  // Building state

  private newSrv(srv: KaServer, rs: KaRealServer | undefined, vs: KaVirtualServer): SrvState {
    const checkers: CheckerState[] = [];
    if (rs) {
      for (const c of rs.checkers) checkers.push(this.newChecker(c, c.unusable, c.type));
      for (const u of rs.unusableCheckers)
        checkers.push(this.newChecker(undefined, u.reason, u.type));
      for (const c of checkers) {
        // alpha: the checker starts failed; either way one failure is final at first
        if (!c.c || c.c.alpha || rs.alpha) c.up = false;
      }
    }
    return {
      srv,
      rs,
      checkers,
      alive: false,
      set: false,
      inhibit: rs ? rs.inhibitOnFailure : vs.sorryServerInhibit,
      weight: rs ? rs.weight : 1,
    };
  }

  private newChecker(
    c: KaChecker | undefined,
    why: string | undefined,
    type: string,
  ): CheckerState {
    const usable = c !== undefined && why === undefined;
    const s: CheckerState = {
      type,
      up: true,
      hasRun: !usable,
      retryIt: usable ? c.retry : 0,
      timer: undefined,
      dueAt: 0,
      running: false,
      gen: 0,
    };
    if (usable) s.c = c;
    else s.why = why ?? 'checker cannot run';
    return s;
  }

  private newVs(vs: KaVirtualServer): VsState {
    const st: VsState = {
      vs,
      services: servicesOf(vs),
      rs: vs.realServers.map((rs) => this.newSrv({ ...rs }, rs, vs)),
      quorumUp: false,
      suspended: false,
    };
    const s = sorryServerOf(vs);
    if (s) st.sorry = this.newSrv(s, undefined, vs);
    for (const r of st.rs)
      for (const c of r.checkers)
        if (!c.c)
          this.log(
            `health: ${serverLabel(vs, r.srv.addr, r.srv.port)} of VS ${serviceLabel(vs)} is kept out of rotation: ${c.why ?? ''}`,
          );
    st.suspended = vs.haSuspend && !isLocal(st.services, this.localAddrs());
    return st;
  }

  // ---------------------------------------------------------------------------
  // Checks

  private schedule(st: VsState, r: SrvState, c: CheckerState, ms: number): void {
    if (this.stopped || !c.c) return;
    if (c.timer) clearTimeout(c.timer);
    const gen = c.gen;
    c.dueAt = Date.now() + ms;
    c.timer = setTimeout(() => void this.run(st, r, c, gen), ms);
    c.timer.unref?.();
  }

  private async run(st: VsState, r: SrvState, c: CheckerState, gen: number): Promise<void> {
    const k = c.c;
    if (this.stopped || c.running || !k || gen !== c.gen) return;
    if (st.suspended) {
      // ha_suspend: keepalived's disabled checker skips its turn
      this.schedule(st, r, c, k.delayLoop * 1000);
      return;
    }
    c.running = true;
    let res: CheckResult;
    try {
      const w = r.rs?.weight ?? r.weight; // FILE_CHECK's and misc_dynamic's cur_weight use it
      const target = { addr: r.srv.addr, port: r.srv.port, weight: w, up: c.up, hasRun: c.hasRun };
      res = await this.check(k, target);
    } catch (e) {
      res = { ok: false, why: (e as Error).message };
    }
    c.running = false;
    if (this.stopped || gen !== c.gen) return;
    // global checker_log_all_failures, or the checker's own log_all_failures
    if (
      !res.ok &&
      (this.cfg.logAllFailures || ('logAllFailures' in k && k.logAllFailures === true))
    )
      this.log(
        `health: ${k.type} on ${serverLabel(st.vs, r.srv.addr, r.srv.port)} failed: ${res.why ?? 'check failed'}`,
      );
    const cur: unknown = 'curWeight' in res ? res.curWeight : undefined;
    if (typeof cur === 'number') {
      // keepalived: the real server's weight is its configured weight plus its checkers' cur_weight
      c.curWeight = cur;
      const sum = r.checkers.reduce((a, x) => a + (x.curWeight ?? 0), 0);
      this.pool.updateWeight(st, r, (r.rs?.weight ?? 0) + sum);
    } else if (res.ok && res.weight !== undefined) this.pool.updateWeight(st, r, res.weight);
    // a url of HTTP_GET's walk passed: its epilog resets the retries (used up until it ran)
    if (res.pending === true) c.retryIt = c.hasRun ? 0 : k.retry;
    if (res.pending === true) return this.schedule(st, r, c, (res.delay ?? k.delayLoop) * 1000);
    // keepalived's checker epilog: a failure is retried before it counts
    let delay = res.ok ? (res.delay ?? k.delayLoop) : (res.failDelays?.down ?? k.delayLoop);
    if (res.ok || c.retryIt >= k.retry) {
      c.retryIt = 0;
      if (res.ok && (!c.up || !c.hasRun)) this.pool.checkerState(st, r, c, true);
      else if (!res.ok && (c.up || !c.hasRun)) {
        this.log(
          `health: ${k.type} on service ${serverLabel(st.vs, r.srv.addr, r.srv.port)} failed${c.hasRun && k.retry ? ` after ${k.retry} retries` : ''}: ${res.why ?? 'check failed'}`,
        );
        this.pool.checkerState(st, r, c, false);
      }
    } else {
      delay = res.failDelays?.retry ?? k.delayBeforeRetry;
      c.retryIt++;
    }
    c.hasRun = true;
    this.schedule(st, r, c, delay * 1000);
  }

  // ---------------------------------------------------------------------------
  // Reload

  /**
   * keepalived's SIGHUP (clear_diff_services, migrate_checkers, init_services): virtual
   * servers that are gone are removed (their real servers first, with notify_down);
   * those that stay keep their quorum state and get their service parameters edited in
   * place; a group's new addresses get the alive real servers, its gone ones are removed;
   * real servers that are gone are removed, those that stay keep alive/in-IPVS state and
   * are edited in place when their method, tunnel, thresholds or configured weight
   * changed (keepalived 2.2 keeps the old weight — tsvs applies the new one, as an
   * operator who edited it expects); an unchanged checker (same type and target, timers
   * aside) keeps its state and retry count, a new one starts as at start (alpha: down);
   * new real servers and virtual servers are added as at start. The FIFOs are reopened.
   */
  reload(cfg: KaConfig): void {
    if (this.stopped) return;
    const old = this.vss;
    const next: VsState[] = [];
    const fresh = new Set<VsState>();
    const kept = new Set<VsState>();
    const fifosBefore = JSON.stringify([this.cfg.notifyFifo, this.cfg.lvsNotifyFifo]);
    const prevTimeouts = this.cfg.lvsTimeouts;
    this.cfg = cfg;
    const lt = cfg.lvsTimeouts;
    const had = this.initialTimeouts;
    if (lt) this.guard('lvs_timeouts', () => this.model.setTimeouts(lt));
    // lvs_timeouts gone: the values found at start come back, as keepalived's reload does
    else if (had && prevTimeouts) this.guard('lvs_timeouts', () => this.model.setTimeouts(had));
    if (JSON.stringify([cfg.notifyFifo, cfg.lvsNotifyFifo]) !== fifosBefore) {
      this.notifier.close();
      this.notifier = new Notifier(cfg, this.log);
      this.notifier.open();
    }
    for (const vs of cfg.virtualServers) {
      const prev = old.find((o) => !kept.has(o) && sameVs(o.vs, vs));
      if (prev) kept.add(prev);
      const st = prev ? this.migrateVs(prev, vs) : this.newVs(vs);
      if (!prev) fresh.add(st);
      next.push(st);
    }
    // gone virtual servers: the others are already the new list, so shared services stay
    this.vss = next;
    for (const o of old)
      if (!kept.has(o)) {
        this.log(`health: Removing Virtual Server ${serviceLabel(o.vs)}`);
        this.vss = [...next, o];
        this.pool.clearVs(o, false);
        this.vss = next;
      }
    for (const st of next) {
      if (fresh.has(st)) {
        this.pool.initVs(st);
        for (const r of st.rs) for (const c of r.checkers) this.schedule(st, r, c, firstDelay(c.c));
      }
    }
  }

  /** A virtual server that stays across a reload: its state moved onto the new configuration. */
  private migrateVs(prev: VsState, vs: KaVirtualServer): VsState {
    const oldVs = prev.vs;
    const st: VsState = {
      vs,
      services: servicesOf(vs),
      rs: [],
      quorumUp: prev.quorumUp,
      suspended: false,
    };
    st.suspended = vs.haSuspend && !isLocal(st.services, this.localAddrs());
    // the services: parameters edited in place, a group's entries diffed
    const before = new Map(prev.services.map((s) => [idKey(s.id), s]));
    for (const svc of st.services) {
      const was = before.get(idKey(svc.id));
      before.delete(idKey(svc.id));
      if (was && JSON.stringify(was.spec) === JSON.stringify(svc.spec)) continue;
      this.guard(`VS ${serviceLabel(vs)}`, () => {
        if (was) this.model.editService(svc.spec);
        else this.model.addService(svc.spec);
      });
    }
    for (const gone of before.values()) {
      if (
        this.vss.some((o) => o !== prev && o.services.some((x) => idKey(x.id) === idKey(gone.id)))
      )
        continue;
      this.log(
        `health: VS ${gone.id.fwmark ? `[${gone.id.fwmark}]` : hostPort(gone.id.addr ?? '', gone.id.port ?? 0)} in group ${oldVs.group ?? ''} no longer exists`,
      );
      this.guard(`delete VS ${serviceLabel(oldVs)}`, () => this.model.delService(gone.id));
    }
    const added = st.services.filter(
      (s) => !prev.services.some((p) => idKey(p.id) === idKey(s.id)),
    );

    const oldRs = [...prev.rs];
    for (const rs of vs.realServers) {
      const i = oldRs.findIndex(
        (o) => addrKey(o.srv.addr) === addrKey(rs.addr) && o.srv.port === rs.port,
      );
      const r = this.newSrv({ ...rs }, rs, vs);
      if (i < 0) {
        st.rs.push(r);
        continue;
      }
      const o = oldRs.splice(i, 1)[0];
      r.alive = o.alive;
      r.set = o.set;
      // the configured weight changed: it wins; else the effective (dynamic) one stays
      r.weight = o.rs && o.rs.weight !== rs.weight ? rs.weight : o.weight;
      this.migrateCheckers(o, r);
      st.rs.push(r);
    }
    // real servers that are gone
    const tmp: VsState = {
      ...prev,
      services: prev.services.filter((s) => st.services.some((n) => idKey(n.id) === idKey(s.id))),
    };
    for (const o of oldRs) {
      this.log(`health: service ${serverLabel(oldVs, o.srv.addr, o.srv.port)} no longer exist`);
      this.pool.clearRs(tmp, o, false);
    }
    for (const o of prev.rs)
      if (!oldRs.includes(o)) for (const c of o.checkers) this.pool.retire(c);

    // the reloaded real servers: state settled as keepalived's migrate_checkers ends
    for (const r of st.rs) {
      const o = prev.rs.find(
        (x) => addrKey(x.srv.addr) === addrKey(r.srv.addr) && x.srv.port === r.srv.port,
      );
      if (!o) continue;
      // a group's new addresses first get what is in IPVS on the others (ipvs_group_sync_entry)
      if (added.length && r.set) {
        const w = r.inhibit && !r.alive ? 0 : this.pool.realWeight(r);
        for (const svc of added)
          this.guard(`add ${hostPort(r.srv.addr, r.srv.port)} to VS ${serviceLabel(vs)}`, () =>
            this.model.addDest(svc.id, destOf(svc, r.srv, w)),
          );
      }
      const failed = r.checkers.filter((c) => c.hasRun && !c.up).length;
      const anyRun = r.checkers.some((c) => c.hasRun);
      if (failed || (!r.alive && !anyRun))
        for (const c of r.checkers)
          if (!c.hasRun) {
            if (c.c?.alpha || r.rs?.alpha) c.up = false;
            c.retryIt = c.c?.retry ?? 0;
          }
      const specChanged =
        o.rs &&
        r.rs &&
        JSON.stringify(destOf(st.services[0], o.srv, this.pool.realWeight(o))) !==
          JSON.stringify(destOf(st.services[0], r.srv, this.pool.realWeight(r)));
      if (!this.pool.failed(r) && !r.alive) this.pool.svrState(st, r, true);
      else if (this.pool.failed(r) && r.set !== r.inhibit)
        this.pool.ipvs(r.inhibit ? 'add' : 'del', st, r);
      else if (specChanged && r.set && (r.alive || !r.inhibit)) {
        if (st.quorumUp || !prev.sorry?.alive) this.pool.ipvs('edit', st, r);
      }
      for (const c of r.checkers) {
        const oc = o.checkers.find((x) => checkerKey(x) === checkerKey(c));
        this.schedule(
          st,
          r,
          c,
          oc && oc.dueAt
            ? Math.max(0, Math.min(oc.dueAt - Date.now(), (c.c?.delayLoop ?? 0) * 1000))
            : firstDelay(c.c),
        );
      }
    }
    // the sorry server: kept when it is the same, removed when it changed
    const ns = sorryServerOf(vs);
    const os = prev.sorry;
    if (ns) st.sorry = this.newSrv(ns, undefined, vs);
    if (
      os &&
      st.sorry &&
      addrKey(os.srv.addr) === addrKey(st.sorry.srv.addr) &&
      os.srv.port === st.sorry.srv.port
    ) {
      st.sorry.alive = os.alive;
      st.sorry.set = os.set;
    } else if (os && (os.alive || (os.inhibit && os.set))) {
      this.log(
        `health: Removing sorry server ${serverLabel(oldVs, os.srv.addr, os.srv.port)} from VS ${serviceLabel(oldVs)}`,
      );
      this.pool.remove(tmp, os);
    }
    // new real servers, then quorum, as init_service_vs does for a reloaded one
    for (const r of st.rs)
      if (
        !prev.rs.some(
          (x) => addrKey(x.srv.addr) === addrKey(r.srv.addr) && x.srv.port === r.srv.port,
        )
      ) {
        this.pool.initRs(st, r);
        for (const c of r.checkers) this.schedule(st, r, c, firstDelay(c.c));
      }
    this.pool.updateQuorum(st, true);
    this.pool.addInhibitedSorry(st);
    return st;
  }

  /** keepalived's migrate_checkers: an unchanged checker keeps is_up, has_run and its retries. */
  private migrateCheckers(o: SrvState, r: SrvState): void {
    const pool = [...o.checkers];
    for (const c of r.checkers) {
      const i = pool.findIndex((x) => x.type === c.type && checkerKey(x) === checkerKey(c));
      if (i < 0) continue;
      const oc = pool.splice(i, 1)[0];
      if (!c.c) continue;
      if (oc.hasRun) c.up = oc.up;
      c.hasRun = oc.hasRun;
      if (oc.retryIt && c.c.retry) c.retryIt = oc.retryIt >= c.c.retry ? c.c.retry - 1 : oc.retryIt;
      else c.retryIt = oc.retryIt;
      c.dueAt = oc.dueAt;
    }
  }

  // ---------------------------------------------------------------------------

  /** ha_suspend: the checks of a service follow whether its address is local. */
  private watchAddresses(): void {
    if (!this.vss.some((s) => s.vs.haSuspend)) return;
    this.addrTimer = setInterval(() => {
      const local = this.localAddrs();
      for (const st of this.vss) {
        if (!st.vs.haSuspend) continue;
        const suspended = !isLocal(st.services, local);
        if (suspended !== st.suspended) {
          st.suspended = suspended;
          this.log(
            `health: ${suspended ? 'Suspending' : 'Activating'} healthchecker for service ${serviceLabel(st.vs)}`,
          );
        }
      }
    }, this.addrPollMs);
    this.addrTimer.unref?.();
  }

  /** lvs_sync_daemon without a VRRP instance: keepalived runs both the master and the backup. */
  private startSync(): void {
    const d = this.cfg.syncDaemon;
    if (!d) return;
    for (const state of ['master', 'backup'] as const)
      this.guard(`lvs_sync_daemon ${state}`, () =>
        this.model.startDaemon({
          state,
          mcastIfn: d.ifname,
          syncId: d.syncId ?? 0,
          ...(d.maxLen !== undefined ? { maxLen: d.maxLen } : {}),
          ...(d.port !== undefined ? { mcastPort: d.port } : {}),
          ...(d.ttl !== undefined ? { mcastTtl: d.ttl } : {}),
          ...(d.group !== undefined ? { mcastGroup: d.group } : {}),
        }),
      );
  }

  private guard(what: string, fn: () => void): boolean {
    try {
      fn();
      return true;
    } catch (e) {
      this.log(`health: ${what}: ${(e as Error).message}`);
      return false;
    }
  }
}

/** ha_suspend: whether any address of the virtual server (each of a group's) is local. */
function isLocal(services: readonly KaService[], local: Set<string>): boolean {
  return services.some((s) => s.id.addr !== undefined && local.has(addrKey(s.id.addr)));
}

/** The first check: after `warmup` (keepalived: random up to delay_loop when unset). */
function firstDelay(c: KaChecker | undefined): number {
  if (!c) return 0;
  const w = c.warmup ?? Math.random() * c.delayLoop;
  return Math.max(0, w * 1000);
}
