/**
 * The engine's whole run-time state as versioned plain data, and back (what a planned
 * restart, an upgrade by hand-over and crash recovery carry from one daemon to the
 * next; the kernel never needs this because its table outlives ipvsadm).
 *
 * Saved: every connection and template with its state, flags, addresses, dest, control
 * link, packet count, sync mark, timeout and absolute expiry time (engine clock: the
 * daemon's is the wall clock, so time spent stopped counts, as the kernel's timers keep
 * running); the helpers' per-conn data (FTP mode, the seq-adjust records, the helper's
 * own per-conn state and counters); per service and real server the counters and rate
 * estimators, the overload flag and the scheduler's own state (cursors, caches, tables:
 * state-tree.ts); the totals, the drop counters and the defence state.
 *
 * Not saved: the configuration itself (services, real servers, weights, timeouts,
 * settings), which the control model restores from its own saved file and the
 * configuration sources. {@link importEngineState} matches saved services and real
 * servers to configured ones by their keys; a saved real server the configuration no
 * longer has waits in the trash with its conns, as after `ipvsadm -d`.
 *
 * The form holds typed arrays (a column per conn field): the daemon's codec writes
 * them compactly. Everything is checked before anything changes: a state that does not
 * validate throws a {@link StateError} and leaves the engine as it was.
 *
 * @module
 */
import {
  CONN_F_HASHED,
  CONN_F_INACTIVE,
  CONN_F_NO_CPORT,
  CONN_F_TEMPLATE,
  DEST_F_AVAILABLE,
  DEST_F_OVERLOAD,
} from './constants.js';
import { addrEqual } from './addr.js';
import type { Engine } from './engine.js';
import { Dest, Service } from './service.js';
import { findScheduler } from './sched/registry.js';
import type { Stats } from './stats.js';
import { decodeTree } from './state-tree.js';
import {
  fail,
  isObj,
  validateEngineState,
  type AppStateHooks,
  type ConnsState,
  type DestState,
  type EngineState,
  type ServiceKeyState,
  type ServiceState,
  type StatsState,
} from './state-form.js';

export * from './state-form.js';

export { EXPORT_SLICE, exportEngineState, StateExport, type EngineDelta } from './state-export.js';

// ---------------------------------------------------------------------------
// Restore

/** What {@link importEngineState} did, for the log. */
export interface ImportSummary {
  conns: number;
  templates: number;
  services: number;
  /** Saved services the configuration no longer has (their real servers went to the trash). */
  servicesGone: number;
  /** Saved real servers the configuration no longer has (in the trash now). */
  destsGone: number;
  /** Services whose scheduler state could not be taken over (started fresh), and why. */
  schedFresh: string[];
}

function sameKey(s: Service, k: ServiceKeyState): boolean {
  if (s.af !== k.af) return false;
  if (k.fwmark !== 0) return s.fwmark === k.fwmark;
  return (
    s.fwmark === 0 &&
    s.protocol === k.protocol &&
    s.port === k.port &&
    addrEqual(s.af, s.addr, k.addr)
  );
}

function sameDest(d: Dest, s: DestState): boolean {
  return d.af === s.af && d.port === s.port && addrEqual(d.af, d.addr, s.addr);
}

function setStats(st: Stats, v: StatsState): void {
  const rec = st as unknown as Record<string, number>;
  for (const k of Object.keys(rec)) if (typeof rec[k] === 'number' && k in v) rec[k] = v[k];
}

/**
 * Restores `state` into `engine`, whose configuration (services, real servers) is
 * already in place and which has no conns yet. `now` is the engine clock (ms): timers
 * keep their absolute expiry times, so a conn whose time ran out while no daemon ran
 * expires at the next tick. Throws a {@link StateError} (and changes nothing) when the
 * state does not validate or the engine already has conns.
 */
export function importEngineState(engine: Engine, raw: unknown, now: number): ImportSummary {
  return new StateImport(engine).bulk(raw, now);
}

/**
 * A restore in two steps (a hand-over: the bulk while the old daemon still forwards,
 * the delta once it has stopped): {@link bulk} is {@link importEngineState}, remembering
 * which conn of this engine each saved conn id became; {@link delta} then applies a
 * {@link EngineDelta} (StateExport.delta): conns that went are freed, changed ones
 * replace their earlier copy in place (the same id here, so the conns they control keep
 * pointing at them; a saved id reused by another conn is such a change), new ones are
 * added, controllers linked by saved id, and everything but the conns is set as of the
 * delta. The result equals a one-shot import of the state at the delta's moment. The
 * engine must not run (no packets, no timer ticks) between the two.
 */
export class StateImport {
  private readonly ipvs: Engine['ipvs'];
  /** Saved real server id → dest of this engine (a configured one, or in the trash). */
  private readonly destMap = new Map<number, Dest>();
  private readonly detached = new Map<string, Service>();
  /** Saved conn id → conn id here. */
  private readonly idOf = new Map<number, number>();
  private summary: ImportSummary = newSummary();
  private bulked = false;
  /** Conns and templates imported and still here. */
  private readonly held = { conns: 0, templates: 0 };

  constructor(private readonly engine: Engine) {
    this.ipvs = engine.ipvs;
  }

  /** The first (or only) step: see {@link importEngineState}. */
  bulk(raw: unknown, now: number): ImportSummary {
    const st = validateEngineState(raw);
    const c = this.ipvs.conns;
    if (c.count !== 0) fail(`the engine already has ${c.count} conn(s)`);
    if (this.bulked) fail('a bulk was imported already');
    this.bulked = true;
    this.summary = newSummary();
    this.services(st);
    const cs = st.conns;
    const newId = new Int32Array(cs.n);
    this.ipvs.now = now;
    for (let i = 0; i < cs.n; i++) {
      const id = c.alloc();
      newId[i] = id;
      if (cs.ids) this.idOf.set(cs.ids[i], id);
      this.load(cs, i, id);
    }
    for (let i = 0; i < cs.n; i++) {
      const id = newId[i];
      if (cs.control[i] >= 0) this.link(id, newId[cs.control[i]]);
      this.timer(cs, i, id, now);
    }
    this.apps(st, newId);
    this.rest(st);
    return this.summary;
  }

  /**
   * The second step: applies `raw` (an {@link EngineDelta}, checked in full first) over
   * the bulk. Returns what the delta carried (conns/templates: those it added or changed).
   */
  delta(raw: unknown, now: number): ImportSummary & { gone: number } {
    if (!this.bulked) fail('a delta before the bulk');
    if (!isObj(raw)) fail('delta: not an object');
    const st = validateEngineState(raw.state);
    const cs = st.conns;
    const ctl = raw.controlIds;
    const gone = raw.gone;
    if (!(ctl instanceof Int32Array) || ctl.length !== cs.n)
      fail('delta.controlIds: not an Int32Array of a row each');
    if (!(gone instanceof Int32Array)) fail('delta.gone: not an Int32Array');
    if (!cs.ids) fail('delta: the conns carry no ids');
    const ids = cs.ids;
    const c = this.ipvs.conns;
    this.summary = newSummary();
    this.services(st);
    this.ipvs.now = now;
    // unlinked first (a changed conn may have left a controller that went), then freed
    const here = new Int32Array(cs.n).fill(-1);
    for (let i = 0; i < cs.n; i++) {
      const id = this.idOf.get(ids[i]);
      if (id !== undefined) {
        this.unload(id);
        here[i] = id;
      }
    }
    let freed = 0;
    for (const old of gone) {
      const id = this.idOf.get(old);
      if (id === undefined) continue;
      this.unload(id);
      c.free(id);
      this.idOf.delete(old);
      freed++;
    }
    for (let i = 0; i < cs.n; i++) {
      if (here[i] < 0) {
        here[i] = c.alloc();
        this.idOf.set(ids[i], here[i]);
      }
      this.load(cs, i, here[i]);
    }
    for (let i = 0; i < cs.n; i++) {
      const ct = ctl[i] >= 0 ? this.idOf.get(ctl[i]) : undefined;
      if (ct !== undefined) this.link(here[i], ct);
      this.timer(cs, i, here[i], now);
    }
    this.apps(st, here);
    this.rest(st);
    return { ...this.summary, gone: freed };
  }

  /** The conns and templates imported so far (the bulk, with the delta applied). */
  totals(): { conns: number; templates: number } {
    return { ...this.held };
  }

  /** Services, real servers, trash and schedulers (the dests the conns refer to). */
  private services(st: EngineState): void {
    const ipvs = this.ipvs;
    const summary = this.summary;
    const destMap = this.destMap;
    const svcFor = (k: ServiceKeyState): Service => {
      const cur = ipvs.services.find((s) => sameKey(s, k));
      if (cur) return cur;
      const name = `${k.af}/${k.protocol}/${Array.from(k.addr).join('.')}/${k.port}/${k.fwmark}`;
      let s = this.detached.get(name);
      if (!s) {
        s = new Service(k.af, k.protocol, Uint32Array.from(k.addr), k.port, k.fwmark);
        this.detached.set(name, s);
      }
      return s;
    };
    // a real server the bulk put in the trash already is the same one
    const known = (ds: DestState): Dest | undefined => {
      const d = destMap.get(ds.id);
      return d && sameDest(d, ds) ? d : undefined;
    };
    const toTrash = (svc: Service, ds: DestState): Dest => {
      const had = known(ds);
      if (had && ipvs.trash.includes(had)) {
        setStats(had.stats, ds.stats);
        return had;
      }
      const d = new Dest(svc, ds.af, Uint32Array.from(ds.addr), ds.port);
      d.connFlags = ds.connFlags;
      d.weight = ds.weight;
      d.lastWeight = ds.lastWeight;
      d.uThreshold = ds.uThreshold;
      d.lThreshold = ds.lThreshold;
      d.flags = ds.flags & ~DEST_F_AVAILABLE;
      d.tunType = ds.tunType;
      d.tunPort = ds.tunPort;
      d.tunFlags = ds.tunFlags;
      d.idleSince = ds.idleSince;
      setStats(d.stats, ds.stats);
      const free = ipvs.destById.indexOf(null);
      if (free >= 0) ipvs.destById[free] = d;
      else ipvs.destById.push(d);
      d.id = free >= 0 ? free : ipvs.destById.length - 1;
      ipvs.trash.push(d);
      summary.destsGone++;
      return d;
    };
    const restoredSvcs: [Service, ServiceState][] = [];
    for (const ss of st.services) {
      const svc = ipvs.services.find((s) => sameKey(s, ss.key));
      if (!svc) {
        summary.servicesGone++;
        const ds = svcFor(ss.key);
        for (const d of ss.dests) destMap.set(d.id, toTrash(ds, d));
        continue;
      }
      summary.services++;
      restoredSvcs.push([svc, ss]);
      setStats(svc.stats, ss.stats);
      for (const dsv of ss.dests) {
        const d = svc.dests.find((x) => sameDest(x, dsv));
        if (!d) {
          destMap.set(dsv.id, toTrash(svc, dsv));
          continue;
        }
        destMap.set(dsv.id, d);
        setStats(d.stats, dsv.stats);
        d.flags = (d.flags & ~DEST_F_OVERLOAD) | (dsv.flags & DEST_F_OVERLOAD);
        d.idleSince = dsv.idleSince;
      }
    }
    for (const t of st.trash) {
      const svc = svcFor(t.svc);
      // a real server deleted before the save and configured again since
      const back = svc.dests.find((x) => sameDest(x, t));
      destMap.set(t.id, back ?? toTrash(svc, t));
    }
    // the schedulers: their state, when the scheduler and its real servers are the same
    for (const [svc, ss] of restoredSvcs) {
      if (ss.sched === null || !svc.scheduler) continue;
      const why =
        svc.schedName !== ss.schedName
          ? `scheduler now ${svc.schedName}, saved ${ss.schedName}`
          : svc.dests.length !== ss.dests.length ||
              svc.dests.some((d, i) => !sameDest(d, ss.dests[i]))
            ? 'its real servers changed'
            : '';
      if (why) {
        summary.schedFresh.push(`${svc.toString()}: ${why}`);
        continue;
      }
      const look = (id: number): Dest | null => destMap.get(id) ?? null;
      try {
        decodeTree(svc.scheduler, ss.sched, look, false);
        decodeTree(svc.scheduler, ss.sched, look, true);
      } catch (e) {
        summary.schedFresh.push(`${svc.toString()}: ${(e as Error).message}`);
        svc.scheduler.done?.(svc);
        svc.scheduler = findScheduler(svc.schedName)!.create(svc, ipvs.schedCtx);
      }
    }
  }

  /** Row `i` of `cs` into conn `id` (allocated, or unloaded): fields, hash, dest. */
  private load(cs: ConnsState, i: number, id: number): void {
    const c = this.ipvs.conns;
    const o = id * 4;
    c.af[id] = cs.af[i];
    c.proto[id] = cs.proto[i];
    c.state[id] = cs.state[i];
    c.oldState[id] = cs.oldState[i];
    c.caddr.set(cs.caddr.subarray(i * 4, i * 4 + 4), o);
    c.vaddr.set(cs.vaddr.subarray(i * 4, i * 4 + 4), o);
    c.daddr.set(cs.daddr.subarray(i * 4, i * 4 + 4), o);
    c.cport[id] = cs.cport[i];
    c.vport[id] = cs.vport[i];
    c.dport[id] = cs.dport[i];
    c.fwmark[id] = cs.fwmark[i];
    c.inPkts[id] = cs.inPkts[i];
    c.syncEnd[id] = cs.syncEnd[i];
    c.timeout[id] = cs.timeout[i];
    if (cs.sp) {
      c.spSeq[id] = cs.sp[i * 4];
      c.spDelta[id] = cs.sp[i * 4 + 1];
      c.spTs[id] = cs.sp[i * 4 + 2];
      c.spInfo[id] = cs.sp[i * 4 + 3];
    }
    const flags = cs.flags[i];
    c.flags[id] = flags & ~CONN_F_HASHED;
    if (flags & CONN_F_NO_CPORT) c.noCportCount++;
    if (flags & CONN_F_TEMPLATE) {
      this.summary.templates++;
      this.held.templates++;
    } else {
      this.summary.conns++;
      this.held.conns++;
    }
    const d = cs.dest[i] >= 0 ? this.destMap.get(cs.dest[i]) : undefined;
    c.dest[id] = -1;
    if (d) {
      c.dest[id] = d.id;
      d.refcnt++;
      if (flags & CONN_F_TEMPLATE) d.persistconns++;
      else if (flags & CONN_F_INACTIVE) d.inactconns++;
      else d.activeconns++;
    }
    if (flags & CONN_F_HASHED) c.hash(id);
  }

  /**
   * Undoes {@link load}, {@link link} and {@link timer} for conn `id` (its id stays
   * allocated; the conns it controls keep their links).
   */
  private unload(id: number): void {
    const ipvs = this.ipvs;
    const c = ipvs.conns;
    c.unhash(id);
    c.disarm(id);
    const ct = c.control[id];
    if (ct >= 0) {
      c.control[id] = -1;
      c.nControl[ct]--;
    }
    const app = ipvs.appOf.get(id);
    if (app) app.done?.(ipvs.appCtx, id);
    ipvs.appOf.delete(id);
    ipvs.appData.delete(id);
    ipvs.seqs.delete(id);
    const flags = c.flags[id];
    if (flags & CONN_F_TEMPLATE) this.held.templates--;
    else this.held.conns--;
    const did = c.dest[id];
    const d = did >= 0 ? ipvs.destById[did] : null;
    if (d) {
      d.refcnt--;
      if (flags & CONN_F_TEMPLATE) d.persistconns--;
      else if (flags & CONN_F_INACTIVE) d.inactconns--;
      else d.activeconns--;
    }
    c.dest[id] = -1;
    if (flags & CONN_F_NO_CPORT) c.noCportCount--;
  }

  private link(id: number, ct: number): void {
    const c = this.ipvs.conns;
    c.control[id] = ct;
    c.nControl[ct]++;
  }

  private timer(cs: ConnsState, i: number, id: number, now: number): void {
    const c = this.ipvs.conns;
    c.expires[id] = cs.expires[i];
    if (cs.armed[i]) c.wheel.file(id, cs.expires[i], now);
  }

  /** The helpers' per-conn data (`conn`: a row of the state; `here`: its id here). */
  private apps(st: EngineState, here: Int32Array): void {
    const ipvs = this.ipvs;
    for (const a of st.apps) {
      const id = here[a.conn];
      const app = a.app ? ipvs.apps.find((x) => x.name === a.app) : undefined;
      if (app) ipvs.appOf.set(id, app);
      if (a.data !== undefined) ipvs.appData.set(id, a.data);
      if (a.seq) ipvs.seqs.set(id, Uint32Array.from(a.seq));
      if (app && a.own !== undefined) (app as AppStateHooks).restoreConn?.(this.engine, id, a.own);
    }
  }

  /** Everything but the conns and the services: counters, defence, clocks. */
  private rest(st: EngineState): void {
    const ipvs = this.ipvs;
    for (const a of ipvs.apps) {
      const cnt = st.appCounters[a.name];
      if (isObj(cnt)) (a as AppStateHooks).restoreCounters?.(cnt);
    }
    setStats(ipvs.totals, st.totals);
    ipvs.drops.set(st.drops.subarray(0, ipvs.drops.length));
    const df = st.defense;
    ipvs.dropRate = df.dropRate;
    ipvs.dropCounter = df.dropCounter;
    ipvs.dropEntryActive = df.dropEntryActive;
    ipvs.todropCounter.set(df.todropCounter);
    const s = ipvs.settings;
    // an automatic defence keeps the step it had reached (1 off, 2 on)
    const step = (cur: number, saved: number): number =>
      (cur === 1 || cur === 2) && (saved === 1 || saved === 2) ? saved : cur;
    s.drop_entry = step(s.drop_entry, df.dropEntry);
    s.drop_packet = step(s.drop_packet, df.dropPacket);
    s.secure_tcp = step(s.secure_tcp, df.secureTcp);
    ipvs.secureTable = s.secure_tcp > 1;
    ipvs.lastSecond = st.clock.lastSecond;
    ipvs.lastEstimate = st.clock.lastEstimate;
    ipvs.lastTrash = st.clock.lastTrash;
    ipvs.ipId = st.clock.ipId;
    if (st.spKeys) ipvs.sp.keys.restore(st.spKeys);
  }
}

function newSummary(): ImportSummary {
  return { conns: 0, templates: 0, services: 0, servicesGone: 0, destsGone: 0, schedFresh: [] };
}
