/**
 * The routing snapshot behind {@link ReplyRoutes} (replyroute.ts): one family's policy
 * rules, main and local routing tables as iproute2 prints them (`ip -j rule show`,
 * `ip -j route show table main|local`), parsed and checked in the control path into
 * the prefixes whose route the kernel's choice is known for, and the addresses never
 * answered. Nothing here runs per packet.
 *
 * @module
 */

/** Facts about a network device (from `ip -j link show`). */
export interface LinkInfo {
  /** Hardware address, 6 bytes. */
  mac: Uint8Array;
  mtu: number;
  /** `link_type === 'ether'`. */
  ether: boolean;
}

/** More routes than this in one family disable it (a look-up scans them linearly). */
const MAX_ROUTES = 512;

/** Keys a standard `ip -j rule show` entry may have. */
const RULE_KEYS = new Set(['priority', 'src', 'table', 'protocol']);

export type Family = 4 | 6;

/** An address as 32-bit words (signed), 1 for IPv4, 4 for IPv6. */
export type Words = number[];

export interface Prefix {
  /** Address words with the host bits cleared. */
  w: Words;
  len: number;
}

/** The chosen route of one prefix of the main table. */
export interface RouteSpec extends Prefix {
  /** Why the kernel's choice cannot be known or used (null: usable). */
  why: string | null;
  dev: string;
  gw: Words | null;
  mtu: number;
  srcMac: Uint8Array;
}

/** One family's parsed snapshot (what hops are built from). */
export interface Snapshot {
  routes: RouteSpec[];
  /** Raw route count. */
  count: number;
  /** Local, broadcast and anycast host addresses (never answered). */
  blockedHosts: Words[];
  /** Prefixes of the local table that are not single hosts (never answered). */
  blockedPrefixes: Prefix[];
}

function parse4(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  let a = 0;
  for (let i = 1; i <= 4; i++) {
    const b = Number(m[i]);
    if (b > 255) return null;
    a = (a << 8) | b;
  }
  return a;
}

/** 16-bit groups of a colon-separated list; the last one may be a dotted IPv4 address. */
function groups16(parts: string[], v4Last: boolean): number[] | null {
  const out: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (v4Last && i === parts.length - 1 && p.includes('.')) {
      const a = parse4(p);
      if (a === null) return null;
      out.push((a >>> 16) & 0xffff, a & 0xffff);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
      out.push(parseInt(p, 16));
    } else {
      return null;
    }
  }
  return out;
}

function parse6(s: string): Words | null {
  let g: number[];
  const dbl = s.indexOf('::');
  if (dbl >= 0) {
    if (s.indexOf('::', dbl + 1) >= 0) return null;
    const h = s.slice(0, dbl);
    const t = s.slice(dbl + 2);
    const head = h === '' ? [] : groups16(h.split(':'), false);
    const tail = t === '' ? [] : groups16(t.split(':'), true);
    if (!head || !tail || head.length + tail.length > 7) return null;
    g = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = groups16(s.split(':'), true);
    if (!all || all.length !== 8) return null;
    g = all;
  }
  const w: Words = [];
  for (let i = 0; i < 4; i++) w.push((g[2 * i] << 16) | g[2 * i + 1]);
  return w;
}

export function parseWords(af: Family, s: unknown): Words | null {
  if (typeof s !== 'string') return null;
  if (af === 4) {
    const a = parse4(s);
    return a === null ? null : [a];
  }
  return parse6(s);
}

/** Mask word `i` of a prefix length. */
export function maskWord(len: number, i: number): number {
  const b = len - 32 * i;
  if (b <= 0) return 0;
  if (b >= 32) return -1;
  return -1 << (32 - b);
}

export function parsePrefix(af: Family, s: unknown): Prefix | null {
  if (typeof s !== 'string') return null;
  const bits = af === 4 ? 32 : 128;
  if (s === 'default') return { w: af === 4 ? [0] : [0, 0, 0, 0], len: 0 };
  let len = bits;
  let addr = s;
  const slash = s.indexOf('/');
  if (slash >= 0) {
    const l = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(l) || Number(l) > bits) return null;
    len = Number(l);
    addr = s.slice(0, slash);
  }
  const w = parseWords(af, addr);
  if (!w) return null;
  return { w: w.map((x, i) => x & maskWord(len, i)), len };
}

export function fmtWords(w: Words): string {
  return w.join(',');
}

/** A unicast MAC that is not all zeros. */
export function unicastMac(m: Uint8Array): boolean {
  return m.length === 6 && (m[0] & 1) === 0 && m.some((b) => b !== 0);
}

export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function parseArray(text: string): unknown[] | null {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

/** Null when `ip -j rule show` lists only the standard rules, else why not. */
function checkRules(text: string): string | null {
  const rules = parseArray(text);
  if (!rules) return 'unreadable rule list';
  let local = false;
  let main = false;
  for (const r of rules) {
    if (!isObject(r)) return 'unreadable rule list';
    const prio = r.priority;
    const table = String(r.table);
    const what = `policy routing (rule ${String(prio)}: ${JSON.stringify(r)})`;
    for (const k of Object.keys(r)) if (!RULE_KEYS.has(k)) return what;
    if (r.src !== undefined && r.src !== 'all') return what;
    if (prio === 0 && (table === 'local' || table === '255')) local = true;
    else if (prio === 32766 && (table === 'main' || table === '254')) main = true;
    else if (!(prio === 32767 && (table === 'default' || table === '253'))) return what;
  }
  if (!local || !main) return 'policy routing (a standard rule is missing)';
  return null;
}

/** One `ip route` entry before the routes of a prefix are compared. */
interface RawRoute {
  pfx: Prefix;
  metric: number;
  /** Source- or TOS-specific. */
  selector: boolean;
  why: string | null;
  dev: string;
  gw: Words | null;
  mtu: number;
  srcMac: Uint8Array;
}

function rawRoute(
  af: Family,
  r: Record<string, unknown>,
  pfx: Prefix,
  linkOf: (dev: string) => LinkInfo | null,
): RawRoute {
  const out: RawRoute = {
    pfx,
    metric: r.metric === undefined ? 0 : typeof r.metric === 'number' ? r.metric : NaN,
    selector: r.from !== undefined || r.tos !== undefined || r.dsfield !== undefined,
    why: null,
    dev: typeof r.dev === 'string' ? r.dev : '',
    gw: null,
    mtu: 0,
    srcMac: new Uint8Array(6),
  };
  const flags = Array.isArray(r.flags) ? r.flags : [];
  if (r.type !== undefined && r.type !== 'unicast') out.why = `type ${String(r.type)}`;
  else if (r.nexthops !== undefined) out.why = 'multipath';
  else if (r.encap !== undefined) out.why = 'encapsulation';
  else if (typeof r.dev !== 'string') out.why = 'no device';
  else if (flags.includes('dead') || flags.includes('linkdown')) out.why = 'link down';
  else if (Number.isNaN(out.metric)) out.why = 'unreadable metric';
  if (out.why) return out;
  if (r.gateway !== undefined) {
    out.gw = parseWords(af, r.gateway);
    if (!out.gw) out.why = 'unreadable gateway';
  } else if (r.via !== undefined) {
    const via = isObject(r.via) ? r.via : {};
    out.gw = via.family === (af === 4 ? 'inet' : 'inet6') ? parseWords(af, via.host) : null;
    if (!out.gw) out.why = 'gateway of another family';
  }
  let routeMtu = 0;
  if (r.metrics !== undefined) {
    if (!Array.isArray(r.metrics)) out.why = 'unreadable metrics';
    else
      for (const m of r.metrics as unknown[])
        if (isObject(m) && m.mtu !== undefined) {
          if (typeof m.mtu === 'number') routeMtu = m.mtu;
          else out.why = 'unreadable mtu metric';
        }
  }
  if (out.why) return out;
  const link = linkOf(out.dev);
  if (!link) out.why = `unknown device ${out.dev}`;
  else if (!link.ether) out.why = `${out.dev} has no Ethernet framing`;
  else if (!unicastMac(link.mac)) out.why = `${out.dev} has no MAC address`;
  else if (!(link.mtu > 0)) out.why = `${out.dev} has no MTU`;
  else {
    out.mtu = routeMtu > 0 && routeMtu < link.mtu ? routeMtu : link.mtu;
    out.srcMac = link.mac.slice(0, 6);
  }
  return out;
}

/** The snapshot of one family, or why there is none (the family is then not answered). */
export function takeSnapshot(
  af: Family,
  ruleJson: string,
  routeJson: string,
  links: (dev: string) => LinkInfo | null,
  localJson: string | undefined,
): Snapshot | string {
  const policy = checkRules(ruleJson);
  if (policy) return policy;
  const list = parseArray(routeJson);
  if (!list) return 'unreadable route list';
  if (list.length > MAX_ROUTES)
    return `${list.length} routes (more than ${MAX_ROUTES}), the kernel routes them`;
  const linkCache = new Map<string, LinkInfo | null>();
  const linkOf = (dev: string): LinkInfo | null => {
    if (!linkCache.has(dev)) {
      let l: LinkInfo | null = null;
      try {
        l = links(dev);
      } catch {
        l = null;
      }
      linkCache.set(dev, l);
    }
    return linkCache.get(dev) ?? null;
  };
  const blockedHosts: Words[] = [];
  const blockedPrefixes: Prefix[] = [];
  const bits = af === 4 ? 32 : 128;
  const groups = new Map<string, RawRoute[]>();
  for (const r of list) {
    if (!isObject(r)) return 'unreadable route list';
    const pfx = parsePrefix(af, r.dst);
    if (!pfx) return `unreadable route destination ${JSON.stringify(r.dst)}`;
    const raw = rawRoute(af, r, pfx, linkOf);
    const key = `${pfx.len}/${fmtWords(pfx.w)}`;
    const g = groups.get(key);
    if (g) g.push(raw);
    else groups.set(key, [raw]);
    // Addresses of this host and of its connected networks' broadcast/anycast.
    const src = parseWords(af, r.prefsrc);
    if (src) blockedHosts.push(src);
    const unicast = r.type === undefined || r.type === 'unicast';
    if (unicast && r.gateway === undefined && r.via === undefined && pfx.len < bits) {
      if (af === 6 || pfx.len <= 30) blockedHosts.push(pfx.w);
      if (af === 4 && pfx.len <= 30) blockedHosts.push([pfx.w[0] | ~maskWord(pfx.len, 0)]);
    }
  }
  if (localJson !== undefined) {
    const local = parseArray(localJson);
    if (!local) return 'unreadable local table';
    for (const r of local) {
      const pfx = isObject(r) ? parsePrefix(af, r.dst) : null;
      if (!pfx) return 'unreadable local table';
      if (pfx.len === bits) blockedHosts.push(pfx.w);
      else blockedPrefixes.push(pfx);
    }
  }
  const routes: RouteSpec[] = [];
  for (const g of groups.values()) {
    const first = g[0];
    const spec: RouteSpec = {
      ...first.pfx,
      why: null,
      dev: '',
      gw: null,
      mtu: 0,
      srcMac: first.srcMac,
    };
    let best: RawRoute | null = null;
    let ties = 0;
    for (const r of g) {
      if (!best || r.metric < best.metric) {
        best = r;
        ties = 0;
      } else if (r.metric === best.metric) ties++;
    }
    if (g.some((r) => r.selector)) spec.why = 'source- or TOS-specific route';
    else if (ties > 0 || !best) spec.why = 'several routes with the same metric';
    else if (best.why) spec.why = best.why;
    else Object.assign(spec, { dev: best.dev, gw: best.gw, mtu: best.mtu, srcMac: best.srcMac });
    routes.push(spec);
  }
  routes.sort((a, b) => b.len - a.len);
  return { routes, count: list.length, blockedHosts, blockedPrefixes };
}
