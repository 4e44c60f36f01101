/**
 * ovf — weighted overflow (spec §10): the highest-weight dest among those that are
 * not OVERLOADed, have weight ≠ 0 and no more active conns than their weight; ties
 * go to the first in list order. Traffic overflows to the next server once the
 * preferred one holds `weight` active conns.
 */
import { DEST_F_OVERLOAD } from '../constants.js';
import type { Dest, Service } from '../service.js';
import type { SchedPacket, Scheduler, SchedulerModule } from './types.js';

class WeightedOverflow implements Scheduler {
  readonly name = 'ovf';

  schedule(svc: Service, _pkt: SchedPacket, _now: number): Dest | null {
    const dests = svc.dests;
    let best: Dest | null = null;
    for (let i = 0; i < dests.length; i++) {
      const d = dests[i];
      const w = d.weight;
      if ((d.flags & DEST_F_OVERLOAD) !== 0 || d.activeconns > w || w === 0) continue;
      if (best === null || w > best.weight) best = d;
    }
    return best;
  }

  update(): void {}
}

export const ovf: SchedulerModule = {
  name: 'ovf',
  description: 'weighted overflow: highest weight until its active connections exceed it',
  create: () => new WeightedOverflow(),
};
