/**
 * The free conn ids of the connection table, lowest first: a bitmap (1 = free) with a
 * summary level per 32 words above it, so that taking the lowest free id and giving
 * one back are a few word operations each, at any size. Taking the lowest keeps the
 * live conns packed at the bottom of the table, which is what lets the table shrink
 * once a flood's conns have expired (table.ts). Allocation-free but for `resize`.
 */
export class FreeIds {
  /** levels[0]: one bit per id; levels[k+1]: one bit per word of levels[k] that is non-zero. */
  private levels: Uint32Array[] = [];
  private cap = 0;

  constructor(cap: number) {
    this.resize(cap);
  }

  /**
   * Room for ids below `cap`: growing adds free ids, shrinking drops ids ≥ `cap`
   * (which the caller has checked are free).
   */
  resize(cap: number): void {
    const old = this.levels[0];
    const words = Math.max(1, Math.ceil(cap / 32));
    const l0 = new Uint32Array(words);
    if (old) l0.set(old.subarray(0, Math.min(old.length, words)));
    for (let id = this.cap; id < cap; id++) l0[id >>> 5] |= 1 << (id & 31);
    // bits past cap stay clear
    if (cap & 31) l0[words - 1] &= (1 << (cap & 31)) - 1;
    this.cap = cap;
    this.levels = [l0];
    let below = l0;
    while (below.length > 1) {
      const up = new Uint32Array(Math.ceil(below.length / 32));
      for (let w = 0; w < below.length; w++) if (below[w] !== 0) up[w >>> 5] |= 1 << (w & 31);
      this.levels.push(up);
      below = up;
    }
  }

  /** The lowest free id, taken; -1 when none is free. */
  take(): number {
    const lv = this.levels;
    let w = 0;
    for (let k = lv.length - 1; k >= 0; k--) {
      const x = lv[k][w];
      if (x === 0) return -1;
      w = w * 32 + (31 - Math.clz32(x & -x));
    }
    const id = w;
    // clear it, and the summary bits of words that became empty
    let i = id;
    for (let k = 0; k < lv.length; k++) {
      const word = i >>> 5;
      lv[k][word] &= ~(1 << (i & 31));
      if (lv[k][word] !== 0) break;
      i = word;
    }
    return id;
  }

  /** Give `id` back. */
  give(id: number): void {
    const lv = this.levels;
    let i = id;
    for (let k = 0; k < lv.length; k++) {
      const word = i >>> 5;
      const was = lv[k][word];
      lv[k][word] = was | (1 << (i & 31));
      if (was !== 0) break;
      i = word;
    }
  }

  /** Is `id` free? */
  isFree(id: number): boolean {
    return (this.levels[0][id >>> 5] & (1 << (id & 31))) !== 0;
  }

  /** Are all ids in [from, cap) free? (`from` a multiple of 32.) */
  allFreeFrom(from: number): boolean {
    const l0 = this.levels[0];
    const end = this.cap >>> 5;
    for (let w = from >>> 5; w < end; w++) if (l0[w] !== 0xffffffff) return false;
    if (this.cap & 31) {
      const m = (1 << (this.cap & 31)) - 1;
      if ((l0[end] & m) !== m) return false;
    }
    return true;
  }
}
