/**
 * A checker block as written, resolved into the checkers of a real server (keepalived's
 * defaults per checker type, SMTP_CHECK host blocks, the options tsvs refuses), and
 * the top-level blocks checkers refer to (`SSL`, `track_file`) with global_defs'
 * script settings, applied once the whole file is read. `checker.ts` reads the blocks.
 */
import type { KaChecker, KaCheckerType, KaConfig, KaSsl, KaTrackFile, KaUrl } from './types.js';
import { expand, type Node, type Problems } from './lexer.js';
import { boolArg, intOf, unknown, type Timers } from './values.js';
import { bfdSourceMissing, bfdVtyDir } from '../checkers/bfd.js';

/** The connection options of a checker or of one SMTP `host` block. */
export interface Conn {
  connectIp?: string;
  connectPort?: number;
  bindto?: string;
  bindPort?: number;
  bindIf?: string;
  fwmark?: number;
  connectTimeout?: number;
}

/** A checker block as written; `resolveCheckers` applies the defaults. */
export interface RawChecker {
  type: KaCheckerType;
  line: number;
  t: Timers;
  conn: Conn;
  /** Reasons it cannot run as written (see the module's note on failing closed). */
  unusable: string[];
  logAllFailures?: boolean;
  urls: KaUrl[];
  virtualhost?: string;
  httpProtocol?: KaChecker['httpProtocol'];
  fastRecovery?: boolean;
  enableSni?: boolean;
  heloName?: string;
  /** SMTP_CHECK's deprecated host blocks: one checker each. */
  hosts: { conn: Conn; line: number }[];
  payload?: string;
  requireReply?: boolean;
  replyData?: string;
  replyMask?: string;
  minReplyLength?: number;
  maxReplyLength?: number;
  dnsType?: string;
  dnsName?: string;
  trackFileName?: string;
  fileWeight?: { weight: number; reverse: boolean };
  miscPath?: string;
  miscTimeout?: number;
  miscDynamic: boolean;
  miscUser?: string;
  miscGroup?: string;
  bfdName?: string;
  /** For an unknown checker: the name written. */
  written?: string;
}

/** What keepalived itself refuses (check_conn_opts), and PING_CHECK's option limits. */
function connRefusals(type: KaCheckerType, conn: Conn, dst: string): string[] {
  const out: string[] = [];
  // PING_CHECK honours fwmark, bind_if and bindto through iputils' ping (checkers/ping.ts)
  if (type === 'PING_CHECK') {
    if (conn.bindIf !== undefined && conn.bindto !== undefined)
      out.push('PING_CHECK takes bind_if or bindto, not both (ping -I takes one)');
    if (conn.bindPort !== undefined) out.push('bind_port has no meaning for PING_CHECK');
    if (/^fe[89ab][0-9a-f]:/i.test(dst) && conn.bindIf === undefined)
      out.push(`Checker link local address ${dst} requires a bind_if`);
    return out;
  }
  // fwmark and bind_if are honoured through socat (checkers/socat.ts); the interface of
  // a link-local destination is its zone (check_api.c check_conn_opts)
  if (conn.bindIf === undefined && /^fe[89ab][0-9a-f]:/i.test(dst))
    out.push(`Checker link local address ${dst} requires a bind_if`);
  return out;
}

/** keepalived's per-type defaults (check_*.c queue_checker calls). */
function defaultRetry(type: KaCheckerType): number {
  if (type === 'MISC_CHECK') return 0;
  if (type === 'DNS_CHECK') return 3;
  return 1;
}

/**
 * The checkers of one real server with every default applied (keepalived's
 * check_data.c: checker, else real server, else virtual server, else the checker
 * type's default). An SMTP_CHECK with `host` blocks gives one checker per host.
 *
 * @param rsT the real server's timers, @param vsT the virtual server's
 * @param vhost the real server's virtualhost, else the virtual server's
 * @param rsAddr the real server's address (for the link-local rule)
 */
export function resolveCheckers(
  c: RawChecker,
  rsT: Timers,
  vsT: Timers,
  vhost: string | undefined,
  rsAddr: string,
): KaChecker[] {
  const pick = <K extends keyof Timers>(k: K): Timers[K] => c.t[k] ?? rsT[k] ?? vsT[k];
  const delayLoop = pick('delayLoop') ?? 60;
  const base: KaChecker = {
    type: c.type,
    connectTimeout: pick('connectTimeout') ?? 5,
    retry: pick('retry') ?? defaultRetry(c.type),
    delayBeforeRetry:
      pick('delayBeforeRetry') ??
      (c.type === 'HTTP_GET' || c.type === 'SSL_GET' ? 3 : c.type === 'DNS_CHECK' ? delayLoop : 1),
    delayLoop,
    alpha: pick('alpha') ?? false,
    urls: c.urls,
    miscDynamic: c.miscDynamic,
    line: c.line,
  };
  const warmup = pick('warmup');
  if (warmup !== undefined) base.warmup = warmup;
  if (c.logAllFailures) base.logAllFailures = true;
  const opt = <K extends keyof KaChecker>(k: K, v: KaChecker[K] | undefined): void => {
    if (v !== undefined) base[k] = v;
  };
  if (c.type === 'HTTP_GET' || c.type === 'SSL_GET') {
    opt('virtualhost', c.virtualhost ?? vhost);
    opt('httpProtocol', c.httpProtocol);
    opt('fastRecovery', c.fastRecovery);
    if (c.type === 'SSL_GET') opt('enableSni', c.enableSni);
  }
  if (c.type === 'SMTP_CHECK') base.heloName = c.heloName ?? 'smtpchecker.keepalived.org';
  if (c.type === 'UDP_CHECK') {
    opt('payload', c.payload);
    opt('requireReply', c.requireReply);
    opt('replyData', c.replyData);
    opt('replyMask', c.replyMask);
    base.minReplyLength = c.minReplyLength ?? 0;
    base.maxReplyLength = c.maxReplyLength ?? 255;
  }
  if (c.type === 'DNS_CHECK') {
    base.dnsType = c.dnsType ?? 'SOA';
    base.dnsName = c.dnsName ?? '.';
  }
  if (c.type === 'MISC_CHECK') {
    opt('miscPath', c.miscPath);
    opt('miscTimeout', c.miscTimeout);
    opt('miscUser', c.miscUser);
    opt('miscGroup', c.miscGroup);
  }
  if (c.type === 'FILE_CHECK') {
    // keepalived reacts to the file at once (inotify) and has no timers for it: tsvs
    // reads it every second, from the start, with no retries
    base.delayLoop = 1;
    base.warmup = 0;
    base.retry = 0;
    base.delayBeforeRetry = 1;
    base.alpha = false;
    if (c.trackFileName !== undefined)
      base.trackFile = {
        name: c.trackFileName,
        path: '',
        weight: c.fileWeight?.weight ?? NaN,
        reverse: c.fileWeight?.reverse ?? false,
      };
  }
  if (c.type === 'BFD_CHECK') {
    // keepalived acts on bfdd's events, with no timers or retries: tsvs reads the
    // session's state every second, from the start
    base.delayLoop = 1;
    base.warmup = 0;
    base.retry = 0;
    base.delayBeforeRetry = 1;
    opt('bfdName', c.bfdName);
  }
  // keepalived 2.2 (smtp_check_end_handler): with connection options on the checker
  // itself (connect_timeout included), or no host block, the checker checks the real
  // server (or its connect_ip) and each host block adds a checker; otherwise the first
  // host block takes the checker's place. A host's timeout is its own, else the real
  // server's or the service's, never the checker's.
  const main = { conn: c.conn, line: c.line };
  const hosts =
    c.type !== 'SMTP_CHECK' || !c.hosts.length
      ? [main]
      : hasConn(c.conn)
        ? [main, ...c.hosts]
        : c.hosts;
  return hosts.map((h) => {
    const k: KaChecker = { ...base, line: h.line };
    const co = h.conn;
    if (co.connectTimeout !== undefined) k.connectTimeout = co.connectTimeout;
    opt2(k, 'connectIp', co.connectIp);
    opt2(k, 'connectPort', co.connectPort);
    opt2(k, 'bindto', co.bindto);
    opt2(k, 'bindPort', co.bindPort);
    opt2(k, 'bindIf', co.bindIf);
    if (co.fwmark) k.fwmark = co.fwmark;
    const why = [...c.unusable];
    if (c.type !== 'MISC_CHECK' && c.type !== 'FILE_CHECK' && c.type !== 'BFD_CHECK')
      why.push(...connRefusals(c.type, co, co.connectIp ?? rsAddr));
    if (why.length) k.unusable = `${c.written ?? c.type}: ${why.join('; ')}`;
    return k;
  });
}

function opt2<K extends keyof KaChecker>(k: KaChecker, key: K, v: KaChecker[K] | undefined): void {
  if (v !== undefined) k[key] = v;
}

/** Whether a connection option was written on the checker itself. */
function hasConn(c: Conn): boolean {
  return Object.values(c).some((v) => v !== undefined);
}

const SSL_KEYS = new Set(['password', 'ca', 'certificate', 'key']);
const TRACK_FILE_KEYS = new Set(['file', 'weight', 'init_file']);

/**
 * The top-level blocks checkers refer to — `SSL` (SSL_GET's client context) and
 * `track_file` / `vrrp_track_file` (FILE_CHECK) — and the global_defs keywords of
 * scripts, applied to every checker of `cfg` once the whole file is read (keepalived
 * also resolves them at the end of the configuration).
 */
export function applyCheckerGlobals(tree: Node[], cfg: KaConfig, p: Problems): void {
  let ssl: KaSsl | undefined;
  const files = new Map<string, { path?: string; weight: number; reverse: boolean }>();
  const bfds = new Map<string, BfdInstance>();
  for (const n of tree) {
    const kw = n.words[0]?.v;
    if (kw === 'bfd_instance' && n.children) {
      const b = bfdInstance(n);
      if (b) bfds.set(b.name, b);
    } else if (kw === 'SSL' && n.children) {
      if (ssl) p.warn(n.line, 'SSL context already specified - replacing');
      ssl = {};
      for (const s of expand(n.children, SSL_KEYS)) {
        const k = s.words[0]?.v;
        const v = s.words[1]?.v;
        const field = (
          { password: 'password', ca: 'ca', certificate: 'certificate', key: 'key' } as const
        )[k as 'password'];
        if (!field) {
          if (k) unknown(s, p, 'SSL');
        } else if (v === undefined) p.warn(s.line, `SSL ${k} missing`);
        else {
          if (ssl[field] !== undefined) p.warn(s.line, `SSL ${k} already specified - replacing`);
          ssl[field] = v;
        }
      }
    } else if ((kw === 'track_file' || kw === 'vrrp_track_file') && n.children) {
      const name = n.words[1]?.v;
      if (name === undefined) {
        p.warn(n.line, `${kw}: missing name, ignored`);
        continue;
      }
      const f: { path?: string; weight: number; reverse: boolean } = { weight: 1, reverse: false };
      for (const s of expand(n.children, TRACK_FILE_KEYS)) {
        const k = s.words[0]?.v;
        if (k === 'file') {
          if (f.path !== undefined)
            p.warn(s.line, `File already set for track file ${name}, ignored`);
          else f.path = s.words[1]?.v;
        } else if (k === 'weight') {
          const v = intOf(s.words[1]?.v.replace(/^-/, ''), 0, 254);
          if (v === undefined)
            p.warn(
              s.line,
              `Weight (${s.words[1]?.v ?? ''}) for track_file ${name} must be between [-254..254] inclusive, ignored`,
            );
          else f.weight = s.words[1].v.startsWith('-') ? -v : v;
          if (s.words[2]?.v === 'reverse') f.reverse = true;
          else if (s.words[2] !== undefined)
            p.warn(s.line, `track_file ${name} unknown weight option ${s.words[2].v}`);
        } else if (k === 'init_file') {
          // creating the file is keepalived's start-up side effect; tsvs reads, never writes
          p.warn(
            s.line,
            `track_file ${name}: init_file is not supported (tsvs does not create the file), ignored`,
          );
        } else if (k) unknown(s, p, 'track_file');
      }
      if (f.path === undefined) p.warn(n.line, `No file set for track_file ${name}, ignored`);
      else files.set(name, f);
    }
  }
  let scriptUser: string[] | undefined;
  let scriptSecurity = false;
  for (const n of tree)
    if (n.words[0]?.v === 'global_defs')
      for (const s of n.children ?? []) {
        const k = s.words[0]?.v;
        if (k === 'script_user' && s.words[1]) scriptUser = s.words.slice(1, 3).map((w) => w.v);
        if (k === 'enable_script_security') scriptSecurity = boolArg(s, p) ?? scriptSecurity;
      }
  for (const vs of cfg.virtualServers)
    for (const rs of vs.realServers)
      for (const c of rs.checkers) {
        if (c.type === 'SSL_GET' && ssl) c.ssl = ssl;
        if (c.type === 'MISC_CHECK') {
          if (scriptSecurity) c.scriptSecurity = true;
          if (c.miscUser === undefined && scriptUser) {
            c.miscUser = scriptUser[0];
            if (scriptUser[1] !== undefined) c.miscGroup = scriptUser[1];
          }
        }
        if (c.type === 'BFD_CHECK' && c.bfdName !== undefined && c.unusable === undefined) {
          const why = bfdSession(c, bfds.get(c.bfdName));
          if (why !== undefined) {
            p.error(c.line, `${why}: its real server is kept out of rotation`);
            c.unusable = why;
          }
        }
        if (c.type === 'FILE_CHECK' && c.trackFile) {
          const f = files.get(c.trackFile.name);
          if (!f) {
            p.error(
              c.line,
              `track_file ${c.trackFile.name} not found: its real server is kept out of rotation`,
            );
            c.unusable = `FILE_CHECK: track_file ${c.trackFile.name} not found`;
            continue;
          }
          const t: KaTrackFile = {
            name: c.trackFile.name,
            path: f.path!,
            weight: Number.isNaN(c.trackFile.weight) ? f.weight : c.trackFile.weight,
            reverse: Number.isNaN(c.trackFile.weight) ? f.reverse : c.trackFile.reverse,
          };
          c.trackFile = t;
        }
      }
}

/** A bfd_instance block: the fields BFD_CHECK needs to find the session in bfdd. */
interface BfdInstance {
  name: string;
  line: number;
  peer?: string;
  local?: string;
  /** `vrrp` without `checker`: keepalived sends its events to VRRP only. */
  vrrpOnly: boolean;
}

function bfdInstance(n: Node): BfdInstance | undefined {
  const name = n.words[1]?.v;
  if (name === undefined) return undefined;
  const b: BfdInstance = { name, line: n.line, vrrpOnly: false };
  let vrrp = false;
  let checker = false;
  for (const s of n.children ?? []) {
    const k = s.words[0]?.v;
    const v = s.words[1]?.v;
    if ((k === 'neighbor_ip' || k === 'neighbour_ip') && v !== undefined) b.peer = v;
    else if (k === 'source_ip' && v !== undefined) b.local = v;
    else if (k === 'vrrp') vrrp = true;
    else if (k === 'checker') checker = true;
  }
  b.vrrpOnly = vrrp && !checker;
  return b;
}

/**
 * Links a BFD_CHECK to its session in FRR's bfdd; the reason it cannot, if it cannot
 * (keepalived's "BFD %s not configured"; no BFD source).
 */
function bfdSession(c: KaChecker, b: BfdInstance | undefined): string | undefined {
  const name = c.bfdName!;
  if (!b || b.vrrpOnly) return `BFD_CHECK - BFD ${name} not configured`;
  if (b.peer === undefined) return `BFD_CHECK - bfd_instance ${name} has no neighbor_ip`;
  const vtyDir = bfdVtyDir();
  const why = bfdSourceMissing(vtyDir);
  if (why !== undefined) return `BFD_CHECK ${name}: no BFD source (${why})`;
  c.bfd = { name, peer: b.peer, vtyDir };
  if (b.local !== undefined) c.bfd.local = b.local;
  return undefined;
}
