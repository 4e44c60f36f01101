/**
 * Values of keepalived.conf keywords: integers, timers, booleans, addresses and ports,
 * `lvs_method` with its tunnel options, the timer settings that cascade from the
 * virtual server to the real server to the checker, and the warnings for a keyword
 * that is unknown or given a block it does not take.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { TUN_TYPE_NAMES } from '../../engine/spec.js';
import type { KaMethod, KaScript, KaTunCsum, KaTunType } from './types.js';
import type { Node, Problems } from './lexer.js';
import { refusal, ROOT_KEYWORDS } from './keywords.js';

export const INT_MAX = 2147483647;
export const UINT_MAX = 4294967295;

export function intOf(s: string | undefined, min: number, max: number): number | undefined {
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

export function familyOf(a: string): 4 | 6 | undefined {
  return isIPv4(a) ? 4 : isIPv6(a) ? 6 : undefined;
}

/** Canonical form of an address for comparisons (IPv6 expanded, lower case). */
export function addrKey(a: string): string {
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

export function hostPort(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

export function isNetmask4(s: string): boolean {
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
export function boolArg(n: Node, p: Problems): boolean | undefined {
  const w = n.words;
  if (w.length < 2) return true;
  const v = BOOLS[w[1].v.toLowerCase()];
  if (v === undefined) p.warn(n.line, `${w[0].v}: invalid boolean '${w[1].v}', ignored`);
  return v;
}

export function intArg(n: Node, p: Problems, min: number, max: number): number | undefined {
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

export function timerArg(n: Node, p: Problems): number | undefined {
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

export function strArg(n: Node, p: Problems): string | undefined {
  const s = n.words[1]?.v;
  if (s === undefined || s === '') p.warn(n.line, `${n.words[0].v}: missing value, ignored`);
  return s || undefined;
}

export function ipArg(n: Node, p: Problems): string | undefined {
  const s = n.words[1]?.v;
  if (s !== undefined && familyOf(s)) return s;
  p.warn(n.line, `${n.words[0].v}: invalid address '${s ?? ''}', ignored`);
  return undefined;
}

/** An address and an optional port, as separate words starting at words[i]. */
export function addrPort(
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

export interface MethodSpec {
  method: KaMethod;
  tunType?: KaTunType;
  tunPort?: number;
  tunCsum?: KaTunCsum;
}

/** `lvs_method NAT|DR|TUN [type {ipip|gue port N|gre} [nocsum|csum|remcsum]]` */
export function methodArg(n: Node, p: Problems, from = 1): MethodSpec | undefined {
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
      const written = w[++i]?.toLowerCase();
      const t = TUN_TYPE_NAMES.find((name) => name === written);
      if (t === undefined) {
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

export function tunFields(m: MethodSpec): Pick<MethodSpec, 'tunType' | 'tunPort' | 'tunCsum'> {
  if (m.method !== 'tunnel') return {};
  const r: Pick<MethodSpec, 'tunType' | 'tunPort' | 'tunCsum'> = { tunType: m.tunType ?? 'ipip' };
  if (m.tunPort !== undefined) r.tunPort = m.tunPort;
  if (m.tunCsum !== undefined) r.tunCsum = m.tunCsum;
  return r;
}

export const TIMER_KEYS = [
  'connect_timeout',
  'retry',
  'delay_before_retry',
  'warmup',
  'delay_loop',
];

/** Timer settings that cascade service → real server → checker. */
export interface Timers {
  connectTimeout?: number;
  retry?: number;
  delayBeforeRetry?: number;
  delayLoop?: number;
  warmup?: number;
  alpha?: boolean;
}

/** Handles a timer keyword into `t`; false when `kw` is not one. */
export function timerKeyword(kw: string, n: Node, p: Problems, t: Timers): boolean {
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

export function unknown(n: Node, p: Problems, where: string): void {
  const kw = n.words[0]?.v ?? '';
  if (kw === 'include') p.warn(n.line, refusal('include', ROOT_KEYWORDS.include)!);
  else
    p.warn(
      n.line,
      `unknown keyword '${kw}' in ${where}${n.children ? ' (block skipped)' : ''}, ignored`,
    );
}

/** A keyword that takes no block was given one: its contents are ignored. */
export function noBlock(n: Node, p: Problems): void {
  if (n.children) p.warn(n.line, `'${n.words[0].v}' takes no block, block contents ignored`);
}

/** A command line split into words as keepalived does: whitespace, `'…'` quotes, `\` escapes. */
export function splitCommand(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let have = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      have = true;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      cur += end < 0 ? s.slice(i + 1) : s.slice(i + 1, end);
      have = true;
      i = end < 0 ? s.length : end;
    } else if (/\s/.test(c)) {
      if (have) out.push(cur);
      cur = '';
      have = false;
    } else {
      cur += c;
      have = true;
    }
  }
  if (have) out.push(cur);
  return out;
}

/** `kw SCRIPT [USER [GROUP]]` (notify_up, quorum_down, ...): undefined and a warning when empty. */
export function scriptArg(n: Node, p: Problems): KaScript | undefined {
  const w = n.words;
  const args = w[1] ? splitCommand(w[1].v) : [];
  if (!args.length) {
    p.warn(n.line, `${w[0].v}: missing script, ignored`);
    return undefined;
  }
  if (w.length > 4) p.warn(n.line, `${w[0].v}: extra arguments after the user and group ignored`);
  const s: KaScript = { args, line: n.line };
  if (w[2]) s.user = w[2].v;
  if (w[3]) s.group = w[3].v;
  return s;
}
