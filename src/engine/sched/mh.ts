/**
 * mh — Maglev hashing (spec §10; Eisenbud et al., NSDI 2016). Every dest walks its
 * own permutation of an M-slot lookup table (offset and skip from two keyed hashes
 * of its address and port) and the dests take turns claiming their next free slot,
 * `turns` slots per round in proportion to last_weight, until the table is full.
 * A client address (plus port with mh-port) hashes to a slot. The table depends only
 * on the dests, so directors sharing a VIP pick the same server for a flow, and
 * removing one of N servers moves roughly 1/N of the keys.
 *
 * Weights come from last_weight (the last non-zero weight), so a quiesced dest keeps
 * its slots: without mh-fallback its keys fail, with mh-fallback they are re-hashed
 * until an available dest is found.
 */
import { DEST_F_OVERLOAD, SVC_F_SCHED_MH_FALLBACK, SVC_F_SCHED_MH_PORT } from '../constants.js';
import { foldAddr } from '../addr.js';
import type { Dest, Service } from '../service.js';
import { gcd, hashablePort } from './common.js';
import {
  halfSipHash13I32,
  halfSipKeyFromWords,
  sipHash13I32,
  sipKeyFromWords,
  type HalfSipKey,
  type SipKey,
} from './siphash.js';
import type { SchedPacket, Scheduler, SchedulerModule } from './types.js';

/** Allowed table sizes (primes), index i ↔ kernel CONFIG_IP_VS_MH_TAB_INDEX = i + 8. */
export const MH_TAB_SIZES: readonly number[] = [
  251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
];
/** Kernel default (CONFIG_IP_VS_MH_TAB_INDEX 12). */
export const MH_DEFAULT_TAB_SIZE = 4093;

/** Fixed hsiphash keys of the kernel's mh: both words of each key are the same. */
export const MH_HASH1_KEY_WORD = 2654435761;
export const MH_HASH2_KEY_WORD = 2654446892;

/**
 * Which hsiphash to use: 64-bit kernels (the norm) use SipHash-1-3 truncated to 32
 * bits, 32-bit kernels HalfSipHash-1-3. Directors sharing a VIP must agree.
 */
export type MhHash = 'siphash13' | 'halfsiphash13';

export interface MhOptions {
  /** One of {@link MH_TAB_SIZES}; default 4093. */
  tableSize?: number;
  hash?: MhHash;
}

/** Index of the highest set bit, 1-based; 0 for 0. */
function fls(x: number): number {
  return 32 - Math.clz32(x);
}

function unavailable(d: Dest): boolean {
  return d.weight <= 0 || (d.flags & DEST_F_OVERLOAD) !== 0;
}

export class Maglev implements Scheduler {
  readonly name = 'mh';
  /** M, the table size (prime). */
  readonly tableSize: number;
  /** Slot → dest; all null when no dest has a weight. */
  readonly table: (Dest | null)[];
  /** gcd of the positive last_weights (0 when none) and the turn shift, from the last build. */
  gcd = 0;
  rshift = 0;
  /** B in the spec: highest bits of weight/gcd kept before shifting (CONFIG index / 2). */
  private readonly weightBits: number;
  private readonly half: boolean;
  private readonly sipKey1: SipKey;
  private readonly sipKey2: SipKey;
  private readonly halfKey1: HalfSipKey;
  private readonly halfKey2: HalfSipKey;
  private readonly claimed: Uint8Array;
  private perm = new Int32Array(16);
  private skip = new Int32Array(16);
  private turns = new Int32Array(16);

  constructor(svc: Service, opts: MhOptions = {}) {
    const size = opts.tableSize ?? MH_DEFAULT_TAB_SIZE;
    const idx = MH_TAB_SIZES.indexOf(size);
    if (idx < 0) throw new Error(`mh table size must be one of ${MH_TAB_SIZES.join(', ')}`);
    this.tableSize = size;
    this.weightBits = (idx + 8) >> 1;
    this.half = opts.hash === 'halfsiphash13';
    this.sipKey1 = sipKeyFromWords(MH_HASH1_KEY_WORD, MH_HASH1_KEY_WORD);
    this.sipKey2 = sipKeyFromWords(MH_HASH2_KEY_WORD, MH_HASH2_KEY_WORD);
    this.halfKey1 = halfSipKeyFromWords(MH_HASH1_KEY_WORD, MH_HASH1_KEY_WORD);
    this.halfKey2 = halfSipKeyFromWords(MH_HASH2_KEY_WORD, MH_HASH2_KEY_WORD);
    this.table = new Array<Dest | null>(size).fill(null);
    this.claimed = new Uint8Array(size);
    this.rebuild(svc);
  }

  /**
   * hash1 of the 32-bit value offset + port + addr (mod 2^32), as a signed int32
   * (take `>>> 0` before reducing mod M); int32 so that the result is never boxed.
   */
  hash1(v: number): number {
    return this.half ? halfSipHash13I32(this.halfKey1, v) : sipHash13I32(this.sipKey1, v);
  }

  hash2(v: number): number {
    return this.half ? halfSipHash13I32(this.halfKey2, v) : sipHash13I32(this.sipKey2, v);
  }

  /** Build the lookup table from the service's dests (their list order matters). */
  rebuild(svc: Service): void {
    const dests = svc.dests;
    const n = dests.length;
    const M = this.tableSize;
    // More dests than slots: the kernel refuses and keeps the old table.
    if (n > M) return;
    let g = 0;
    let maxw = 0;
    for (let i = 0; i < n; i++) {
      const lw = dests[i].lastWeight;
      if (lw > 0) g = g > 0 ? gcd(lw, g) : lw;
      if (lw > maxw) maxw = lw;
    }
    this.gcd = g;
    if (g < 1) {
      this.rshift = 0;
      this.table.fill(null);
      return;
    }
    // Keep at most B significant bits of weight/gcd so huge weights do not mean
    // huge numbers of turns per round.
    this.rshift = Math.max(0, fls(Math.floor(maxw / g)) - this.weightBits);
    if (this.perm.length < n) {
      const cap = Math.max(n, this.perm.length * 2);
      this.perm = new Int32Array(cap);
      this.skip = new Int32Array(cap);
      this.turns = new Int32Array(cap);
    }
    const perm = this.perm;
    const skip = this.skip;
    const turns = this.turns;
    for (let i = 0; i < n; i++) {
      const d = dests[i];
      const v = (d.port + foldAddr(svc.af, d.addr)) | 0;
      perm[i] = (this.hash1(v) >>> 0) % M;
      skip[i] = ((this.hash2(v) >>> 0) % (M - 1)) + 1;
      const lw = d.lastWeight;
      const t = Math.floor(lw / g) >> this.rshift;
      turns[i] = t !== 0 ? t : lw !== 0 ? 1 : 0;
    }
    const claimed = this.claimed;
    const table = this.table;
    claimed.fill(0);
    let filled = 0;
    let dtCount = 0;
    // g ≥ 1 means some dest has turns ≥ 1, so every round claims at least one slot.
    while (filled < M) {
      for (let i = 0; i < n;) {
        if (turns[i] < 1) {
          i++;
          continue;
        }
        let c = perm[i];
        while (claimed[c] !== 0) {
          c += skip[i];
          if (c >= M) c -= M;
        }
        perm[i] = c;
        claimed[c] = 1;
        table[c] = dests[i];
        if (++filled === M) return;
        if (++dtCount >= turns[i]) {
          dtCount = 0;
          i++;
        }
      }
    }
  }

  schedule(svc: Service, pkt: SchedPacket, _now: number): Dest | null {
    const M = this.tableSize;
    const port =
      (svc.flags & SVC_F_SCHED_MH_PORT) !== 0 ? hashablePort(pkt.protocol, pkt.sport) : 0;
    const key = (port + foldAddr(svc.af, pkt.saddr)) | 0;
    const slot = (this.hash1(key) >>> 0) % M;
    const d = this.table[slot];
    if (d === null) return null;
    if (!unavailable(d)) return d;
    if ((svc.flags & SVC_F_SCHED_MH_FALLBACK) === 0) return null;
    for (let k = 0; k < M; k++) {
      let roffset = k + slot;
      if (roffset >= M) roffset -= M;
      const fd = this.table[(this.hash1((roffset + key) | 0) >>> 0) % M];
      if (fd === null) return null;
      if (!unavailable(fd)) return fd;
    }
    return null;
  }

  update(svc: Service): void {
    this.rebuild(svc);
  }
}

/** An mh module with a given table size / hash (the registered `mh` uses the defaults). */
export function mhModule(opts: MhOptions = {}): SchedulerModule {
  return {
    name: 'mh',
    description: 'maglev hashing: consistent hashing of the client address (and port with mh-port)',
    create: (svc) => new Maglev(svc, opts),
  };
}

export const mh: SchedulerModule = mhModule();
