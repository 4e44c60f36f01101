/**
 * wrr — weighted round robin (spec §10). Passes over the dest list with a falling
 * weight threshold `cw`: a pass picks, in list order, every dest whose weight is at
 * least `cw`; at the end of the list `cw` drops by `di` (the gcd of the weights) and
 * wraps to `mw` (max weight − (di − 1)). Weights 4,3,2 give A,A,B,A,B,C,A,B,C.
 */
import { DEST_F_OVERLOAD } from '../constants.js';
import type { Dest, Service } from '../service.js';
import { gcd } from './common.js';
import type { SchedPacket, Scheduler, SchedulerModule } from './types.js';

class WeightedRoundRobin implements Scheduler {
  readonly name = 'wrr';
  /** Index of the current dest `cl` in svc.dests; -1 = the list head. */
  private cl = -1;
  private clDest: Dest | null = null;
  /** Current weight threshold. */
  private cw = 0;
  /** gcd of the positive weights (1 if none). */
  private di = 1;
  /** max weight − (di − 1); 0 means nothing can be chosen. */
  private mw = 0;

  constructor(svc: Service) {
    this.recompute(svc);
  }

  /** The kernel's dest_changed: back to the head, new di/mw, cw kept in step. */
  private recompute(svc: Service): void {
    let g = 0;
    let max = 0;
    for (const d of svc.dests) {
      const w = d.weight;
      if (w > 0) g = g > 0 ? gcd(w, g) : w;
      if (w > max) max = w;
    }
    this.cl = -1;
    this.clDest = null;
    this.di = g > 0 ? g : 1;
    this.mw = max - (this.di - 1);
    if (this.cw > this.mw || this.cw === 0) this.cw = this.mw;
    else if (this.di > 1) this.cw = Math.floor(this.cw / this.di) * this.di + 1;
  }

  schedule(svc: Service, _pkt: SchedPacket, _now: number): Dest | null {
    const dests = svc.dests;
    const n = dests.length;
    if (this.cl >= 0 && (this.cl >= n || dests[this.cl] !== this.clDest)) {
      // The list changed without update(): do what update() would have done.
      this.recompute(svc);
    }
    if (this.mw === 0) return null;
    const di = this.di;
    const last = this.cl;
    let cw = this.cw;
    let stop = -2; // index at which a final pass must end (none yet)
    let lastPass = false;
    let restarted = false;
    let i = last;
    for (;;) {
      for (i++; i < n; i++) {
        const d = dests[i];
        if ((d.flags & DEST_F_OVERLOAD) === 0 && d.weight >= cw) {
          this.cw = cw;
          this.cl = i;
          this.clDest = d;
          return d;
        }
        if (i === stop) {
          // err_over at the start dest: mark->cl = stop, the position it already had
          this.cw = cw;
          return null;
        }
      }
      // End of list: lower the threshold, wrapping to mw.
      i = -1;
      cw -= di;
      if (cw <= 0) {
        cw = this.mw;
        // A pass that already accepted any positive weight, or one that started at the
        // head, has examined every dest: all are overloaded.
        if (lastPass || last < 0) {
          // err_over with the walk on the list head: the kernel's mark->cl = head
          this.cw = cw;
          this.cl = -1;
          this.clDest = null;
          return null;
        }
        restarted = true;
      }
      lastPass = cw <= di;
      // The accept-all pass after a wrap only needs to go round to where we started.
      if (lastPass && restarted && last >= 0) stop = last;
    }
  }

  update(svc: Service): void {
    this.recompute(svc);
  }
}

export const wrr: SchedulerModule = {
  name: 'wrr',
  description: 'weighted round robin: servers in turn, in proportion to their weights',
  create: (svc) => new WeightedRoundRobin(svc),
};
