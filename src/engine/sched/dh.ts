/**
 * dh — destination hashing (spec §10): a 256-bucket table filled round robin with
 * the dests in list order (weights ignored), keyed by the packet's destination
 * address. No fallback: an unavailable dest fails its keys.
 */
import { DEST_F_AVAILABLE, DEST_F_OVERLOAD } from '../constants.js';
import { foldAddr } from '../addr.js';
import type { Dest, Service } from '../service.js';
import { hash32 } from './common.js';
import type { SchedPacket, Scheduler, SchedulerModule } from './types.js';

export const DH_TAB_BITS = 8;
export const DH_TAB_SIZE = 1 << DH_TAB_BITS;

export class DestinationHashing implements Scheduler {
  readonly name = 'dh';
  readonly buckets: (Dest | null)[] = new Array<Dest | null>(DH_TAB_SIZE).fill(null);

  constructor(svc: Service) {
    this.assign(svc);
  }

  private assign(svc: Service): void {
    const dests = svc.dests;
    const n = dests.length;
    for (let b = 0; b < DH_TAB_SIZE; b++) this.buckets[b] = n === 0 ? null : dests[b % n];
  }

  schedule(svc: Service, pkt: SchedPacket, _now: number): Dest | null {
    const d = this.buckets[hash32(foldAddr(svc.af, pkt.daddr), DH_TAB_BITS)];
    if (
      d === null ||
      (d.flags & DEST_F_AVAILABLE) === 0 ||
      d.weight <= 0 ||
      (d.flags & DEST_F_OVERLOAD) !== 0
    ) {
      return null;
    }
    return d;
  }

  update(svc: Service): void {
    this.assign(svc);
  }
}

export const dh: SchedulerModule = {
  name: 'dh',
  description: 'destination hashing: a static table keyed by the destination address',
  create: (svc) => new DestinationHashing(svc),
};
