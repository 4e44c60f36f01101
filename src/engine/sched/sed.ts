/**
 * sed — shortest expected delay (spec §10): as wlc, but the overhead is
 * activeconns + 1 (inactive conns are ignored), i.e. the expected delay
 * (active + 1) / weight of the next conn on that server.
 */
import { DEST_F_OVERLOAD } from '../constants.js';
import type { Dest, Service } from '../service.js';
import type { SchedPacket, Scheduler, SchedulerModule } from './types.js';

class ShortestExpectedDelay implements Scheduler {
  readonly name = 'sed';

  schedule(svc: Service, _pkt: SchedPacket, _now: number): Dest | null {
    const dests = svc.dests;
    const n = dests.length;
    let least: Dest | null = null;
    let i = 0;
    for (; i < n; i++) {
      const d = dests[i];
      if ((d.flags & DEST_F_OVERLOAD) === 0 && d.weight > 0) {
        least = d;
        break;
      }
    }
    if (least === null) return null;
    let loh = least.activeconns + 1;
    for (i++; i < n; i++) {
      const d = dests[i];
      if ((d.flags & DEST_F_OVERLOAD) !== 0) continue;
      const doh = d.activeconns + 1;
      if (loh * d.weight > doh * least.weight) {
        least = d;
        loh = doh;
      }
    }
    return least;
  }

  update(): void {}
}

export const sed: SchedulerModule = {
  name: 'sed',
  description: 'shortest expected delay: fewest (active connections + 1) relative to weight',
  create: () => new ShortestExpectedDelay(),
};
