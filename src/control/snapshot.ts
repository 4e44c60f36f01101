/**
 * The whole configuration as one value (what `persist.ts` writes and reads back): every
 * service with its real servers, every field filled in, the timeouts, the settings
 * that differ from the defaults and the sync daemons — and how a saved one is applied
 * again, item by item.
 */
import type { DestSpec, ServiceId, ServiceSpec, Timeouts } from '../engine/spec.js';
import type { DaemonEntry } from './daemons.js';
import type { ServiceEntry } from './entries.js';
import { ControlError } from './error.js';
import { describeId, SVC_USER_FLAGS } from './validate.js';

/** A real server with every field written out. */
export type DestConfig = Required<DestSpec>;

/** A service with every field written out (the netmask as a number). */
export type ServiceConfig = Required<Omit<ServiceSpec, 'netmask'>> & { netmask: number };

/** The persistent configuration (what `persist.ts` writes). */
export interface ConfigSnapshot {
  services: (ServiceConfig & { dests: DestConfig[] })[];
  timeouts: Timeouts;
  /** Every setting whose value differs from the engine's at start-up default. */
  sysctl: Record<string, string>;
  daemons: DaemonEntry[];
}

/** What applying a snapshot needs of the model. */
export interface SnapshotTarget {
  sysctlSet(name: string, value: string): unknown;
  setTimeouts(t: Partial<Timeouts>): void;
  addService(spec: ServiceSpec): void;
  addDest(svc: ServiceId, dest: DestSpec): void;
  startDaemon(d: DaemonEntry): void;
}

/**
 * The id of a service written out in full: its fwmark, or protocol + address + port
 * (the fields an id of the other kind does not carry are left out).
 */
export function serviceIdOf(s: Required<ServiceId>): ServiceId {
  return s.fwmark !== 0
    ? { af: s.af, protocol: s.protocol, fwmark: s.fwmark }
    : { af: s.af, protocol: s.protocol, addr: s.addr, port: s.port };
}

/** A listed service as saved: user flags only, dests as listed (most recent first). */
export function serviceConfig(s: ServiceEntry): ServiceConfig & { dests: DestConfig[] } {
  return {
    af: s.af,
    protocol: s.protocol,
    addr: s.addr,
    port: s.port,
    fwmark: s.fwmark,
    scheduler: s.scheduler,
    flags: s.flags & SVC_USER_FLAGS,
    timeout: s.timeout,
    netmask: s.netmask,
    pe: s.pe,
    dests: s.dests.map(destConfig),
  };
}

/** Just the fields of a real server (of a listing entry or a parsed command line). */
export function destConfig(d: DestConfig): DestConfig {
  return {
    addr: d.addr,
    port: d.port,
    fwd: d.fwd,
    weight: d.weight,
    uThreshold: d.uThreshold,
    lThreshold: d.lThreshold,
    tunType: d.tunType,
    tunPort: d.tunPort,
    tunFlags: d.tunFlags,
  };
}

/**
 * Apply a saved configuration on top of the current one, item by item; an item
 * that is refused is reported and skipped. Dests are added oldest first so that the
 * list order (which breaks scheduler ties) is what it was when saved.
 */
export function applySnapshot(m: SnapshotTarget, snap: ConfigSnapshot): string[] {
  const errors: string[] = [];
  const attempt = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      const ce = ControlError.from(e);
      errors.push(`${what}: ${ce.message}${ce.detail ? ` (${ce.detail})` : ''}`);
    }
  };
  for (const [n, v] of Object.entries(snap.sysctl ?? {}))
    attempt(`sysctl ${n}`, () => m.sysctlSet(n, v));
  if (snap.timeouts) attempt('timeouts', () => m.setTimeouts(snap.timeouts));
  for (const s of snap.services ?? []) {
    const { dests, ...spec } = s;
    const id = serviceIdOf(spec);
    attempt(`service ${describeId(id)}`, () => m.addService({ ...spec, ...id }));
    for (const d of [...(dests ?? [])].reverse())
      attempt(`real server ${d.addr}:${d.port}`, () => m.addDest(id, d));
  }
  for (const d of snap.daemons ?? []) attempt(`${d.state} daemon`, () => m.startDaemon(d));
  return errors;
}
