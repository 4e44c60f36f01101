/**
 * Health checking as keepalived does it for LVS (spec keepalived-lvs-reference §3, §5):
 * the virtual servers of a keepalived.conf are created, each real server is added
 * while all its checkers are up and removed (or, with `inhibit_on_failure`, set to
 * weight 0) when one goes down, with keepalived's timing: a check every `delay_loop`;
 * after a failure while up, `retry` more tries `delay_before_retry` apart before the
 * checker goes down; one success brings it back; without `alpha` real servers start up
 * and the very first failure takes them down, with `alpha` they start down. Quorum:
 * when the live weight falls below `quorum − hysteresis` the live real servers are
 * replaced by the `sorry_server`, and put back at `quorum + hysteresis`.
 *
 * Every change goes through the control model, as an `ipvsadm` command would: the
 * listing, persistence and the data plane follow as for any other change.
 *
 * @module
 */
import { serviceIdOf, type ControlModel, type DestSpec, type ServiceId } from '../control/model.js';
import type { KaChecker, KaConfig, KaRealServer, KaVirtualServer } from './keepalived.js';
import { destSpecOf, serviceLabel as label, serviceSpecOf } from './keepalived/control.js';
import { hostPort } from './keepalived/values.js';
import { runCheck, type CheckResult } from './check.js';

/** One checker's state (keepalived's per-checker alive flag and retry counter). */
interface CheckerState {
  c: KaChecker;
  up: boolean;
  retriesLeft: number;
  timer: NodeJS.Timeout | undefined;
  running: boolean;
}

interface RsState {
  rs: KaRealServer;
  checkers: CheckerState[];
  /** All checkers up (a real server without checkers is always alive). */
  alive: boolean;
  /** The weight it is given when alive (misc_dynamic may change it). */
  weight: number;
  /** What the model has for it: absent, present with its weight, or present at weight 0. */
  present: 'no' | 'yes' | 'inhibited';
}

interface VsState {
  vs: KaVirtualServer;
  id: ServiceId;
  rs: RsState[];
  quorumUp: boolean;
  sorryActive: boolean;
}

/** A real server's up/down change, for logs and tests. */
export interface HealthEvent {
  service: string;
  server: string;
  up: boolean;
}

export class HealthManager {
  private readonly vss: VsState[] = [];
  private stopped = false;
  /** Every up/down change of a real server, oldest first (bounded). */
  readonly events: HealthEvent[] = [];

  constructor(
    private readonly model: ControlModel,
    private readonly cfg: KaConfig,
    private readonly log: (line: string) => void = () => undefined,
    /** The check itself (tests inject one). */
    private readonly check: typeof runCheck = runCheck,
  ) {}

  /** Creates the services and the initially alive real servers, starts the checkers. */
  start(): void {
    const t = this.cfg.lvsTimeouts;
    if (t) this.guard('lvs_timeouts', () => this.model.setTimeouts(t));
    for (const vs of this.cfg.virtualServers) {
      const id = serviceIdOf(vs);
      const spec = serviceSpecOf(vs);
      const ok = this.guard(`virtual_server ${label(vs)}`, () => {
        try {
          this.model.addService(spec);
        } catch {
          this.model.editService(spec);
        }
      });
      if (!ok) continue;
      const st: VsState = { vs, id, rs: [], quorumUp: true, sorryActive: false };
      for (const rs of vs.realServers) {
        const alpha = rs.alpha || vs.alpha;
        const checkers = rs.checkers.map((c): CheckerState => ({
          c,
          // without alpha a checker starts up with its retries used up; with alpha, down
          up: !(c.alpha || alpha),
          retriesLeft: c.alpha || alpha ? c.retry : 0,
          timer: undefined,
          running: false,
        }));
        const r: RsState = {
          rs,
          checkers,
          alive: checkers.every((c) => c.up),
          weight: rs.weight,
          present: 'no',
        };
        st.rs.push(r);
      }
      // what the model already has (a saved configuration restored at start)
      const have = new Map<string, number>();
      try {
        for (const d of this.model.service(id).dests) have.set(hostPort(d.addr, d.port), d.weight);
      } catch {
        /* just created */
      }
      for (const r of st.rs) {
        const w = have.get(hostPort(r.rs.addr, r.rs.port));
        if (w !== undefined) r.present = w === 0 ? 'inhibited' : 'yes';
      }
      this.vss.push(st);
      st.quorumUp = this.liveWeight(st) >= Math.min(vs.quorum, this.totalWeight(st));
      if (!st.quorumUp && vs.sorryServer) {
        this.enterSorry(st);
      } else {
        for (const r of st.rs) this.sync(st, r);
        // sorry_server_inhibit: the sorry server is there from the start, at weight 0
        if (vs.sorryServer && vs.sorryServerInhibit) {
          const s = vs.sorryServer;
          this.guard(`sorry server ${hostPort(s.addr, s.port)}`, () =>
            this.model.addDest(id, this.destSpec(st, s.addr, s.port, 0)),
          );
        }
      }
      for (const r of st.rs) for (const c of r.checkers) this.schedule(st, r, c, firstDelay(c.c));
    }
  }

  /** Stops every checker (the configuration stays as it is). */
  stop(): void {
    this.stopped = true;
    for (const st of this.vss)
      for (const r of st.rs) for (const c of r.checkers) if (c.timer) clearTimeout(c.timer);
  }

  /** Real servers and whether they are alive, per service (for tests and logs). */
  status(): { service: string; servers: { server: string; alive: boolean; present: string }[] }[] {
    return this.vss.map((st) => ({
      service: label(st.vs),
      servers: st.rs.map((r) => ({
        server: hostPort(r.rs.addr, r.rs.port),
        alive: r.alive,
        present: r.present,
      })),
    }));
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

  private schedule(st: VsState, r: RsState, c: CheckerState, ms: number): void {
    if (this.stopped) return;
    c.timer = setTimeout(() => void this.run(st, r, c), ms);
    c.timer.unref?.();
  }

  private async run(st: VsState, r: RsState, c: CheckerState): Promise<void> {
    if (this.stopped || c.running) return;
    c.running = true;
    let res: CheckResult;
    try {
      res = await this.check(c.c, { addr: r.rs.addr, port: r.rs.port, weight: r.rs.weight });
    } catch (e) {
      res = { ok: false, why: (e as Error).message };
    }
    c.running = false;
    if (this.stopped) return;
    const loop = c.c.delayLoop * 1000;
    if (res.ok) {
      c.retriesLeft = c.c.retry;
      if (res.weight !== undefined && res.weight !== r.weight) {
        r.weight = res.weight;
        this.log(
          `health: ${hostPort(r.rs.addr, r.rs.port)} of ${label(st.vs)}: weight ${r.weight}`,
        );
        if (r.present === 'yes') this.putDest(st, r, r.weight, true);
      }
      if (!c.up) {
        c.up = true;
        this.update(st, r);
      }
      this.schedule(st, r, c, loop);
      return;
    }
    if (c.up && c.retriesLeft > 0) {
      c.retriesLeft--;
      this.schedule(st, r, c, c.c.delayBeforeRetry * 1000);
      return;
    }
    if (c.up) {
      c.up = false;
      this.log(
        `health: ${c.c.type} of ${hostPort(r.rs.addr, r.rs.port)} (${label(st.vs)}) failed: ${res.why ?? 'check failed'}`,
      );
      this.update(st, r);
    }
    this.schedule(st, r, c, loop);
  }

  /** A checker changed: the real server's alive state, then quorum. */
  private update(st: VsState, r: RsState): void {
    const alive = r.checkers.every((c) => c.up);
    if (alive === r.alive) return;
    r.alive = alive;
    const ev = { service: label(st.vs), server: hostPort(r.rs.addr, r.rs.port), up: alive };
    this.events.push(ev);
    if (this.events.length > 1000) this.events.shift();
    this.log(`health: real server ${ev.server} of ${ev.service} is ${alive ? 'UP' : 'DOWN'}`);
    const vs = st.vs;
    const live = this.liveWeight(st);
    const quorum = Math.min(vs.quorum, this.totalWeight(st));
    if (st.quorumUp && live < quorum - vs.hysteresis) {
      st.quorumUp = false;
      this.log(`health: ${label(vs)} lost its quorum (live weight ${live} < ${quorum})`);
      if (vs.sorryServer) return this.enterSorry(st);
    } else if (!st.quorumUp && live >= quorum + vs.hysteresis) {
      st.quorumUp = true;
      this.log(`health: ${label(vs)} regained its quorum (live weight ${live})`);
      if (st.sorryActive) return this.leaveSorry(st);
    }
    // while the sorry server stands in, only the alive state is tracked
    if (!st.sorryActive) this.sync(st, r);
  }

  /** Makes the model's real server match its alive state (keepalived §5). */
  private sync(st: VsState, r: RsState): void {
    const inhibit = r.rs.inhibitOnFailure || st.vs.inhibitOnFailure;
    if (r.alive) {
      if (r.present !== 'yes') this.putDest(st, r, r.weight, r.present === 'inhibited');
      r.present = 'yes';
    } else if (inhibit) {
      if (r.present !== 'inhibited') this.putDest(st, r, 0, r.present === 'yes');
      r.present = 'inhibited';
    } else if (r.present !== 'no') {
      this.guard(`delete ${hostPort(r.rs.addr, r.rs.port)}`, () =>
        this.model.delDest(st.id, { addr: r.rs.addr, port: r.rs.port }),
      );
      r.present = 'no';
    }
  }

  private destSpec(
    st: VsState,
    addr: string,
    port: number,
    weight: number,
    rs?: KaRealServer,
  ): DestSpec {
    return destSpecOf(st.vs, addr, port, weight, rs);
  }

  private putDest(st: VsState, r: RsState, weight: number, exists: boolean): void {
    const d = this.destSpec(st, r.rs.addr, r.rs.port, weight, r.rs);
    this.guard(`${exists ? 'edit' : 'add'} ${hostPort(r.rs.addr, r.rs.port)}`, () => {
      // -e replaces every setting, as keepalived sends them all
      if (exists) this.model.editDest(st.id, d);
      else this.model.addDest(st.id, d);
    });
  }

  private enterSorry(st: VsState): void {
    const s = st.vs.sorryServer!;
    for (const r of st.rs) {
      if (r.present === 'yes') {
        this.guard(`delete ${hostPort(r.rs.addr, r.rs.port)}`, () =>
          this.model.delDest(st.id, { addr: r.rs.addr, port: r.rs.port }),
        );
        r.present = 'no';
      }
    }
    const d = this.destSpec(st, s.addr, s.port, 1);
    this.guard(`sorry server ${hostPort(s.addr, s.port)}`, () => {
      try {
        this.model.addDest(st.id, d);
      } catch {
        this.model.editDest(st.id, d);
      }
    });
    st.sorryActive = true;
  }

  private leaveSorry(st: VsState): void {
    const s = st.vs.sorryServer!;
    this.guard(`sorry server ${hostPort(s.addr, s.port)}`, () =>
      st.vs.sorryServerInhibit
        ? this.model.editDest(st.id, this.destSpec(st, s.addr, s.port, 0))
        : this.model.delDest(st.id, { addr: s.addr, port: s.port }),
    );
    st.sorryActive = false;
    for (const r of st.rs) this.sync(st, r);
  }

  private liveWeight(st: VsState): number {
    return st.rs.reduce((a, r) => a + (r.alive ? r.weight : 0), 0);
  }

  private totalWeight(st: VsState): number {
    return st.rs.reduce((a, r) => a + r.rs.weight, 0);
  }
}

/** The first check: after `warmup` (keepalived: random up to delay_loop when unset). */
function firstDelay(c: KaChecker): number {
  const w = c.warmup ?? Math.random() * c.delayLoop;
  return Math.max(0, w * 1000);
}
