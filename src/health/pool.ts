/**
 * A virtual server's pool as keepalived's ipwrapper.c keeps it: the state of each real
 * and sorry server (alive, in IPVS, inhibited, effective weight) and of each checker
 * (is_up, has_run, retry_it), and the transitions that change IPVS — keepalived's
 * ipvs_cmd (with `inhibit_on_failure` a removal is weight 0 and an addition of a present
 * server an edit), init_service_vs/init_service_rs, update_svr_checker_state,
 * perform_svr_state, update_quorum_state with the sorry server, update_svr_wgt, the
 * notifications (scripts and FIFO lines) and clear_service_vs/clear_service_rs. The
 * timers, the checks and the reload diff are the manager's (manager.ts).
 */
import type { ControlModel, DestSpec, ServiceId } from '../control/model.js';
import { protoName } from '../engine/spec.js';
import type { KaChecker, KaConfig, KaRealServer, KaVirtualServer } from './keepalived.js';
import {
  destOf,
  serverLabel,
  serviceLabel,
  type KaServer,
  type KaService,
} from './keepalived/control.js';
import { addrKey, hostPort } from './keepalived/values.js';
import type { Notifier } from './notify.js';

/** The most weight IPVS takes (keepalived's IPVS_WEIGHT_LIMIT). */
const WEIGHT_LIMIT = 2147483647;

/** One checker's state (keepalived's checker_t: is_up, has_run, retry_it). */
export interface CheckerState {
  /** undefined: a checker that cannot run (`why` says why). */
  c?: KaChecker;
  type: string;
  why?: string;
  up: boolean;
  hasRun: boolean;
  retryIt: number;
  timer: NodeJS.Timeout | undefined;
  dueAt: number;
  running: boolean;
  /** Bumped when the checker is retired (reload), so a check in flight is dropped. */
  gen: number;
  /** keepalived's cur_weight: what this checker adds to its real server's configured weight. */
  curWeight?: number;
}

/** A real or sorry server (keepalived's real_server_t: alive, set, inhibit, weights). */
export interface SrvState {
  srv: KaServer;
  rs?: KaRealServer;
  checkers: CheckerState[];
  alive: boolean;
  /** In IPVS (possibly at weight 0 when inhibited). */
  set: boolean;
  inhibit: boolean;
  /** keepalived's effective_weight (misc_dynamic may change it). */
  weight: number;
}

export interface VsState {
  vs: KaVirtualServer;
  services: KaService[];
  rs: SrvState[];
  sorry?: SrvState;
  quorumUp: boolean;
  /** ha_suspend: the address is not local, checks pause. */
  suspended: boolean;
}

/** A real server's up/down change, for logs and tests. */
export interface HealthEvent {
  service: string;
  server: string;
  up: boolean;
}

/** The label metrics and `status()` use for a virtual server: `TCP 10.0.0.1:80`, `FWM 7`, `GROUP G`. */
export function statusLabel(vs: KaVirtualServer): string {
  if (vs.kind === 'group') return `GROUP ${vs.group ?? ''}`;
  if (vs.kind === 'fwmark') return `FWM ${vs.fwmark}`;
  return `${protoName(vs.protocol)} ${hostPort(vs.addr, vs.port)}`;
}

export function idKey(id: ServiceId): string {
  return id.fwmark
    ? `f${id.af}|${id.fwmark}`
    : `${id.protocol}|${addrKey(id.addr ?? '')}|${id.port}`;
}

/** What the pool needs from the manager. */
export interface PoolContext {
  model: ControlModel;
  log: (line: string) => void;
  /** Every up/down change of a real server, oldest first (bounded). */
  events: HealthEvent[];
  notifier(): Notifier;
  cfg(): KaConfig;
  /** Every virtual server being managed (a shared group's services are deleted last). */
  all(): VsState[];
}

/** The pools' transitions; the state is in the {@link VsState}s passed in. */
export class Pools {
  private readonly model: ControlModel;
  private readonly log: (line: string) => void;
  private readonly events: HealthEvent[];

  constructor(private readonly ctx: PoolContext) {
    this.model = ctx.model;
    this.log = ctx.log;
    this.events = ctx.events;
  }

  private get notifier(): Notifier {
    return this.ctx.notifier();
  }

  private get cfg(): KaConfig {
    return this.ctx.cfg();
  }

  private get vss(): VsState[] {
    return this.ctx.all();
  }

  guard(what: string, fn: () => void): boolean {
    try {
      fn();
      return true;
    } catch (e) {
      this.log(`health: ${what}: ${(e as Error).message}`);
      return false;
    }
  }

  /** keepalived's init_service_vs for a new virtual server. */
  initVs(st: VsState): void {
    for (const svc of st.services) {
      const key = idKey(svc.id);
      // a group shared by several virtual_server blocks: the service is there already
      const shared = this.vss.some((o) => o !== st && o.services.some((s) => idKey(s.id) === key));
      this.guard(`VS ${serviceLabel(st.vs)}`, () => {
        if (shared) return;
        try {
          this.model.addService(svc.spec);
        } catch {
          this.model.editService(svc.spec);
        }
      });
    }
    // what the model already has (a saved configuration restored at start)
    for (const r of st.rs) r.set = this.present(st, r);
    if (st.sorry) st.sorry.set = this.present(st, st.sorry);
    for (const r of st.rs) this.initRs(st, r);
    this.updateQuorum(st, true);
    this.addInhibitedSorry(st);
  }

  present(st: VsState, r: SrvState): boolean {
    const svc = st.services[0];
    if (!svc) return false;
    const d = destOf(svc, r.srv, 0);
    try {
      return this.model
        .service(svc.id)
        .dests.some((x) => addrKey(x.addr) === addrKey(d.addr) && x.port === d.port);
    } catch {
      return false;
    }
  }

  failed(r: SrvState): number {
    return r.checkers.filter((c) => !c.up).length;
  }

  /** keepalived's init_service_rs for one real server. */
  initRs(st: VsState, r: SrvState): void {
    const failed = this.failed(r);
    if ((!failed && !r.alive) || (r.inhibit && !r.set)) {
      this.ipvs('add', st, r);
      if (!failed) {
        r.alive = true;
        if (this.cfg.rsInitNotifies) this.rsNotifies(st, r);
      }
    } else if (failed && r.set) {
      // restored from a saved configuration but not alive: out (inhibited: weight 0), as
      // keepalived never had it in
      this.ipvs('del', st, r);
    }
  }

  addInhibitedSorry(st: VsState): void {
    const s = st.sorry;
    if (!s || !s.inhibit || s.set) return;
    const dup = st.rs.find((r) => this.sameSrv(st, r, s));
    if (dup) s.set = true;
    else this.put(st, s, 0, false);
    s.set = true;
  }

  sameSrv(st: VsState, a: SrvState, b: SrvState): boolean {
    const svc = st.services[0];
    if (!svc) return false;
    const x = destOf(svc, a.srv, 0);
    const y = destOf(svc, b.srv, 0);
    return addrKey(x.addr) === addrKey(y.addr) && x.port === y.port;
  }

  put(st: VsState, r: SrvState, weight: number, edit: boolean): void {
    for (const svc of st.services) {
      const d: DestSpec = destOf(svc, r.srv, weight);
      this.guard(
        `${edit ? 'edit' : 'add'} ${hostPort(d.addr, d.port ?? 0)} in VS ${serviceLabel(st.vs)}`,
        () => {
          if (!edit) {
            try {
              this.model.addDest(svc.id, d);
              return;
            } catch (e) {
              // already there (restored, or another virtual server of a shared group)
              if (!/exist/i.test((e as Error).message)) throw e;
            }
          }
          this.model.editDest(svc.id, d);
        },
      );
    }
  }

  remove(st: VsState, r: SrvState): void {
    for (const svc of st.services) {
      const d = destOf(svc, r.srv, 0);
      this.guard(`delete ${hostPort(d.addr, d.port ?? 0)} from VS ${serviceLabel(st.vs)}`, () =>
        this.model.delDest(svc.id, { addr: d.addr, port: d.port }),
      );
    }
  }

  realWeight(r: SrvState): number {
    return Math.max(0, Math.min(WEIGHT_LIMIT, r.weight));
  }

  ipvs(cmd: 'add' | 'del' | 'edit', st: VsState, r: SrvState): void {
    if (cmd === 'del' && r.inhibit) return this.put(st, r, 0, r.set);
    if (cmd === 'add' && r.inhibit && r.set) return this.put(st, r, this.realWeight(r), true);
    if (cmd === 'add') {
      const weight = r.inhibit && this.failed(r) ? 0 : this.realWeight(r);
      this.put(st, r, weight, false);
      r.set = true;
      return;
    }
    if (cmd === 'edit') return this.put(st, r, this.realWeight(r), true);
    if (r.set) this.remove(st, r);
    r.set = false;
  }

  /** keepalived's update_svr_checker_state. */
  checkerState(st: VsState, r: SrvState, c: CheckerState, alive: boolean): void {
    if (c.up === alive) {
      if (!c.hasRun) {
        if (c.c?.alpha || r.rs?.alpha || !alive) this.rsNotifies(st, r);
        c.hasRun = true;
      }
      return;
    }
    c.hasRun = true;
    const failed = this.failed(r);
    if (alive ? failed <= 1 : failed === 0) this.svrState(st, r, alive);
    c.up = alive;
  }

  /** keepalived's perform_svr_state. */
  svrState(st: VsState, r: SrvState, alive: boolean): void {
    if (r.alive === alive) return;
    const verb = alive ? (r.inhibit ? 'Enabling' : 'Adding') : r.inhibit ? 'Disabling' : 'Removing';
    const prep = r.inhibit ? 'of' : alive ? 'to' : 'from';
    this.log(
      `health: ${verb} service ${serverLabel(st.vs, r.srv.addr, r.srv.port)} ${prep} VS ${serviceLabel(st.vs)}`,
    );
    if (st.quorumUp || !st.sorry || !st.sorry.alive) this.ipvs(alive ? 'add' : 'del', st, r);
    r.alive = alive;
    const ev = { service: statusLabel(st.vs), server: hostPort(r.srv.addr, r.srv.port), up: alive };
    this.events.push(ev);
    if (this.events.length > 1000) this.events.shift();
    this.rsNotifies(st, r);
    this.updateQuorum(st, false);
  }

  /** keepalived's update_svr_wgt (misc_dynamic). */
  updateWeight(st: VsState, r: SrvState, weight: number): void {
    const before = this.realWeight(r);
    r.weight = weight;
    const now = this.realWeight(r);
    if (now === before) return;
    this.log(
      `health: Changing weight from ${before} to ${now} for ${r.alive ? '' : 'in'}active service ${serverLabel(st.vs, r.srv.addr, r.srv.port)} of VS ${serviceLabel(st.vs)}`,
    );
    if (r.set && r.alive && (st.quorumUp || !st.sorry || !st.sorry.alive)) this.ipvs('edit', st, r);
    this.updateQuorum(st, false);
  }

  liveWeight(st: VsState): number {
    return st.rs.reduce((a, r) => a + (r.alive ? this.realWeight(r) : 0), 0);
  }

  /** keepalived's update_quorum_state. */
  updateQuorum(st: VsState, init: boolean): void {
    const vs = st.vs;
    const sum = this.liveWeight(st);
    const threshold = vs.quorum + (st.quorumUp ? -1 : 1) * vs.hysteresis;
    const s = st.sorry;
    if (!st.quorumUp && sum >= threshold) {
      st.quorumUp = true;
      this.log(
        `health: Gained quorum ${vs.quorum}+${vs.hysteresis}=${threshold} <= ${sum} for VS ${serviceLabel(vs)}`,
      );
      if (s && s.alive) {
        this.log(
          `health: ${s.inhibit ? 'Disabling' : 'Removing'} sorry server ${serverLabel(vs, s.srv.addr, s.srv.port)} from VS ${serviceLabel(vs)}`,
        );
        this.ipvs('del', st, s);
        s.alive = false;
        this.quorumPool(st, true);
      }
      this.vsNotifies(st);
    } else if (
      (st.quorumUp && (!sum || sum < threshold)) ||
      (init && !st.quorumUp && s && !s.alive)
    ) {
      st.quorumUp = false;
      this.log(
        `health: ${init ? 'Starting with quorum down' : 'Lost quorum'} ${vs.quorum}-${vs.hysteresis}=${threshold} > ${sum} for VS ${serviceLabel(vs)}`,
      );
      if (s && !s.alive) {
        this.log(
          `health: ${s.inhibit ? 'Enabling' : 'Adding'} sorry server ${serverLabel(vs, s.srv.addr, s.srv.port)} to VS ${serviceLabel(vs)}`,
        );
        this.quorumPool(st, false);
        this.ipvs('add', st, s);
        s.alive = true;
      }
      this.vsNotifies(st);
    }
  }

  /** keepalived's perform_quorum_state: the alive real servers out of or back into the pool. */
  quorumPool(st: VsState, add: boolean): void {
    this.log(
      `health: ${add ? 'Adding alive servers to' : 'Removing alive servers from'} the pool for VS ${serviceLabel(st.vs)}`,
    );
    for (const r of st.rs) if (r.alive) this.ipvs(add ? 'add' : 'del', st, r);
  }

  rsNotifies(st: VsState, r: SrvState): void {
    const script = r.alive ? r.rs?.notifyUp : r.rs?.notifyDown;
    if (script) this.notifier.run(script);
    this.notifier.write(
      `RS ${serverLabel(st.vs, r.srv.addr, r.srv.port)} ${serviceLabel(st.vs)} ${r.alive ? 'UP' : 'DOWN'}`,
    );
    this.log(
      `health: real server ${serverLabel(st.vs, r.srv.addr, r.srv.port)} of VS ${serviceLabel(st.vs)} is ${r.alive ? 'UP' : 'DOWN'}`,
    );
  }

  vsNotifies(st: VsState, stopping = false): void {
    if (stopping && !st.vs.omega) return;
    const script = st.quorumUp ? st.vs.quorumUp : st.vs.quorumDown;
    if (script) this.notifier.run(script);
    this.notifier.write(`VS ${serviceLabel(st.vs)} ${st.quorumUp ? 'UP' : 'DOWN'}`);
  }

  /** keepalived's update_vs_notifies. */
  vsNotifiesDown(st: VsState, stopping: boolean): void {
    const sum = this.liveWeight(st);
    const threshold = st.vs.quorum - st.vs.hysteresis;
    if (stopping || (st.quorumUp && (!sum || sum < threshold))) {
      st.quorumUp = false;
      this.vsNotifies(st, stopping);
    }
  }

  clearRs(st: VsState, r: SrvState, stopping: boolean): void {
    for (const c of r.checkers) this.retire(c);
    if (!r.set) return;
    this.log(
      `health: ${stopping ? 'Shutting down' : 'Removing'} ${r.inhibit && !r.alive ? '(inhibited) ' : ''}service ${serverLabel(st.vs, r.srv.addr, r.srv.port)} from VS ${serviceLabel(st.vs)}`,
    );
    // a removal is a removal, inhibit_on_failure or not
    this.remove(st, r);
    r.set = false;
    if (!r.alive) return;
    r.alive = false;
    if (stopping && !st.vs.omega) return;
    this.rsNotifies(st, r);
  }

  clearVs(st: VsState, stopping: boolean, vsOnly = false): void {
    if (!vsOnly) {
      const s = st.sorry;
      if (s?.set) {
        if (!st.rs.some((r) => this.sameSrv(st, r, s))) this.remove(st, s);
        s.set = false;
        s.alive = false;
      }
      for (const r of st.rs) this.clearRs(st, r, stopping);
      this.vsNotifiesDown(st, stopping);
    } else {
      for (const r of st.rs) for (const c of r.checkers) this.retire(c);
      this.vsNotifiesDown(st, stopping);
    }
    for (const svc of st.services) {
      const key = idKey(svc.id);
      // a service another virtual server of a shared group still uses stays
      if (this.vss.some((o) => o !== st && o.services.some((x) => idKey(x.id) === key))) continue;
      this.guard(`delete VS ${serviceLabel(st.vs)}`, () => this.model.delService(svc.id));
    }
  }

  retire(c: CheckerState): void {
    c.gen++;
    if (c.timer) clearTimeout(c.timer);
    c.timer = undefined;
  }
}
