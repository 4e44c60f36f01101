/**
 * The virtual_server block (spec §2): the address/port or fwmark header and every
 * keyword of the block, as written; its real servers are read by `real-server.ts`,
 * and the whole is checked and defaulted by `validate.ts`. Scheduler names are the
 * engine's scheduler registry's.
 */
import '../../engine/sched/index.js';
import { findScheduler } from '../../engine/sched/registry.js';
import { IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP } from '../../engine/constants.js';
import { MAX_TIMEOUT, protoName, SERVICE_DEFAULTS } from '../../engine/spec.js';
import { expand, type Node, type Problems } from './lexer.js';
import { CHECKERS, UNSUPPORTED_CHECKERS } from './checker.js';
import { parseRealServer, type RawRealServer } from './real-server.js';
import { refusal, VS_KEYWORDS } from './keywords.js';
import {
  addrPort,
  boolArg,
  INT_MAX,
  intArg,
  intOf,
  isNetmask4,
  methodArg,
  noBlock,
  scriptArg,
  strArg,
  timerKeyword,
  UINT_MAX,
  unknown,
  type MethodSpec,
  type Timers,
} from './values.js';
import type { KaScript } from './types.js';

const VS_KEYS = new Set([...Object.keys(VS_KEYWORDS), 'include']);

export interface RawVirtualServer {
  kind: 'addr' | 'fwmark' | 'group';
  group?: string;
  addr: string;
  port: number;
  fwmark: number;
  af?: 4 | 6;
  line: number;
  scheduler?: string;
  method?: MethodSpec;
  protocol?: number;
  ipFamily?: 4 | 6;
  persistenceTimeout?: number;
  persistenceGranularity?: string;
  persistenceGranularityLine: number;
  persistenceEngine?: string;
  ops: boolean;
  schedFlags: string[];
  t: Timers;
  inhibit: boolean;
  haSuspend: boolean;
  omega: boolean;
  quorumUp?: KaScript;
  quorumDown?: KaScript;
  quorum: number;
  hysteresis: number;
  sorry?: { addr: string; port: number; portWritten: boolean; af: 4 | 6; line: number };
  sorryInhibit: boolean;
  sorryMethod?: MethodSpec;
  virtualhost?: string;
  weight: number;
  realServers: RawRealServer[];
  invalid: boolean;
}

/** The protocols a virtual service may have, by keepalived's (and the kernel's) names. */
const PROTOCOLS: ReadonlyMap<string, number> = new Map(
  [IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP].map((p) => [protoName(p), p]),
);

/**
 * A virtual_server block as written, or undefined when it is unusable (reported);
 * `resolveVirtualServer` applies the load-time checks and defaults.
 */
export function parseVirtualServer(n: Node, p: Problems): RawVirtualServer | undefined {
  const w = n.words.map((x) => x.v);
  let raw: RawVirtualServer;
  const base = {
    line: n.line,
    persistenceGranularityLine: n.line,
    ops: false,
    schedFlags: [],
    t: {},
    inhibit: false,
    haSuspend: false,
    omega: false,
    quorum: 1,
    hysteresis: 0,
    sorryInhibit: false,
    weight: 1,
    realServers: [],
    invalid: false,
  };
  if (w[1] === 'group') {
    if (w[2] === undefined) {
      p.error(n.line, 'virtual_server group: missing group name, block skipped');
      return undefined;
    }
    if (w.length > 3) p.warn(n.line, 'virtual_server: extra arguments ignored');
    raw = { ...base, kind: 'group', group: w[2], addr: '', port: 0, fwmark: 0 };
  } else if (w[1] === 'fwmark') {
    const mark = intOf(w[2], 1, UINT_MAX);
    if (mark === undefined) {
      p.error(n.line, `virtual_server: invalid fwmark '${w[2] ?? ''}', block skipped`);
      return undefined;
    }
    if (w.length > 3) p.warn(n.line, 'virtual_server: extra arguments ignored');
    raw = { ...base, kind: 'fwmark', addr: '', port: 0, fwmark: mark };
  } else {
    const ap = addrPort(n, 1);
    if (typeof ap === 'string') {
      p.error(n.line, `virtual_server: ${ap}, block skipped`);
      return undefined;
    }
    if (w.length > 3) p.warn(n.line, 'virtual_server: extra arguments ignored');
    raw = { ...base, kind: 'addr', addr: ap.addr, port: ap.port, fwmark: 0, af: ap.af };
  }

  for (const s of expand(n.children, VS_KEYS)) {
    if (!s.words.length) continue;
    const kw = s.words[0].v;
    if (!VS_KEYS.has(kw) || kw === 'include') {
      if (CHECKERS.has(kw) || UNSUPPORTED_CHECKERS.has(kw))
        p.warn(s.line, `${kw} outside a real_server, ignored`);
      else unknown(s, p, 'virtual_server');
      continue;
    }
    if (kw === 'real_server') {
      const rs = parseRealServer(s, p);
      if (rs) raw.realServers.push(rs);
      continue;
    }
    const refused = refusal(kw, VS_KEYWORDS[kw]);
    if (refused) {
      p.warn(s.line, refused);
      continue;
    }
    noBlock(s, p);
    if (timerKeyword(kw, s, p, raw.t)) continue;
    switchVsKeyword(kw, s, raw, p);
  }
  return raw.invalid ? undefined : raw;
}

function switchVsKeyword(kw: string, s: Node, raw: RawVirtualServer, p: Problems): void {
  const arg = s.words[1]?.v;
  switch (kw) {
    case 'lvs_sched':
    case 'lb_algo':
      if (arg !== undefined && findScheduler(arg) !== undefined) raw.scheduler = arg;
      else {
        p.error(s.line, `Invalid lvs_scheduler '${arg ?? ''}', virtual_server skipped`);
        raw.invalid = true;
      }
      break;
    case 'lvs_method':
    case 'lb_kind':
      raw.method = methodArg(s, p) ?? raw.method;
      break;
    case 'protocol': {
      const proto = arg === undefined ? undefined : PROTOCOLS.get(arg.toUpperCase());
      if (proto === undefined) p.warn(s.line, `protocol: invalid protocol '${arg ?? ''}', ignored`);
      else if (raw.kind === 'fwmark') p.warn(s.line, 'protocol is ignored for a fwmark service');
      // a group's protocol applies to its addresses (its fwmarks ignore it)
      else raw.protocol = proto;
      break;
    }
    case 'persistence_timeout':
      if (s.words.length < 2) raw.persistenceTimeout = SERVICE_DEFAULTS.persistentTimeout;
      else raw.persistenceTimeout = intArg(s, p, 1, MAX_TIMEOUT) ?? raw.persistenceTimeout;
      break;
    case 'persistence_granularity':
      if (arg !== undefined && (isNetmask4(arg) || intOf(arg, 1, 128) !== undefined)) {
        raw.persistenceGranularity = arg;
        raw.persistenceGranularityLine = s.line;
      } else p.warn(s.line, `persistence_granularity: invalid value '${arg ?? ''}', ignored`);
      break;
    case 'persistence_engine':
      raw.persistenceEngine = strArg(s, p) ?? raw.persistenceEngine;
      break;
    case 'ops':
      raw.ops = boolArg(s, p) ?? raw.ops;
      break;
    case 'hashed':
      // keepalived registers it and sets nothing; outside sh/mh it says so
      if (raw.scheduler !== 'sh' && raw.scheduler !== 'mh')
        p.warn(s.line, 'hashed only applies to sh scheduler - ignoring');
      break;
    case 'flag-1':
    case 'flag-2':
    case 'flag-3':
    case 'sh-port':
    case 'sh-fallback':
    case 'mh-port':
    case 'mh-fallback': {
      const on = boolArg(s, p);
      if (on === undefined) break;
      const need = kw.startsWith('sh-') ? 'sh' : kw.startsWith('mh-') ? 'mh' : undefined;
      if (need && raw.scheduler !== need) {
        p.warn(s.line, `${kw} requires 'lvs_sched ${need}' earlier in the block, ignored`);
        break;
      }
      raw.schedFlags = raw.schedFlags.filter((f) => f !== kw);
      if (on) raw.schedFlags.push(kw);
      break;
    }
    case 'ip_family':
      if (arg === 'inet') raw.ipFamily = 4;
      else if (arg === 'inet6') raw.ipFamily = 6;
      else p.warn(s.line, `ip_family: invalid value '${arg ?? ''}', ignored`);
      break;
    case 'inhibit_on_failure':
      raw.inhibit = boolArg(s, p) ?? raw.inhibit;
      break;
    case 'ha_suspend':
      raw.haSuspend = boolArg(s, p) ?? raw.haSuspend;
      break;
    case 'quorum':
      raw.quorum = intArg(s, p, 1, INT_MAX) ?? raw.quorum;
      break;
    case 'hysteresis':
      raw.hysteresis = intArg(s, p, 0, INT_MAX) ?? raw.hysteresis;
      break;
    case 'sorry_server': {
      const ap = addrPort(s, 1);
      if (typeof ap === 'string') p.warn(s.line, `sorry_server: ${ap}, ignored`);
      else raw.sorry = { ...ap, line: s.line };
      break;
    }
    case 'sorry_server_inhibit':
      raw.sorryInhibit = boolArg(s, p) ?? raw.sorryInhibit;
      break;
    case 'sorry_server_lvs_method':
      raw.sorryMethod = methodArg(s, p) ?? raw.sorryMethod;
      break;
    case 'virtualhost':
      raw.virtualhost = strArg(s, p) ?? raw.virtualhost;
      break;
    case 'weight':
      raw.weight = intArg(s, p, 1, INT_MAX) ?? raw.weight;
      break;
    case 'omega':
      raw.omega = true;
      break;
    case 'quorum_up':
    case 'quorum_down': {
      const k = kw === 'quorum_up' ? 'quorumUp' : 'quorumDown';
      if (raw[k]) p.warn(s.line, `${kw} script already specified - ignoring ${arg ?? ''}`);
      else raw[k] = scriptArg(s, p);
      break;
    }
  }
}

/** The load-time checks and defaults of spec §2.2/§3 (warnings at the block's line). */
