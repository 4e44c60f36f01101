/**
 * fo — weighted failover (spec §10): the dest with the highest weight among those
 * that are not OVERLOADed and have weight > 0; ties go to the first in list order.
 */
import { DEST_F_OVERLOAD } from '../constants.js';
import type { Dest, Service } from '../service.js';
import type { SchedPacket, Scheduler, SchedulerModule } from './types.js';

class WeightedFailover implements Scheduler {
  readonly name = 'fo';

  schedule(svc: Service, _pkt: SchedPacket, _now: number): Dest | null {
    const dests = svc.dests;
    let best: Dest | null = null;
    for (let i = 0; i < dests.length; i++) {
      const d = dests[i];
      if ((d.flags & DEST_F_OVERLOAD) !== 0 || d.weight <= 0) continue;
      if (best === null || d.weight > best.weight) best = d;
    }
    return best;
  }

  update(): void {}
}

export const fo: SchedulerModule = {
  name: 'fo',
  description: 'weighted failover: the available server with the highest weight',
  create: () => new WeightedFailover(),
};
