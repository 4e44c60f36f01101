/**
 * The checker blocks of a real_server (spec §3.1, keepalived 2.2's check_*.c parsers):
 * TCP_CHECK, HTTP_GET and SSL_GET with their url blocks, SMTP_CHECK (with the
 * deprecated `host` sub-blocks, one checker each), MISC_CHECK, PING_CHECK, UDP_CHECK,
 * DNS_CHECK, FILE_CHECK and BFD_CHECK; the top-level `SSL` and `track_file` blocks
 * they refer to; and the defaults of each checker type.
 *
 * Fail closed: a checker tsvs cannot run as written (an option it cannot honour, a
 * block keepalived would drop, a checker name it does not know) is still returned,
 * with `unusable` saying why, so that its real server is kept out of rotation instead
 * of being left in with no check at all.
 */
import type { KaCheckerType, KaUrl } from './types.js';
import type { Conn, RawChecker } from './checker-resolve.js';

export { applyCheckerGlobals, resolveCheckers, type RawChecker } from './checker-resolve.js';
import { parseHex, quotedEscapedWords, unescapeWord } from './checker-strings.js';
export { parseHex, quotedEscapedWords, unescapeWord } from './checker-strings.js';
import { pcreToJs } from './pcre.js';
import { expand, rawText, type Node, type Problems } from './lexer.js';
import {
  boolArg,
  familyOf,
  intArg,
  intOf,
  ipArg,
  noBlock,
  strArg,
  timerArg,
  unknown,
  UINT_MAX,
} from './values.js';

/** Every checker keepalived 2.2 registers. */
export const CHECKERS = new Set<string>([
  'TCP_CHECK',
  'HTTP_GET',
  'SSL_GET',
  'SMTP_CHECK',
  'MISC_CHECK',
  'PING_CHECK',
  'UDP_CHECK',
  'DNS_CHECK',
  'FILE_CHECK',
  'BFD_CHECK',
]);
/** Kept for the real_server reader: every checker is now parsed (none is dropped). */
export const UNSUPPORTED_CHECKERS = new Set<string>();

/**
 * A block keyword in a real_server that looks like a checker keepalived does not have
 * (a name ending `_CHECK` / `_GET` in any case: keywords are case-sensitive, so
 * `tcp_check` is not TCP_CHECK): it becomes an unusable checker, not an ignored
 * keyword, so that a misspelt checker never leaves a real server unchecked.
 */
export function looksLikeChecker(n: Node): boolean {
  const kw = n.words[0]?.v ?? '';
  return n.children !== undefined && /^[a-z][a-z0-9_]*_(check|get)$/i.test(kw);
}

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
  'delay_before_retry',
  'warmup',
  'delay_loop',
  'alpha',
  'log_all_failures',
];
const HTTP_KEYS = [
  ...CONN_KEYS,
  ...COMMON_KEYS,
  'nb_get_retry',
  'url',
  'virtualhost',
  'http_protocol',
  'enable_sni',
  'fast_recovery',
];
const CHECKER_KEYS: Record<KaCheckerType, ReadonlySet<string>> = {
  TCP_CHECK: new Set([...CONN_KEYS, ...COMMON_KEYS]),
  HTTP_GET: new Set(HTTP_KEYS),
  SSL_GET: new Set(HTTP_KEYS),
  SMTP_CHECK: new Set([...CONN_KEYS, ...COMMON_KEYS, 'helo_name', 'host']),
  MISC_CHECK: new Set([...COMMON_KEYS, 'misc_path', 'misc_timeout', 'misc_dynamic', 'user']),
  PING_CHECK: new Set([...CONN_KEYS, ...COMMON_KEYS]),
  UDP_CHECK: new Set([
    ...CONN_KEYS,
    ...COMMON_KEYS,
    'payload',
    'require_reply',
    'min_reply_length',
    'max_reply_length',
  ]),
  DNS_CHECK: new Set([...CONN_KEYS, ...COMMON_KEYS, 'type', 'name']),
  FILE_CHECK: new Set(['track_file', 'weight']),
  BFD_CHECK: new Set(['name', 'alpha']),
};
const HOST_KEYS = new Set([...CONN_KEYS, ...COMMON_KEYS]);

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

/** DNS_CHECK's query types (check_dns.c's table). */
export const DNS_TYPES: Record<string, number> = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  RRSIG: 46,
  DNSKEY: 48,
};

/**
 * regex_options keepalived accepts (PCRE2 flags) and their JavaScript equivalent;
 * null = no equivalent in JavaScript's RegExp (the checker is refused, not run
 * with a different meaning). Options that only tune PCRE2's speed map to ''.
 */
const REGEX_OPTIONS: Record<string, string | null> = {
  caseless: 'i',
  multiline: 'm',
  dotall: 's',
  utf: 'u',
  ucp: 'u',
  no_auto_capture: '',
  no_auto_possess: '',
  no_dotstar_anchor: '',
  no_start_optimize: '',
  never_ucp: '',
  never_utf: '',
  dupnames: null,
  allow_empty_class: null,
  alt_bsux: null,
  auto_callout: null,
  dollar_endonly: null,
  extended: null,
  firstline: null,
  match_unset_backref: null,
  ungreedy: null,
  never_backslash_c: null,
  alt_circumflex: null,
  alt_verbnames: null,
  use_offset_limit: null,
};

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * A statement's words as keepalived's alloc_strvec_quoted_escaped reads its line
 * (misc_path, regex): quotes and backslash escapes, `\"` included.
 */
function escapedWords(s: Node): string[] {
  const raw = rawText(s);
  return raw !== undefined ? quotedEscapedWords(raw) : s.words.map((w) => unescapeWord(w.v));
}

function parseUrl(n: Node, p: Problems, c: RawChecker): KaUrl | undefined {
  if (!n.children) {
    p.error(n.line, 'url without a block, ignored');
    return undefined;
  }
  let path: string | undefined;
  const url: Partial<KaUrl> = {};
  const codes: [number, number][] = [];
  const flags = new Set<string>();
  let regexParams = false;
  for (const s of expand(n.children, URL_KEYS)) {
    if (!s.words.length) continue;
    const kw = s.words[0].v;
    if (URL_KEYS.has(kw)) noBlock(s, p);
    switch (kw) {
      case 'path':
        path = strArg(s, p) ?? path;
        break;
      case 'digest': {
        const d = s.words[1]?.v;
        if (url.digest !== undefined) p.warn(s.line, `digest '${d ?? ''}' is a duplicate, ignored`);
        else if (d !== undefined && /^[0-9a-fA-F]{32}$/.test(d)) url.digest = d.toLowerCase();
        else p.warn(s.line, `digest: invalid MD5 digest '${d ?? ''}', ignored`);
        break;
      }
      case 'status_code': {
        if (s.words.length < 2) p.warn(s.line, 'status_code: missing value, ignored');
        for (const w of s.words.slice(1)) {
          const m = /^(\d+)(?:-(\d+))?$/.exec(w.v);
          const lo = m ? intOf(m[1], 100, 599) : undefined;
          const hi = m ? (m[2] === undefined ? lo : intOf(m[2], 100, 599)) : undefined;
          if (lo === undefined || hi === undefined || hi < lo)
            p.warn(s.line, `status_code: invalid value '${w.v}', ignored`);
          else codes.push([lo, hi]);
        }
        break;
      }
      case 'virtualhost':
        url.virtualhost = strArg(s, p) ?? url.virtualhost;
        break;
      case 'regex': {
        // keepalived reads the line again with quotes and escapes (`\"` a quote)
        const w = escapedWords(s);
        if (w.length !== 2) p.warn(s.line, 'regex: missing or too many fields, ignored');
        else url.regex = w[1];
        break;
      }
      case 'regex_no_match':
        url.regexNoMatch = true;
        regexParams = true;
        break;
      case 'regex_options':
        regexParams = true;
        for (const w of s.words.slice(1)) {
          const js = REGEX_OPTIONS[w.v];
          if (js === undefined) p.warn(s.line, `regex_options: unknown option '${w.v}', ignored`);
          else if (js === null)
            c.unusable.push(`regex option '${w.v}' has no JavaScript RegExp equivalent`);
          else if (js) flags.add(js);
        }
        break;
      case 'regex_min_offset':
      case 'regex_max_offset': {
        regexParams = true;
        const v =
          s.words.length === 2 ? intOf(s.words[1].v, 0, Number.MAX_SAFE_INTEGER) : undefined;
        if (v === undefined) p.warn(s.line, `${kw}: invalid offset, ignored`);
        else if (kw === 'regex_min_offset') url.regexMinOffset = v;
        else url.regexMaxOffset = v;
        break;
      }
      case 'regex_stack':
        // PCRE2's JIT stack size: JavaScript's engine sizes its own
        regexParams = true;
        break;
      default:
        unknown(s, p, 'url');
    }
  }
  if (path === undefined) {
    p.error(n.line, 'HTTP/SSL_GET checker url has no path, url ignored');
    return undefined;
  }
  const out: KaUrl = { path, statusCodes: codes.length ? codes : [[200, 299]] };
  if (url.digest !== undefined) out.digest = url.digest;
  if (url.virtualhost !== undefined) out.virtualhost = url.virtualhost;
  if (url.regex !== undefined) {
    out.regex = url.regex;
    if (flags.size) out.regexFlags = [...flags].sort().join('');
    if (url.regexNoMatch) out.regexNoMatch = true;
    let min = url.regexMinOffset;
    let max = url.regexMaxOffset;
    if (max !== undefined && (min ?? 0) > max) {
      p.warn(n.line, `regex min offset ${min} > regex_max_offset ${max}, both ignored`);
      min = max = undefined;
    }
    if (min) out.regexMinOffset = min;
    if (max !== undefined) out.regexMaxOffset = max;
    // PCRE2 syntax a RegExp reads differently is translated or refused (pcre.ts)
    const js = pcreToJs(out.regex);
    if ('error' in js) {
      const why = `regex '${out.regex}': ${js.error} has no JavaScript RegExp equivalent`;
      p.error(n.line, `${why}: its real server is kept out of rotation`);
      c.unusable.push(why);
    } else {
      out.regex = js.source;
      try {
        new RegExp(out.regex, out.regexFlags);
      } catch (e) {
        c.unusable.push(`invalid regex '${out.regex}': ${(e as Error).message}`);
      }
    }
  } else if (regexParams) {
    p.warn(n.line, 'regex parameters specified without regex, ignored');
  }
  return out;
}

/** A connection keyword into `conn`; false when `kw` is not one. */
function connKeyword(kw: string, s: Node, p: Problems, conn: Conn, c: RawChecker): boolean {
  switch (kw) {
    case 'connect_ip': {
      const a = ipArg(s, p);
      if (a && conn.bindto && familyOf(a) !== familyOf(conn.bindto))
        p.warn(s.line, `connect_ip address ${a} does not match address family of bindto, ignored`);
      else if (a) conn.connectIp = a;
      return true;
    }
    case 'connect_port':
      conn.connectPort = intArg(s, p, 1, 65535) ?? conn.connectPort;
      return true;
    case 'bindto': {
      const a = ipArg(s, p);
      if (a && conn.connectIp && familyOf(a) !== familyOf(conn.connectIp))
        p.warn(s.line, `bindto address ${a} does not match address family of connect_ip, ignored`);
      else if (a) conn.bindto = a;
      return true;
    }
    case 'bind_port':
      conn.bindPort = intArg(s, p, 1, 65535) ?? conn.bindPort;
      return true;
    case 'bind_if': {
      const v = strArg(s, p);
      if (v !== undefined && v.length > 15)
        p.warn(s.line, `Interface name ${v} is too long, ignored`);
      else if (v !== undefined) conn.bindIf = v;
      return true;
    }
    case 'fwmark': {
      const v = intArg(s, p, 0, UINT_MAX);
      if (v !== undefined) conn.fwmark = v;
      return true;
    }
    case 'connect_timeout': {
      const v = timerArg(s, p);
      if (v !== undefined && v > 0) conn.connectTimeout = v;
      else if (v !== undefined) p.warn(s.line, `connect_timeout ${v} invalid, ignored`);
      return true;
    }
  }
  void c;
  return false;
}

/** The timer keywords keepalived's checkers share (check_api.c), into `t`. */
function commonKeyword(kw: string, s: Node, p: Problems, c: RawChecker): boolean {
  switch (kw) {
    case 'retry':
    case 'nb_get_retry':
      if (kw === 'nb_get_retry') p.warn(s.line, "nb_get_retry is deprecated - please use 'retry'");
      c.t.retry = intArg(s, p, 0, UINT_MAX) ?? c.t.retry;
      return true;
    case 'delay_before_retry':
      c.t.delayBeforeRetry = timerArg(s, p) ?? c.t.delayBeforeRetry;
      return true;
    case 'warmup':
      c.t.warmup = timerArg(s, p) ?? c.t.warmup;
      return true;
    case 'delay_loop': {
      const v = timerArg(s, p);
      if (v !== undefined && v > 0) c.t.delayLoop = v;
      else if (v !== undefined) p.warn(s.line, `delay_loop '${v}' is invalid, ignored`);
      return true;
    }
    case 'alpha':
      c.t.alpha = boolArg(s, p) ?? c.t.alpha;
      return true;
    case 'log_all_failures':
      c.logAllFailures = boolArg(s, p) ?? c.logAllFailures;
      return true;
  }
  return false;
}

function parseHost(n: Node, p: Problems, c: RawChecker): void {
  const conn: Conn = {};
  for (const s of expand(n.children, HOST_KEYS)) {
    if (!s.words.length) continue;
    const kw = s.words[0].v;
    if (!HOST_KEYS.has(kw)) {
      unknown(s, p, 'host');
      continue;
    }
    noBlock(s, p);
    if (!connKeyword(kw, s, p, conn, c)) commonKeyword(kw, s, p, c);
  }
  c.hosts.push({ conn, line: n.line });
}

/** Parses one checker block of a real_server (`n.words[0]` names the checker). */
export function parseChecker(n: Node, type: string, p: Problems): RawChecker | undefined {
  const c: RawChecker = {
    type: CHECKERS.has(type) ? (type as KaCheckerType) : 'TCP_CHECK',
    line: n.line,
    t: {},
    conn: {},
    unusable: [],
    urls: [],
    hosts: [],
    miscDynamic: false,
  };
  if (!CHECKERS.has(type)) {
    p.warn(n.line, `unknown checker '${type}': its real server is kept out of rotation`);
    c.written = type;
    c.unusable.push(`unknown checker '${type}'`);
    return c;
  }
  if (n.words.length > 1) p.warn(n.line, `${type}: extra arguments ignored`);
  const keys = CHECKER_KEYS[c.type];
  for (const s of expand(n.children, keys)) {
    if (!s.words.length) continue;
    const kw = s.words[0].v;
    if (!keys.has(kw)) {
      unknown(s, p, type);
      continue;
    }
    if (kw !== 'url' && kw !== 'host') noBlock(s, p);
    if (c.type === 'FILE_CHECK' || c.type === 'BFD_CHECK') {
      fileBfdKeyword(kw, s, p, c);
      continue;
    }
    if (connKeyword(kw, s, p, c.conn, c) || commonKeyword(kw, s, p, c)) continue;
    switch (kw) {
      case 'url': {
        const u = parseUrl(s, p, c);
        if (u) c.urls.push(u);
        break;
      }
      case 'virtualhost':
        c.virtualhost = strArg(s, p) ?? c.virtualhost;
        break;
      case 'http_protocol': {
        const v = s.words[1]?.v;
        if (v === '1.0' || v === '1.1') c.httpProtocol = v;
        else if (v === '1.0C' || v === '1.0c') c.httpProtocol = '1.0C';
        else p.warn(s.line, `Invalid http_protocol version ${v ?? '(missing)'}, ignored`);
        break;
      }
      case 'enable_sni':
        c.enableSni = boolArg(s, p) ?? c.enableSni;
        break;
      case 'fast_recovery':
        c.fastRecovery = boolArg(s, p) ?? c.fastRecovery;
        break;
      case 'helo_name':
        c.heloName = strArg(s, p) ?? c.heloName;
        break;
      case 'host':
        if (s.children) parseHost(s, p, c);
        else p.warn(s.line, 'host without a block, ignored');
        break;
      case 'payload': {
        const h =
          s.words.length > 1
            ? parseHex(
                s.words
                  .slice(1)
                  .map((w) => w.v)
                  .join(' '),
                false,
              )
            : undefined;
        if (s.words.length < 2) p.warn(s.line, 'UDP_CHECK payload requires a payload');
        else if (!h) p.warn(s.line, 'Invalid hex string for UDP_CHECK payload, ignored');
        else c.payload = hex(h.data);
        break;
      }
      case 'require_reply': {
        c.requireReply = true;
        if (s.words.length < 2) break;
        const h = parseHex(
          s.words
            .slice(1)
            .map((w) => w.v)
            .join(' '),
          true,
        );
        if (!h) p.warn(s.line, 'Invalid hex string for UDP_CHECK reply, ignored');
        else {
          c.replyData = hex(h.data);
          if (h.mask) c.replyMask = hex(h.mask);
        }
        break;
      }
      case 'min_reply_length':
        c.minReplyLength = intArg(s, p, 0, 65535) ?? c.minReplyLength;
        break;
      case 'max_reply_length':
        c.maxReplyLength = intArg(s, p, 0, 65535) ?? c.maxReplyLength;
        break;
      case 'type': {
        const v = s.words[1]?.v.toUpperCase();
        if (v !== undefined && v in DNS_TYPES) c.dnsType = v;
        else p.warn(s.line, `Unknown DNS check type ${s.words[1]?.v ?? '(missing)'}, ignored`);
        break;
      }
      case 'name': {
        const v = s.words[1]?.v;
        if (v === undefined) p.warn(s.line, 'DNS_CHECK name missing, ignored');
        else if (c.dnsName !== undefined)
          p.warn(s.line, 'DNS_CHECK name already specified, ignored');
        else if ((v.startsWith('.') && v !== '.') || v.includes('..'))
          p.warn(s.line, `DNS_CHECK name '${v}' has empty label, ignored`);
        else c.dnsName = v;
        break;
      }
      case 'misc_path':
        {
          if (strArg(s, p) !== undefined) c.miscPath = escapedWords(s)[1];
          break;
        }
        break;
      case 'misc_timeout':
        c.miscTimeout = intArg(s, p, 0, Math.floor(UINT_MAX / 1e6)) ?? c.miscTimeout;
        break;
      case 'misc_dynamic':
        c.miscDynamic = true;
        break;
      case 'user': {
        const u = s.words[1]?.v;
        if (u === undefined) {
          p.warn(s.line, 'No user specified for misc checker script, ignored');
          break;
        }
        c.miscUser = u;
        if (s.words[2] !== undefined) c.miscGroup = s.words[2].v;
        break;
      }
    }
  }
  return finishChecker(n, c, p);
}

function fileBfdKeyword(kw: string, s: Node, p: Problems, c: RawChecker): void {
  switch (kw) {
    case 'track_file':
      c.trackFileName = strArg(s, p) ?? c.trackFileName;
      break;
    case 'weight': {
      const w = s.words[1]?.v;
      const v = w !== undefined && /^-?\d+$/.test(w) ? Number(w) : NaN;
      const opt = s.words[2]?.v;
      if (!(Math.abs(v) <= 2147483647))
        p.warn(
          s.line,
          `weight for track file must be in [-2147483647..2147483647] inclusive, ignored`,
        );
      else if (opt !== undefined && opt !== 'reverse' && opt !== 'noreverse')
        p.warn(s.line, `unknown track file weight option ${opt}, ignored`);
      else c.fileWeight = { weight: v, reverse: opt === 'reverse' };
      break;
    }
    case 'name':
      c.bfdName = strArg(s, p) ?? c.bfdName;
      break;
    case 'alpha':
      c.t.alpha = boolArg(s, p) ?? c.t.alpha;
      break;
  }
}

/** The end-of-block checks keepalived makes (a block it would drop is refused here). */
function finishChecker(n: Node, c: RawChecker, p: Problems): RawChecker {
  const refuse = (msg: string): void => {
    p.error(n.line, `${msg}: its real server is kept out of rotation`);
    c.unusable.push(msg);
  };
  if ((c.type === 'HTTP_GET' || c.type === 'SSL_GET') && c.urls.length === 0)
    refuse('HTTP/SSL_GET checker has no urls specified');
  if (c.type === 'MISC_CHECK' && c.miscPath === undefined)
    refuse('No script path has been specified for MISC_CHECK');
  if (c.type === 'FILE_CHECK' && c.trackFileName === undefined)
    refuse('FILE_CHECK has no track_file specified');
  if (c.type === 'BFD_CHECK' && c.bfdName === undefined)
    refuse('No name has been specified for BFD_CHECKER');
  if (c.type === 'UDP_CHECK' && (c.minReplyLength ?? 0) > (c.maxReplyLength ?? 255))
    p.warn(
      n.line,
      `UDP_CHECK min_reply length ${c.minReplyLength ?? 0} > max_reply_length ${c.maxReplyLength ?? 255} - will always fail`,
    );
  return c;
}
