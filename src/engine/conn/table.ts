/**
 * The IPVS connection table (spec §4–§5) as a struct of arrays indexed by an integer
 * connection id: no object per connection, so a million live connections cost about
 * 120 bytes each and the hot path allocates nothing.
 *
 * One hash serves both directions (§4.2): every conn is hashed once by its client
 * side (protocol, caddr, cport); the in-lookup hashes the packet source, the
 * out-lookup the packet destination. The bucket array grows with the table so chains
 * stay short (the kernel's table is fixed-size; ours is not, on purpose).
 *
 * Expiry is the timing wheel of conn/wheel.ts: the table stores each conn's timeout
 * and expiry time and files the conn on the wheel when it is armed.
 */
import type { AddressFamily } from '../constants.js';
import type { Dest } from '../service.js';
import {
  CONN_F_HASHED,
  CONN_F_NO_CPORT,
  CONN_F_TEMPLATE,
  CONN_F_FWD_MASK,
  CONN_F_MASQ,
} from '../constants.js';

import { FreeIds } from './freeids.js';
import { growArray, NO_CONN, TimingWheel } from './wheel.js';

export { NO_CONN, WHEEL_TICK_MS } from './wheel.js';

/**
 * What a new conn is made from (ip_vs_conn_new's parameters, conn/conn.ts): addresses
 * as word arrays with offsets; `dest` null for bypass. Named once for every front door
 * (the Engine facade, the helpers' AppContext).
 */
export type ConnNewArgs = [
  af: AddressFamily,
  proto: number,
  caddr: Uint32Array,
  coff: number,
  cport: number,
  vaddr: Uint32Array,
  voff: number,
  vport: number,
  daddr: Uint32Array,
  doff: number,
  dport: number,
  flags: number,
  dest: Dest | null,
  fwmark: number,
];

export class ConnTable {
  /** Capacity (number of ids allocated in the arrays). */
  cap = 0;
  /** Live conns (including templates and unhashed OPS conns). */
  count = 0;
  /** Live NO_CPORT conns (§4.4). */
  noCportCount = 0;

  af!: Uint8Array;
  proto!: Uint8Array;
  state!: Uint8Array;
  oldState!: Uint8Array;
  flags!: Uint32Array;
  /** Addresses: 4 words per conn, host order. */
  caddr!: Uint32Array;
  vaddr!: Uint32Array;
  daddr!: Uint32Array;
  cport!: Uint16Array;
  vport!: Uint16Array;
  dport!: Uint16Array;
  fwmark!: Uint32Array;
  /** Dest id, or -1. */
  dest!: Int32Array;
  /** Controlling conn id, or -1; and number of conns this one controls. */
  control!: Int32Array;
  nControl!: Int32Array;
  inPkts!: Uint32Array;
  /**
   * Connection sync: the end time last sent for the conn, in ms modulo 2^32 (compared
   * with wrap-around, as the kernel compares jiffies), low 2 bits = retries (§12.4).
   */
  syncEnd!: Uint32Array;
  /** Current timeout in ms (re-armed to now + timeout after each packet). */
  timeout!: Uint32Array;
  /** Absolute expiry time (ms). */
  expires!: Float64Array;
  /** Hash chain. */
  hnext!: Int32Array;
  /**
   * SYN proxy (synproxy.ts), meaningful only with CONN_F_SYNPROXY: the client's ISN,
   * the sequence delta (the cookie until the server answered, then server ISN −
   * cookie), the timestamp offset (our TSval until then), packed options and the
   * client's window, and the held early data (a slot of the proxy's pool, or -1).
   */
  spSeq!: Uint32Array;
  spDelta!: Uint32Array;
  spTs!: Uint32Array;
  spInfo!: Uint32Array;
  spHeld!: Int32Array;
  /** The expiry timers. */
  readonly wheel = new TimingWheel();

  private buckets!: Int32Array;
  private bmask = 0;
  /** Free ids, lowest first (conn/freeids.ts). */
  private readonly freeIds: FreeIds;
  private readonly seed: number;
  /** The capacity the table was made with: it never shrinks below it. */
  readonly minCap: number;

  constructor(initialCapacity = 1024, seed = 0x9e3779b9) {
    this.seed = seed >>> 0;
    this.minCap = Math.max(16, initialCapacity);
    this.freeIds = new FreeIds(0);
    this.resize(this.minCap);
  }

  private resize(newCap: number): void {
    const grow = growArray;
    this.af = grow(this.af ?? new Uint8Array(0), newCap);
    this.proto = grow(this.proto ?? new Uint8Array(0), newCap);
    this.state = grow(this.state ?? new Uint8Array(0), newCap);
    this.oldState = grow(this.oldState ?? new Uint8Array(0), newCap);
    this.flags = grow(this.flags ?? new Uint32Array(0), newCap);
    this.caddr = grow(this.caddr ?? new Uint32Array(0), newCap * 4);
    this.vaddr = grow(this.vaddr ?? new Uint32Array(0), newCap * 4);
    this.daddr = grow(this.daddr ?? new Uint32Array(0), newCap * 4);
    this.cport = grow(this.cport ?? new Uint16Array(0), newCap);
    this.vport = grow(this.vport ?? new Uint16Array(0), newCap);
    this.dport = grow(this.dport ?? new Uint16Array(0), newCap);
    this.fwmark = grow(this.fwmark ?? new Uint32Array(0), newCap);
    this.dest = grow(this.dest ?? new Int32Array(0), newCap, -1);
    this.control = grow(this.control ?? new Int32Array(0), newCap, -1);
    this.nControl = grow(this.nControl ?? new Int32Array(0), newCap);
    this.inPkts = grow(this.inPkts ?? new Uint32Array(0), newCap);
    this.syncEnd = grow(this.syncEnd ?? new Uint32Array(0), newCap);
    this.timeout = grow(this.timeout ?? new Uint32Array(0), newCap);
    this.expires = grow(this.expires ?? new Float64Array(0), newCap);
    this.hnext = grow(this.hnext ?? new Int32Array(0), newCap, NO_CONN);
    this.spSeq = grow(this.spSeq ?? new Uint32Array(0), newCap);
    this.spDelta = grow(this.spDelta ?? new Uint32Array(0), newCap);
    this.spTs = grow(this.spTs ?? new Uint32Array(0), newCap);
    this.spInfo = grow(this.spInfo ?? new Uint32Array(0), newCap);
    this.spHeld = grow(this.spHeld ?? new Int32Array(0), newCap, -1);
    this.wheel.resize(newCap);
    this.freeIds.resize(newCap);
    this.cap = newCap;
    // bucket array: about one bucket per conn
    let nb = 16;
    while (nb < newCap) nb <<= 1;
    if (nb - 1 !== this.bmask) this.rehash(nb);
  }

  private rehash(nb: number): void {
    this.buckets = new Int32Array(nb).fill(NO_CONN);
    this.bmask = nb - 1;
    for (let id = 0; id < this.cap; id++) {
      if (this.flags[id] & CONN_F_HASHED) {
        const b = this.bucketOf(this.proto[id], this.caddr, id * 4, this.cport[id]);
        this.hnext[id] = this.buckets[b];
        this.buckets[b] = id;
      }
    }
  }

  /** Bucket of (proto, addr words at off, port). */
  bucketOf(proto: number, addr: Uint32Array, off: number, port: number): number {
    let h = Math.imul(this.seed ^ proto ^ (port << 8), 0x85ebca6b);
    h = Math.imul(h ^ addr[off] ^ (h >>> 13), 0xc2b2ae35);
    h = Math.imul(h ^ addr[off + 1] ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ addr[off + 2] ^ (h >>> 13), 0xc2b2ae35);
    h = Math.imul(h ^ addr[off + 3] ^ (h >>> 16), 0x85ebca6b);
    h ^= h >>> 15;
    return h & this.bmask;
  }

  /** Allocate an id with cleared fields (flags 0, dest/control -1): the lowest free one. */
  alloc(): number {
    let id = this.freeIds.take();
    if (id < 0) {
      this.resize(this.cap * 2);
      id = this.freeIds.take();
    }
    this.count++;
    this.flags[id] = 0;
    this.state[id] = 0;
    this.oldState[id] = 0;
    this.dest[id] = -1;
    this.control[id] = -1;
    this.nControl[id] = 0;
    this.inPkts[id] = 0;
    this.syncEnd[id] = 0;
    this.fwmark[id] = 0;
    this.hnext[id] = NO_CONN;
    this.spInfo[id] = 0;
    this.spHeld[id] = -1;
    this.wheel.clear(id);
    return id;
  }

  /** Return an id to the free list (after unhash and timer removal). */
  free(id: number): void {
    this.flags[id] = 0;
    this.freeIds.give(id);
    this.count--;
  }

  /**
   * One step of giving memory back after a flood drained (the kernel's table is
   * fixed-size and has nothing like it): when fewer than a quarter of the entries
   * are live and none has an id in the upper half, the table halves — arrays cut,
   * buckets rehashed over the live conns. One halving per call (the engine calls it
   * once a second), so a large table comes down in steps of a few milliseconds and
   * the packet path never waits long. Conn ids never change (other parts keep per-id
   * state): a conn made at the flood's peak holds the size up until it ends, which
   * taking the lowest free id makes rare. Returns true when it shrank.
   */
  shrinkStep(): boolean {
    const half = this.cap >>> 1;
    if (half < this.minCap || this.count >= this.cap >>> 2) return false;
    if (!this.freeIds.allFreeFrom(half)) return false;
    this.resize(half);
    return true;
  }

  hash(id: number): void {
    if (this.flags[id] & CONN_F_HASHED) return;
    const b = this.bucketOf(this.proto[id], this.caddr, id * 4, this.cport[id]);
    this.hnext[id] = this.buckets[b];
    this.buckets[b] = id;
    this.flags[id] |= CONN_F_HASHED;
  }

  unhash(id: number): void {
    if (!(this.flags[id] & CONN_F_HASHED)) return;
    const b = this.bucketOf(this.proto[id], this.caddr, id * 4, this.cport[id]);
    let p = this.buckets[b];
    if (p === id) {
      this.buckets[b] = this.hnext[id];
    } else {
      while (p !== NO_CONN && this.hnext[p] !== id) p = this.hnext[p];
      if (p !== NO_CONN) this.hnext[p] = this.hnext[id];
    }
    this.hnext[id] = NO_CONN;
    this.flags[id] &= ~CONN_F_HASHED;
  }

  /**
   * In-lookup (§4.3): client→VIP. Matches cport, vport, af, caddr, vaddr, protocol and
   * (cport = 0) ⇔ NO_CPORT. The caller retries with cport 0 when noCportCount > 0.
   */
  inLookup(
    af: AddressFamily,
    proto: number,
    caddr: Uint32Array,
    coff: number,
    cport: number,
    vaddr: Uint32Array,
    voff: number,
    vport: number,
  ): number {
    const wantNoCport = cport === 0;
    let id = this.buckets[this.bucketOf(proto, caddr, coff, cport)];
    while (id !== NO_CONN) {
      const o = id * 4;
      if (
        this.cport[id] === cport &&
        this.vport[id] === vport &&
        this.af[id] === af &&
        this.caddr[o] === caddr[coff] &&
        this.vaddr[o] === vaddr[voff] &&
        this.proto[id] === proto &&
        ((this.flags[id] & CONN_F_NO_CPORT) !== 0) === wantNoCport &&
        (af === 4 ||
          (this.caddr[o + 1] === caddr[coff + 1] &&
            this.caddr[o + 2] === caddr[coff + 2] &&
            this.caddr[o + 3] === caddr[coff + 3] &&
            this.vaddr[o + 1] === vaddr[voff + 1] &&
            this.vaddr[o + 2] === vaddr[voff + 2] &&
            this.vaddr[o + 3] === vaddr[voff + 3]))
      ) {
        return id;
      }
      id = this.hnext[id];
    }
    return NO_CONN;
  }

  /**
   * Out-lookup (§4.3): real server→client. (saddr,sport) is the packet source,
   * (daddr,dport) the packet destination = the client. Expected source is
   * (daddr,dport) of the conn for NAT, (vaddr,vport) otherwise.
   */
  outLookup(
    af: AddressFamily,
    proto: number,
    saddr: Uint32Array,
    soff: number,
    sport: number,
    daddr: Uint32Array,
    doff: number,
    dport: number,
  ): number {
    let id = this.buckets[this.bucketOf(proto, daddr, doff, dport)];
    while (id !== NO_CONN) {
      const o = id * 4;
      const nat = (this.flags[id] & CONN_F_FWD_MASK) === CONN_F_MASQ;
      const ea = nat ? this.daddr : this.vaddr;
      if (
        this.cport[id] === dport &&
        (nat ? this.dport[id] : this.vport[id]) === sport &&
        this.af[id] === af &&
        this.caddr[o] === daddr[doff] &&
        ea[o] === saddr[soff] &&
        this.proto[id] === proto &&
        (af === 4 ||
          (this.caddr[o + 1] === daddr[doff + 1] &&
            this.caddr[o + 2] === daddr[doff + 2] &&
            this.caddr[o + 3] === daddr[doff + 3] &&
            ea[o + 1] === saddr[soff + 1] &&
            ea[o + 2] === saddr[soff + 2] &&
            ea[o + 3] === saddr[soff + 3]))
      ) {
        return id;
      }
      id = this.hnext[id];
    }
    return NO_CONN;
  }

  /**
   * Template lookup (§4.3): TEMPLATE set, af, caddr, vaddr (first word only for
   * protocol-0 fwmark templates), vport, cport, protocol.
   */
  templateLookup(
    af: AddressFamily,
    proto: number,
    caddr: Uint32Array,
    cport: number,
    vaddr: Uint32Array,
    vport: number,
  ): number {
    let id = this.buckets[this.bucketOf(proto, caddr, 0, cport)];
    while (id !== NO_CONN) {
      const o = id * 4;
      if (
        this.flags[id] & CONN_F_TEMPLATE &&
        this.af[id] === af &&
        this.cport[id] === cport &&
        this.vport[id] === vport &&
        this.proto[id] === proto &&
        this.caddr[o] === caddr[0] &&
        this.vaddr[o] === vaddr[0] &&
        (af === 4 ||
          (this.caddr[o + 1] === caddr[1] &&
            this.caddr[o + 2] === caddr[2] &&
            this.caddr[o + 3] === caddr[3])) &&
        (af === 4 ||
          proto === 0 ||
          (this.vaddr[o + 1] === vaddr[1] &&
            this.vaddr[o + 2] === vaddr[2] &&
            this.vaddr[o + 3] === vaddr[3]))
      ) {
        return id;
      }
      id = this.hnext[id];
    }
    return NO_CONN;
  }

  // ---- timers -------------------------------------------------------------

  /** Re-arm: expire at now + timeout (the kernel's put, §4.6). */
  arm(id: number, now: number): void {
    const e = now + this.timeout[id];
    this.expires[id] = e;
    this.wheel.file(id, e, now);
  }

  /** Stop the timer (kernel del_timer). */
  disarm(id: number): void {
    this.wheel.unlink(id);
  }

  /** Is a timer pending? */
  armed(id: number): boolean {
    return this.wheel.pending(id);
  }

  /**
   * Advance the clock to `now`, calling `expire(id)` for every conn whose expiry has
   * passed. The callback must either free the conn or re-arm it.
   */
  advance(now: number, expire: (id: number) => void): void {
    this.wheel.advance(now, this.expires, expire);
  }

  /** Whether `id` is a live conn (not on the free list). */
  isLive(id: number): boolean {
    return id >= 0 && id < this.cap && !this.freeIds.isFree(id);
  }

  /** Iterate over every live conn id (admin paths: listing, flush). */
  *ids(): Generator<number> {
    for (let id = 0; id < this.cap; id++) if (!this.freeIds.isFree(id)) yield id;
  }
}
