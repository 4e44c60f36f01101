/**
 * twos — weighted random twos choice (spec §10): draw two dests at random in
 * proportion to their weights and keep the less loaded one (by overhead/weight).
 * Both draws are uniform in [0, total] inclusive, so the first eligible dest gets
 * one extra chance in total + 1, as in the kernel.
 */
import { DEST_F_OVERLOAD } from '../constants.js';
import type { Dest, Service } from '../service.js';
import { overhead } from './common.js';
import type { SchedPacket, Scheduler, SchedulerContext, SchedulerModule } from './types.js';

class TwosChoice implements Scheduler {
  readonly name = 'twos';
  private readonly random: () => number;

  constructor(ctx: SchedulerContext) {
    this.random = ctx.random;
  }

  schedule(svc: Service, _pkt: SchedPacket, _now: number): Dest | null {
    const dests = svc.dests;
    const n = dests.length;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d = dests[i];
      if ((d.flags & DEST_F_OVERLOAD) === 0 && d.weight > 0) total += d.weight;
    }
    if (total === 0) return null;
    let r1 = Math.floor(this.random() * (total + 1));
    let r2 = Math.floor(this.random() * (total + 1));
    let c1: Dest | null = null;
    let c2: Dest | null = null;
    let w1 = 0;
    let w2 = 0;
    let o1 = 0;
    let o2 = 0;
    for (let i = 0; i < n; i++) {
      const d = dests[i];
      const w = d.weight;
      if ((d.flags & DEST_F_OVERLOAD) !== 0 || w <= 0) continue;
      r1 -= w;
      r2 -= w;
      if (c1 === null && r1 <= 0) {
        c1 = d;
        w1 = w;
        o1 = overhead(d);
      }
      if (c2 === null && r2 <= 0) {
        c2 = d;
        w2 = w;
        o2 = overhead(d);
      }
      if (c1 !== null && c2 !== null) break;
    }
    if (c2 !== null && w2 * o1 > w1 * o2) return c2;
    return c1;
  }

  update(): void {}
}

export const twos: SchedulerModule = {
  name: 'twos',
  description: 'weighted random twos choice: the less loaded of two weighted random picks',
  create: (_svc, ctx) => new TwosChoice(ctx),
};
