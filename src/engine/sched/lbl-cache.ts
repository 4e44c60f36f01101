/**
 * The destination-address cache shared by lblc and lblcr (spec §10): 1024 hash
 * buckets keyed by hash_32(folded address, 10), and the kernel's garbage collection
 * timer, run every 60 s:
 *
 * - every 30th run (counting runs that found the table not over-full), a full scan
 *   deletes entries unused for at least the scheduler's expiration (sysctl, seconds);
 * - otherwise, if there are more than 1024 × 16 entries, entries unused for at least
 *   6 minutes are deleted bucket by bucket from a rover, until
 *   min((entries − 16384) × 4/3, 8192) have gone.
 *
 * Entries live in typed arrays indexed by an integer id with a free list, so a hit
 * allocates nothing and a miss only grows the arrays now and then. The owner keeps
 * its per-entry payload in its own arrays under the same id.
 */
import type { AddressFamily } from '../constants.js';
import { foldAddr } from '../addr.js';
import { hash32 } from './common.js';

export const LBL_TAB_BITS = 10;
export const LBL_TAB_SIZE = 1 << LBL_TAB_BITS;
const LBL_TAB_MASK = LBL_TAB_SIZE - 1;
/** Over this many entries the periodic GC starts trimming. */
export const LBL_MAX_SIZE = LBL_TAB_SIZE * 16;
/** GC period. */
export const LBL_CHECK_INTERVAL_MS = 60_000;
/** Idle time after which an over-full table may drop an entry. */
export const LBL_ENTRY_TIMEOUT_MS = 6 * 60_000;
/** Every this many GC runs (while not over-full) do a full expiration scan. */
export const LBL_COUNT_FOR_FULL_EXPIRATION = 30;

export class LblCache {
  /** Number of live entries. */
  entries = 0;
  /** Engine time (ms) each entry was last used. */
  lastuse = new Float64Array(64);
  private readonly buckets = new Int32Array(LBL_TAB_SIZE).fill(-1);
  private next = new Int32Array(64);
  private addr = new Uint32Array(64 * 4);
  private freeHead = -1;
  private used = 0;
  private rover = 0;
  private counter = 1;
  /** When the GC timer next fires; -1 until the first tick arms it. */
  private nextCheck = -1;

  /** `release(id)` is called for every entry the cache drops (GC or flush). */
  constructor(private readonly release: (id: number) => void) {}

  private bucketOf(af: AddressFamily, a: ArrayLike<number>): number {
    return hash32(foldAddr(af, a), LBL_TAB_BITS);
  }

  /** Entry id for this address, or -1. */
  find(af: AddressFamily, a: ArrayLike<number>): number {
    const addr = this.addr;
    for (let id = this.buckets[this.bucketOf(af, a)]; id >= 0; id = this.next[id]) {
      const o = id * 4;
      if (addr[o] !== a[0] >>> 0) continue;
      if (af === 4) return id;
      if (addr[o + 1] === a[1] >>> 0 && addr[o + 2] === a[2] >>> 0 && addr[o + 3] === a[3] >>> 0) {
        return id;
      }
    }
    return -1;
  }

  /** Add an entry (the caller has checked it is absent); returns its id. */
  insert(af: AddressFamily, a: ArrayLike<number>, now: number): number {
    let id = this.freeHead;
    if (id >= 0) {
      this.freeHead = this.next[id];
    } else {
      if (this.used === this.next.length) this.grow();
      id = this.used++;
    }
    const o = id * 4;
    this.addr[o] = a[0];
    this.addr[o + 1] = af === 4 ? 0 : a[1];
    this.addr[o + 2] = af === 4 ? 0 : a[2];
    this.addr[o + 3] = af === 4 ? 0 : a[3];
    this.lastuse[id] = now;
    const b = this.bucketOf(af, a);
    this.next[id] = this.buckets[b];
    this.buckets[b] = id;
    this.entries++;
    return id;
  }

  private grow(): void {
    const cap = this.next.length * 2;
    const next = new Int32Array(cap);
    next.set(this.next);
    this.next = next;
    const addr = new Uint32Array(cap * 4);
    addr.set(this.addr);
    this.addr = addr;
    const lastuse = new Float64Array(cap);
    lastuse.set(this.lastuse);
    this.lastuse = lastuse;
  }

  /** Delete the entries of bucket b idle for at least `idleMs`; returns how many. */
  private expireBucket(b: number, now: number, idleMs: number): number {
    let removed = 0;
    let prev = -1;
    let id = this.buckets[b];
    while (id >= 0) {
      const nx = this.next[id];
      if (now - this.lastuse[id] >= idleMs) {
        if (prev < 0) this.buckets[b] = nx;
        else this.next[prev] = nx;
        this.release(id);
        this.next[id] = this.freeHead;
        this.freeHead = id;
        this.entries--;
        removed++;
      } else {
        prev = id;
      }
      id = nx;
    }
    return removed;
  }

  /** Full scan: drop everything idle for at least `expirationMs`. */
  fullCheck(now: number, expirationMs: number): void {
    let j = this.rover;
    for (let i = 0; i < LBL_TAB_SIZE; i++) {
      j = (j + 1) & LBL_TAB_MASK;
      this.expireBucket(j, now, expirationMs);
    }
    this.rover = j;
  }

  /** One run of the GC timer. */
  checkExpire(now: number, expirationMs: number): void {
    if (this.counter % LBL_COUNT_FOR_FULL_EXPIRATION === 0) {
      this.fullCheck(now, expirationMs);
      this.counter = 1;
      return;
    }
    if (this.entries <= LBL_MAX_SIZE) {
      this.counter++;
      return;
    }
    let goal = Math.trunc(((this.entries - LBL_MAX_SIZE) * 4) / 3);
    if (goal > LBL_MAX_SIZE / 2) goal = LBL_MAX_SIZE / 2;
    let j = this.rover;
    for (let i = 0; i < LBL_TAB_SIZE; i++) {
      j = (j + 1) & LBL_TAB_MASK;
      goal -= this.expireBucket(j, now, LBL_ENTRY_TIMEOUT_MS);
      if (goal <= 0) break;
    }
    this.rover = j;
  }

  /** Called about once a second: runs the GC every 60 s (first run 60 s after the first tick). */
  tick(now: number, expirationMs: number): void {
    if (this.nextCheck < 0) {
      this.nextCheck = now + LBL_CHECK_INTERVAL_MS;
      return;
    }
    if (now < this.nextCheck) return;
    this.checkExpire(now, expirationMs);
    this.nextCheck = now + LBL_CHECK_INTERVAL_MS;
  }

  /** Drop every entry. */
  flush(): void {
    for (let b = 0; b < LBL_TAB_SIZE; b++) this.expireBucket(b, 0, -Infinity);
  }
}
