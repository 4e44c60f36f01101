/**
 * The scheduler interface (the kernel's `struct ip_vs_scheduler`): one module per
 * scheduler, registered by name. A scheduler instance belongs to one service and keeps
 * its own state (cursors, tables, caches) across calls.
 */
import type { AddressFamily } from '../constants.js';
import type { Dest, Service } from '../service.js';

/**
 * What a scheduler may look at of the packet being scheduled. The engine reuses one
 * object for every packet (no allocation on the hot path), so a scheduler must not
 * keep a reference to it or to its arrays.
 */
export interface SchedPacket {
  af: AddressFamily;
  protocol: number;
  /** Client side: the packet's source (the embedded destination for ICMP-reversed lookups). */
  saddr: Uint32Array;
  sport: number;
  /** Virtual side: the packet's destination. */
  daddr: Uint32Array;
  dport: number;
}

/** Why update() is called: the kernel's add_dest / upd_dest / del_dest hooks. */
export type DestChange = 'add' | 'edit' | 'del';

export interface Scheduler {
  readonly name: string;
  /**
   * Choose a real server for a new connection, or null when none is available
   * (the engine then does what `ip_vs_leave` does). `now` is the engine clock in ms.
   */
  schedule(svc: Service, pkt: SchedPacket, now: number): Dest | null;
  /**
   * The service's dest list changed. For 'del' the dest has already been unlinked
   * from `svc.dests`; `index` is where it was (so rr can move its cursor to the
   * previous element). For 'add' it is at `svc.dests[0]`.
   */
  update(svc: Service, change: DestChange, dest: Dest, index: number): void;
  /** Periodic work (lblc/lblcr garbage collection). Called about once per second. */
  tick?(svc: Service, now: number): void;
  /** The scheduler is being detached from the service. */
  done?(svc: Service): void;
}

export interface SchedulerContext {
  /** Uniform random in [0,1); injected so tests and replays are deterministic. */
  random: () => number;
  /** Sysctl-style settings a scheduler may read (lblc_expiration etc.), in seconds. */
  settings: { lblc_expiration: number; lblcr_expiration: number };
}

export interface SchedulerModule {
  readonly name: string;
  /** One line for README / ipvsadm -h. */
  readonly description: string;
  create(svc: Service, ctx: SchedulerContext): Scheduler;
}
