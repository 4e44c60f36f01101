/**
 * The real_server block of a virtual_server (spec §3): address, port, weight, method,
 * thresholds, inhibit_on_failure, notify scripts, timers and checkers, as written —
 * the defaults and checks of the service come in `validate.ts`.
 */
import { expand, type Node, type Problems } from './lexer.js';
import {
  CHECKERS,
  looksLikeChecker,
  parseChecker,
  UNSUPPORTED_CHECKERS,
  type RawChecker,
} from './checker.js';
import {
  addrPort,
  boolArg,
  INT_MAX,
  intArg,
  methodArg,
  noBlock,
  strArg,
  timerKeyword,
  TIMER_KEYS,
  UINT_MAX,
  unknown,
  type MethodSpec,
  type Timers,
} from './values.js';

const RS_KEYS = new Set([
  'weight',
  'lvs_method',
  'lb_kind',
  'uthreshold',
  'lthreshold',
  'inhibit_on_failure',
  'notify_up',
  'notify_down',
  'alpha',
  ...TIMER_KEYS,
  'smtp_alert',
  'virtualhost',
  'snmp_name',
  'include',
  ...CHECKERS,
  ...UNSUPPORTED_CHECKERS,
]);

export interface RawRealServer {
  addr: string;
  port: number;
  portWritten: boolean;
  af: 4 | 6;
  line: number;
  weight?: number;
  method?: MethodSpec;
  uThreshold: number;
  lThreshold: number;
  inhibit?: boolean;
  t: Timers;
  virtualhost?: string;
  notifyUp?: string;
  notifyDown?: string;
  checkers: RawChecker[];
}

export function parseRealServer(n: Node, p: Problems): RawRealServer | undefined {
  const ap = addrPort(n, 1);
  if (typeof ap === 'string') {
    p.error(n.line, `real_server: ${ap}, real server skipped`);
    return undefined;
  }
  if (n.words.length > 3) p.warn(n.line, 'real_server: extra arguments ignored');
  const rs: RawRealServer = {
    ...ap,
    line: n.line,
    uThreshold: 0,
    lThreshold: 0,
    t: {},
    checkers: [],
  };
  for (const s of expand(n.children, RS_KEYS)) {
    if (!s.words.length) continue;
    const kw = s.words[0].v;
    if (CHECKERS.has(kw) || looksLikeChecker(s)) {
      const c = parseChecker(s, kw, p);
      if (c) rs.checkers.push(c);
      continue;
    }
    if (UNSUPPORTED_CHECKERS.has(kw)) {
      p.warn(s.line, `${kw} is not supported, checker ignored`);
      continue;
    }
    if (!RS_KEYS.has(kw) || kw === 'include') {
      unknown(s, p, 'real_server');
      continue;
    }
    noBlock(s, p);
    if (timerKeyword(kw, s, p, rs.t)) continue;
    switch (kw) {
      case 'weight':
        rs.weight = intArg(s, p, 0, INT_MAX) ?? rs.weight;
        break;
      case 'lvs_method':
      case 'lb_kind':
        rs.method = methodArg(s, p) ?? rs.method;
        break;
      case 'uthreshold':
        rs.uThreshold = intArg(s, p, 0, UINT_MAX) ?? rs.uThreshold;
        break;
      case 'lthreshold':
        rs.lThreshold = intArg(s, p, 0, UINT_MAX) ?? rs.lThreshold;
        break;
      case 'inhibit_on_failure':
        rs.inhibit = boolArg(s, p) ?? rs.inhibit;
        break;
      case 'notify_up':
        rs.notifyUp = strArg(s, p) ?? rs.notifyUp;
        break;
      case 'notify_down':
        rs.notifyDown = strArg(s, p) ?? rs.notifyDown;
        break;
      case 'virtualhost':
        rs.virtualhost = strArg(s, p) ?? rs.virtualhost;
        break;
      case 'smtp_alert':
        boolArg(s, p);
        break;
      // snmp_name: accepted, no effect here
    }
  }
  return rs;
}
