/**
 * The sync daemons' part of the model (ipvsadm --start-daemon / --stop-daemon): their
 * parameters, the kernel's defaults for them and the checks the kernel makes before
 * one starts. The sync module does the work; the model keeps the state.
 */
import { existsSync } from 'node:fs';
import type { Service } from '../engine/service.js';
import { ControlError } from './error.js';
import { isInt, isMulticast } from './validate.js';

/** A sync daemon's role. */
export type SyncState = 'master' | 'backup';

/** `--start-daemon` parameters; absent numbers mean "kernel default". */
export interface DaemonSpec {
  state: SyncState;
  /** Multicast interface (default eth0). */
  mcastIfn?: string;
  syncId?: number;
  maxLen?: number;
  /** IPv4 or IPv6 multicast group. */
  mcastGroup?: string;
  mcastPort?: number;
  mcastTtl?: number;
}

/** A running sync daemon, with the defaults filled in as modern kernels report them. */
export interface DaemonEntry {
  state: SyncState;
  mcastIfn: string;
  syncId: number;
  maxLen: number;
  mcastGroup: string;
  mcastPort: number;
  mcastTtl: number;
}

/** The kernel's defaults for what `--start-daemon` leaves out (ipvsadm's eth0 too). */
export const DAEMON_DEFAULTS = {
  mcastIfn: 'eth0',
  maxLen: 1472,
  mcastGroup: '224.0.0.81',
  mcastPort: 8848,
  mcastTtl: 1,
} as const;

/** The refusal of a state that is neither master nor backup. */
export function checkSyncState(op: 'start daemon' | 'stop daemon', state: unknown): void {
  if (state !== 'master' && state !== 'backup')
    throw new ControlError(op, 'EINVAL', undefined, `state ${String(state)}`);
}

/**
 * A daemon `spec` checked as the kernel checks it, with the defaults filled in, or the
 * errno it refuses it with (in the kernel's order: state, already running, parameters,
 * mixed-family real servers, then the interface).
 */
export function daemonEntry(
  spec: DaemonSpec,
  running: boolean,
  services: readonly Service[],
  interfaceExists: (name: string) => boolean = (n) => existsSync(`/sys/class/net/${n}`),
): DaemonEntry {
  const op = 'start daemon';
  checkSyncState(op, spec.state);
  if (running) throw new ControlError(op, 'EEXIST');
  const ifn = spec.mcastIfn ?? DAEMON_DEFAULTS.mcastIfn;
  if (typeof ifn !== 'string' || ifn === '' || ifn.length > 15 || /[/\s]/.test(ifn))
    throw new ControlError(op, 'EINVAL', undefined, `interface ${ifn}`);
  const num = (v: number | undefined, max: number, name: string): number => {
    if (v === undefined) return 0;
    if (!isInt(v, 0, max)) throw new ControlError(op, 'EINVAL', undefined, `${name} ${v}`);
    return v;
  };
  const syncId = num(spec.syncId, 255, 'syncid');
  const maxLen = num(spec.maxLen, 65507, 'maxlen');
  const port = num(spec.mcastPort, 65535, 'port');
  const ttl = num(spec.mcastTtl, 255, 'ttl');
  let group: string = DAEMON_DEFAULTS.mcastGroup;
  if (spec.mcastGroup !== undefined && spec.mcastGroup !== '') {
    if (!isMulticast(spec.mcastGroup))
      throw new ControlError(op, 'EINVAL', undefined, `group ${spec.mcastGroup}`);
    group = spec.mcastGroup;
  }
  // the kernel refuses to sync while a service has a real server of the other family
  for (const s of services)
    if (s.dests.some((d) => d.af !== s.af))
      throw new ControlError(op, 'EINVAL', undefined, 'mixed-family real servers');
  if (!interfaceExists(ifn)) throw new ControlError(op, 'ENODEV', undefined, `interface ${ifn}`);
  return {
    state: spec.state,
    mcastIfn: ifn,
    syncId,
    maxLen: maxLen || DAEMON_DEFAULTS.maxLen,
    mcastGroup: group,
    mcastPort: port || DAEMON_DEFAULTS.mcastPort,
    mcastTtl: ttl || DAEMON_DEFAULTS.mcastTtl,
  };
}
