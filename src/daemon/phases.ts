/**
 * Where the time of a start and of a hand-over goes (issue 14: the restart's and the
 * takeover's stalls): marks taken at each phase, in milliseconds since the process
 * started (`performance.now()`: its origin is the process's start), logged as one line
 * once the daemon reads packets and once it runs.
 *
 * Node's own start-up (until the first line of JavaScript and until the entry module
 * ran) comes from `performance.nodeTiming`; the rest is marked by the daemon.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';

/** Taken when this module is evaluated: every module the daemon imports is loaded by then. */
const MODULES_AT = performance.now();

/** The marks of one start (and of a hand-over within it). */
export class Phases {
  private readonly marks: [string, number][] = [];

  constructor() {
    const t = performance.nodeTiming;
    // node's bootstrap (V8 and the environment) and the module graph up to here
    this.marks.push(['node', t.bootstrapComplete], ['modules', MODULES_AT]);
  }

  /** Marks `name` now (ms since the process started). */
  mark(name: string, at = performance.now()): number {
    this.marks.push([name, at]);
    return at;
  }

  /** When `name` was marked (NaN when it was not). */
  at(name: string): number {
    for (const [n, t] of this.marks) if (n === name) return t;
    return NaN;
  }

  /** `name +at (Δ)` for every mark since the process started, for the log. */
  describe(): string {
    let last = 0;
    return this.marks
      .map(([n, t]) => {
        const s = `${n} ${t.toFixed(0)} (+${(t - last).toFixed(0)})`;
        last = t;
        return s;
      })
      .join(', ');
  }
}

/** The wall clock at a mark of this process (to compare with another process's marks). */
export function wallAt(mark: number): number {
  return performance.timeOrigin + mark;
}
