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
  type DestState,
  type ServiceKeyState,
  type ServiceState,
  type StatsState,
} from './state-form.js';

export * from './state-form.js';

export { EXPORT_SLICE, exportEngineState, StateExport } from './state-export.js';

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
  const st = validateEngineState(raw);
  const ipvs = engine.ipvs;
  const c = ipvs.conns;
  if (c.count !== 0) fail(`the engine already has ${c.count} conn(s)`);
  const summary: ImportSummary = {
    conns: 0,
    templates: 0,
    services: 0,
    servicesGone: 0,
    destsGone: 0,
    schedFresh: [],
  };
  // real servers: saved id → dest of this engine (a configured one, or one in the trash)
  const destMap = new Map<number, Dest>();
  const detached = new Map<string, Service>();
  const svcFor = (k: ServiceKeyState): Service => {
    const cur = ipvs.services.find((s) => sameKey(s, k));
    if (cur) return cur;
    const name = `${k.af}/${k.protocol}/${Array.from(k.addr).join('.')}/${k.port}/${k.fwmark}`;
    let s = detached.get(name);
    if (!s) {
      s = new Service(k.af, k.protocol, Uint32Array.from(k.addr), k.port, k.fwmark);
      detached.set(name, s);
    }
    return s;
  };
  const toTrash = (svc: Service, ds: DestState): Dest => {
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
  // the conns
  const cs = st.conns;
  const newId = new Int32Array(cs.n);
  ipvs.now = now;
  for (let i = 0; i < cs.n; i++) {
    const id = c.alloc();
    newId[i] = id;
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
    if (flags & CONN_F_TEMPLATE) summary.templates++;
    else summary.conns++;
    const d = cs.dest[i] >= 0 ? destMap.get(cs.dest[i]) : undefined;
    if (d) {
      c.dest[id] = d.id;
      d.refcnt++;
      if (flags & CONN_F_TEMPLATE) d.persistconns++;
      else if (flags & CONN_F_INACTIVE) d.inactconns++;
      else d.activeconns++;
    }
    if (flags & CONN_F_HASHED) c.hash(id);
  }
  for (let i = 0; i < cs.n; i++) {
    const id = newId[i];
    if (cs.control[i] >= 0) {
      const ct = newId[cs.control[i]];
      c.control[id] = ct;
      c.nControl[ct]++;
    }
    if (cs.armed[i]) {
      c.expires[id] = cs.expires[i];
      c.wheel.file(id, cs.expires[i], now);
    } else c.expires[id] = cs.expires[i];
  }
  // the helpers' per-conn data
  for (const a of st.apps) {
    const id = newId[a.conn];
    const app = a.app ? ipvs.apps.find((x) => x.name === a.app) : undefined;
    if (app) ipvs.appOf.set(id, app);
    if (a.data !== undefined) ipvs.appData.set(id, a.data);
    if (a.seq) ipvs.seqs.set(id, Uint32Array.from(a.seq));
    if (app && a.own !== undefined) (app as AppStateHooks).restoreConn?.(engine, id, a.own);
  }
  for (const a of ipvs.apps) {
    const cnt = st.appCounters[a.name];
    if (isObj(cnt)) (a as AppStateHooks).restoreCounters?.(cnt);
  }
  // the rest of netns_ipvs
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
  return summary;
}
