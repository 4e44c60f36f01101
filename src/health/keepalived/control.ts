/**
 * A keepalived virtual server in the control model's shapes (engine/spec.ts): the IPVS
 * services it stands for (one, or one per address and fwmark of its
 * virtual_server_group, as keepalived's ipvs_group_cmd programs them), and a real (or
 * sorry) server as the model takes it for each of them — the one place keepalived's
 * names (NAT/DR/TUN, tunnel types, scheduler flags, persistence) become the model's.
 */
import { SVC_F_ONEPACKET, SVC_F_PERSISTENT } from '../../engine/constants.js';
import { parseSchedFlags } from '../../engine/sched/flags.js';
import {
  protoName,
  TUN_TYPE_NAMES,
  type DestSpec,
  type ServiceId,
  type ServiceSpec,
} from '../../engine/spec.js';
import { rangeAddrs } from './group.js';
import type { KaMethod, KaRealServer, KaTunCsum, KaTunType, KaVirtualServer } from './types.js';
import { hostPort } from './values.js';

/** One IPVS service of a virtual server; `port` is the port non-NAT real servers take. */
export interface KaService {
  id: ServiceId;
  spec: ServiceSpec;
  /** The port a DR/TUN real server gets on this service (the service's; 0 for fwmark). */
  port: number;
}

/** What a real or sorry server carries into a dest. */
export interface KaServer {
  addr: string;
  port: number;
  method: KaMethod;
  tunType?: KaTunType;
  tunPort?: number;
  tunCsum?: KaTunCsum;
  uThreshold?: number;
  lThreshold?: number;
}

/**
 * A virtual server as logs and the notify FIFO name it, in keepalived's format_vs:
 * `[10.0.0.1]:tcp:80`, `FWM 7`, `[GROUP]:N` (N its place among the group's users).
 */
export function serviceLabel(vs: KaVirtualServer): string {
  if (vs.kind === 'group') return `[${vs.group ?? ''}]:${vs.groupMember ?? 0}`;
  if (vs.kind === 'fwmark') return `FWM ${vs.fwmark}`;
  return `[${vs.addr}]:${protoName(vs.protocol).toLowerCase()}:${vs.port}`;
}

/** A real server as keepalived's format_rs names it: `[10.0.1.1]:tcp:80` (`none` on fwmark services). */
export function serverLabel(vs: KaVirtualServer, addr: string, port: number): string {
  const proto =
    vs.kind === 'fwmark' ||
    (vs.kind === 'group' && !vs.groupEntries?.some((e) => e.kind === 'range'))
      ? 'none'
      : protoName(vs.protocol).toLowerCase();
  return `[${addr}]:${proto}:${port}`;
}

/** The parameters shared by every service of a virtual server (persistence, one-packet, flags). */
function params(vs: KaVirtualServer, grouped: boolean): Omit<ServiceSpec, keyof ServiceId> {
  const spec: Omit<ServiceSpec, keyof ServiceId> = { scheduler: vs.scheduler, flags: 0 };
  let flags = 0;
  if (vs.persistenceTimeout !== undefined) {
    flags |= SVC_F_PERSISTENT;
    spec.timeout = vs.persistenceTimeout;
    // keepalived programs group services with a full netmask (ipvs_group_range_cmd)
    if (vs.persistenceGranularity !== undefined && !grouped)
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

/** Every IPVS service of `vs`, in keepalived's order (a group's addresses, then its fwmarks). */
export function servicesOf(vs: KaVirtualServer): KaService[] {
  if (vs.kind === 'addr') {
    const id: ServiceId = { af: vs.af, protocol: vs.protocol, addr: vs.addr, port: vs.port };
    return [{ id, spec: { ...id, ...params(vs, false) }, port: vs.port }];
  }
  if (vs.kind === 'fwmark') {
    const id: ServiceId = { af: vs.af, protocol: vs.protocol, fwmark: vs.fwmark };
    return [{ id, spec: { ...id, ...params(vs, false) }, port: 0 }];
  }
  const out: KaService[] = [];
  const p = params(vs, true);
  for (const e of vs.groupEntries ?? []) {
    if (e.kind !== 'range') continue;
    for (const addr of rangeAddrs(e)) {
      const id: ServiceId = { af: e.af, protocol: vs.protocol, addr, port: e.port };
      out.push({ id, spec: { ...id, ...p }, port: e.port });
    }
  }
  for (const e of vs.groupEntries ?? []) {
    if (e.kind !== 'fwmark') continue;
    // the fwmark's own family, else the virtual server's (keepalived defaults to IPv4)
    const id: ServiceId = { af: e.af ?? vs.af, protocol: 6, fwmark: e.fwmark };
    out.push({ id, spec: { ...id, ...p }, port: 0 });
  }
  return out;
}

/** The whole service of a single (non-group) virtual server. */
export function serviceSpecOf(vs: KaVirtualServer): ServiceSpec {
  return servicesOf(vs)[0].spec;
}

/** `srv` as a dest of `svc` at `weight`, with keepalived's port rule (non-NAT takes the service's). */
export function destOf(svc: KaService, srv: KaServer, weight: number): DestSpec {
  const port = srv.method === 'masq' ? srv.port : svc.port;
  const d: DestSpec = { addr: srv.addr, port, fwd: srv.method, weight };
  if (srv.uThreshold) d.uThreshold = srv.uThreshold;
  if (srv.lThreshold) d.lThreshold = srv.lThreshold;
  if (srv.method === 'tunnel') {
    d.tunType = TUN_TYPE_NAMES.indexOf(srv.tunType ?? 'ipip');
    if (srv.tunPort) d.tunPort = srv.tunPort;
    const csum = srv.tunCsum === 'csum' ? 1 : srv.tunCsum === 'remcsum' ? 2 : 0;
    if (csum) d.tunFlags = csum;
  }
  return d;
}

/**
 * A real server (`rs`) or, without it, the sorry server of a single (non-group) virtual
 * server as a dest at `weight`. A group's real servers are one dest per service:
 * {@link servicesOf} and {@link destOf}.
 */
export function destSpecOf(
  vs: KaVirtualServer,
  addr: string,
  port: number,
  weight: number,
  rs?: KaRealServer,
): DestSpec {
  const srv: KaServer = rs ?? { ...(vs.sorryServer ?? { method: vs.method }), addr, port };
  return destOf(servicesOf(vs)[0], { ...srv, addr, port }, weight);
}

/** The sorry server of `vs` as a {@link KaServer} (its method, else the service's). */
export function sorryServerOf(vs: KaVirtualServer): KaServer | undefined {
  const s = vs.sorryServer;
  if (!s) return undefined;
  return { ...s };
}

/** `addr:port` for messages. */
export { hostPort };

/**
 * Every service of `vs` with each real server at its configured weight and the sorry
 * server at weight 0 as dests: what a dry run (a configuration check) adds to a scratch
 * model to see that the kernel rules accept the whole virtual server.
 */
export function servicesWithDests(vs: KaVirtualServer): { svc: KaService; dests: DestSpec[] }[] {
  const sorry = sorryServerOf(vs);
  return servicesOf(vs).map((svc) => {
    const dests = vs.realServers.map((rs) => destOf(svc, rs, rs.weight));
    const s = sorry && destOf(svc, sorry, 0);
    // a sorry server that is also a real server is that real server (keepalived)
    if (s && !dests.some((d) => d.addr === s.addr && d.port === s.port)) dests.push(s);
    return { svc, dests };
  });
}
