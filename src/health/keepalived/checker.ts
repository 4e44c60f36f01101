/**
 * The checker blocks of a real_server (spec §3.1): TCP_CHECK, HTTP_GET with its url
 * blocks, MISC_CHECK; the checkers keepalived has and tsvs does not run are named so
 * that they are reported, not mistaken for unknown keywords.
 */
import type { KaChecker } from './types.js';
import { expand, type Node, type Problems } from './lexer.js';
import {
  boolArg,
  intArg,
  intOf,
  ipArg,
  noBlock,
  strArg,
  timerArg,
  timerKeyword,
  unknown,
  type Timers,
} from './values.js';

export const CHECKERS = new Set(['TCP_CHECK', 'HTTP_GET', 'MISC_CHECK']);
export const UNSUPPORTED_CHECKERS = new Set([
  'SSL_GET',
  'SMTP_CHECK',
  'DNS_CHECK',
  'UDP_CHECK',
  'PING_CHECK',
  'BFD_CHECK',
  'FILE_CHECK',
]);

const CONN_KEYS = [
  'connect_ip',
  'connect_port',
  'bindto',
  'bind_port',
  'bind_if',
  'fwmark',
  'connect_timeout',
];
const COMMON_KEYS = [
  'retry',
  'nb_get_retry',
  'delay_before_retry',
  'warmup',
  'delay_loop',
  'alpha',
  'log_all_failures',
  'include',
];
const CHECKER_KEYS: Record<KaChecker['type'], ReadonlySet<string>> = {
  TCP_CHECK: new Set([...CONN_KEYS, ...COMMON_KEYS]),
  HTTP_GET: new Set([
    ...CONN_KEYS,
    ...COMMON_KEYS,
    'url',
    'virtualhost',
    'http_protocol',
    'fast_recovery',
  ]),
  MISC_CHECK: new Set([...COMMON_KEYS, 'misc_path', 'misc_timeout', 'misc_dynamic', 'user']),
};

const URL_KEYS = new Set([
  'path',
  'digest',
  'status_code',
  'virtualhost',
  'regex',
  'regex_no_match',
  'regex_options',
  'regex_stack',
  'regex_min_offset',
  'regex_max_offset',
]);

type Url = KaChecker['urls'][number];

export interface RawChecker {
  type: KaChecker['type'];
  line: number;
  t: Timers;
  connectIp?: string;
  connectPort?: number;
  bindto?: string;
  bindPort?: number;
  urls: Url[];
  virtualhost?: string;
  miscPath?: string;
  miscTimeout?: number;
  miscDynamic: boolean;
}

function parseUrl(n: Node, p: Problems): Url | undefined {
  if (!n.children) {
    p.error(n.line, 'url without a block, ignored');
    return undefined;
  }
  let path: string | undefined;
  let digest: string | undefined;
  let virtualhost: string | undefined;
  const codes: [number, number][] = [];
  for (const c of expand(n.children, URL_KEYS)) {
    if (!c.words.length) continue;
    const kw = c.words[0].v;
    if (URL_KEYS.has(kw)) noBlock(c, p);
    switch (kw) {
      case 'path':
        path = strArg(c, p) ?? path;
        break;
      case 'digest': {
        const d = c.words[1]?.v;
        if (d !== undefined && /^[0-9a-fA-F]{32}$/.test(d)) digest = d.toLowerCase();
        else p.warn(c.line, `digest: invalid MD5 digest '${d ?? ''}', ignored`);
        break;
      }
      case 'status_code': {
        if (c.words.length < 2) p.warn(c.line, 'status_code: missing value, ignored');
        for (const w of c.words.slice(1)) {
          const m = /^(\d+)(?:-(\d+))?$/.exec(w.v);
          const lo = m ? intOf(m[1], 100, 599) : undefined;
          const hi = m ? (m[2] === undefined ? lo : intOf(m[2], 100, 599)) : undefined;
          if (lo === undefined || hi === undefined || hi < lo)
            p.warn(c.line, `status_code: invalid value '${w.v}', ignored`);
          else codes.push([lo, hi]);
        }
        break;
      }
      case 'virtualhost':
        virtualhost = strArg(c, p) ?? virtualhost;
        break;
      default:
        if (URL_KEYS.has(kw)) p.warn(c.line, `${kw} not supported, ignored`);
        else unknown(c, p, 'url');
    }
  }
  if (path === undefined) {
    p.error(n.line, 'url without a path, ignored');
    return undefined;
  }
  const url: Url = { path, statusCodes: codes.length ? codes : [[200, 299]] };
  if (digest !== undefined) url.digest = digest;
  if (virtualhost !== undefined) url.virtualhost = virtualhost;
  return url;
}

export function parseChecker(
  n: Node,
  type: KaChecker['type'],
  p: Problems,
): RawChecker | undefined {
  const c: RawChecker = { type, line: n.line, t: {}, urls: [], miscDynamic: false };
  if (n.words.length > 1) p.warn(n.line, `${type}: extra arguments ignored`);
  for (const s of expand(n.children, CHECKER_KEYS[type])) {
    if (!s.words.length) continue;
    const kw = s.words[0].v;
    if (!CHECKER_KEYS[type].has(kw) || kw === 'include') {
      unknown(s, p, type);
      continue;
    }
    if (kw !== 'url') noBlock(s, p);
    if (timerKeyword(kw, s, p, c.t)) continue;
    switch (kw) {
      case 'connect_ip':
        c.connectIp = ipArg(s, p) ?? c.connectIp;
        break;
      case 'connect_port':
        c.connectPort = intArg(s, p, 0, 65535) ?? c.connectPort;
        break;
      case 'bindto':
        c.bindto = ipArg(s, p) ?? c.bindto;
        break;
      case 'bind_port':
        c.bindPort = intArg(s, p, 0, 65535) ?? c.bindPort;
        break;
      case 'url': {
        const u = parseUrl(s, p);
        if (u) c.urls.push(u);
        break;
      }
      case 'virtualhost':
        c.virtualhost = strArg(s, p) ?? c.virtualhost;
        break;
      case 'misc_path':
        c.miscPath = strArg(s, p) ?? c.miscPath;
        break;
      case 'misc_timeout':
        c.miscTimeout = timerArg(s, p) ?? c.miscTimeout;
        break;
      case 'misc_dynamic':
        c.miscDynamic = boolArg(s, p) ?? c.miscDynamic;
        break;
      // accepted, no effect here: bind_if, fwmark, log_all_failures, http_protocol,
      // fast_recovery, user
    }
  }
  if (type === 'HTTP_GET' && c.urls.length === 0) {
    p.error(n.line, 'HTTP_GET has no url, checker ignored');
    return undefined;
  }
  if (type === 'MISC_CHECK' && c.miscPath === undefined) {
    p.error(n.line, 'MISC_CHECK has no misc_path, checker ignored');
    return undefined;
  }
  return c;
}
