/**
 * The connection timers (the kernel's per-conn timer_list, spec §4.6) as one lazy
 * timing wheel over conn ids: re-arming on every packet only stores the new expiry
 * time; a conn is moved between wheel slots only when its expiry moves earlier than
 * the slot it is filed in, or when its slot comes round too early. Links live in
 * typed arrays indexed by conn id, grown with the table.
 */

/** "No conn": the end of a chain, an empty slot. */
export const NO_CONN = -1;

/** Wheel resolution and size: 64 ms × 8192 slots ≈ 524 s per revolution. */
export const WHEEL_TICK_MS = 64;
const WHEEL_BITS = 13;
const WHEEL_SLOTS = 1 << WHEEL_BITS;
const WHEEL_MASK = WHEEL_SLOTS - 1;

type NumArray = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;

/**
 * A copy of typed array `a` resized to `n` elements: grown, the new ones set to
 * `fill`; or cut (the table shrinking).
 */
export function growArray<T extends NumArray>(a: T | undefined, n: number, fill?: number): T {
  const ctor = (a?.constructor ?? Uint8Array) as new (n: number) => T;
  const b = new ctor(n);
  if (a) b.set(a.length > n ? (a.subarray(0, n) as T) : a);
  if (fill !== undefined && (!a || a.length < n)) b.fill(fill, a ? a.length : 0);
  return b;
}

export class TimingWheel {
  /** Wheel links and the tick at which the conn's slot will next be examined. */
  wnext = new Int32Array(0);
  wprev = new Int32Array(0);
  wtick = new Float64Array(0);
  private readonly slots = new Int32Array(WHEEL_SLOTS).fill(NO_CONN);
  /** Last wheel tick processed. */
  private tick = -1;

  /** Room for conn ids below `cap`. */
  resize(cap: number): void {
    this.wnext = growArray(this.wnext, cap, NO_CONN);
    this.wprev = growArray(this.wprev, cap, NO_CONN);
    this.wtick = growArray(this.wtick, cap, -1);
  }

  /** A fresh id: not filed. */
  clear(id: number): void {
    this.wnext[id] = NO_CONN;
    this.wprev[id] = NO_CONN;
    this.wtick[id] = -1;
  }

  private tickOf(ms: number): number {
    return Math.ceil(ms / WHEEL_TICK_MS);
  }

  private link(id: number, t: number): void {
    const s = t & WHEEL_MASK;
    const h = this.slots[s];
    this.wnext[id] = h;
    this.wprev[id] = NO_CONN;
    if (h !== NO_CONN) this.wprev[h] = id;
    this.slots[s] = id;
    this.wtick[id] = t;
  }

  /** Take `id` off the wheel (kernel del_timer). */
  unlink(id: number): void {
    if (this.wtick[id] < 0) return;
    const n = this.wnext[id];
    const p = this.wprev[id];
    if (p !== NO_CONN) this.wnext[p] = n;
    else this.slots[this.wtick[id] & WHEEL_MASK] = n;
    if (n !== NO_CONN) this.wprev[n] = p;
    this.wnext[id] = this.wprev[id] = NO_CONN;
    this.wtick[id] = -1;
  }

  /** The tick at which a conn expiring at `e` must next be examined. */
  private visitTick(e: number): number {
    let t = this.tickOf(e);
    if (t <= this.tick) t = this.tick + 1;
    const max = this.tick + WHEEL_SLOTS;
    if (t > max) t = max; // examined a revolution early, then re-filed
    return t;
  }

  /** File `id` to expire at `e` (ms), armed at `now`. */
  file(id: number, e: number, now: number): void {
    if (this.tick < 0) this.tick = this.tickOf(now) - 1;
    const cur = this.wtick[id];
    // Only move when the new expiry is earlier than the slot it is filed under.
    if (cur >= 0 && this.tickOf(e) >= cur) return;
    const t = this.visitTick(e);
    if (cur === t) return;
    this.unlink(id);
    this.link(id, t);
  }

  /** Is a timer pending? */
  pending(id: number): boolean {
    return this.wtick[id] >= 0;
  }

  /**
   * Advance the clock to `now`, calling `expire(id)` for every conn whose expiry
   * (`expires[id]`) has passed. The callback must either free the conn or re-arm it.
   */
  advance(now: number, expires: Float64Array, expire: (id: number) => void): void {
    const target = Math.floor(now / WHEEL_TICK_MS);
    if (this.tick < 0) {
      this.tick = target;
      return;
    }
    if (target <= this.tick) return;
    const steps = Math.min(target - this.tick, WHEEL_SLOTS);
    const start = target - steps + 1;
    for (let t = start; t <= target; t++) {
      const s = t & WHEEL_MASK;
      let id = this.slots[s];
      if (id === NO_CONN) continue;
      this.slots[s] = NO_CONN;
      this.tick = t; // so re-filing goes to later slots
      while (id !== NO_CONN) {
        const next = this.wnext[id];
        this.wnext[id] = this.wprev[id] = NO_CONN;
        this.wtick[id] = -1;
        if (next !== NO_CONN) this.wprev[next] = NO_CONN;
        if (expires[id] <= now) expire(id);
        else this.link(id, this.visitTick(expires[id]));
        id = next;
      }
    }
    this.tick = target;
  }
}
