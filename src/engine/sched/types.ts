/**
 * The scheduler interface (the kernel's `struct ip_vs_scheduler`): one module per
 * scheduler, registered by name. A scheduler instance belongs to one service and keeps
 * its own state (cursors, tables, caches) across calls.
 */
import type { Scheduler, Service } from '../service.js';

// The interface a service calls lives beside the service (a service holds its
// scheduler and the scheduler is handed the service: one file, no import cycle).
export type { DestChange, SchedPacket, Scheduler } from '../service.js';

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
