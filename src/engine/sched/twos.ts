/**
 * twos — weighted random twos choice (spec §10): draw two dests at random in
 * proportion to their weights and keep the less loaded one (by overhead/weight).
 * Both draws are uniform in [0, total] inclusive, so the first eligible dest gets
 * one extra chance in total + 1, as in the kernel.
 *
 * Draws are 32-bit integers reduced mod (total + 1), like the kernel's
 * `get_random_u32() % (total + 1)`, from a xoshiro128** generator seeded from
 * ctx.random when the scheduler is created (so runs stay reproducible). Calling the
 * injected function per draw would cost a boxed double per call on the hot path.
 */
import { DEST_F_OVERLOAD } from '../constants.js';
import type { Dest, Service } from '../service.js';
import { overhead } from './common.js';
import type { SchedPacket, Scheduler, SchedulerContext, SchedulerModule } from './types.js';

class TwosChoice implements Scheduler {
  readonly name = 'twos';
  /** xoshiro128** state. */
  private readonly s = new Int32Array(4);

  constructor(ctx: SchedulerContext) {
    const s = this.s;
    for (let i = 0; i < 4; i++) s[i] = Math.floor(ctx.random() * 4294967296);
    if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  }

  /** Next 32 random bits, as a signed int32 (never boxed). */
  private next(): number {
    const s = this.s;
    const x = Math.imul(s[1], 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9);
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 11) | (s[3] >>> 21);
    return result;
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
    // uint32 operands, so V8 can use an integer modulo
    const range = (total + 1) >>> 0;
    let r1 = (this.next() >>> 0) % range;
    let r2 = (this.next() >>> 0) % range;
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
