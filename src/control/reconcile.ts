/**
 * Bringing a running configuration to a wanted one by its difference, as an operator
 * would with `ipvsadm -A/-E/-D/-a/-e/-d`: services and real servers that are the same
 * in both are not touched (so they keep their connections, scheduler state, templates
 * and counters), changed ones are edited in place, missing ones are added, extra ones
 * deleted (a deleted real server follows the kernel's rules: it goes to the trash
 * while connections use it, expire_nodest_conn applies). What reload and the
 * roll-back of a change that could not be saved use.
 *
 * Both sides are {@link ConfigSnapshot}s taken from a model, so addresses are already
 * canonical and every field is filled in.
 */
import { defaultSettings, getSetting, SETTING_NAMES, type Settings } from '../engine/settings.js';
import type { DaemonEntry } from './daemons.js';
import { ControlError } from './error.js';
import type { ControlModel } from './model.js';
import {
  serviceIdOf,
  type ConfigSnapshot,
  type DestConfig,
  type ServiceConfig,
} from './snapshot.js';
import { describeId } from './validate.js';

/** Which parts of the configuration a wanted configuration governs. */
export interface ReconcileScope {
  /** Services and their real servers. */
  services: boolean;
  /** The TCP/TCPFIN/UDP timeouts. */
  timeouts: boolean;
  /** `net.ipv4.vs.*` settings (a setting absent from the wanted one goes back to its default). */
  sysctl: boolean;
  /** The sync daemons. */
  daemons: boolean;
  /** Services left alone whatever the wanted configuration says (owned by someone else). */
  keep?: (s: ServiceConfig) => boolean;
}

/** Everything: what a whole saved configuration governs. */
export const WHOLE_CONFIG: ReconcileScope = {
  services: true,
  timeouts: true,
  sysctl: true,
  daemons: true,
};

type Svc = ServiceConfig & { dests: DestConfig[] };

/** The identity of a service (what `ipvsadm -E` cannot change). */
export function serviceKeyOf(
  s: Pick<ServiceConfig, 'af' | 'protocol' | 'addr' | 'port' | 'fwmark'>,
): string {
  return s.fwmark !== 0
    ? `${s.af}|fwm|${s.fwmark}|${s.protocol}`
    : `${s.af}|${s.protocol}|${s.addr}|${s.port}`;
}

function destKey(d: DestConfig): string {
  return `${d.addr}|${d.port}`;
}

function sameService(a: ServiceConfig, b: ServiceConfig): boolean {
  return (
    a.scheduler === b.scheduler &&
    a.flags === b.flags &&
    a.timeout === b.timeout &&
    a.netmask === b.netmask &&
    a.pe === b.pe
  );
}

function sameDest(a: DestConfig, b: DestConfig): boolean {
  return (
    a.fwd === b.fwd &&
    a.weight === b.weight &&
    a.uThreshold === b.uThreshold &&
    a.lThreshold === b.lThreshold &&
    a.tunType === b.tunType &&
    a.tunPort === b.tunPort &&
    a.tunFlags === b.tunFlags
  );
}

function sameDaemon(a: DaemonEntry, b: DaemonEntry): boolean {
  return (
    a.mcastIfn === b.mcastIfn &&
    a.syncId === b.syncId &&
    a.maxLen === b.maxLen &&
    a.mcastGroup === b.mcastGroup &&
    a.mcastPort === b.mcastPort &&
    a.mcastTtl === b.mcastTtl
  );
}

function destLabel(d: DestConfig): string {
  return d.addr.includes(':') ? `[${d.addr}]:${d.port}` : `${d.addr}:${d.port}`;
}

/** A service's own fields, without its real servers. */
function svcSpec(s: Svc): ServiceConfig {
  return {
    af: s.af,
    protocol: s.protocol,
    addr: s.addr,
    port: s.port,
    fwmark: s.fwmark,
    scheduler: s.scheduler,
    flags: s.flags,
    timeout: s.timeout,
    netmask: s.netmask,
    pe: s.pe,
  };
}

/**
 * Change `model` so that the parts of its configuration in `scope` equal `want`,
 * touching only what differs. Returns one line per change made (empty: nothing
 * differed). Throws the first {@link ControlError} a step meets, with the steps before
 * it applied: use {@link reconcileOrRollBack} for all or nothing.
 */
export function reconcile(
  model: ControlModel,
  want: ConfigSnapshot,
  scope: ReconcileScope,
): string[] {
  const have = model.snapshot();
  const done: string[] = [];
  if (scope.sysctl) {
    const defaults: Settings = defaultSettings();
    for (const n of SETTING_NAMES) {
      const w = want.sysctl[n] ?? getSetting(defaults, n);
      const h = have.sysctl[n] ?? getSetting(defaults, n);
      if (w === h) continue;
      model.sysctlSet(n, w);
      done.push(`sysctl ${n} = ${w}`);
    }
  }
  if (scope.timeouts) {
    const t = want.timeouts;
    const h = have.timeouts;
    if (t.tcp !== h.tcp || t.tcpfin !== h.tcpfin || t.udp !== h.udp) {
      model.setTimeouts(t);
      done.push(`timeouts tcp ${t.tcp} tcpfin ${t.tcpfin} udp ${t.udp}`);
    }
  }
  if (scope.services) {
    const keep = scope.keep ?? (() => false);
    const wanted = new Map<string, Svc>();
    for (const s of want.services) if (!keep(s)) wanted.set(serviceKeyOf(s), s);
    const current = new Map<string, Svc>();
    for (const s of have.services) if (!keep(s)) current.set(serviceKeyOf(s), s);
    for (const [k, s] of current) {
      if (wanted.has(k)) continue;
      model.delService(serviceIdOf(s));
      done.push(`service ${describeId(s)} deleted`);
    }
    for (const [k, w] of wanted) {
      const h = current.get(k);
      const id = serviceIdOf(w);
      if (!h) {
        model.addService(svcSpec(w));
        done.push(`service ${describeId(w)} added (${w.scheduler})`);
        // listed most recent first: add oldest first to keep the scheduler's order
        for (const d of [...w.dests].reverse()) {
          model.addDest(id, d);
          done.push(`real server ${destLabel(d)} of ${describeId(w)} added`);
        }
        continue;
      }
      if (!sameService(w, h)) {
        model.editService(svcSpec(w));
        done.push(`service ${describeId(w)} edited (${w.scheduler})`);
      }
      const hd = new Map(h.dests.map((d) => [destKey(d), d]));
      const wd = new Set(w.dests.map(destKey));
      for (const d of h.dests) {
        if (wd.has(destKey(d))) continue;
        model.delDest(id, { addr: d.addr, port: d.port });
        done.push(`real server ${destLabel(d)} of ${describeId(w)} deleted`);
      }
      for (const d of [...w.dests].reverse()) {
        const old = hd.get(destKey(d));
        if (!old) {
          model.addDest(id, d);
          done.push(`real server ${destLabel(d)} of ${describeId(w)} added`);
        } else if (!sameDest(d, old)) {
          model.editDest(id, d);
          done.push(`real server ${destLabel(d)} of ${describeId(w)} edited (weight ${d.weight})`);
        }
      }
    }
  }
  if (scope.daemons) {
    for (const state of ['master', 'backup'] as const) {
      const w = want.daemons.find((d) => d.state === state);
      const h = have.daemons.find((d) => d.state === state);
      if (w && h && sameDaemon(w, h)) continue;
      if (h) {
        model.stopDaemon(state);
        done.push(`sync ${state} stopped`);
      }
      if (w) {
        model.startDaemon(w);
        done.push(`sync ${state} started on ${w.mcastIfn}`);
      }
    }
  }
  return done;
}

/**
 * {@link reconcile}, all or nothing: when a step is refused, the configuration is
 * brought back to what it was (by the same difference) and the refusal is thrown.
 */
export function reconcileOrRollBack(
  model: ControlModel,
  want: ConfigSnapshot,
  scope: ReconcileScope,
): string[] {
  const before = model.snapshot();
  try {
    return reconcile(model, want, scope);
  } catch (e) {
    try {
      reconcile(model, before, scope);
    } catch {
      // the way back met a refusal too: report the first one
    }
    throw ControlError.from(e);
  }
}
