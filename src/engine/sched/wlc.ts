/**
 * wlc — weighted least connection, ipvsadm's default (spec §10): the dest with the
 * smallest overhead/weight, compared by cross-multiplication so ties go to the
 * earlier dest in list order. Weight-0 dests can never win.
 */
import type { Dest, Service } from '../service.js';
import { wlcPick } from './common.js';
import type { SchedPacket, Scheduler, SchedulerModule } from './types.js';

class WeightedLeastConnection implements Scheduler {
  readonly name = 'wlc';

  schedule(svc: Service, _pkt: SchedPacket, _now: number): Dest | null {
    return wlcPick(svc.dests);
  }

  update(): void {}
}

export const wlc: SchedulerModule = {
  name: 'wlc',
  description: 'weighted least connection: fewest connections relative to weight (default)',
  create: () => new WeightedLeastConnection(),
};
