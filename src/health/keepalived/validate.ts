/**
 * keepalived's load-time checks and defaults of a virtual server (spec §2.2/§3):
 * scheduler, method and protocol defaults, the address family, ops and persistence
 * rules, real-server ports by method, duplicates, quorum and hysteresis, the checkers'
 * timers resolved down the cascade, the sorry server. Warnings at the block's line.
 */
import { IPPROTO_TCP, IPPROTO_UDP } from '../../engine/constants.js';
import { SERVICE_DEFAULTS } from '../../engine/spec.js';
import type { KaGroup, KaMethod, KaRealServer, KaVirtualServer } from './types.js';
import { resolveCheckers } from './checker.js';
import type { Problems } from './lexer.js';
import type { RawVirtualServer } from './virtual-server.js';
import { addrKey, hostPort, intOf, isNetmask4, tunFields } from './values.js';

export function resolveVirtualServer(
  raw: RawVirtualServer,
  p: Problems,
  groups: ReadonlyMap<string, KaGroup> = new Map(),
): KaVirtualServer | undefined {
  const line = raw.line;
  const name =
    raw.kind === 'fwmark'
      ? `fwmark ${raw.fwmark}`
      : raw.kind === 'group'
        ? `group ${raw.group ?? ''}`
        : hostPort(raw.addr, raw.port);
  const group = raw.kind === 'group' ? groups.get(raw.group ?? '') : undefined;
  if (raw.kind === 'group' && !group) {
    p.warn(
      line,
      `Virtual server group ${raw.group ?? ''} specified but not configured - ignoring virtual server ${name}`,
    );
    return undefined;
  }
  const groupRanges = group?.entries.some((e) => e.kind === 'range') ?? false;
  const groupMarks = group?.entries.some((e) => e.kind === 'fwmark') ?? false;
  let scheduler = raw.scheduler;
  if (scheduler === undefined) {
    scheduler = SERVICE_DEFAULTS.scheduler;
    p.warn(line, `no scheduler set, setting default '${scheduler}'`);
  }
  let vsMethod = raw.method;
  if (vsMethod === undefined) {
    p.warn(line, 'no forwarding method set, setting default NAT');
    vsMethod = { method: 'masq' };
  }
  let protocol: number;
  if (raw.kind === 'fwmark' || (group && !groupRanges)) {
    if (group && raw.protocol !== undefined)
      p.warn(
        line,
        `Virtual server ${name}: protocol specified for fwmark - protocol will be ignored`,
      );
    protocol = IPPROTO_TCP;
  } else if (raw.protocol === undefined) {
    p.warn(line, 'no protocol set - defaulting to UDP');
    protocol = IPPROTO_UDP;
  } else protocol = raw.protocol;

  // address family: the address's, else ip_family, else the real servers'
  let af: 4 | 6;
  if (raw.af !== undefined) {
    if (raw.ipFamily !== undefined && raw.ipFamily !== raw.af)
      p.warn(line, `ip_family does not match the address of virtual server ${name}, ignored`);
    af = raw.af;
  } else {
    const direct = raw.realServers.find((r) => (r.method ?? vsMethod).method !== 'tunnel');
    af = raw.ipFamily ?? direct?.af ?? raw.realServers[0]?.af ?? 4;
  }
  if (group) {
    // keepalived's link_vsg_to_vs: the group's family must agree with the servers'
    const v4 = group.entries.some((e) => e.af === 4);
    const v6 = group.entries.some((e) => e.af === 6);
    const fromServers =
      raw.ipFamily ?? raw.realServers.find((r) => (r.method ?? vsMethod).method !== 'tunnel')?.af;
    if (v4 && v6 && fromServers !== undefined) {
      p.warn(
        line,
        `${raw.group}: virtual server group with IPv4 & IPv6 doesn't match virtual server ${name} - ignoring`,
      );
      return undefined;
    }
    if ((v4 && fromServers === 6) || (v6 && fromServers === 4)) {
      p.warn(line, `${raw.group}: address family doesn't match virtual server ${name} - ignoring`);
      return undefined;
    }
    if (v4 !== v6) af = v4 ? 4 : 6;
  }

  let ops = raw.ops;
  if (ops && (raw.kind === 'addr' || groupRanges) && protocol !== IPPROTO_UDP) {
    p.warn(line, `ops is only for UDP services, reset for virtual server ${name}`);
    ops = false;
  }

  let granularity = raw.persistenceGranularity;
  if (granularity !== undefined) {
    const ok = af === 4 ? isNetmask4(granularity) : intOf(granularity, 1, 128) !== undefined;
    if (!ok) {
      p.warn(
        raw.persistenceGranularityLine,
        `persistence_granularity '${granularity}' does not suit an IPv${af} service, ignored`,
      );
      granularity = undefined;
    }
  }
  if (group && granularity !== undefined) {
    // keepalived programs each group address with a full netmask (ipvs_group_range_cmd)
    p.warn(
      raw.persistenceGranularityLine,
      `persistence_granularity is not applied to the services of virtual_server_group ${raw.group ?? ''} (keepalived programs them with a full netmask), ignored`,
    );
    granularity = undefined;
  }
  let timeout = raw.persistenceTimeout;
  const persistentTimeout = SERVICE_DEFAULTS.persistentTimeout;
  if (granularity !== undefined && timeout === undefined) timeout = persistentTimeout;
  if (raw.kind === 'addr' && raw.port === 0 && timeout === undefined) {
    p.warn(
      line,
      `virtual server ${name}: zero port specified for non-persistent service, setting persistence_timeout ${persistentTimeout}`,
    );
    timeout = persistentTimeout;
  }
  if (
    group &&
    timeout === undefined &&
    group.entries.some((e) => e.kind === 'range' && e.port === 0)
  ) {
    p.warn(
      line,
      `Virtual server ${name}: zero port only valid for persistent services - setting persistence_timeout ${persistentTimeout}`,
    );
    timeout = persistentTimeout;
  }

  let haSuspend = raw.haSuspend;
  if (haSuspend && (raw.kind === 'fwmark' || groupMarks)) {
    p.warn(line, `ha_suspend is not allowed on fwmark service ${name}, cleared`);
    haSuspend = false;
  }

  /** The real-server port a method allows (spec §3 port handling). */
  const portFor = (
    what: string,
    r: { addr: string; port: number; portWritten: boolean; line: number },
    m: KaMethod,
  ): number => {
    // a group's entries have their own ports: the port is chosen per service (control.ts)
    if (raw.kind === 'group') {
      if (m !== 'masq' && r.port !== 0) {
        if (groupMarks)
          p.warn(r.line, `${what} ${r.addr}: port ${r.port} ignored on the fwmarks of ${name}`);
        const other = group?.entries.find((e) => e.kind === 'range' && e.port !== r.port);
        if (other)
          p.warn(
            r.line,
            `${what} ${r.addr}: port ${r.port} ignored, non-NAT uses each address's port in ${name}`,
          );
      }
      return r.port;
    }
    if (raw.kind === 'addr') {
      if (m !== 'masq') {
        if (r.portWritten && r.port !== 0 && r.port !== raw.port)
          p.warn(
            r.line,
            `${what} ${r.addr}: port ${r.port} ignored, non-NAT uses the virtual port ${raw.port}`,
          );
        return raw.port;
      }
      // as ipvsadm: no port means the service's port
      return r.port === 0 ? raw.port : r.port;
    }
    if (m !== 'masq') {
      if (r.port !== 0)
        p.warn(r.line, `${what} ${r.addr}: port ${r.port} ignored for a non-NAT fwmark service`);
      return 0;
    }
    return r.port;
  };

  const realServers: KaRealServer[] = [];
  const seen = new Set<string>();
  for (const r of raw.realServers) {
    const m = r.method ?? vsMethod;
    if (r.af !== af && m.method !== 'tunnel') {
      p.warn(
        r.line,
        `real server ${r.addr} is not of the address family of virtual server ${name}, skipped`,
      );
      continue;
    }
    const port = portFor('real server', r, m.method);
    const key = `${addrKey(r.addr)}|${port}`;
    if (seen.has(key)) {
      p.warn(
        r.line,
        `duplicate real server ${hostPort(r.addr, port)} in virtual server ${name}, removed`,
      );
      continue;
    }
    seen.add(key);
    const checkers = r.checkers.flatMap((c) =>
      resolveCheckers(c, r.t, raw.t, r.virtualhost ?? raw.virtualhost, r.addr),
    );
    const rs: KaRealServer = {
      addr: r.addr,
      port,
      weight: r.weight ?? raw.weight,
      method: m.method,
      ...tunFields(m),
      uThreshold: r.uThreshold,
      lThreshold: r.lThreshold,
      inhibitOnFailure: r.inhibit ?? raw.inhibit,
      alpha: r.t.alpha ?? raw.t.alpha ?? false,
      checkers,
      unusableCheckers: r.unusableCheckers,
      line: r.line,
    };
    if (r.notifyUp !== undefined) rs.notifyUp = r.notifyUp;
    if (r.notifyDown !== undefined) rs.notifyDown = r.notifyDown;
    realServers.push(rs);
  }
  if (realServers.length === 0) {
    p.warn(line, `virtual server ${name} has no real servers, ignored`);
    return undefined;
  }

  const total = realServers.reduce((a, r) => a + r.weight, 0);
  let quorum = raw.quorum;
  if (quorum > total) {
    const q = Math.max(1, total);
    if (q !== quorum)
      p.warn(
        line,
        `virtual server ${name}: quorum ${quorum} is more than the total weight ${total}, set to ${q}`,
      );
    quorum = q;
  }
  let hysteresis = raw.hysteresis;
  if (hysteresis >= quorum) {
    p.warn(
      line,
      `virtual server ${name}: hysteresis ${hysteresis} must be below quorum ${quorum}, set to ${quorum - 1}`,
    );
    hysteresis = quorum - 1;
  }

  const vs: KaVirtualServer = {
    kind: raw.kind,
    af,
    protocol,
    addr: raw.addr,
    port: raw.port,
    fwmark: raw.fwmark,
    scheduler,
    method: vsMethod.method,
    ops,
    schedFlags: raw.schedFlags,
    quorum,
    hysteresis,
    sorryServerInhibit: raw.sorryInhibit,
    inhibitOnFailure: raw.inhibit,
    alpha: raw.t.alpha ?? false,
    haSuspend,
    omega: raw.omega,
    delayLoop: raw.t.delayLoop ?? 60,
    connectTimeout: raw.t.connectTimeout ?? 5,
    retry: raw.t.retry ?? 1,
    realServers,
    line,
  };
  if (timeout !== undefined) {
    vs.persistenceTimeout = timeout;
    if (granularity !== undefined) vs.persistenceGranularity = granularity;
    if (raw.persistenceEngine !== undefined) vs.persistenceEngine = raw.persistenceEngine;
  } else if (raw.persistenceEngine !== undefined) {
    p.warn(line, `persistence_engine without persistence in virtual server ${name}, ignored`);
  }
  if (group) {
    vs.group = group.name;
    vs.groupEntries = group.entries;
  }
  if (raw.quorumUp) vs.quorumUp = raw.quorumUp;
  if (raw.quorumDown) vs.quorumDown = raw.quorumDown;
  if (raw.t.delayBeforeRetry !== undefined) vs.delayBeforeRetry = raw.t.delayBeforeRetry;
  if (raw.virtualhost !== undefined) vs.virtualhost = raw.virtualhost;
  if (raw.sorry) {
    const s = raw.sorry;
    const m = raw.sorryMethod ?? vsMethod;
    if (s.af !== af && m.method !== 'tunnel')
      p.warn(
        s.line,
        `sorry_server ${s.addr} is not of the address family of virtual server ${name}, ignored`,
      );
    else
      vs.sorryServer = {
        addr: s.addr,
        port: portFor('sorry_server', s, m.method),
        method: m.method,
        ...tunFields(m),
      };
  }
  return vs;
}
