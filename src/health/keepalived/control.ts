/**
 * A keepalived virtual server in the control model's shapes (engine/spec.ts): the
 * service id and parameters, and a real (or sorry) server as the model takes it —
 * the one place keepalived's names (NAT/DR/TUN, tunnel types, scheduler flags,
 * persistence) become the model's.
 */
import { SVC_F_ONEPACKET, SVC_F_PERSISTENT } from '../../engine/constants.js';
import { parseSchedFlags } from '../../engine/sched/flags.js';
import { serviceIdOf } from '../../control/model.js';
import { protoName, TUN_TYPE_NAMES, type DestSpec, type ServiceSpec } from '../../engine/spec.js';
import type { KaRealServer, KaVirtualServer } from './types.js';
import { hostPort } from './values.js';

/** A virtual server as logs and metrics name it: `TCP 10.0.0.1:80`, `FWM 7`. */
export function serviceLabel(vs: KaVirtualServer): string {
  if (vs.kind === 'fwmark') return `FWM ${vs.fwmark}`;
  return `${protoName(vs.protocol)} ${hostPort(vs.addr, vs.port)}`;
}

/** The whole service of a virtual server (persistence, one-packet, scheduler flags). */
export function serviceSpecOf(vs: KaVirtualServer): ServiceSpec {
  const spec: ServiceSpec = { ...serviceIdOf(vs), scheduler: vs.scheduler, flags: 0 };
  let flags = 0;
  if (vs.persistenceTimeout !== undefined) {
    flags |= SVC_F_PERSISTENT;
    spec.timeout = vs.persistenceTimeout;
    if (vs.persistenceGranularity !== undefined)
      spec.netmask = /^\d+$/.test(vs.persistenceGranularity)
        ? Number(vs.persistenceGranularity)
        : vs.persistenceGranularity;
    if (vs.persistenceEngine) spec.pe = vs.persistenceEngine;
  }
  if (vs.ops) flags |= SVC_F_ONEPACKET;
  // the reader has checked the names (and that sh-/mh- flags go with their scheduler)
  for (const f of vs.schedFlags) flags |= parseSchedFlags(f);
  spec.flags = flags;
  return spec;
}

/**
 * A real server of `vs` at `weight`: with `rs` its own method, thresholds and tunnel;
 * without, the sorry server (the sorry server's method, else the service's).
 */
export function destSpecOf(
  vs: KaVirtualServer,
  addr: string,
  port: number,
  weight: number,
  rs?: KaRealServer,
): DestSpec {
  const method = rs?.method ?? vs.sorryServer?.method ?? vs.method;
  const d: DestSpec = { addr, port, fwd: method, weight };
  if (rs) {
    d.uThreshold = rs.uThreshold;
    d.lThreshold = rs.lThreshold;
    if (rs.tunType) d.tunType = TUN_TYPE_NAMES.indexOf(rs.tunType);
    if (rs.tunPort) d.tunPort = rs.tunPort;
  }
  return d;
}
