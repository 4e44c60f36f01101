/**
 * Link-layer next hops of NAT replies (real server → client, source already rewritten to
 * the VIP), answered per packet from a snapshot of the kernel's policy rules, main routing
 * table and neighbour table. The director takes the snapshot in the control path
 * (iproute2 JSON, every few seconds) and sends a reply itself on a packet socket when
 * {@link ReplyRoutes.lookup} gives a hop; on null it lets the kernel forward the packet.
 *
 * The answers are conservative: whenever the kernel might route a destination
 * differently (policy rules, source- or TOS-specific routes, multipath, blackholes,
 * several routes of the same prefix and metric, a longest match that is not a plain
 * unicast route on an Ethernet device, local or broadcast addresses, a neighbour that is
 * not resolved), the answer is null. All hop objects are built when a snapshot is set;
 * a look-up only reads typed arrays and returns one of them.
 *
 * @module
 */
import { parseMac } from './nexthop.js';

/** Facts about a network device (from `ip -j link show`). */
export interface LinkInfo {
  /** Hardware address, 6 bytes. */
  mac: Uint8Array;
  mtu: number;
  /** `link_type === 'ether'`. */
  ether: boolean;
}

/** Where to send a reply on the link layer. */
export interface ReplyHop {
  dev: string;
  /** 12 bytes: destination MAC then source MAC (the egress device's). */
  eth: Uint8Array;
  /** Egress MTU: the route's mtu metric when set and smaller, else the device's. */
  mtu: number;
  /** Free slot for the director (its transmit handle); this module sets it to null and never reads it. */
  tx: unknown;
}

/** More routes than this in one family disable it (a look-up scans them linearly). */
const MAX_ROUTES = 512;

/** Neighbour states whose link-layer address the kernel would use. */
const USABLE_STATES = new Set(['REACHABLE', 'STALE', 'DELAY', 'PROBE', 'PERMANENT', 'NOARP']);

/** Keys a standard `ip -j rule show` entry may have. */
const RULE_KEYS = new Set(['priority', 'src', 'table', 'protocol']);

/** Route kinds of a prefix. */
const UNUSABLE = 0;
const GATEWAY = 1;
const ONLINK = 2;

type Family = 4 | 6;

/** An address as 32-bit words (signed), 1 for IPv4, 4 for IPv6. */
type Words = number[];

interface Prefix {
  /** Address words with the host bits cleared. */
  w: Words;
  len: number;
}

/** The chosen route of one prefix of the main table. */
interface RouteSpec extends Prefix {
  /** Why the kernel's choice cannot be known or used (null: usable). */
  why: string | null;
  dev: string;
  gw: Words | null;
  mtu: number;
  srcMac: Uint8Array;
}

/** One family's parsed snapshot (what hops are built from). */
interface Snapshot {
  routes: RouteSpec[];
  /** Raw route count. */
  count: number;
  /** Local, broadcast and anycast host addresses (never answered). */
  blockedHosts: Words[];
  /** Prefixes of the local table that are not single hosts (never answered). */
  blockedPrefixes: Prefix[];
}

/** Per-packet look-up structures of one family. */
interface Built {
  n: number;
  /** n prefixes: network and mask words, longest first. */
  net: Int32Array;
  mask: Int32Array;
  kind: Uint8Array;
  gwHop: (ReplyHop | null)[];
  neigh: AddrTable;
  neighHop: ReplyHop[];
  neighRoute: Int32Array;
  blocked: AddrTable;
  blkN: number;
  blkNet: Int32Array;
  blkMask: Int32Array;
  gateways: number;
}

interface FamilyState {
  snap: Snapshot | null;
  /** Why the family is disabled (when snap is null). */
  why: string;
  built: Built | null;
}

/** A usable neighbour entry. */
interface Neigh {
  af: Family;
  w: Words;
  dev: string;
  mac: Uint8Array;
}

/**
 * Open-addressing hash table from addresses (1 or 4 int32 words) to small integers, in
 * typed arrays so that a look-up allocates nothing.
 */
class AddrTable {
  private readonly bits: number;
  private readonly keys: Int32Array;
  private readonly vals: Int32Array;

  constructor(
    private readonly words: 1 | 4,
    n: number,
  ) {
    let cap = 8;
    while (cap < n * 2) cap *= 2;
    this.bits = cap - 1;
    this.keys = new Int32Array(cap * words);
    this.vals = new Int32Array(cap).fill(-1);
  }

  /** Adds a key; false when it is already there (its value is kept). */
  put(w: Words, v: number): boolean {
    const W = this.words;
    let s = W === 1 ? hash1(w[0]) & this.bits : hash4(w[0], w[1], w[2], w[3]) & this.bits;
    for (;;) {
      if (this.vals[s] < 0) {
        for (let j = 0; j < W; j++) this.keys[s * W + j] = w[j];
        this.vals[s] = v;
        return true;
      }
      let same = true;
      for (let j = 0; j < W; j++) if (this.keys[s * W + j] !== w[j]) same = false;
      if (same) return false;
      s = (s + 1) & this.bits;
    }
  }

  /** Value of an IPv4 key, -1 when absent. */
  get1(a: number): number {
    const keys = this.keys;
    const vals = this.vals;
    let s = hash1(a) & this.bits;
    for (;;) {
      const v = vals[s];
      if (v < 0 || keys[s] === a) return v;
      s = (s + 1) & this.bits;
    }
  }

  /** Value of an IPv6 key, -1 when absent. */
  get4(w0: number, w1: number, w2: number, w3: number): number {
    const keys = this.keys;
    const vals = this.vals;
    let s = hash4(w0, w1, w2, w3) & this.bits;
    for (;;) {
      const v = vals[s];
      if (v < 0) return -1;
      const k = s * 4;
      if (keys[k] === w0 && keys[k + 1] === w1 && keys[k + 2] === w2 && keys[k + 3] === w3)
        return v;
      s = (s + 1) & this.bits;
    }
  }
}

function hash1(a: number): number {
  const h = Math.imul(a, -1640531535);
  return h ^ (h >> 16);
}

function hash4(w0: number, w1: number, w2: number, w3: number): number {
  let h = Math.imul(w0, -1640531535) ^ w1;
  h = Math.imul(h, -2048144789) ^ w2;
  h = Math.imul(h, -1028477387) ^ w3;
  h = Math.imul(h, 668265263);
  return h ^ (h >> 15);
}

/** Big-endian 32-bit word at `o`, as a signed integer. */
function rd32(buf: Uint8Array, o: number): number {
  return (buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3];
}

/** Destinations the kernel never forwards as unicast: 0/8, 127/8, 224/4, 255.255.255.255. */
function special4(a: number): boolean {
  const top = a >>> 24;
  return top === 0 || top === 127 || (top >= 224 && top < 240) || a === -1;
}

/** ::, ::1, ::ffff:0:0/96 (IPv4-mapped), fe80::/10, ff00::/8. */
function special6(w0: number, w1: number, w2: number, w3: number): boolean {
  if (w0 >>> 24 === 0xff || w0 >>> 22 === 0x3fa) return true;
  if (w0 !== 0 || w1 !== 0) return false;
  return w2 === 0xffff || (w2 === 0 && (w3 === 0 || w3 === 1));
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

function parseAddr(af: Family, s: unknown): Words | null {
  if (typeof s !== 'string') return null;
  if (af === 4) {
    const a = parse4(s);
    return a === null ? null : [a];
  }
  return parse6(s);
}

/** Mask word `i` of a prefix length. */
function maskWord(len: number, i: number): number {
  const b = len - 32 * i;
  if (b <= 0) return 0;
  if (b >= 32) return -1;
  return -1 << (32 - b);
}

function parsePrefix(af: Family, s: unknown): Prefix | null {
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
  const w = parseAddr(af, addr);
  if (!w) return null;
  return { w: w.map((x, i) => x & maskWord(len, i)), len };
}

function fmtWords(w: Words): string {
  return w.join(',');
}

/** A unicast MAC that is not all zeros. */
function unicastMac(m: Uint8Array): boolean {
  return m.length === 6 && (m[0] & 1) === 0 && m.some((b) => b !== 0);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function parseArray(text: string): unknown[] | null {
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
    out.gw = parseAddr(af, r.gateway);
    if (!out.gw) out.why = 'unreadable gateway';
  } else if (r.via !== undefined) {
    const via = isObject(r.via) ? r.via : {};
    out.gw = via.family === (af === 4 ? 'inet' : 'inet6') ? parseAddr(af, via.host) : null;
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

/** The snapshot of one family, or why there is none. */
function takeSnapshot(
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
    const src = parseAddr(af, r.prefsrc);
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

/** Index of the longest-prefix route of an IPv4 address, -1 when none. */
function match4(b: Built, a: number): number {
  const net = b.net;
  const mask = b.mask;
  for (let i = 0, n = b.n; i < n; i++) if ((a & mask[i]) === net[i]) return i;
  return -1;
}

/** Index of the longest-prefix route of an IPv6 address, -1 when none. */
function match6(b: Built, w0: number, w1: number, w2: number, w3: number): number {
  const net = b.net;
  const mask = b.mask;
  for (let i = 0, k = 0, n = b.n; i < n; i++, k += 4)
    if (
      (w0 & mask[k]) === net[k] &&
      (w1 & mask[k + 1]) === net[k + 1] &&
      (w2 & mask[k + 2]) === net[k + 2] &&
      (w3 & mask[k + 3]) === net[k + 3]
    )
      return i;
  return -1;
}

function blocked4(b: Built, a: number): boolean {
  if (b.blocked.get1(a) >= 0) return true;
  for (let i = 0; i < b.blkN; i++) if ((a & b.blkMask[i]) === b.blkNet[i]) return true;
  return false;
}

function blocked6(b: Built, w0: number, w1: number, w2: number, w3: number): boolean {
  if (b.blocked.get4(w0, w1, w2, w3) >= 0) return true;
  const net = b.blkNet;
  const mask = b.blkMask;
  for (let i = 0, k = 0; i < b.blkN; i++, k += 4)
    if (
      (w0 & mask[k]) === net[k] &&
      (w1 & mask[k + 1]) === net[k + 1] &&
      (w2 & mask[k + 2]) === net[k + 2] &&
      (w3 & mask[k + 3]) === net[k + 3]
    )
      return true;
  return false;
}

/** Route, gateway MAC and on-link neighbour look-ups of NAT replies. */
export class ReplyRoutes {
  private readonly fams: Record<Family, FamilyState> = {
    4: { snap: null, why: 'no routing snapshot yet', built: null },
    6: { snap: null, why: 'no routing snapshot yet', built: null },
  };
  private b4: Built | null = null;
  private b6: Built | null = null;
  /** Usable neighbours by `af|dev|address words` (null: conflicting entries). */
  private neigh = new Map<string, Neigh | null>();
  private neighNote = '';
  /** Current hops by `dev|eth` (what a rebuild reuses). */
  private pool = new Map<string, ReplyHop[]>();

  /**
   * Replaces the routing snapshot of one family from `ip -j [-6] rule show` and
   * `ip -j [-6] route show table main`; `links(dev)` gives device facts (null when
   * unknown). `localJson`, optional, is `ip -j [-6] route show table local`: its
   * addresses (this host's, broadcast, anycast) are then never answered; without it only
   * the preferred sources and connected-network broadcast/anycast addresses seen in the
   * main table are excluded.
   */
  setRoutes(
    af: 4 | 6,
    ruleJson: string,
    routeJson: string,
    links: (dev: string) => LinkInfo | null,
    localJson?: string,
  ): void {
    const f = this.fams[af];
    const s = takeSnapshot(af, ruleJson, routeJson, links, localJson);
    if (typeof s === 'string') {
      f.snap = null;
      f.why = s;
    } else {
      f.snap = s;
      f.why = '';
    }
    this.rebuild();
  }

  /** Replaces the neighbour snapshot from `ip -j neigh show` (both families in one list). */
  setNeighbours(neighJson: string): void {
    this.neigh = new Map();
    this.neighNote = '';
    const list = parseArray(neighJson);
    if (!list) this.neighNote = 'unreadable neighbour list';
    for (const x of list ?? []) {
      if (!isObject(x) || typeof x.dst !== 'string' || typeof x.dev !== 'string') continue;
      if (x.proxy !== undefined) continue;
      const af: Family = x.dst.includes(':') ? 6 : 4;
      const w = parseAddr(af, x.dst);
      const mac = typeof x.lladdr === 'string' ? parseMac(x.lladdr) : null;
      const state = Array.isArray(x.state) ? (x.state as unknown[]) : [];
      if (!w || !mac || !unicastMac(mac)) continue;
      if (state.includes('FAILED') || state.includes('INCOMPLETE')) continue;
      if (!state.some((s) => typeof s === 'string' && USABLE_STATES.has(s))) continue;
      const key = `${af}|${x.dev}|${fmtWords(w)}`;
      const old = this.neigh.get(key);
      if (old === undefined) this.neigh.set(key, { af, w, dev: x.dev, mac });
      else if (old !== null && old.mac.some((b, i) => b !== mac[i])) this.neigh.set(key, null);
    }
    this.rebuild();
  }

  /**
   * Next hop for the destination address in `buf` at `off` (4 bytes for af 4, 16 for
   * af 6), or null when the kernel must forward the packet. Allocates nothing.
   */
  lookup(af: 4 | 6, buf: Uint8Array, off: number): ReplyHop | null {
    if (af === 4) {
      const b = this.b4;
      if (b === null || off < 0 || off + 4 > buf.length) return null;
      const a = rd32(buf, off);
      if (special4(a) || blocked4(b, a)) return null;
      const i = match4(b, a);
      if (i < 0) return null;
      const k = b.kind[i];
      if (k === GATEWAY) return b.gwHop[i];
      if (k !== ONLINK) return null;
      const s = b.neigh.get1(a);
      return s >= 0 && b.neighRoute[s] === i ? b.neighHop[s] : null;
    }
    if (af === 6) {
      const b = this.b6;
      if (b === null || off < 0 || off + 16 > buf.length) return null;
      const w0 = rd32(buf, off);
      const w1 = rd32(buf, off + 4);
      const w2 = rd32(buf, off + 8);
      const w3 = rd32(buf, off + 12);
      if (special6(w0, w1, w2, w3) || blocked6(b, w0, w1, w2, w3)) return null;
      const i = match6(b, w0, w1, w2, w3);
      if (i < 0) return null;
      const k = b.kind[i];
      if (k === GATEWAY) return b.gwHop[i];
      if (k !== ONLINK) return null;
      const s = b.neigh.get4(w0, w1, w2, w3);
      return s >= 0 && b.neighRoute[s] === i ? b.neighHop[s] : null;
    }
    return null;
  }

  /** Whether family `af` can answer at all (false under policy routing, for instance). */
  usable(af: 4 | 6): boolean {
    return (af === 4 ? this.b4 : this.b6) !== null;
  }

  /** Short text for logs: what each family answers from, or why it is disabled. */
  describe(): string {
    const parts: string[] = [];
    for (const af of [4, 6] as const) {
      const f = this.fams[af];
      const b = f.built;
      if (!f.snap || !b) {
        parts.push(`IPv${af}: disabled: ${f.why}`);
        continue;
      }
      const usable = b.kind.reduce((n, k) => n + (k === UNUSABLE ? 0 : 1), 0);
      parts.push(
        `IPv${af}: ${f.snap.count} routes (${usable} of ${b.n} prefixes usable), ` +
          `${b.gateways} gateway hops, ${b.neighHop.length} on-link neighbours`,
      );
    }
    if (this.neighNote) parts.push(this.neighNote);
    return parts.join('; ');
  }

  /**
   * Rebuilds the look-up structures of both families. A hop whose device and MACs are
   * unchanged is the same object as before (with its `tx`); a new hop on a device that
   * had one gets that device's `tx`.
   */
  private rebuild(): void {
    const prevPool = this.pool;
    const prevTx = new Map<string, unknown>();
    for (const hops of prevPool.values())
      for (const h of hops) if (h.tx !== null && !prevTx.has(h.dev)) prevTx.set(h.dev, h.tx);
    const gen = new Map<string, ReplyHop>();
    const hopFor = (dev: string, dst: Uint8Array, src: Uint8Array, mtu: number): ReplyHop => {
      const eth = new Uint8Array(12);
      eth.set(dst, 0);
      eth.set(src, 6);
      const key = `${dev}|${Buffer.from(eth).toString('hex')}`;
      let h = gen.get(`${key}|${mtu}`);
      if (h) return h;
      const old = prevPool.get(key);
      if (old && old.length > 0) {
        let j = old.findIndex((x) => x.mtu === mtu);
        if (j < 0) j = 0;
        h = old.splice(j, 1)[0];
        h.mtu = mtu;
      } else {
        h = { dev, eth, mtu, tx: prevTx.get(dev) ?? null };
      }
      gen.set(`${key}|${mtu}`, h);
      return h;
    };
    for (const af of [4, 6] as const) {
      const f = this.fams[af];
      f.built = f.snap ? this.build(af, f.snap, hopFor) : null;
    }
    this.b4 = this.fams[4].built;
    this.b6 = this.fams[6].built;
    this.pool = new Map();
    for (const h of gen.values()) {
      const key = `${h.dev}|${Buffer.from(h.eth).toString('hex')}`;
      const l = this.pool.get(key);
      if (l) l.push(h);
      else this.pool.set(key, [h]);
    }
  }

  private build(
    af: Family,
    snap: Snapshot,
    hopFor: (dev: string, dst: Uint8Array, src: Uint8Array, mtu: number) => ReplyHop,
  ): Built {
    const W = af === 4 ? 1 : 4;
    const n = snap.routes.length;
    const blocked = new AddrTable(W, snap.blockedHosts.length);
    for (const w of snap.blockedHosts) blocked.put(w, 0);
    const blkN = snap.blockedPrefixes.length;
    const b: Built = {
      n,
      net: new Int32Array(n * W),
      mask: new Int32Array(n * W),
      kind: new Uint8Array(n),
      gwHop: new Array<ReplyHop | null>(n).fill(null),
      neigh: new AddrTable(W, 0),
      neighHop: [],
      neighRoute: new Int32Array(0),
      blocked,
      blkN,
      blkNet: new Int32Array(blkN * W),
      blkMask: new Int32Array(blkN * W),
      gateways: 0,
    };
    snap.blockedPrefixes.forEach((p, i) => {
      for (let j = 0; j < W; j++) {
        b.blkNet[i * W + j] = p.w[j];
        b.blkMask[i * W + j] = maskWord(p.len, j);
      }
    });
    snap.routes.forEach((r, i) => {
      for (let j = 0; j < W; j++) {
        b.net[i * W + j] = r.w[j];
        b.mask[i * W + j] = maskWord(r.len, j);
      }
      if (r.why) return;
      if (!r.gw) {
        b.kind[i] = ONLINK;
        return;
      }
      b.kind[i] = GATEWAY;
      const nb = this.neigh.get(`${af}|${r.dev}|${fmtWords(r.gw)}`);
      if (nb) {
        b.gwHop[i] = hopFor(r.dev, nb.mac, r.srcMac, r.mtu);
        b.gateways++;
      }
    });
    // On-link hops: a neighbour whose own longest-prefix route is on-link on its device.
    const onlink: { w: Words; hop: ReplyHop; route: number }[] = [];
    for (const nb of this.neigh.values()) {
      if (!nb || nb.af !== af) continue;
      const w = nb.w;
      let i: number;
      if (af === 4) {
        if (special4(w[0]) || blocked4(b, w[0])) continue;
        i = match4(b, w[0]);
      } else {
        if (special6(w[0], w[1], w[2], w[3]) || blocked6(b, w[0], w[1], w[2], w[3])) continue;
        i = match6(b, w[0], w[1], w[2], w[3]);
      }
      if (i < 0 || b.kind[i] !== ONLINK) continue;
      const r = snap.routes[i];
      if (r.dev !== nb.dev) continue;
      onlink.push({ w, hop: hopFor(r.dev, nb.mac, r.srcMac, r.mtu), route: i });
    }
    b.neigh = new AddrTable(W, onlink.length);
    b.neighRoute = new Int32Array(onlink.length);
    for (const e of onlink) {
      const s = b.neighHop.length;
      if (!b.neigh.put(e.w, s)) continue;
      b.neighHop.push(e.hop);
      b.neighRoute[s] = e.route;
    }
    return b;
  }
}
