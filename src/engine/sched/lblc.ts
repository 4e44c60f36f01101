/**
 * lblc — locality-based least connection (spec §10), for caches in front of many
 * destination addresses: each packet destination address sticks to the dest it was
 * last given, unless that dest is gone (not AVAILABLE), quiesced (weight 0) or
 * "locally overloaded" (more active conns than its weight while another dest is below
 * half its weight); then wlc picks a new one and the cache entry follows it. The
 * OVERLOAD flag is deliberately not checked for the cached dest. Entries expire by
 * the GC of {@link LblCache}, using the `lblc_expiration` setting.
 */
import { DEST_F_AVAILABLE } from '../constants.js';
import type { Dest, Service } from '../service.js';
import { locallyOverloaded, wlcPick } from './common.js';
import { LblCache } from './lbl-cache.js';
import type { SchedPacket, Scheduler, SchedulerContext, SchedulerModule } from './types.js';

export class LocalityLeastConnection implements Scheduler {
  readonly name = 'lblc';
  readonly cache: LblCache;
  /** Cached dest per cache entry id. */
  private readonly dest: (Dest | null)[] = [];

  constructor(private readonly ctx: SchedulerContext) {
    this.cache = new LblCache((id) => {
      this.dest[id] = null;
    });
  }

  /** The dest cached for a destination address (for tests and listings). */
  cached(svc: Service, daddr: ArrayLike<number>): Dest | null {
    const id = this.cache.find(svc.af, daddr);
    return id < 0 ? null : this.dest[id];
  }

  schedule(svc: Service, pkt: SchedPacket, now: number): Dest | null {
    const id = this.cache.find(svc.af, pkt.daddr);
    if (id >= 0) {
      this.cache.lastuse[id] = now;
      const d = this.dest[id];
      if (
        d !== null &&
        (d.flags & DEST_F_AVAILABLE) !== 0 &&
        d.weight > 0 &&
        !locallyOverloaded(d, svc.dests)
      ) {
        return d;
      }
    }
    const d = wlcPick(svc.dests);
    if (d === null) return null;
    if (id >= 0) this.dest[id] = d;
    else this.dest[this.cache.insert(svc.af, pkt.daddr, now)] = d;
    return d;
  }

  update(): void {}

  tick(_svc: Service, now: number): void {
    this.cache.tick(now, this.ctx.settings.lblc_expiration * 1000);
  }

  done(): void {
    this.cache.flush();
  }
}

export const lblc: SchedulerModule = {
  name: 'lblc',
  description: 'locality-based least connection: a destination address keeps its server',
  create: (_svc, ctx) => new LocalityLeastConnection(ctx),
};
