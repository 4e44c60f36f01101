/**
 * lblcr — locality-based least connection with replication (spec §10): each packet
 * destination address maps to a *set* of dests. A hit uses the set's weighted least
 * loaded member unless it is "locally overloaded"; then wlc over the whole service
 * picks a dest that joins the set. A set that has not changed for `lblcr_expiration`
 * sheds its most loaded member, so a busy address spreads over several servers and
 * shrinks back when the load goes. Entries expire by the GC of {@link LblCache}.
 */
import { DEST_F_AVAILABLE, DEST_F_OVERLOAD } from '../constants.js';
import type { Dest, Service } from '../service.js';
import { locallyOverloaded, overhead, wlcPick } from './common.js';
import { LblCache } from './lbl-cache.js';
import type { SchedPacket, Scheduler, SchedulerContext, SchedulerModule } from './types.js';

/** Weighted least loaded member; the first candidate must also have weight > 0. */
function setMin(set: readonly Dest[]): Dest | null {
  const n = set.length;
  let least: Dest | null = null;
  let i = 0;
  for (; i < n; i++) {
    const d = set[i];
    if ((d.flags & DEST_F_OVERLOAD) !== 0) continue;
    if (d.weight > 0 && (d.flags & DEST_F_AVAILABLE) !== 0) {
      least = d;
      break;
    }
  }
  if (least === null) return null;
  let loh = overhead(least);
  for (i++; i < n; i++) {
    const d = set[i];
    if ((d.flags & DEST_F_OVERLOAD) !== 0) continue;
    const doh = overhead(d);
    if (loh * d.weight > doh * least.weight && (d.flags & DEST_F_AVAILABLE) !== 0) {
      least = d;
      loh = doh;
    }
  }
  return least;
}

/** Weighted most loaded member among those with weight > 0. */
function setMax(set: readonly Dest[]): Dest | null {
  const n = set.length;
  let most: Dest | null = null;
  let i = 0;
  for (; i < n; i++) {
    if (set[i].weight > 0) {
      most = set[i];
      break;
    }
  }
  if (most === null) return null;
  let moh = overhead(most);
  for (i++; i < n; i++) {
    const d = set[i];
    const doh = overhead(d);
    if (moh * d.weight < doh * most.weight && d.weight > 0) {
      most = d;
      moh = doh;
    }
  }
  return most;
}

/** Remove `d` from the set in place (no allocation). */
function setErase(set: Dest[], d: Dest): void {
  const i = set.indexOf(d);
  if (i < 0) return;
  for (let k = i + 1; k < set.length; k++) set[k - 1] = set[k];
  set.length--;
}

/** Add `d` at the head of the set (members are kept newest first, as in the kernel). */
function setAddHead(set: Dest[], d: Dest): void {
  set.push(d);
  for (let k = set.length - 1; k > 0; k--) set[k] = set[k - 1];
  set[0] = d;
}

export class LocalityLeastConnectionReplicated implements Scheduler {
  readonly name = 'lblcr';
  readonly cache: LblCache;
  /** Dest set per cache entry id (arrays are reused when ids are). */
  private readonly sets: Dest[][] = [];
  /** When each set last changed (ms). */
  private lastmod = new Float64Array(64);

  constructor(private readonly ctx: SchedulerContext) {
    this.cache = new LblCache((id) => {
      this.sets[id].length = 0;
    });
  }

  /** The dest set for a destination address, newest first (a copy; for tests and listings). */
  cachedSet(svc: Service, daddr: ArrayLike<number>): Dest[] {
    const id = this.cache.find(svc.af, daddr);
    return id < 0 ? [] : this.sets[id].slice();
  }

  schedule(svc: Service, pkt: SchedPacket, now: number): Dest | null {
    const id = this.cache.find(svc.af, pkt.daddr);
    if (id >= 0) {
      this.cache.lastuse[id] = now;
      const set = this.sets[id];
      const cand = setMin(set);
      // A set unchanged for the expiration time sheds its most loaded member.
      if (set.length > 1 && now > this.lastmod[id] + this.ctx.settings.lblcr_expiration * 1000) {
        const m = setMax(set);
        if (m !== null) {
          setErase(set, m);
          this.lastmod[id] = now;
        }
      }
      if (cand !== null && !locallyOverloaded(cand, svc.dests)) return cand;
      const d = wlcPick(svc.dests);
      if (d === null) return null;
      if (set.indexOf(d) < 0) {
        setAddHead(set, d);
        this.lastmod[id] = now;
      }
      return d;
    }
    const d = wlcPick(svc.dests);
    if (d === null) return null;
    const nid = this.cache.insert(svc.af, pkt.daddr, now);
    if (nid >= this.lastmod.length) {
      const lm = new Float64Array(this.lastmod.length * 2);
      lm.set(this.lastmod);
      this.lastmod = lm;
    }
    let set = this.sets[nid];
    if (set === undefined) {
      set = [];
      this.sets[nid] = set;
    }
    set.push(d);
    this.lastmod[nid] = now;
    return d;
  }

  update(): void {}

  tick(_svc: Service, now: number): void {
    this.cache.tick(now, this.ctx.settings.lblcr_expiration * 1000);
  }

  done(): void {
    this.cache.flush();
  }
}

export const lblcr: SchedulerModule = {
  name: 'lblcr',
  description:
    'locality-based least connection with replication: an address keeps a set of servers',
  create: (_svc, ctx) => new LocalityLeastConnectionReplicated(ctx),
};
