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
import { read32i } from '../wire/bytes.js';
import { parseMac } from './nexthop.js';
import {
  fmtWords,
  isObject,
  maskWord,
  parseArray,
  parseWords,
  takeSnapshot,
  unicastMac,
  type Family,
  type LinkInfo,
  type Snapshot,
  type Words,
} from './routesnap.js';

export type { LinkInfo } from './routesnap.js';

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

/** Neighbour states whose link-layer address the kernel would use. */
const USABLE_STATES = new Set(['REACHABLE', 'STALE', 'DELAY', 'PROBE', 'PERMANENT', 'NOARP']);

/** Route kinds of a prefix. */
const UNUSABLE = 0;
const GATEWAY = 1;
const ONLINK = 2;

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
      const w = parseWords(af, x.dst);
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
      const a = read32i(buf, off);
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
      const w0 = read32i(buf, off);
      const w1 = read32i(buf, off + 4);
      const w2 = read32i(buf, off + 8);
      const w3 = read32i(buf, off + 12);
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
