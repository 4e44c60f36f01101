/**
 * sh — source hashing (spec §10): a 256-bucket table filled by walking the dest list
 * cyclically, each dest taking `weight` consecutive buckets per cycle (at least one),
 * rebuilt on every dest change. The client address (plus its port with sh-port)
 * picks a bucket. With sh-fallback an unavailable dest's keys are re-hashed to the
 * next available bucket; without it they fail.
 */
import { DEST_F_OVERLOAD, SVC_F_SCHED_SH_FALLBACK, SVC_F_SCHED_SH_PORT } from '../constants.js';
import { foldAddr } from '../addr.js';
import type { Dest, Service } from '../service.js';
import { hash32, hashablePort } from './common.js';
import type { SchedPacket, Scheduler, SchedulerModule } from './types.js';

export const SH_TAB_BITS = 8;
export const SH_TAB_SIZE = 1 << SH_TAB_BITS;
const SH_TAB_MASK = SH_TAB_SIZE - 1;

function unavailable(d: Dest): boolean {
  return d.weight <= 0 || (d.flags & DEST_F_OVERLOAD) !== 0;
}

export class SourceHashing implements Scheduler {
  readonly name = 'sh';
  /** Bucket → dest; null when the service has no dests. */
  readonly buckets: (Dest | null)[] = new Array<Dest | null>(SH_TAB_SIZE).fill(null);

  constructor(svc: Service) {
    this.assign(svc);
  }

  private assign(svc: Service): void {
    const dests = svc.dests;
    const n = dests.length;
    if (n === 0) {
      this.buckets.fill(null);
      return;
    }
    let p = 0;
    let count = 0;
    for (let b = 0; b < SH_TAB_SIZE; b++) {
      const d = dests[p];
      this.buckets[b] = d;
      if (++count >= d.weight) {
        p = p + 1 === n ? 0 : p + 1;
        count = 0;
      }
    }
  }

  schedule(svc: Service, pkt: SchedPacket, _now: number): Dest | null {
    const addr = foldAddr(svc.af, pkt.saddr);
    const port =
      (svc.flags & SVC_F_SCHED_SH_PORT) !== 0 ? hashablePort(pkt.protocol, pkt.sport) : 0;
    const h = hash32(port + addr, SH_TAB_BITS);
    const d = this.buckets[h];
    if (d === null) return null;
    if (!unavailable(d)) return d;
    if ((svc.flags & SVC_F_SCHED_SH_FALLBACK) === 0) return null;
    // Walk the table from the original bucket, re-hashing with each offset.
    for (let k = 0; k < SH_TAB_SIZE; k++) {
      const roffset = (k + h) & SH_TAB_MASK;
      const fd = this.buckets[(roffset + h) & SH_TAB_MASK];
      if (fd === null) return null;
      if (!unavailable(fd)) return fd;
    }
    return null;
  }

  update(svc: Service): void {
    this.assign(svc);
  }
}

export const sh: SchedulerModule = {
  name: 'sh',
  description: 'source hashing: a static table keyed by client address (and port with sh-port)',
  create: (svc) => new SourceHashing(svc),
};
