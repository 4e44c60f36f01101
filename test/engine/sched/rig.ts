/**
 * A small service + scheduler rig for scheduler tests: dests are added, edited and
 * deleted the way the engine does it (new dests at the head of the list, last_weight
 * kept, AVAILABLE cleared on delete, the scheduler told after the list changed).
 */
import { parseAddr } from '../../../src/engine/addr.js';
import { DEST_F_AVAILABLE, DEST_F_OVERLOAD } from '../../../src/engine/constants.js';
import { Dest, Service } from '../../../src/engine/service.js';
import type {
  SchedPacket,
  Scheduler,
  SchedulerContext,
  SchedulerModule,
} from '../../../src/engine/sched/types.js';

export function addr(text: string): Uint32Array {
  const a = parseAddr(text);
  if (!a) throw new Error(`bad address ${text}`);
  return a.words;
}

export function makeCtx(
  random: () => number = () => 0.5,
  lblc_expiration = 24 * 3600,
  lblcr_expiration = 24 * 3600,
): SchedulerContext {
  return { random, settings: { lblc_expiration, lblcr_expiration } };
}

export interface RigOptions {
  af?: 4 | 6;
  flags?: number;
  ctx?: SchedulerContext;
  protocol?: number;
  /**
   * Dests present before the scheduler is bound (as when `ipvsadm -E` switches an
   * existing service to this scheduler), in list order. The scheduler is not told
   * about them one by one.
   */
  dests?: [string, number][];
}

export class Rig {
  readonly svc: Service;
  readonly sched: Scheduler;
  readonly pkt: SchedPacket;
  private readonly names = new Map<Dest, string>();
  now = 0;

  constructor(mod: SchedulerModule | ((svc: Service) => Scheduler), opts: RigOptions = {}) {
    const af = opts.af ?? 4;
    this.svc = new Service(
      af,
      opts.protocol ?? 6,
      addr(af === 4 ? '192.0.2.1' : '2001:db8::1'),
      80,
      0,
    );
    this.svc.flags = opts.flags ?? 0;
    for (const [name, weight] of opts.dests ?? []) this.svc.dests.push(this.newDest(name, weight));
    this.sched =
      typeof mod === 'function' ? mod(this.svc) : mod.create(this.svc, opts.ctx ?? makeCtx());
    this.svc.scheduler = this.sched;
    this.pkt = {
      af,
      protocol: opts.protocol ?? 6,
      saddr: new Uint32Array(4),
      sport: 40000,
      daddr: new Uint32Array(this.svc.addr),
      dport: 80,
    };
  }

  private newDest(name: string, weight: number, ip?: string, port = 8080): Dest {
    const n = this.names.size + 1;
    const text =
      ip ?? (this.svc.af === 4 ? `10.0.${n >> 8}.${n & 255}` : `2001:db8:1::${n.toString(16)}`);
    const d = new Dest(this.svc, this.svc.af, addr(text), port);
    d.weight = weight;
    d.lastWeight = weight;
    this.names.set(d, name);
    return d;
  }

  /** Add a dest named `name` (it goes to the head of the list). */
  add(name: string, weight = 1, ip?: string, port = 8080): Dest {
    const d = this.newDest(name, weight, ip, port);
    this.svc.dests.unshift(d);
    this.sched.update(this.svc, 'add', d, 0);
    return d;
  }

  /** Add dests so that the list reads in the order given (the last added is first). */
  addInOrder(spec: [string, number][]): Dest[] {
    const out: Dest[] = [];
    for (let i = spec.length - 1; i >= 0; i--) out.unshift(this.add(spec[i][0], spec[i][1]));
    return out;
  }

  edit(d: Dest, weight: number): void {
    d.weight = weight;
    if (weight !== 0) d.lastWeight = weight;
    this.sched.update(this.svc, 'edit', d, this.svc.dests.indexOf(d));
  }

  del(d: Dest): void {
    const i = this.svc.dests.indexOf(d);
    this.svc.dests.splice(i, 1);
    d.flags &= ~DEST_F_AVAILABLE;
    this.sched.update(this.svc, 'del', d, i);
  }

  overload(d: Dest, on: boolean): void {
    if (on) d.flags |= DEST_F_OVERLOAD;
    else d.flags &= ~DEST_F_OVERLOAD;
  }

  name(d: Dest | null): string {
    return d === null ? '-' : (this.names.get(d) ?? '?');
  }

  get order(): string[] {
    return this.svc.dests.map((d) => this.name(d));
  }

  /** Schedule one packet from `client` (port `sport`) to `daddr` (default: the VIP). */
  pick(client = '198.51.100.7', sport = 40000, daddr?: string): Dest | null {
    this.pkt.saddr.set(addr(client));
    this.pkt.sport = sport;
    if (daddr !== undefined) this.pkt.daddr.set(addr(daddr));
    else this.pkt.daddr.set(this.svc.addr);
    return this.sched.schedule(this.svc, this.pkt, this.now);
  }

  /** Names of `n` successive choices for the same packet. */
  seq(n: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.name(this.pick()));
    return out;
  }
}

/** Set a dest's connection counters. */
export function load(d: Dest, active: number, inactive = 0): Dest {
  d.activeconns = active;
  d.inactconns = inactive;
  return d;
}

/** Small seeded PRNG (mulberry32) returning uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
