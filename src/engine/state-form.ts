/**
 * The saved form of the engine's run-time state (see state.ts): its types, version and
 * the check every state passes before anything is restored from it.
 *
 * @module
 */
import { CONN_F_TEMPLATE, type AddressFamily } from './constants.js';
import type { Engine } from './engine.js';
import { protoGet } from './proto/index.js';
import { Stats } from './stats.js';
import type { StateTree } from './state-tree.js';

/** Name written in every state. */
export const ENGINE_STATE_FORMAT = 'tsvs-engine-state';
/** Version of the form; a state of another version is refused. */
export const ENGINE_STATE_VERSION = 1;

/** A state that cannot be restored: the message says which part and why. */
export class StateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateError';
  }
}

/** A service's key as saved. */
export interface ServiceKeyState {
  af: AddressFamily;
  protocol: number;
  /** Address words (4, host order). */
  addr: Uint32Array;
  port: number;
  fwmark: number;
}

/** Counters and estimator of a Stats block, by field name. */
export type StatsState = Record<string, number>;

/** One real server: its key, run-time state and (for the trash) its parameters. */
export interface DestState {
  /** Its id in the saved engine (conns refer to it). */
  id: number;
  af: AddressFamily;
  addr: Uint32Array;
  port: number;
  connFlags: number;
  weight: number;
  lastWeight: number;
  uThreshold: number;
  lThreshold: number;
  flags: number;
  tunType: number;
  tunPort: number;
  tunFlags: number;
  idleSince: number;
  stats: StatsState;
}

/** One service: key, scheduler, counters and real servers in list order. */
export interface ServiceState {
  key: ServiceKeyState;
  schedName: string;
  /** The scheduler's own state (null: none saved). */
  sched: StateTree;
  stats: StatsState;
  dests: DestState[];
}

/** A real server in the trash, with the key of the service it belonged to. */
export interface TrashState extends DestState {
  svc: ServiceKeyState;
}

/** The conn table, one column per field, conns in saved-id order. */
export interface ConnsState {
  n: number;
  af: Uint8Array;
  proto: Uint8Array;
  state: Uint8Array;
  oldState: Uint8Array;
  flags: Uint32Array;
  /** 4 words per conn. */
  caddr: Uint32Array;
  vaddr: Uint32Array;
  daddr: Uint32Array;
  cport: Uint16Array;
  vport: Uint16Array;
  dport: Uint16Array;
  fwmark: Uint32Array;
  /** Saved dest id, -1 none. */
  dest: Int32Array;
  /** Index (in this table) of the controlling conn, -1 none. */
  control: Int32Array;
  inPkts: Uint32Array;
  syncEnd: Uint32Array;
  timeout: Uint32Array;
  expires: Float64Array;
  /** 1 when the conn's timer was pending. */
  armed: Uint8Array;
  /** The conns' ids in the saved engine (the journal's records name conns by id). */
  ids?: Int32Array;
  /**
   * The SYN proxy's per-conn numbers (4 words a conn: client ISN, delta, timestamp
   * offset, options), present when a proxied conn was saved (synproxy.ts).
   */
  sp?: Uint32Array;
}

/** A helper's data for one conn. */
export interface AppConnState {
  /** Index of the conn in {@link ConnsState}. */
  conn: number;
  app: string;
  data?: number;
  /** in: init, delta, previous delta; out: the same. */
  seq?: number[];
  /** The helper's own per-conn state ({@link AppStateHooks}). */
  own?: number;
}

/** What a helper may add to save and restore its own state (FTP: the last rewritten reply). */
export interface AppStateHooks {
  /** Per-conn state of the helper's own, as a number (undefined: none). */
  saveConn?(eng: Engine, conn: number): number | undefined;
  restoreConn?(eng: Engine, conn: number, v: number): void;
  /** Counters of the helper. */
  saveCounters?(): Record<string, number>;
  restoreCounters?(c: Record<string, number>): void;
}

/** The whole run-time state of an engine. */
export interface EngineState {
  format: typeof ENGINE_STATE_FORMAT;
  version: number;
  /** Engine clock when saved (ms). */
  savedAt: number;
  services: ServiceState[];
  trash: TrashState[];
  conns: ConnsState;
  apps: AppConnState[];
  appCounters: Record<string, Record<string, number>>;
  totals: StatsState;
  drops: Float64Array;
  defense: {
    dropRate: number;
    dropCounter: number;
    dropEntryActive: boolean;
    secureTable: boolean;
    todropCounter: Int32Array;
    /** The automatic modes' current step (1 or 2) of drop_entry, drop_packet, secure_tcp. */
    dropEntry: number;
    dropPacket: number;
    secureTcp: number;
  };
  clock: { lastSecond: number; lastEstimate: number; lastTrash: number; ipId: number };
  /**
   * The SYN proxy's cookie secrets (4 words): a cookie one daemon sent is checked by
   * the next one (a hand-over, a restart). Absent in states of earlier versions.
   */
  spKeys?: Int32Array;
}

/** Counters and estimator of a Stats block, by field name. */
export function statsOf(st: Stats): StatsState {
  const out: StatsState = {};
  for (const [k, v] of Object.entries(st)) if (typeof v === 'number') out[k] = v;
  return out;
}

// ---------------------------------------------------------------------------
// Validation

export function fail(what: string): never {
  throw new StateError(what);
}

export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown, what: string, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    fail(`${what}: not a number in range`);
  return v;
}

function typed<T>(v: unknown, ctor: new (n: number) => T, len: number, what: string): T {
  if (!(v instanceof ctor)) fail(`${what}: not a ${ctor.name}`);
  if ((v as unknown as { length: number }).length !== len)
    fail(`${what}: ${(v as unknown as { length: number }).length} entries, expected ${len}`);
  return v;
}

function checkStats(v: unknown, what: string): StatsState {
  if (!isObj(v)) fail(`${what}: not an object`);
  const fresh = statsOf(new Stats());
  for (const k of Object.keys(fresh)) num(v[k], `${what}.${k}`);
  return v as StatsState;
}

function checkKey(v: unknown, what: string): ServiceKeyState {
  if (!isObj(v)) fail(`${what}: not an object`);
  if (v.af !== 4 && v.af !== 6) fail(`${what}.af: not 4 or 6`);
  num(v.protocol, `${what}.protocol`, 0, 255);
  typed(v.addr, Uint32Array, 4, `${what}.addr`);
  num(v.port, `${what}.port`, 0, 65535);
  num(v.fwmark, `${what}.fwmark`, 0, 0xffffffff);
  return v as unknown as ServiceKeyState;
}

function checkDest(v: unknown, what: string): DestState {
  if (!isObj(v)) fail(`${what}: not an object`);
  num(v.id, `${what}.id`, 0, 1 << 30);
  if (v.af !== 4 && v.af !== 6) fail(`${what}.af: not 4 or 6`);
  typed(v.addr, Uint32Array, 4, `${what}.addr`);
  num(v.port, `${what}.port`, 0, 65535);
  for (const k of [
    'connFlags',
    'weight',
    'lastWeight',
    'uThreshold',
    'lThreshold',
    'flags',
    'tunType',
    'tunPort',
    'tunFlags',
    'idleSince',
  ])
    num(v[k], `${what}.${k}`);
  checkStats(v.stats, `${what}.stats`);
  return v as unknown as DestState;
}

/**
 * Checks the shape and ranges of a state (the references between its parts included);
 * throws a {@link StateError} naming the first problem.
 */
export function validateEngineState(v: unknown): EngineState {
  if (!isObj(v)) fail('not an object');
  if (v.format !== ENGINE_STATE_FORMAT) fail(`format: not ${ENGINE_STATE_FORMAT}`);
  if (v.version !== ENGINE_STATE_VERSION)
    fail(`version ${String(v.version)}: this tsvs reads version ${ENGINE_STATE_VERSION}`);
  num(v.savedAt, 'savedAt');
  if (!Array.isArray(v.services)) fail('services: not a list');
  const destIds = new Set<number>();
  const addDestId = (id: number, what: string): void => {
    if (destIds.has(id)) fail(`${what}: real server #${id} saved twice`);
    destIds.add(id);
  };
  v.services.forEach((s: unknown, i: number) => {
    const w = `services[${i}]`;
    if (!isObj(s)) fail(`${w}: not an object`);
    checkKey(s.key, `${w}.key`);
    if (typeof s.schedName !== 'string') fail(`${w}.schedName: not a string`);
    checkStats(s.stats, `${w}.stats`);
    if (!Array.isArray(s.dests)) fail(`${w}.dests: not a list`);
    s.dests.forEach((d: unknown, j: number) => addDestId(checkDest(d, `${w}.dests[${j}]`).id, w));
  });
  if (!Array.isArray(v.trash)) fail('trash: not a list');
  v.trash.forEach((d: unknown, i: number) => {
    const t = checkDest(d, `trash[${i}]`) as TrashState;
    checkKey(t.svc, `trash[${i}].svc`);
    addDestId(t.id, `trash[${i}]`);
  });
  const c = v.conns;
  if (!isObj(c)) fail('conns: not an object');
  const n = num(c.n, 'conns.n', 0, 1 << 28);
  const cols: [string, new (n: number) => unknown, number][] = [
    ['af', Uint8Array, 1],
    ['proto', Uint8Array, 1],
    ['state', Uint8Array, 1],
    ['oldState', Uint8Array, 1],
    ['flags', Uint32Array, 1],
    ['caddr', Uint32Array, 4],
    ['vaddr', Uint32Array, 4],
    ['daddr', Uint32Array, 4],
    ['cport', Uint16Array, 1],
    ['vport', Uint16Array, 1],
    ['dport', Uint16Array, 1],
    ['fwmark', Uint32Array, 1],
    ['dest', Int32Array, 1],
    ['control', Int32Array, 1],
    ['inPkts', Uint32Array, 1],
    ['syncEnd', Uint32Array, 1],
    ['timeout', Uint32Array, 1],
    ['expires', Float64Array, 1],
    ['armed', Uint8Array, 1],
  ];
  for (const [k, ctor, per] of cols) typed(c[k], ctor, n * per, `conns.${k}`);
  if (c.ids !== undefined) typed(c.ids, Int32Array, n, 'conns.ids');
  if (c.sp !== undefined) typed(c.sp, Uint32Array, n * 4, 'conns.sp');
  const cc = c as unknown as ConnsState;
  for (let i = 0; i < n; i++) {
    if (cc.af[i] !== 4 && cc.af[i] !== 6) fail(`conns[${i}].af: not 4 or 6`);
    if (!(cc.flags[i] & CONN_F_TEMPLATE)) {
      // the packet path indexes its state tables with these
      const pp = protoGet(cc.proto[i]);
      if (pp === null) fail(`conns[${i}].proto: ${cc.proto[i]} is not a protocol of IPVS`);
      if (cc.state[i] >= pp.numStates || cc.oldState[i] >= pp.numStates)
        fail(`conns[${i}].state: ${cc.state[i]} is not a state of ${pp.name}`);
    }
    if (cc.dest[i] !== -1 && !destIds.has(cc.dest[i]))
      fail(`conns[${i}].dest: real server #${cc.dest[i]} not saved`);
    const ct = cc.control[i];
    if (ct < -1 || ct >= n || ct === i) fail(`conns[${i}].control: no conn ${ct}`);
    if (!Number.isFinite(cc.expires[i])) fail(`conns[${i}].expires: not a time`);
  }
  // a control chain must end (no loops)
  for (let i = 0; i < n; i++) {
    let k = 0;
    for (let ct = cc.control[i]; ct >= 0; ct = cc.control[ct])
      if (++k > 16) fail(`conns[${i}].control: a loop`);
  }
  if (!Array.isArray(v.apps)) fail('apps: not a list');
  v.apps.forEach((a: unknown, i: number) => {
    if (!isObj(a)) fail(`apps[${i}]: not an object`);
    num(a.conn, `apps[${i}].conn`, 0, n - 1);
    if (typeof a.app !== 'string') fail(`apps[${i}].app: not a string`);
    if (a.data !== undefined) num(a.data, `apps[${i}].data`);
    if (a.own !== undefined) num(a.own, `apps[${i}].own`);
    if (a.seq !== undefined) {
      if (!Array.isArray(a.seq) || a.seq.length !== 6) fail(`apps[${i}].seq: not 6 numbers`);
      a.seq.forEach((x: unknown, j: number) => num(x, `apps[${i}].seq[${j}]`, 0, 0xffffffff));
    }
  });
  if (!isObj(v.appCounters)) fail('appCounters: not an object');
  checkStats(v.totals, 'totals');
  if (!(v.drops instanceof Float64Array)) fail('drops: not a Float64Array');
  const df = v.defense;
  if (!isObj(df)) fail('defense: not an object');
  for (const k of ['dropRate', 'dropCounter', 'dropEntry', 'dropPacket', 'secureTcp'])
    num(df[k], `defense.${k}`);
  if (typeof df.dropEntryActive !== 'boolean' || typeof df.secureTable !== 'boolean')
    fail('defense: flags not booleans');
  typed(df.todropCounter, Int32Array, 9, 'defense.todropCounter');
  const ck = v.clock;
  if (!isObj(ck)) fail('clock: not an object');
  for (const k of ['lastSecond', 'lastEstimate', 'lastTrash', 'ipId']) num(ck[k], `clock.${k}`);
  if (v.spKeys !== undefined) typed(v.spKeys, Int32Array, 4, 'spKeys');
  return v as unknown as EngineState;
}
