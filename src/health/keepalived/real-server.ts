/**
 * The real_server block of a virtual_server (spec §3): address, port, weight, method,
 * thresholds, inhibit_on_failure, notify scripts, timers and checkers, as written —
 * the defaults and checks of the service come in `validate.ts`.
 */
import type { KaScript, KaUnusableChecker } from './types.js';
import { refusal, RS_KEYWORDS } from './keywords.js';
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
  scriptArg,
  strArg,
  timerKeyword,
  UINT_MAX,
  unknown,
  type MethodSpec,
  type Timers,
} from './values.js';

const RS_KEYS = new Set([
  ...Object.keys(RS_KEYWORDS),
  // keepalived 2.2 reads only lvs_method here; the old name is taken as well
  'lb_kind',
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
  notifyUp?: KaScript;
  notifyDown?: KaScript;
  checkers: RawChecker[];
  unusableCheckers: KaUnusableChecker[];
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
    unusableCheckers: [],
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
      // fail closed: the operator asked for a check that cannot run here
      const reason = `${kw} is not supported by this build of tsvs`;
      p.warn(s.line, `${reason}: real server ${rs.addr} is kept out of rotation`);
      rs.unusableCheckers.push({ type: kw, reason, line: s.line });
      continue;
    }
    if (!RS_KEYS.has(kw) || kw === 'include') {
      if (s.children && kw !== 'include') {
        // a block here can only be a checker: an unknown one cannot vouch for the server
        const reason = `unknown checker '${kw}'`;
        p.warn(s.line, `${reason} in real_server: real server ${rs.addr} is kept out of rotation`);
        rs.unusableCheckers.push({ type: kw, reason, line: s.line });
      } else unknown(s, p, 'real_server');
      continue;
    }
    const refused = refusal(kw, RS_KEYWORDS[kw]);
    if (refused) {
      p.warn(s.line, refused);
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
      case 'notify_down': {
        const k = kw === 'notify_up' ? 'notifyUp' : 'notifyDown';
        if (rs[k])
          p.warn(s.line, `${kw} script already specified - ignoring ${s.words[1]?.v ?? ''}`);
        else rs[k] = scriptArg(s, p);
        break;
      }
      case 'virtualhost':
        rs.virtualhost = strArg(s, p) ?? rs.virtualhost;
        break;
    }
  }
  return rs;
}
