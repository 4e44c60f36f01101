/**
 * lc — least connection (spec §10): among dests that are not OVERLOADed and have a
 * non-zero weight, the smallest overhead (activeconns × 256 + totalconns); ties go to
 * the first in list order. The weight is otherwise ignored.
 */
import { DEST_F_OVERLOAD } from '../constants.js';
import type { Dest, Service } from '../service.js';
import { overhead } from './common.js';
import type { SchedPacket, Scheduler, SchedulerModule } from './types.js';

class LeastConnection implements Scheduler {
  readonly name = 'lc';

  schedule(svc: Service, _pkt: SchedPacket, _now: number): Dest | null {
    const dests = svc.dests;
    let least: Dest | null = null;
    let loh = 0;
    for (let i = 0; i < dests.length; i++) {
      const d = dests[i];
      if ((d.flags & DEST_F_OVERLOAD) !== 0 || d.weight === 0) continue;
      const doh = overhead(d);
      if (least === null || doh < loh) {
        least = d;
        loh = doh;
      }
    }
    return least;
  }

  update(): void {}
}

export const lc: SchedulerModule = {
  name: 'lc',
  description: 'least connection: the server with the fewest connections',
  create: () => new LeastConnection(),
};
