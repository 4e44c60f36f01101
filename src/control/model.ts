/**
 * The control model: the one place where every admin command of tsvs is defined,
 * validated and applied to an {@link Engine}. tsvsadm, the JSON control API and the
 * configuration file are thin front ends over it, so a rule or an error message exists
 * once.
 *
 * Semantics follow the kernel's IPVS control plane (ipvsadm reference §5.3, §10): edit
 * commands replace every field (missing fields take the defaults of `engine/spec.ts`),
 * errors carry the kernel's errno and ipvsadm's wording (§9.3), and a refused command
 * leaves the configuration exactly as it was. The client-side checks ipvsadm performs
 * before it talks to the kernel (§3–§5) live in the tsvsadm parser, not here.
 *
 * The parts, one concept to a file: `validate.ts` (the range checks, done once),
 * `entries.ts` (what listings show), `daemons.ts` (sync daemon state), `snapshot.ts`
 * (the whole configuration), `error.ts` (the refusal). This module re-exports their
 * types, and the shapes of `engine/spec.ts`, for the front ends.
 */
import type { Engine, ServiceKey } from '../engine/engine.js';
import { IP_VS_VERSION_CODE, type AddressFamily } from '../engine/constants.js';
import type { IpvsOp } from '../engine/errors.js';
import type { Service } from '../engine/service.js';
import { getSetting, setSetting, SETTING_NAMES, type Settings } from '../engine/settings.js';
import {
  MAX_TIMEOUT,
  type DestId,
  type DestSpec,
  type ServiceId,
  type ServiceSpec,
  type Timeouts,
} from '../engine/spec.js';
import {
  checkSyncState,
  daemonEntry,
  type DaemonEntry,
  type DaemonSpec,
  type SyncState,
} from './daemons.js';
import {
  CONN_TAB_SIZE,
  connEntries,
  dumpOrder,
  serviceEntry,
  type ConnEntry,
  type Info,
  type ServiceEntry,
  type SysctlEntry,
} from './entries.js';
import { ControlError, guard } from './error.js';
import { applySnapshot, serviceConfig, type ConfigSnapshot } from './snapshot.js';
import {
  destId,
  destOptions,
  isInt,
  serviceKey,
  serviceOptions,
  sysctlName,
  SYSCTL_PREFIX,
} from './validate.js';

export type {
  DestId,
  DestSpec,
  FwdName,
  ServiceId,
  ServiceParams,
  ServiceSpec,
  Timeouts,
} from '../engine/spec.js';
export { FWD_NAMES, protoName } from '../engine/spec.js';
export type { DaemonEntry, DaemonSpec, SyncState } from './daemons.js';
export type { ConnEntry, DestEntry, Info, ServiceEntry, SysctlEntry } from './entries.js';
export { CONN_TAB_SIZE } from './entries.js';
export { ControlError, type ControlOp } from './error.js';
export {
  destConfig,
  serviceIdOf,
  type ConfigSnapshot,
  type DestConfig,
  type ServiceConfig,
} from './snapshot.js';

/** An address family (4 or 6). */
export type Family = AddressFamily;

/** Optional collaborators of the model (the sync module, the host's interfaces). */
export interface ModelOptions {
  /** Whether a network interface exists (for `--mcast-interface`); default /sys/class/net. */
  interfaceExists?: (name: string) => boolean;
  /** Called when a sync daemon starts or stops; throwing refuses the command. */
  sync?: {
    start(d: DaemonEntry): void;
    stop(state: SyncState): void;
  };
  /**
   * The daemon's own life cycle (daemon/takeover.ts): hand-over to a successor
   * (`tsvs daemon --takeover`) and a stop that removes everything (`--stop-clean`).
   */
  lifecycle?: {
    takeover(phase: string): unknown;
    stop(clean: boolean): void;
  };
  /**
   * Told of every command that changed the engine (after it did), with its arguments:
   * the data plane's other workers apply the same commands to their engines, in order
   * (daemon/workers.ts).
   */
  applied?: (cmd: EngineCommand, args: unknown[]) => void;
  /**
   * The other workers' shares of the flows: listings add their counters and
   * connections to this engine's (daemon/workers.ts).
   */
  shards?: {
    services(own: ServiceEntry[]): ServiceEntry[];
    connections(own: ConnEntry[]): ConnEntry[];
  };
}

/** The commands that change an engine (what {@link ModelOptions.applied} is told of). */
export type EngineCommand =
  | 'addService'
  | 'editService'
  | 'delService'
  | 'flush'
  | 'addDest'
  | 'editDest'
  | 'delDest'
  | 'zero'
  | 'setTimeouts'
  | 'sysctlSet';

/** Settings that re-run the defence update when written (kernel proc handlers). */
const DEFENSE_SETTINGS = new Set(['drop_entry', 'drop_packet', 'secure_tcp', 'amemthresh']);

/**
 * The single model of every admin command. Methods are synchronous and either apply
 * the whole command or throw a {@link ControlError} having changed nothing.
 */
export class ControlModel {
  readonly engine: Engine;
  /** Incremented by every configuration change (persistence watches it). */
  generation = 0;
  private readonly daemonMap = new Map<SyncState, DaemonEntry>();
  private readonly listeners = new Set<() => void>();
  private readonly opts: ModelOptions;
  private readonly initialSettings: Settings;

  constructor(engine: Engine, opts: ModelOptions = {}) {
    this.engine = engine;
    this.opts = opts;
    this.initialSettings = structuredClone(engine.settings);
  }

  /** The daemon's life-cycle hooks ({@link ModelOptions.lifecycle}); throws EOPNOTSUPP without. */
  lifecycle(): NonNullable<ModelOptions['lifecycle']> {
    if (!this.opts.lifecycle)
      throw new ControlError('request', 'EOPNOTSUPP', 'not served by a daemon');
    return this.opts.lifecycle;
  }

  /** Be told after every configuration change. Returns an unsubscribe function. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    this.generation++;
    for (const fn of this.listeners) fn();
  }

  // ---------------------------------------------------------------------------
  // Services and real servers

  /** ipvsadm -A. */
  addService(spec: ServiceSpec): void {
    const key = serviceKey(spec, 'add service');
    const opts = serviceOptions(spec, 'add service');
    guard(() => this.engine.addService(key, opts));
    this.opts.applied?.('addService', [spec]);
    this.changed();
  }

  /** ipvsadm -E: every field is replaced (reference §5.3). */
  editService(spec: ServiceSpec): void {
    const key = serviceKey(spec, 'edit service');
    const opts = serviceOptions(spec, 'edit service');
    this.lookup(key, 'edit service');
    guard(() => this.engine.editService(key, opts));
    this.opts.applied?.('editService', [spec]);
    this.changed();
  }

  /** ipvsadm -D. */
  delService(id: ServiceId): void {
    const key = serviceKey(id, 'delete service');
    this.lookup(key, 'delete service');
    guard(() => this.engine.delService(key));
    this.opts.applied?.('delService', [id]);
    this.changed();
  }

  /** ipvsadm -C. */
  flush(): void {
    this.engine.flush();
    this.opts.applied?.('flush', []);
    this.changed();
  }

  /** ipvsadm -a. */
  addDest(svc: ServiceId, dest: DestSpec): void {
    const key = serviceKey(svc, 'add dest');
    const s = this.lookup(key, 'add dest');
    const opts = destOptions(s, dest, 'add dest');
    guard(() => this.engine.addDest(key, opts));
    this.opts.applied?.('addDest', [svc, dest]);
    this.changed();
  }

  /** ipvsadm -e: every field is replaced. */
  editDest(svc: ServiceId, dest: DestSpec): void {
    const key = serviceKey(svc, 'edit dest');
    const s = this.lookup(key, 'edit dest');
    const opts = destOptions(s, dest, 'edit dest');
    guard(() => this.engine.editDest(key, opts));
    this.opts.applied?.('editDest', [svc, dest]);
    this.changed();
  }

  /** ipvsadm -d. */
  delDest(svc: ServiceId, dest: DestId): void {
    const key = serviceKey(svc, 'delete dest');
    this.lookup(key, 'delete dest');
    const d = destId(dest, 'delete dest');
    guard(() => this.engine.delDest(key, d.addr, d.port));
    this.opts.applied?.('delDest', [svc, dest]);
    this.changed();
  }

  /** ipvsadm -Z [service]: counters are not configuration, so no change is recorded. */
  zero(svc?: ServiceId): void {
    if (svc === undefined) {
      this.engine.zero();
      this.opts.applied?.('zero', []);
      return;
    }
    const key = serviceKey(svc, 'zero service');
    this.lookup(key, 'zero service');
    guard(() => this.engine.zero(key));
    this.opts.applied?.('zero', [svc]);
  }

  /** ipvsadm --set: 0 leaves a timeout unchanged. */
  setTimeouts(t: Partial<Timeouts>): void {
    const op = 'set timeout';
    // like every other wrong-typed field: a number, a string, an array, an empty object
    // or an unknown key is refused, never taken as "nothing to change"
    if (t === null || typeof t !== 'object' || Array.isArray(t))
      throw new ControlError(op, 'EINVAL', undefined, 'timeouts is not an object');
    const keys = Object.keys(t);
    const bad = keys.find((k) => k !== 'tcp' && k !== 'tcpfin' && k !== 'udp');
    if (bad !== undefined)
      throw new ControlError(op, 'EINVAL', undefined, `unknown timeout ${bad}`);
    if (keys.length === 0) throw new ControlError(op, 'EINVAL', undefined, 'no timeout given');
    const v: Partial<Timeouts> = {};
    for (const k of ['tcp', 'tcpfin', 'udp'] as const) {
      const x = t[k];
      if (x === undefined) continue;
      if (!isInt(x, 0, MAX_TIMEOUT))
        throw new ControlError(op, 'EINVAL', undefined, `${k} ${String(x)}`);
      v[k] = x;
    }
    guard(() => this.engine.setTimeouts(v));
    this.opts.applied?.('setTimeouts', [t]);
    this.changed();
  }

  getTimeouts(): Timeouts {
    return this.engine.getTimeouts();
  }

  // ---------------------------------------------------------------------------
  // Sync daemons (the state; the sync module does the work through `opts.sync`)

  /** ipvsadm --start-daemon. */
  startDaemon(spec: DaemonSpec): void {
    const d = daemonEntry(
      spec,
      this.daemonMap.has(spec.state),
      this.engine.services,
      this.opts.interfaceExists,
    );
    if (this.opts.sync) guard(() => this.opts.sync!.start({ ...d }), 'start daemon');
    this.daemonMap.set(spec.state, d);
    this.changed();
  }

  /** ipvsadm --stop-daemon. */
  stopDaemon(state: SyncState): void {
    const op = 'stop daemon';
    checkSyncState(op, state);
    if (!this.daemonMap.has(state)) throw new ControlError(op, 'ESRCH');
    if (this.opts.sync) guard(() => this.opts.sync!.stop(state), op);
    this.daemonMap.delete(state);
    this.changed();
  }

  /** Running daemons, master first (ipvsadm -L --daemon). */
  daemons(): DaemonEntry[] {
    const out: DaemonEntry[] = [];
    for (const s of ['master', 'backup'] as const) {
      const d = this.daemonMap.get(s);
      if (d) out.push({ ...d });
    }
    return out;
  }

  // ---------------------------------------------------------------------------
  // Views

  info(): Info {
    const v = IP_VS_VERSION_CODE;
    return {
      versionCode: v,
      version: `${(v >> 16) & 255}.${(v >> 8) & 255}.${v & 255}`,
      connTabSize: CONN_TAB_SIZE,
    };
  }

  /**
   * Every service in the kernel's dump order (address services, then fwmark
   * services; hash bucket by bucket, the newest first in a bucket: `dumpOrder`),
   * dests most recent first.
   */
  services(): ServiceEntry[] {
    const own = dumpOrder(this.engine.services).map(serviceEntry);
    return this.opts.shards ? this.opts.shards.services(own) : own;
  }

  /** One service (ipvsadm -L -t ...). */
  service(id: ServiceId): ServiceEntry {
    const key = serviceKey(id, 'get service');
    const own = serviceEntry(this.lookup(key, 'get service'));
    return this.opts.shards ? this.opts.shards.services([own])[0] : own;
  }

  /** Every connection and template, as /proc/net/ip_vs_conn lists them. */
  connections(): ConnEntry[] {
    const own = connEntries(this.engine);
    return this.opts.shards ? this.opts.shards.connections(own) : own;
  }

  // ---------------------------------------------------------------------------
  // sysctl (net.ipv4.vs.*)

  /** One setting, or all of them in the kernel's order when `name` is absent. */
  sysctlGet(name?: string): SysctlEntry[] {
    if (name === undefined)
      return SETTING_NAMES.map((n) => ({
        name: SYSCTL_PREFIX + n,
        value: getSetting(this.engine.settings, n),
      }));
    const n = sysctlName(name);
    return [{ name: SYSCTL_PREFIX + n, value: getSetting(this.engine.settings, n) }];
  }

  /** Write a setting as `sysctl -w` would; the value is unchanged on error. */
  sysctlSet(name: string, value: string): SysctlEntry {
    const n = sysctlName(name);
    if (typeof value !== 'string') throw new ControlError('sysctl', 'EINVAL', 'Invalid argument');
    const err = setSetting(this.engine.settings, n, value);
    if (err !== null) throw new ControlError('sysctl', 'EINVAL', 'Invalid argument', err);
    if (DEFENSE_SETTINGS.has(n)) this.engine.updateDefense();
    this.opts.applied?.('sysctlSet', [name, value]);
    this.changed();
    return { name: SYSCTL_PREFIX + n, value: getSetting(this.engine.settings, n) };
  }

  // ---------------------------------------------------------------------------
  // Whole configuration (persistence)

  /** The whole configuration, as `persist.ts` saves it. */
  snapshot(): ConfigSnapshot {
    const sysctl: Record<string, string> = {};
    for (const n of SETTING_NAMES) {
      const v = getSetting(this.engine.settings, n);
      if (v !== getSetting(this.initialSettings, n)) sysctl[n] = v;
    }
    return {
      // in the order added, so a restore adds them in the same order again
      services: this.engine.services.map((s) => serviceConfig(serviceEntry(s))),
      timeouts: this.getTimeouts(),
      sysctl,
      daemons: this.daemons(),
    };
  }

  /**
   * Apply a saved configuration on top of the current one, item by item; an item
   * that is refused is reported and skipped (see {@link applySnapshot}).
   */
  applySnapshot(snap: ConfigSnapshot): string[] {
    return applySnapshot(this, snap);
  }

  private lookup(key: ServiceKey, op: IpvsOp): Service {
    const s = this.engine.findService(key);
    // the kernel also answers ESRCH when the protocol of a fwmark service differs
    if (!s || s.protocol !== key.protocol) throw new ControlError(op, 'ESRCH');
    return s;
  }
}
