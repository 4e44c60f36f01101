/**
 * nq — never queue (spec §10): the first idle dest (no active conns) in list order
 * if there is one, otherwise the sed choice. OVERLOADed and weight-0 dests are skipped.
 */
import { DEST_F_OVERLOAD } from '../constants.js';
import type { Dest, Service } from '../service.js';
import type { SchedPacket, Scheduler, SchedulerModule } from './types.js';

class NeverQueue implements Scheduler {
  readonly name = 'nq';

  schedule(svc: Service, _pkt: SchedPacket, _now: number): Dest | null {
    const dests = svc.dests;
    let least: Dest | null = null;
    let loh = 0;
    for (let i = 0; i < dests.length; i++) {
      const d = dests[i];
      if ((d.flags & DEST_F_OVERLOAD) !== 0 || d.weight === 0) continue;
      if (d.activeconns === 0) return d;
      const doh = d.activeconns + 1;
      if (least === null || loh * d.weight > doh * least.weight) {
        least = d;
        loh = doh;
      }
    }
    return least;
  }

  update(): void {}
}

export const nq: SchedulerModule = {
  name: 'nq',
  description: 'never queue: an idle server if there is one, else shortest expected delay',
  create: () => new NeverQueue(),
};
