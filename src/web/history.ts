/**
 * The dashboard's memory of the last minutes: a ring of samples (one a second by
 * default, 900 = 15 minutes), each holding a few numbers for every tracked series (a
 * virtual service, a real server, the totals). Memory is fixed when the ring is made:
 * `capacity × metrics × 4 bytes` per series, at most `maxSeries` series; a series that
 * is not in a sample (its service was deleted) is forgotten at once, and a new series
 * starts with gaps for the samples before it existed.
 *
 * @module
 */

/** A window of one series, oldest first: `t` in ms, then one column per metric. */
export interface SeriesWindow {
  /** Sample times (ms since the epoch). */
  t: number[];
  /** One column per metric, aligned with `t`; null where the series had no value. */
  values: (number | null)[][];
}

/** How a ring is sized. */
export interface HistoryOptions {
  /** Number of samples kept (default 900: 15 minutes at one a second). */
  capacity?: number;
  /** Most series kept; samples of further series are not recorded (default 4096). */
  maxSeries?: number;
}

/** A fixed-size ring of samples of named series, each with the same metrics. */
export class HistoryRing {
  readonly capacity: number;
  readonly maxSeries: number;
  /** Names of the numbers each series records, in column order. */
  readonly metrics: readonly string[];
  /** Series that could not be recorded because `maxSeries` was reached (last sample). */
  dropped = 0;
  private readonly times: Float64Array;
  private readonly series = new Map<string, Float32Array>();
  /** Next slot to write. */
  private head = 0;
  /** Samples held (≤ capacity). */
  private size = 0;

  constructor(metrics: readonly string[], opts: HistoryOptions = {}) {
    this.capacity = Math.max(1, Math.floor(opts.capacity ?? 900));
    this.maxSeries = Math.max(1, Math.floor(opts.maxSeries ?? 4096));
    this.metrics = [...metrics];
    this.times = new Float64Array(this.capacity);
  }

  /** Samples held. */
  get length(): number {
    return this.size;
  }

  /** Names of the series held. */
  keys(): string[] {
    return [...this.series.keys()];
  }

  /** Bytes the ring holds for its samples (times and every series). */
  get bytes(): number {
    return this.times.byteLength + this.series.size * this.capacity * this.metrics.length * 4;
  }

  /**
   * Record one sample at time `t` (ms): `values` maps a series name to its numbers in
   * {@link metrics} order (missing or non-finite numbers are recorded as gaps). Series
   * absent from `values` are forgotten.
   */
  push(t: number, values: ReadonlyMap<string, ArrayLike<number>>): void {
    const m = this.metrics.length;
    const slot = this.head;
    for (const key of this.series.keys()) if (!values.has(key)) this.series.delete(key);
    let dropped = 0;
    for (const [key, v] of values) {
      let data = this.series.get(key);
      if (!data) {
        if (this.series.size >= this.maxSeries) {
          dropped++;
          continue;
        }
        data = new Float32Array(this.capacity * m).fill(NaN);
        this.series.set(key, data);
      }
      const o = slot * m;
      for (let i = 0; i < m; i++) {
        const x = i < v.length ? v[i] : NaN;
        data[o + i] = Number.isFinite(x) ? x : NaN;
      }
    }
    this.dropped = dropped;
    this.times[slot] = t;
    this.head = (slot + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  /** Index of the oldest sample held. */
  private first(): number {
    return (this.head - this.size + this.capacity) % this.capacity;
  }

  /**
   * The samples of `key` taken after `since` (ms; default: all held), oldest first,
   * or null when the series is not held.
   */
  window(key: string, since = -Infinity): SeriesWindow | null {
    const data = this.series.get(key);
    if (!data) return null;
    const m = this.metrics.length;
    const t: number[] = [];
    const values: (number | null)[][] = this.metrics.map(() => []);
    const first = this.first();
    for (let k = 0; k < this.size; k++) {
      const slot = (first + k) % this.capacity;
      if (!(this.times[slot] > since)) continue;
      t.push(this.times[slot]);
      for (let i = 0; i < m; i++) {
        const x = data[slot * m + i];
        values[i].push(Number.isNaN(x) ? null : x);
      }
    }
    return { t, values };
  }

  /** The last sample of `key` (null when not held or empty). */
  latest(key: string): (number | null)[] | null {
    const data = this.series.get(key);
    if (!data || this.size === 0) return null;
    const m = this.metrics.length;
    const slot = (this.head - 1 + this.capacity) % this.capacity;
    const out: (number | null)[] = [];
    for (let i = 0; i < m; i++) {
      const x = data[slot * m + i];
      out.push(Number.isNaN(x) ? null : x);
    }
    return out;
  }

  /** Time of the last sample (ms), or null when empty. */
  get lastTime(): number | null {
    return this.size ? this.times[(this.head - 1 + this.capacity) % this.capacity] : null;
  }
}
