/**
 * rr — round robin (spec §10). A cursor names the dest chosen last (or the list head
 * before any choice); the search starts after it, wraps once, and examines the
 * previous choice last. Dests with weight 0 or OVERLOAD are skipped.
 */
import { DEST_F_OVERLOAD } from '../constants.js';
import type { Dest, Service } from '../service.js';
import type { DestChange, SchedPacket, Scheduler, SchedulerModule } from './types.js';

class RoundRobin implements Scheduler {
  readonly name = 'rr';
  /** Index of the last chosen dest in svc.dests; -1 = the list head (start of list). */
  private cur = -1;
  /** The dest at `cur`, to notice list changes made without update(). */
  private curDest: Dest | null = null;

  schedule(svc: Service, _pkt: SchedPacket, _now: number): Dest | null {
    const dests = svc.dests;
    const n = dests.length;
    let start = this.cur;
    if (start >= 0 && (start >= n || dests[start] !== this.curDest)) {
      // The list changed behind our back: find the cursor's dest again, else restart.
      start = this.curDest === null ? -1 : dests.indexOf(this.curDest);
    }
    // Examine start+1 .. n-1, then (when the cursor is not the head) 0 .. start.
    let i = start;
    for (let k = 0; k < n; k++) {
      i++;
      if (i === n) i = 0;
      const d = dests[i];
      if ((d.flags & DEST_F_OVERLOAD) === 0 && d.weight > 0) {
        this.cur = i;
        this.curDest = d;
        return d;
      }
    }
    this.cur = start;
    return null;
  }

  update(svc: Service, change: DestChange, dest: Dest, index: number): void {
    if (this.cur < 0) return;
    if (change === 'add') {
      // New dests go to the head; the cursor keeps naming the same dest.
      if (index <= this.cur) this.cur++;
    } else if (change === 'del') {
      if (dest === this.curDest) {
        // Move to the previous element (the head when it was first).
        this.cur = index - 1;
        this.curDest = this.cur >= 0 ? svc.dests[this.cur] : null;
      } else if (index < this.cur) {
        this.cur--;
      }
    }
  }
}

export const rr: SchedulerModule = {
  name: 'rr',
  description: 'round robin: each available real server in turn',
  create: () => new RoundRobin(),
};
