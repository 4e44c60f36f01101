/**
 * The engine's state exported (engine/state.ts describes the form): at once
 * ({@link exportEngineState}) or in slices with the engine going on between them
 * ({@link StateExport}).
 *
 * @module
 */
import { CONN_F_SYNPROXY } from './constants.js';
import type { Engine } from './engine.js';
import type { Ipvs } from './ipvs.js';
import type { Dest, Service } from './service.js';
import { encodeTree } from './state-tree.js';
import {
  ENGINE_STATE_FORMAT,
  ENGINE_STATE_VERSION,
  statsOf,
  type AppConnState,
  type AppStateHooks,
  type ConnsState,
  type DestState,
  type EngineState,
  type ServiceKeyState,
  type ServiceState,
  type TrashState,
} from './state-form.js';

function keyOf(s: Service): ServiceKeyState {
  return {
    af: s.af,
    protocol: s.protocol,
    addr: Uint32Array.from(s.addr),
    port: s.port,
    fwmark: s.fwmark,
  };
}

function destOf(d: Dest): DestState {
  return {
    id: d.id,
    af: d.af,
    addr: Uint32Array.from(d.addr),
    port: d.port,
    connFlags: d.connFlags,
    weight: d.weight,
    lastWeight: d.lastWeight,
    uThreshold: d.uThreshold,
    lThreshold: d.lThreshold,
    flags: d.flags,
    tunType: d.tunType,
    tunPort: d.tunPort,
    tunFlags: d.tunFlags,
    idleSince: d.idleSince,
    stats: statsOf(d.stats),
  };
}

/** The objects a scheduler refers to that are not its own state. */
function schedSkip(ipvs: Ipvs): Set<object> {
  return new Set<object>([ipvs.schedCtx, ipvs.settings]);
}

/** Conn ids scanned per {@link StateExport.step} by default (about a millisecond's work). */
export const EXPORT_SLICE = 2048;

type Column = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;

function grown<T extends Column>(a: T, n: number, fill?: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  if (fill !== undefined) b.fill(fill, a.length);
  return b;
}

/**
 * The engine's state exported in slices, the event loop turning between them (issue
 * 14: a snapshot of a large table must not hold the packet path; a single pass takes
 * about a microsecond per connection).
 *
 * {@link step} copies the conns of the next {@link EXPORT_SLICE} ids. Meanwhile the
 * engine goes on: a conn created or changed after its id was scanned is reported to
 * {@link touched} by the per-connection events (the hook the journal and the sync
 * master hear, `Engine.syncMaster`) and copied again by {@link finish}, which also drops
 * what expired meanwhile and checks that every row still is the conn it was (a conn
 * freed and its id reused by one the events did not report is copied again; should
 * the count still differ, the id space is scanned once more). Called with the engine
 * still (the same turn of the event loop, or the data plane parked), {@link finish}
 * gives the state of that moment: the final delta costs the conns that changed plus a
 * few passes over typed arrays.
 *
 * Not reported by the events: changes by OUTPUT packets after a conn's copy (its timer
 * re-armed, a state the server's packet moved). The copy then carries the earlier
 * timer (at most the export's length earlier) and state, as a sync backup would.
 */
export class StateExport {
  private readonly c: Ipvs['conns'];
  private rows = 0;
  private size: number;
  private scanned = 0;
  /** Row by conn id (-1: none). */
  private rowOf: Int32Array;
  /** Ids reported since their scan, each once (dirty flags by id). */
  private dirty: Uint8Array;
  private dirtyList: number[] = [];
  private cols: ConnsState & { ids: Int32Array };
  private sp: Uint32Array | null = null;
  /** The helpers' per-conn data by conn id. */
  private readonly apps = new Map<number, AppConnState>();
  private done = false;
  /** After {@link bulk}: the ids the bulk carried (by id). */
  private sent: Uint8Array | null = null;
  /** While a delta is taken: every id copied. */
  private copied: number[] | null = null;

  constructor(private readonly engine: Engine) {
    const c = (this.c = engine.ipvs.conns);
    // grown by doubling as rows come: a large table's columns are not allocated (and
    // zeroed) in one go before the first slice
    this.size = Math.max(64, Math.min(c.count + (c.count >> 3), EXPORT_SLICE * 2));
    this.rowOf = new Int32Array(c.cap).fill(-1);
    this.dirty = new Uint8Array(c.cap);
    const n = this.size;
    this.cols = {
      n: 0,
      af: new Uint8Array(n),
      proto: new Uint8Array(n),
      state: new Uint8Array(n),
      oldState: new Uint8Array(n),
      flags: new Uint32Array(n),
      caddr: new Uint32Array(n * 4),
      vaddr: new Uint32Array(n * 4),
      daddr: new Uint32Array(n * 4),
      cport: new Uint16Array(n),
      vport: new Uint16Array(n),
      dport: new Uint16Array(n),
      fwmark: new Uint32Array(n),
      dest: new Int32Array(n),
      control: new Int32Array(n),
      inPkts: new Uint32Array(n),
      syncEnd: new Uint32Array(n),
      timeout: new Uint32Array(n),
      expires: new Float64Array(n),
      armed: new Uint8Array(n),
      ids: new Int32Array(n),
    };
  }

  /** Copies the conns of the next `ids` ids; true once every id has been scanned. */
  step(ids = EXPORT_SLICE): boolean {
    const c = this.c;
    const end = Math.min(c.cap, this.scanned + ids);
    this.fit(c.cap);
    for (let id = this.scanned; id < end; id++) if (c.isLive(id)) this.copy(id);
    this.scanned = end;
    return end >= c.cap;
  }

  /**
   * Conn `id` was created or changed (its controller with it): copied again at
   * {@link finish} when its id was already scanned.
   */
  touched(id: number): void {
    if (this.done) return;
    this.mark(id);
    const ct = this.c.control[id];
    if (ct >= 0) this.mark(ct);
  }

  private mark(id: number): void {
    // after the bulk every id counts (the table may have grown past the scan)
    if (id >= this.scanned && this.sent === null) return;
    if (id >= this.dirty.length) this.fit(this.c.cap);
    if (this.dirty[id]) return;
    this.dirty[id] = 1;
    this.dirtyList.push(id);
  }

  /** The per-id arrays follow the table's capacity. */
  private fit(cap: number): void {
    if (this.rowOf.length < cap) {
      this.rowOf = grown(this.rowOf, cap, -1);
      this.dirty = grown(this.dirty, cap);
    }
  }

  /** Copies conn `id` into its row (a new one when it has none). */
  private copy(id: number): void {
    const c = this.c;
    let i = this.rowOf[id];
    if (i < 0) {
      if (this.rows === this.size) this.grow();
      i = this.rows++;
      this.rowOf[id] = i;
    }
    if (this.copied) this.copied.push(id);
    const cs = this.cols;
    cs.ids[i] = id;
    cs.af[i] = c.af[id];
    cs.proto[i] = c.proto[id];
    cs.state[i] = c.state[id];
    cs.oldState[i] = c.oldState[id];
    cs.flags[i] = c.flags[id];
    // word by word: no view object per conn
    for (let k = 0; k < 4; k++) {
      cs.caddr[i * 4 + k] = c.caddr[id * 4 + k];
      cs.vaddr[i * 4 + k] = c.vaddr[id * 4 + k];
      cs.daddr[i * 4 + k] = c.daddr[id * 4 + k];
    }
    cs.cport[i] = c.cport[id];
    cs.vport[i] = c.vport[id];
    cs.dport[i] = c.dport[id];
    cs.fwmark[i] = c.fwmark[id];
    cs.dest[i] = c.dest[id];
    // the controller's id: made a row index by finish
    cs.control[i] = c.control[id];
    cs.inPkts[i] = c.inPkts[id];
    cs.syncEnd[i] = c.syncEnd[id];
    cs.timeout[i] = c.timeout[id];
    cs.expires[i] = c.expires[id];
    cs.armed[i] = c.armed(id) ? 1 : 0;
    if (c.flags[id] & CONN_F_SYNPROXY) {
      // the proxy's numbers (its held data is not kept: the client sends it again)
      if (!this.sp) this.sp = new Uint32Array(this.size * 4);
      this.sp[i * 4] = c.spSeq[id];
      this.sp[i * 4 + 1] = c.spDelta[id];
      this.sp[i * 4 + 2] = c.spTs[id];
      this.sp[i * 4 + 3] = c.spInfo[id];
    }
    const ipvs = this.engine.ipvs;
    if (ipvs.appOf.size === 0 && ipvs.appData.size === 0 && ipvs.seqs.size === 0) return;
    const app = ipvs.appOf.get(id);
    const data = ipvs.appData.get(id);
    const seq = ipvs.seqs.get(id);
    if (app || data !== undefined || seq) {
      const a: AppConnState = { conn: id, app: app?.name ?? '' };
      if (data !== undefined) a.data = data;
      if (seq) a.seq = Array.from(seq);
      const own = app ? (app as AppStateHooks).saveConn?.(this.engine, id) : undefined;
      if (own !== undefined) a.own = own;
      this.apps.set(id, a);
    } else this.apps.delete(id);
  }

  private grow(): void {
    const n = this.size * 2;
    const cs = this.cols;
    for (const k of Object.keys(cs) as (keyof ConnsState)[]) {
      const v = cs[k];
      if (!ArrayBuffer.isView(v)) continue;
      const per = v.length / this.size;
      (cs as unknown as Record<string, Column>)[k] = grown(v as Column, n * per);
    }
    if (this.sp) this.sp = grown(this.sp, n * 4);
    this.size = n;
  }

  /**
   * The final delta and the whole state (see the class comment): call with the engine
   * still. Scans what is left first.
   */
  finish(): EngineState {
    this.settle();
    this.done = true;
    const n = this.rows;
    const cs = this.cols;
    // controllers' ids to row indices
    for (let i = 0; i < n; i++) {
      const ct = cs.control[i];
      cs.control[i] = ct >= 0 && ct < this.rowOf.length ? this.rowOf[ct] : -1;
    }
    return engineRest(
      this.engine,
      this.conns(n, (a) => a.subarray(0, n * (a.length / this.size)) as typeof a),
      this.appRows(n),
    );
  }

  /**
   * The bulk of a two-step hand-over: the whole state of this moment, like
   * {@link finish}, but the export goes on: from now on every conn reported is noted,
   * and {@link delta} (with the engine still) gives what changed since. The columns are
   * copied (the export keeps its own). Call between turns of the event loop.
   */
  bulk(): EngineState {
    this.settle();
    const n = this.rows;
    const cs = this.cols;
    const conns = this.conns(n, (a) => a.slice(0, n * (a.length / this.size)) as typeof a);
    for (let i = 0; i < n; i++) {
      const ct = conns.control[i];
      conns.control[i] = ct >= 0 && ct < this.rowOf.length ? this.rowOf[ct] : -1;
    }
    const sent = (this.sent = new Uint8Array(Math.max(this.c.cap, this.rowOf.length)));
    for (let i = 0; i < n; i++) sent[cs.ids[i]] = 1;
    return engineRest(this.engine, conns, this.appRows(n));
  }

  /**
   * What changed since {@link bulk} (call with the engine still, once): the conns
   * copied again (created, changed, or a freed id reused: `state.conns`, their old ids
   * in `ids`, their controllers' old ids in `controlIds`, `control` all -1), the ids the
   * bulk carried whose conns went (`gone`), and everything but the conns as of now.
   * Costs the conns reported plus a few passes over typed arrays.
   */
  delta(): EngineDelta {
    if (this.sent === null) throw new Error('delta before bulk');
    this.copied = [];
    const dropped = this.settle();
    const copied = this.copied;
    this.copied = null;
    this.done = true;
    const cs = this.cols;
    const rows: number[] = [];
    const seen = new Set<number>();
    for (const id of copied) {
      if (seen.has(id)) continue;
      seen.add(id);
      const i = this.rowOf[id];
      if (i >= 0) rows.push(i);
    }
    const m = rows.length;
    const pick = <T extends Column>(a: T): T => {
      const per = a.length / this.size;
      const b = new (a.constructor as new (n: number) => T)(m * per);
      for (let j = 0; j < m; j++) b.set(a.subarray(rows[j] * per, rows[j] * per + per), j * per);
      return b;
    };
    const conns = this.conns(m, pick);
    const controlIds = conns.control;
    conns.control = new Int32Array(m).fill(-1);
    const gone: number[] = [];
    for (const id of dropped)
      if (this.rowOf[id] < 0 && id < this.sent.length && this.sent[id]) gone.push(id);
    const apps: AppConnState[] = [];
    for (let j = 0; j < m; j++) {
      const a = this.apps.get(cs.ids[rows[j]]);
      if (a) apps.push({ ...a, conn: j });
    }
    return {
      state: engineRest(this.engine, conns, apps),
      controlIds,
      gone: Int32Array.from(new Set(gone)),
    };
  }

  /** The columns of `n` rows, each made by `cut`. */
  private conns(n: number, cut: <T extends Column>(a: T) => T): ConnsState & { ids: Int32Array } {
    const cs = this.cols;
    const conns: ConnsState & { ids: Int32Array } = {
      n,
      af: cut(cs.af),
      proto: cut(cs.proto),
      state: cut(cs.state),
      oldState: cut(cs.oldState),
      flags: cut(cs.flags),
      caddr: cut(cs.caddr),
      vaddr: cut(cs.vaddr),
      daddr: cut(cs.daddr),
      cport: cut(cs.cport),
      vport: cut(cs.vport),
      dport: cut(cs.dport),
      fwmark: cut(cs.fwmark),
      dest: cut(cs.dest),
      control: cut(cs.control),
      inPkts: cut(cs.inPkts),
      syncEnd: cut(cs.syncEnd),
      timeout: cut(cs.timeout),
      expires: cut(cs.expires),
      armed: cut(cs.armed),
      ids: cut(cs.ids),
    };
    if (this.sp) conns.sp = cut(this.sp);
    return conns;
  }

  /** The helpers' per-conn data of the first `n` rows (conn: the row). */
  private appRows(n: number): AppConnState[] {
    const apps: AppConnState[] = [];
    for (const [id, a] of this.apps) {
      const i = this.rowOf[id];
      if (i >= 0 && i < n) apps.push({ ...a, conn: i });
    }
    return apps;
  }

  /**
   * Brings the rows up to the table: scans what is left, copies again the conns
   * reported, drops those gone, checks that every row still is its conn (a freed id,
   * reused without an event, is copied again) and, should the count still differ,
   * scans the id space once more. Returns the ids whose rows were dropped.
   */
  private settle(): number[] {
    const c = this.c;
    while (!this.step(1 << 30));
    const goneRows: number[] = [];
    for (const id of this.dirtyList) {
      this.dirty[id] = 0;
      if (c.isLive(id)) this.copy(id);
      else if (this.rowOf[id] >= 0) goneRows.push(this.rowOf[id]);
    }
    this.dirtyList = [];
    const cs = this.cols;
    for (let i = 0; i < this.rows; i++) {
      const id = cs.ids[i];
      if (!c.isLive(id)) {
        if (this.rowOf[id] === i) goneRows.push(i);
        continue;
      }
      if (
        cs.cport[i] !== c.cport[id] ||
        cs.proto[i] !== c.proto[id] ||
        cs.vport[i] !== c.vport[id] ||
        cs.caddr[i * 4] !== c.caddr[id * 4] ||
        cs.caddr[i * 4 + 3] !== c.caddr[id * 4 + 3]
      )
        this.copy(id);
    }
    const dropped: number[] = [];
    if (goneRows.length) this.drop(goneRows, dropped);
    if (this.rows !== c.count) {
      // conns made without an event (sync backup, a helper): one more scan finds them
      for (const id of c.ids()) if (this.rowOf[id] < 0) this.copy(id);
      const stale: number[] = [];
      for (let i = 0; i < this.rows; i++) if (!c.isLive(cs.ids[i])) stale.push(i);
      if (stale.length) this.drop(stale, dropped);
    }
    return dropped;
  }

  /** Removes rows (conns that went): the last rows move into their places. */
  private drop(rows: number[], dropped: number[]): void {
    const cs = this.cols;
    const del = new Set(rows);
    for (const i of [...del].sort((a, b) => b - a)) {
      const last = this.rows - 1;
      const gone = cs.ids[i];
      dropped.push(gone);
      if (this.rowOf[gone] === i) this.rowOf[gone] = -1;
      if (i !== last) {
        for (const k of Object.keys(cs) as (keyof ConnsState)[]) {
          const v = cs[k];
          if (!ArrayBuffer.isView(v)) continue;
          const a = v as Column;
          const per = a.length / this.size;
          a.copyWithin(i * per, last * per, last * per + per);
        }
        if (this.sp) this.sp.copyWithin(i * 4, last * 4, last * 4 + 4);
        const moved = cs.ids[i];
        if (this.rowOf[moved] === last) this.rowOf[moved] = i;
      }
      this.rows--;
    }
  }
}

/**
 * What changed since a {@link StateExport.bulk} (see {@link StateExport.delta};
 * engine/state.ts StateImport applies it).
 */
export interface EngineDelta {
  state: EngineState;
  /** Per row of `state.conns`: its controller's id in the saved engine, or -1. */
  controlIds: Int32Array;
  /** Ids (in the saved engine) of conns the bulk carried that went since. */
  gone: Int32Array;
}

/** The state of `engine` as plain data (admin path: allocates; the engine is not changed). */
export function exportEngineState(engine: Engine): EngineState {
  return new StateExport(engine).finish();
}

/** Everything but the conns: services, real servers, schedulers, counters, defence. */
function engineRest(engine: Engine, cs: ConnsState, apps: AppConnState[]): EngineState {
  const ipvs = engine.ipvs;
  const appCounters: Record<string, Record<string, number>> = {};
  for (const a of ipvs.apps) {
    const cnt = (a as AppStateHooks).saveCounters?.();
    if (cnt) appCounters[a.name] = cnt;
  }
  const skip = schedSkip(ipvs);
  const services: ServiceState[] = ipvs.services.map((s) => ({
    key: keyOf(s),
    schedName: s.schedName,
    sched: s.scheduler ? encodeTree(s.scheduler, skip) : null,
    stats: statsOf(s.stats),
    dests: s.dests.map(destOf),
  }));
  const trash: TrashState[] = ipvs.trash.map((d) => ({ ...destOf(d), svc: keyOf(d.svc) }));
  const s = ipvs.settings;
  return {
    format: ENGINE_STATE_FORMAT,
    version: ENGINE_STATE_VERSION,
    savedAt: ipvs.now,
    services,
    trash,
    conns: cs,
    apps,
    appCounters,
    totals: statsOf(ipvs.totals),
    drops: ipvs.drops.slice(),
    defense: {
      dropRate: ipvs.dropRate,
      dropCounter: ipvs.dropCounter,
      dropEntryActive: ipvs.dropEntryActive,
      secureTable: ipvs.secureTable,
      todropCounter: ipvs.todropCounter.slice(),
      dropEntry: s.drop_entry,
      dropPacket: s.drop_packet,
      secureTcp: s.secure_tcp,
    },
    clock: {
      lastSecond: ipvs.lastSecond,
      lastEstimate: ipvs.lastEstimate,
      lastTrash: ipvs.lastTrash,
      ipId: ipvs.ipId,
    },
    spKeys: ipvs.sp.keys.save(),
  };
}
