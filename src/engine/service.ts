/**
 * Virtual services and their real servers (dests), spec §0.6, §5.2, §5.3, §15.
 * These are the configuration-time objects; the per-packet state lives in the
 * connection table, which refers to dests by `Dest.id`.
 */
import {
  CONN_F_FWD_MASK,
  CONN_F_INACTIVE,
  CONN_F_MASQ,
  CONN_F_NOOUTPUT,
  DEST_F_AVAILABLE,
  DEST_F_OVERLOAD,
  SVC_F_PERSISTENT,
  type AddressFamily,
} from './constants.js';
import { formatAddrPort } from './addr.js';
import { Stats } from './stats.js';
import { defaultNetmask, protoName, SERVICE_DEFAULTS } from './spec.js';

/**
 * What the data plane knows of the way to a real server (the kernel's cached route,
 * dest_dst): an object it keeps up to date as routes change, read per packet.
 */
export interface DestRoute {
  /** MTU of the path: the route's mtu metric when set and smaller, else the device's. */
  readonly mtu: number;
  /**
   * The route delivers locally: the real server's address is one of this host's. The
   * kernel then hands DR and tunnel packets to its own stack unchanged (and NAT ones
   * after the rewrite), whatever method the real server was configured with.
   */
  readonly local?: boolean;
}

export class Dest {
  /** Index in the engine's dest registry (stable while the object lives). */
  id = -1;
  readonly af: AddressFamily;
  readonly addr: Uint32Array;
  readonly port: number;
  /** Owning service (kept while the dest waits in the trash). */
  svc: Service;
  /** Forwarding method and other flags copied into every new conn (§5.2). */
  connFlags = 0;
  weight = 1;
  /** Last non-zero weight ever set (used by mh). */
  lastWeight = 1;
  uThreshold = 0;
  lThreshold = 0;
  activeconns = 0;
  inactconns = 0;
  persistconns = 0;
  /** AVAILABLE / OVERLOAD. */
  flags = DEST_F_AVAILABLE;
  tunType = 0;
  tunPort = 0;
  tunFlags = 0;
  /** The data plane's route to this real server; null: unknown (the engine's `mtu`). */
  route: DestRoute | null = null;
  readonly stats = new Stats();
  /** Number of conns bound to this dest (its kernel refcount, minus the service's). */
  refcnt = 0;
  /** Engine time (ms) when the dest entered the trash with no references. */
  idleSince = 0;

  constructor(svc: Service, af: AddressFamily, addr: Uint32Array, port: number) {
    this.svc = svc;
    this.af = af;
    this.addr = addr;
    this.port = port;
  }

  get fwd(): number {
    return this.connFlags & CONN_F_FWD_MASK;
  }

  /** Set the forwarding method: INACTIVE always, NOOUTPUT for non-NAT (§5.2). */
  setFwd(method: number, extra = 0): void {
    this.connFlags =
      (method & CONN_F_FWD_MASK) |
      extra |
      CONN_F_INACTIVE |
      (method === CONN_F_MASQ ? 0 : CONN_F_NOOUTPUT);
  }

  /** Weight > 0 and not OVERLOAD: what almost every scheduler calls "available". */
  get usable(): boolean {
    return this.weight > 0 && (this.flags & DEST_F_OVERLOAD) === 0;
  }

  get available(): boolean {
    return (this.flags & DEST_F_AVAILABLE) !== 0;
  }

  get overloaded(): boolean {
    return (this.flags & DEST_F_OVERLOAD) !== 0;
  }

  /** activeconns + inactconns: the kernel's totalconns (templates not counted). */
  get totalconns(): number {
    return this.activeconns + this.inactconns;
  }

  /**
   * ip_vs_dest_update_overload: OVERLOAD is set once the conns reach u_threshold and
   * cleared only when they fall below l_threshold (when 0, u − ⌊u/4⌋, i.e. 75 % of u
   * rounded up); in between it keeps its state. No u_threshold, no OVERLOAD.
   */
  updateOverload(): void {
    const u = this.uThreshold;
    if (u !== 0) {
      const conns = this.activeconns + this.inactconns;
      if (conns >= u) {
        this.flags |= DEST_F_OVERLOAD;
        return;
      }
      const l = this.lThreshold !== 0 ? this.lThreshold : u - (u >>> 2);
      if (conns >= l) return;
    }
    this.flags &= ~DEST_F_OVERLOAD;
  }

  /** Bind a conn (ip_vs_bind_dest): counters, then the overload state (§5.3). */
  bind(template: boolean, inactive: boolean): void {
    this.refcnt++;
    if (template) this.persistconns++;
    else if (inactive) this.inactconns++;
    else this.activeconns++;
    this.updateOverload();
  }

  /** Unbind a conn on expiry (ip_vs_unbind_dest): counters, then the hysteresis (§5.3). */
  unbind(template: boolean, inactive: boolean): void {
    this.refcnt--;
    if (template) this.persistconns--;
    else if (inactive) this.inactconns--;
    else this.activeconns--;
    if ((this.flags & DEST_F_OVERLOAD) !== 0) this.updateOverload();
  }

  toString(): string {
    return formatAddrPort(this.af, this.addr, this.port);
  }
}

export class Service {
  /** Index in the engine's service registry. */
  id = -1;
  readonly af: AddressFamily;
  /** TCP/UDP (fwmark services still carry one). */
  readonly protocol: number;
  readonly addr: Uint32Array;
  readonly port: number;
  /** Non-zero for fwmark services (then addr/port are zero). */
  readonly fwmark: number;
  flags = 0;
  /** Persistence timeout in seconds. */
  timeout = 0;
  /** IPv4: 32-bit mask; IPv6: prefix length. */
  netmask: number;
  /** Most recently added first (§0.6). */
  dests: Dest[] = [];
  schedName: string = SERVICE_DEFAULTS.scheduler;
  scheduler: Scheduler | null = null;
  peName = '';
  readonly stats = new Stats();

  constructor(
    af: AddressFamily,
    protocol: number,
    addr: Uint32Array,
    port: number,
    fwmark: number,
  ) {
    this.af = af;
    this.protocol = protocol;
    this.addr = addr;
    this.port = port;
    this.fwmark = fwmark;
    this.netmask = defaultNetmask(af);
  }

  get persistent(): boolean {
    return (this.flags & SVC_F_PERSISTENT) !== 0;
  }

  toString(): string {
    if (this.fwmark !== 0) return `FWM ${this.fwmark}`;
    return `${protoName(this.protocol)} ${formatAddrPort(this.af, this.addr, this.port)}`;
  }
}

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
