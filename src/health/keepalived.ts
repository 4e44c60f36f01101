/**
 * The LVS part of a keepalived.conf (spec keepalived-lvs-reference §1–§4): text in,
 * a typed and fully defaulted configuration out, with keepalived's parse-time
 * defaults and load-time validation applied. Nothing here throws on bad input:
 * every problem becomes a warning (the keyword is ignored or a default is used) or
 * an error (the block it makes unusable is skipped), each "line N: text".
 *
 * Only `virtual_server` blocks and the `lvs_*` keywords of `global_defs` are read;
 * every other top-level block (vrrp_instance, vrrp_script, static routes, ...) is
 * skipped whole. `include` is not followed (no file access).
 *
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';

export type KaMethod = 'masq' | 'droute' | 'tunnel';
export type KaTunType = 'ipip' | 'gue' | 'gre';
export type KaTunCsum = 'nocsum' | 'csum' | 'remcsum';

export interface KaChecker {
  type: 'TCP_CHECK' | 'HTTP_GET' | 'MISC_CHECK';
  /** Resolved: checker option, else real_server, else virtual_server, else default (spec §2.2/§3.1). Seconds, may be fractional. */
  connectTimeout: number;
  retry: number;
  delayBeforeRetry: number;
  delayLoop: number;
  /** Seconds; undefined = keepalived's random 0..delay_loop. */
  warmup?: number;
  alpha: boolean;
  /** As written; undefined = the real server's address / port. */
  connectIp?: string;
  connectPort?: number;
  bindto?: string;
  bindPort?: number;
  /** HTTP_GET */
  urls: { path: string; statusCodes: [number, number][]; digest?: string; virtualhost?: string }[];
  /** HTTP_GET: the checker's virtualhost, else the real server's, else the service's. */
  virtualhost?: string;
  /** MISC_CHECK */
  miscPath?: string;
  miscTimeout?: number;
  miscDynamic: boolean;
  line: number;
}

export interface KaRealServer {
  addr: string;
  port: number;
  weight: number;
  method: KaMethod;
  /** Only for method 'tunnel' (ipip when `type` is not written). */
  tunType?: KaTunType;
  tunPort?: number;
  /** Added field: the TUN checksum option (`nocsum|csum|remcsum`), as written. */
  tunCsum?: KaTunCsum;
  uThreshold: number;
  lThreshold: number;
  inhibitOnFailure: boolean;
  alpha: boolean;
  checkers: KaChecker[];
  notifyUp?: string;
  notifyDown?: string;
  line: number;
}

export interface KaVirtualServer {
  /** 'addr' services have addr/port/protocol; 'fwmark' ones fwmark. Groups (virtual_server group) are reported as a warning and skipped. */
  kind: 'addr' | 'fwmark';
  af: 4 | 6;
  /** 6 TCP, 17 UDP, 132 SCTP; fwmark services carry 6 (TCP), as in the control model. */
  protocol: number;
  /** '' for fwmark services. */
  addr: string;
  port: number;
  /** 0 for address services. */
  fwmark: number;
  scheduler: string;
  method: KaMethod;
  /** seconds; undefined = not persistent */
  persistenceTimeout?: number;
  /** IPv4 dotted mask or IPv6 prefix length, as written */
  persistenceGranularity?: string;
  persistenceEngine?: string;
  ops: boolean;
  /** 'flag-1'.., 'sh-port', 'sh-fallback', 'mh-port', 'mh-fallback' */
  schedFlags: string[];
  quorum: number;
  hysteresis: number;
  /** Added fields tunType/tunPort/tunCsum: set when the sorry server's method is 'tunnel'. */
  sorryServer?: {
    addr: string;
    port: number;
    method: KaMethod;
    tunType?: KaTunType;
    tunPort?: number;
    tunCsum?: KaTunCsum;
  };
  sorryServerInhibit: boolean;
  inhibitOnFailure: boolean;
  alpha: boolean;
  /** Added field: `ha_suspend` (always false on fwmark services). */
  haSuspend: boolean;
  delayLoop: number;
  connectTimeout: number;
  retry: number;
  delayBeforeRetry?: number;
  virtualhost?: string;
  realServers: KaRealServer[];
  line: number;
}

export interface KaConfig {
  virtualServers: KaVirtualServer[];
  lvsTimeouts?: { tcp?: number; tcpfin?: number; udp?: number };
  /** lvs_sync_daemon IFACE [[inst] NAME] [id N] [maxlen N] [port N] [ttl N] [group IP] */
  syncDaemon?: {
    ifname: string;
    syncId?: number;
    maxLen?: number;
    port?: number;
    ttl?: number;
    group?: string;
    instance?: string;
  };
  lvsFlush: boolean;
  /** Config warnings, each "line N: text" (keepalived's wording where the spec gives it). */
  warnings: string[];
  /** Fatal problems that make a block unusable, each "line N: text"; the block is skipped. */
  errors: string[];
}

// ---------------------------------------------------------------------------
// Lexing and block structure

interface Word {
  v: string;
  /** Written in double quotes: never a keyword, never a brace. */
  q: boolean;
}

interface Node {
  words: Word[];
  line: number;
  /** Started after a brace on the same line (`url { path /x status_code 200 }`). */
  inline: boolean;
  /** Present when the statement opens a block. */
  children?: Node[];
  /** False when the block's `}` never came. */
  closed: boolean;
}

type Tok = Word | '{' | '}';

function lexLine(s: string, lineNo: number, warn: (line: number, msg: string) => void): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
      i++;
    } else if (c === '!' || c === '#') {
      break;
    } else if (c === '{' || c === '}') {
      out.push(c);
      i++;
    } else if (c === '"') {
      const end = s.indexOf('"', i + 1);
      if (end < 0) {
        warn(lineNo, 'unterminated quoted string, closed at the end of the line');
        out.push({ v: s.slice(i + 1), q: true });
        break;
      }
      out.push({ v: s.slice(i + 1, end), q: true });
      i = end + 1;
    } else {
      let j = i;
      while (j < s.length && !/[\s{}"!#]/.test(s[j])) j++;
      out.push({ v: s.slice(i, j), q: false });
      i = j;
    }
  }
  return out;
}

function buildTree(text: string, p: Problems): Node[] {
  const root: Node[] = [];
  const stack: { list: Node[]; owner: Node | null }[] = [{ list: root, owner: null }];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const lineNo = n + 1;
    const toks = lexLine(lines[n], lineNo, (l, m) => p.warn(l, m));
    let cur: Node | null = null;
    let braceSeen = false;
    toks.forEach((t, idx) => {
      const top = stack[stack.length - 1];
      if (t === '{') {
        let owner = cur;
        if (!owner) {
          const prev = top.list[top.list.length - 1];
          // a `{` alone at the start of a line opens the block of the previous statement
          if (idx === 0 && prev && !prev.children) owner = prev;
          else {
            p.error(lineNo, "'{' without a keyword, block ignored");
            owner = { words: [], line: lineNo, inline: false, closed: true };
          }
        }
        owner.children = [];
        owner.closed = false;
        stack.push({ list: owner.children, owner });
        cur = null;
        braceSeen = true;
      } else if (t === '}') {
        if (stack.length === 1) p.error(lineNo, "unmatched '}' ignored");
        else stack.pop()!.owner!.closed = true;
        cur = null;
        braceSeen = true;
      } else {
        if (!cur) {
          cur = { words: [], line: lineNo, inline: braceSeen, closed: true };
          top.list.push(cur);
        }
        cur.words.push(t);
      }
    });
  }
  for (let i = stack.length - 1; i > 0; i--) {
    const o = stack[i].owner!;
    const name = o.words.length ? o.words[0].v : '{';
    p.error(o.line, `'${name}' block is not closed (missing '}')`);
  }
  return root;
}

/**
 * Statements written after a brace on the same line may hold several keywords
 * (`url { path /health status_code 200 }`): they are split at the block's keywords.
 */
function expand(nodes: Node[] | undefined, keys: ReadonlySet<string>): Node[] {
  const out: Node[] = [];
  for (const n of nodes ?? []) {
    if (!n.inline || n.words.length < 2) {
      out.push(n);
      continue;
    }
    let start = 0;
    for (let i = 1; i <= n.words.length; i++) {
      const last = i === n.words.length;
      if (last || (!n.words[i].q && keys.has(n.words[i].v))) {
        out.push({
          words: n.words.slice(start, i),
          line: n.line,
          inline: true,
          closed: last ? n.closed : true,
          children: last ? n.children : undefined,
        });
        start = i;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Values

class Problems {
  readonly warnings: string[] = [];
  readonly errors: string[] = [];
  warn(line: number, msg: string): void {
    this.warnings.push(`line ${line}: ${msg}`);
  }
  error(line: number, msg: string): void {
    this.errors.push(`line ${line}: ${msg}`);
  }
}

const INT_MAX = 2147483647;
const UINT_MAX = 4294967295;

function intOf(s: string | undefined, min: number, max: number): number | undefined {
  if (s === undefined || !/^\d+$/.test(s)) return undefined;
  const v = Number(s);
  return v >= min && v <= max ? v : undefined;
}

function timerOf(s: string | undefined): number | undefined {
  if (s === undefined || !/^(\d+(\.\d*)?|\.\d+)$/.test(s)) return undefined;
  const v = Number(s);
  // keepalived's timers have microsecond resolution
  return Number.isFinite(v) && v <= UINT_MAX ? Math.round(v * 1e6) / 1e6 : undefined;
}

function familyOf(a: string): 4 | 6 | undefined {
  return isIPv4(a) ? 4 : isIPv6(a) ? 6 : undefined;
}

/** Canonical form of an address for comparisons (IPv6 expanded, lower case). */
function addrKey(a: string): string {
  if (!a.includes(':')) return a;
  let s = a.toLowerCase();
  const m = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (m) {
    const b = m.slice(1).map(Number);
    s = `${s.slice(0, m.index)}${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  let groups: string[];
  if (s.includes('::')) {
    const [h, t] = s.split('::');
    const hs = h ? h.split(':') : [];
    const ts = t ? t.split(':') : [];
    groups = [...hs, ...Array<string>(Math.max(0, 8 - hs.length - ts.length)).fill('0'), ...ts];
  } else groups = s.split(':');
  return groups.map((g) => parseInt(g, 16).toString(16)).join(':');
}

function hostPort(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

function isNetmask4(s: string): boolean {
  if (!isIPv4(s)) return false;
  const n = s.split('.').reduce((acc, b) => acc * 256 + Number(b), 0);
  // contiguous ones from the top, at least one
  const inv = UINT_MAX - n;
  return n !== 0 && (inv & (inv + 1)) === 0;
}

const BOOLS: Record<string, boolean> = {
  on: true,
  off: false,
  true: true,
  false: false,
  yes: true,
  no: false,
};

/** `kw [BOOL]`: a bare keyword means true; an invalid value warns and gives undefined. */
function boolArg(n: Node, p: Problems): boolean | undefined {
  const w = n.words;
  if (w.length < 2) return true;
  const v = BOOLS[w[1].v.toLowerCase()];
  if (v === undefined) p.warn(n.line, `${w[0].v}: invalid boolean '${w[1].v}', ignored`);
  return v;
}

function intArg(n: Node, p: Problems, min: number, max: number): number | undefined {
  const s = n.words[1]?.v;
  const v = intOf(s, min, max);
  if (v === undefined)
    p.warn(
      n.line,
      s === undefined
        ? `${n.words[0].v}: missing value, ignored`
        : `${n.words[0].v}: invalid value '${s}' (${min}..${max}), ignored`,
    );
  return v;
}

function timerArg(n: Node, p: Problems): number | undefined {
  const s = n.words[1]?.v;
  const v = timerOf(s);
  if (v === undefined)
    p.warn(
      n.line,
      s === undefined
        ? `${n.words[0].v}: missing value, ignored`
        : `${n.words[0].v}: invalid time '${s}', ignored`,
    );
  return v;
}

function strArg(n: Node, p: Problems): string | undefined {
  const s = n.words[1]?.v;
  if (s === undefined || s === '') p.warn(n.line, `${n.words[0].v}: missing value, ignored`);
  return s || undefined;
}

function ipArg(n: Node, p: Problems): string | undefined {
  const s = n.words[1]?.v;
  if (s !== undefined && familyOf(s)) return s;
  p.warn(n.line, `${n.words[0].v}: invalid address '${s ?? ''}', ignored`);
  return undefined;
}

/** An address and an optional port, as separate words starting at words[i]. */
function addrPort(
  n: Node,
  i: number,
): { addr: string; port: number; portWritten: boolean; af: 4 | 6 } | string {
  const a = n.words[i]?.v;
  if (a === undefined) return 'missing address';
  const af = familyOf(a);
  if (!af)
    return `invalid address '${a}'${/:\d+$/.test(a) && !isIPv6(a) ? ' (the port is a separate word)' : ''}`;
  const ps = n.words[i + 1]?.v;
  if (ps === undefined) return { addr: a, port: 0, portWritten: false, af };
  const port = intOf(ps, 0, 65535);
  if (port === undefined) return `invalid port '${ps}'`;
  return { addr: a, port, portWritten: true, af };
}

// ---------------------------------------------------------------------------
// lvs_method

interface MethodSpec {
  method: KaMethod;
  tunType?: KaTunType;
  tunPort?: number;
  tunCsum?: KaTunCsum;
}

/** `lvs_method NAT|DR|TUN [type {ipip|gue port N|gre} [nocsum|csum|remcsum]]` */
function methodArg(n: Node, p: Problems, from = 1): MethodSpec | undefined {
  const w = n.words.map((x) => x.v);
  const kw = w[0];
  const m = w[from]?.toUpperCase();
  if (m === 'NAT') return { method: 'masq' };
  if (m === 'DR') return { method: 'droute' };
  if (m !== 'TUN') {
    p.warn(n.line, `${kw}: invalid forwarding method '${w[from] ?? ''}', ignored`);
    return undefined;
  }
  const spec: MethodSpec = { method: 'tunnel' };
  for (let i = from + 1; i < w.length; i++) {
    const o = w[i].toLowerCase();
    if (o === 'type') {
      const t = w[++i]?.toLowerCase();
      if (t !== 'ipip' && t !== 'gue' && t !== 'gre') {
        p.warn(n.line, `${kw}: invalid tunnel type '${w[i] ?? ''}', ignored`);
        return undefined;
      }
      spec.tunType = t;
    } else if (o === 'port') {
      const port = intOf(w[++i], 1, 65535);
      if (port === undefined) {
        p.warn(n.line, `${kw}: invalid tunnel port '${w[i] ?? ''}', ignored`);
        return undefined;
      }
      spec.tunPort = port;
    } else if (o === 'nocsum' || o === 'csum' || o === 'remcsum') {
      spec.tunCsum = o;
    } else {
      p.warn(n.line, `${kw}: unknown tunnel option '${w[i]}', ignored`);
      return undefined;
    }
  }
  spec.tunType ??= 'ipip';
  let bad: string | undefined;
  if (spec.tunType === 'gue' && spec.tunPort === undefined) bad = 'tunnel type gue requires a port';
  else if (spec.tunType !== 'gue' && spec.tunPort !== undefined)
    bad = `tunnel type ${spec.tunType} takes no port`;
  else if (spec.tunType === 'ipip' && spec.tunCsum)
    bad = 'tunnel type ipip takes no checksum option';
  else if (spec.tunType === 'gre' && spec.tunCsum === 'remcsum')
    bad = 'tunnel type gre rejects remcsum';
  if (bad) {
    p.warn(n.line, `${kw}: ${bad}, ignored`);
    return undefined;
  }
  return spec;
}

function tunFields(m: MethodSpec): Pick<MethodSpec, 'tunType' | 'tunPort' | 'tunCsum'> {
  if (m.method !== 'tunnel') return {};
  const r: Pick<MethodSpec, 'tunType' | 'tunPort' | 'tunCsum'> = { tunType: m.tunType ?? 'ipip' };
  if (m.tunPort !== undefined) r.tunPort = m.tunPort;
  if (m.tunCsum !== undefined) r.tunCsum = m.tunCsum;
  return r;
}

// ---------------------------------------------------------------------------
// Keyword sets (for splitting inline statements) and the settings they carry

const TIMER_KEYS = ['connect_timeout', 'retry', 'delay_before_retry', 'warmup', 'delay_loop'];

const SCHEDULERS = new Set([
  'rr',
  'wrr',
  'lc',
  'wlc',
  'lblc',
  'sh',
  'mh',
  'dh',
  'fo',
  'ovf',
  'lblcr',
  'sed',
  'nq',
  'twos',
]);

const CHECKERS = new Set(['TCP_CHECK', 'HTTP_GET', 'MISC_CHECK']);
const UNSUPPORTED_CHECKERS = new Set([
  'SSL_GET',
  'SMTP_CHECK',
  'DNS_CHECK',
  'UDP_CHECK',
  'PING_CHECK',
  'BFD_CHECK',
  'FILE_CHECK',
]);

const VS_KEYS = new Set([
  'lvs_sched',
  'lb_algo',
  'lvs_method',
  'lb_kind',
  'protocol',
  'persistence_timeout',
  'persistence_granularity',
  'persistence_engine',
  'ops',
  'flag-1',
  'flag-2',
  'flag-3',
  'sh-port',
  'sh-fallback',
  'mh-port',
  'mh-fallback',
  'ip_family',
  ...TIMER_KEYS,
  'inhibit_on_failure',
  'alpha',
  'omega',
  'quorum',
  'hysteresis',
  'quorum_up',
  'quorum_down',
  'sorry_server',
  'sorry_server_inhibit',
  'sorry_server_lvs_method',
  'ha_suspend',
  'virtualhost',
  'smtp_alert',
  'snmp_name',
  'weight',
  'real_server',
  'include',
]);

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

const GLOBAL_KEYS = new Set(['lvs_timeouts', 'lvs_sync_daemon', 'lvs_flush']);

/** Timer settings that cascade service → real server → checker. */
interface Timers {
  connectTimeout?: number;
  retry?: number;
  delayBeforeRetry?: number;
  delayLoop?: number;
  warmup?: number;
  alpha?: boolean;
}

/** Handles a timer keyword into `t`; false when `kw` is not one. */
function timerKeyword(kw: string, n: Node, p: Problems, t: Timers): boolean {
  switch (kw) {
    case 'connect_timeout':
      t.connectTimeout = timerArg(n, p) ?? t.connectTimeout;
      return true;
    case 'retry':
    case 'nb_get_retry':
      t.retry = intArg(n, p, 1, INT_MAX) ?? t.retry;
      return true;
    case 'delay_before_retry':
      t.delayBeforeRetry = timerArg(n, p) ?? t.delayBeforeRetry;
      return true;
    case 'delay_loop':
      t.delayLoop = timerArg(n, p) ?? t.delayLoop;
      return true;
    case 'warmup':
      t.warmup = timerArg(n, p) ?? t.warmup;
      return true;
    case 'alpha':
      t.alpha = boolArg(n, p) ?? t.alpha;
      return true;
  }
  return false;
}

function unknown(n: Node, p: Problems, where: string): void {
  const kw = n.words[0]?.v ?? '';
  if (kw === 'include') p.warn(n.line, 'include not supported');
  else
    p.warn(
      n.line,
      `unknown keyword '${kw}' in ${where}${n.children ? ' (block skipped)' : ''}, ignored`,
    );
}

/** A keyword that takes no block was given one: its contents are ignored. */
function noBlock(n: Node, p: Problems): void {
  if (n.children) p.warn(n.line, `'${n.words[0].v}' takes no block, block contents ignored`);
}

// ---------------------------------------------------------------------------
// Checkers

type Url = KaChecker['urls'][number];

interface RawChecker {
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

function parseChecker(n: Node, type: KaChecker['type'], p: Problems): RawChecker | undefined {
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

// ---------------------------------------------------------------------------
// Real servers

interface RawRealServer {
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

function parseRealServer(n: Node, p: Problems): RawRealServer | undefined {
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
    if (CHECKERS.has(kw)) {
      const c = parseChecker(s, kw as KaChecker['type'], p);
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

// ---------------------------------------------------------------------------
// Virtual servers

interface RawVirtualServer {
  kind: 'addr' | 'fwmark';
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

const PROTOCOLS: Record<string, number> = { TCP: 6, UDP: 17, SCTP: 132 };

function parseVirtualServer(n: Node, p: Problems): KaVirtualServer | undefined {
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
    quorum: 1,
    hysteresis: 0,
    sorryInhibit: false,
    weight: 1,
    realServers: [],
    invalid: false,
  };
  if (w[1] === 'group') {
    p.warn(n.line, `virtual_server group ${w[2] ?? ''} is not supported, block skipped`);
    return undefined;
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
    noBlock(s, p);
    if (timerKeyword(kw, s, p, raw.t)) continue;
    switchVsKeyword(kw, s, raw, p);
  }
  if (raw.invalid) return undefined;
  return resolveVirtualServer(raw, p);
}

function switchVsKeyword(kw: string, s: Node, raw: RawVirtualServer, p: Problems): void {
  const arg = s.words[1]?.v;
  switch (kw) {
    case 'lvs_sched':
    case 'lb_algo':
      if (arg !== undefined && SCHEDULERS.has(arg)) raw.scheduler = arg;
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
      const proto = arg === undefined ? undefined : PROTOCOLS[arg.toUpperCase()];
      if (proto === undefined) p.warn(s.line, `protocol: invalid protocol '${arg ?? ''}', ignored`);
      else if (raw.kind === 'fwmark') p.warn(s.line, 'protocol is ignored for a fwmark service');
      else raw.protocol = proto;
      break;
    }
    case 'persistence_timeout':
      if (s.words.length < 2) raw.persistenceTimeout = 360;
      else raw.persistenceTimeout = intArg(s, p, 1, 2678400) ?? raw.persistenceTimeout;
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
    case 'smtp_alert':
      boolArg(s, p);
      break;
    // quorum_up, quorum_down, snmp_name: accepted, no effect here
  }
}

/** The load-time checks and defaults of spec §2.2/§3 (warnings at the block's line). */
function resolveVirtualServer(raw: RawVirtualServer, p: Problems): KaVirtualServer | undefined {
  const line = raw.line;
  const name = raw.kind === 'fwmark' ? `fwmark ${raw.fwmark}` : hostPort(raw.addr, raw.port);
  let scheduler = raw.scheduler;
  if (scheduler === undefined) {
    p.warn(line, "no scheduler set, setting default 'wlc'");
    scheduler = 'wlc';
  }
  let vsMethod = raw.method;
  if (vsMethod === undefined) {
    p.warn(line, 'no forwarding method set, setting default NAT');
    vsMethod = { method: 'masq' };
  }
  let protocol: number;
  if (raw.kind === 'fwmark') protocol = 6;
  else if (raw.protocol === undefined) {
    p.warn(line, 'no protocol set - defaulting to UDP');
    protocol = 17;
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

  let ops = raw.ops;
  if (ops && raw.kind === 'addr' && protocol !== 17) {
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
  let timeout = raw.persistenceTimeout;
  if (granularity !== undefined && timeout === undefined) timeout = 360;
  if (raw.kind === 'addr' && raw.port === 0 && timeout === undefined) {
    p.warn(
      line,
      `virtual server ${name}: zero port specified for non-persistent service, setting persistence_timeout 360`,
    );
    timeout = 360;
  }

  let haSuspend = raw.haSuspend;
  if (haSuspend && raw.kind === 'fwmark') {
    p.warn(line, `ha_suspend is not allowed on fwmark service ${name}, cleared`);
    haSuspend = false;
  }

  /** The real-server port a method allows (spec §3 port handling). */
  const portFor = (
    what: string,
    r: { addr: string; port: number; portWritten: boolean; line: number },
    m: KaMethod,
  ): number => {
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
    const checkers = r.checkers.map((c): KaChecker => {
      const pick = <K extends keyof Timers>(k: K): Timers[K] => c.t[k] ?? r.t[k] ?? raw.t[k];
      const k: KaChecker = {
        type: c.type,
        connectTimeout: pick('connectTimeout') ?? 5,
        retry: pick('retry') ?? (c.type === 'MISC_CHECK' ? 0 : 1),
        delayBeforeRetry: pick('delayBeforeRetry') ?? (c.type === 'HTTP_GET' ? 3 : 1),
        delayLoop: pick('delayLoop') ?? 60,
        alpha: pick('alpha') ?? false,
        urls: c.urls,
        miscDynamic: c.miscDynamic,
        line: c.line,
      };
      const warmup = pick('warmup');
      if (warmup !== undefined) k.warmup = warmup;
      if (c.connectIp !== undefined) k.connectIp = c.connectIp;
      if (c.connectPort !== undefined) k.connectPort = c.connectPort;
      if (c.bindto !== undefined) k.bindto = c.bindto;
      if (c.bindPort !== undefined) k.bindPort = c.bindPort;
      if (c.type === 'HTTP_GET') {
        const vh = c.virtualhost ?? r.virtualhost ?? raw.virtualhost;
        if (vh !== undefined) k.virtualhost = vh;
      }
      if (c.miscPath !== undefined) k.miscPath = c.miscPath;
      if (c.miscTimeout !== undefined) k.miscTimeout = c.miscTimeout;
      return k;
    });
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

// ---------------------------------------------------------------------------
// global_defs

function parseGlobalDefs(n: Node, cfg: KaConfig, p: Problems): void {
  for (const s of expand(n.children, GLOBAL_KEYS)) {
    const w = s.words.map((x) => x.v);
    switch (w[0]) {
      case 'lvs_flush':
        cfg.lvsFlush = boolArg(s, p) ?? cfg.lvsFlush;
        break;
      case 'lvs_timeouts': {
        const t: NonNullable<KaConfig['lvsTimeouts']> = {};
        for (let i = 1; i < w.length; i += 2) {
          const k = w[i].toLowerCase();
          const v = intOf(w[i + 1], 0, INT_MAX);
          if ((k === 'tcp' || k === 'tcpfin' || k === 'udp') && v !== undefined) t[k] = v;
          else p.warn(s.line, `lvs_timeouts: invalid '${w[i]} ${w[i + 1] ?? ''}', ignored`);
        }
        if (Object.keys(t).length) cfg.lvsTimeouts = { ...cfg.lvsTimeouts, ...t };
        else p.warn(s.line, 'lvs_timeouts: no valid timeout, ignored');
        break;
      }
      case 'lvs_sync_daemon':
        parseSyncDaemon(s, w, cfg, p);
        break;
      // every other global_defs keyword belongs to other parts of keepalived
    }
  }
}

function parseSyncDaemon(s: Node, w: string[], cfg: KaConfig, p: Problems): void {
  if (w.length < 2) {
    p.warn(s.line, 'lvs_sync_daemon: missing interface, ignored');
    return;
  }
  const d: NonNullable<KaConfig['syncDaemon']> = { ifname: w[1] };
  const num = (
    k: 'syncId' | 'maxLen' | 'port' | 'ttl',
    i: number,
    min: number,
    max: number,
  ): void => {
    const v = intOf(w[i], min, max);
    if (v === undefined)
      p.warn(s.line, `lvs_sync_daemon: invalid ${w[i - 1]} '${w[i] ?? ''}', ignored`);
    else d[k] = v;
  };
  for (let i = 2; i < w.length; i++) {
    switch (w[i]) {
      case 'inst':
        if (w[i + 1] === undefined) p.warn(s.line, 'lvs_sync_daemon: missing instance name');
        else d.instance = w[i + 1];
        i++;
        break;
      case 'id':
        num('syncId', ++i, 0, 255);
        break;
      case 'maxlen':
        num('maxLen', ++i, 1, 65507);
        break;
      case 'port':
        num('port', ++i, 1, 65535);
        break;
      case 'ttl':
        num('ttl', ++i, 1, 255);
        break;
      case 'group':
        if (w[i + 1] !== undefined && familyOf(w[i + 1])) d.group = w[i + 1];
        else p.warn(s.line, `lvs_sync_daemon: invalid group '${w[i + 1] ?? ''}', ignored`);
        i++;
        break;
      default:
        // the older form names the VRRP instance right after the interface
        if (i === 2) d.instance = w[i];
        else p.warn(s.line, `lvs_sync_daemon: unknown option '${w[i]}', ignored`);
    }
  }
  cfg.syncDaemon = d;
}

// ---------------------------------------------------------------------------

/** Parses the LVS part of a keepalived.conf. Never throws. */
export function parseKeepalived(text: string): KaConfig {
  const p = new Problems();
  const cfg: KaConfig = {
    virtualServers: [],
    lvsFlush: false,
    warnings: p.warnings,
    errors: p.errors,
  };
  const tree = buildTree(String(text), p);
  for (const n of tree) {
    const kw = n.words[0]?.v;
    if (kw === 'include') {
      p.warn(n.line, 'include not supported');
      continue;
    }
    if (kw !== 'global_defs' && kw !== 'virtual_server') continue;
    if (!n.closed) continue; // reported by buildTree; the block is unusable
    if (kw === 'global_defs') parseGlobalDefs(n, cfg, p);
    else {
      const vs = parseVirtualServer(n, p);
      if (vs) cfg.virtualServers.push(vs);
    }
  }
  return cfg;
}
