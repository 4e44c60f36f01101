/**
 * The protocol interface (the kernel's `struct ip_vs_protocol`): one ops object per
 * protocol (proto/tcp.ts, proto/udp.ts, proto/sctp.ts), looked up by protocol number in the registry
 * (proto/index.ts). The core asks it which packets may create a connection, how to
 * rewrite and check them, how a packet moves the conn's state and for how long the
 * conn then lives; it never switches on "is this TCP" itself.
 */
import type { Ipvs } from '../ipvs.js';
import type { AppHelper } from '../app/types.js';
import type { PacketView } from '../../wire/packet.js';

/** Direction block of a transition (spec §2.2). */
export const DIR_INPUT = 0;
export const DIR_OUTPUT = 1;
export const DIR_INPUT_ONLY = 2;

/** What ip_vs_random_dropentry does with a conn in a given state (§2.9). */
export const DROPENTRY_KEEP = 0;
/** Always dropped (a half-open TCP conn). */
export const DROPENTRY_ALWAYS = 1;
/** Dropped by the "todrop" entry test (idle, few packets). */
export const DROPENTRY_MAYBE = 2;

/**
 * One protocol's ops. Every object has every member, in this order, so the core's
 * `pp.*` loads see one shape.
 */
export interface ProtocolOps {
  readonly protocol: number;
  readonly name: string;
  /** Number of states (the sentinel "BUG!" not included). */
  readonly numStates: number;
  /** Default per-state timeouts in seconds (the kernel's timeout_table). */
  readonly defaultTimeouts: readonly number[];
  /** Services with the one-packet flag (-o) apply to this protocol (§3). */
  readonly onePacket: boolean;
  /** A packet to port 20 or ≥ 1024 may belong to an FTP service on port 21 (§4.1). */
  readonly ftpData: boolean;
  stateName(state: number): string;
  /** Look a state up by its printed name (case-insensitive); -1 if unknown. */
  stateByName(name: string): number;
  /** Whether a state counts in activeconns (§2.5). */
  isActive(state: number): boolean;
  /** is_new_conn: does this packet open a new connection (TCP: a SYN, SCTP: an INIT)? (§2.11) */
  isNewConn(pv: PacketView): boolean;
  /**
   * conn_schedule's first half: may this packet, with no conn, create one? Returns
   * Why.NONE to go on to the service lookup, Why.DROP to drop it as malformed (the
   * kernel's NF_DROP: SCTP without a chunk header), otherwise the Why of the ACCEPT
   * (§2.7). A packet that must never be answered (TCP RST, SCTP ABORT) gives Why.RST
   * or Why.ABORT.
   */
  connSchedule(ipvs: Ipvs, pv: PacketView): number;
  /** The protocol's part of is_new_conn_expected (§2.11): may a SYN reuse conn `id`? */
  connReuse(ipvs: Ipvs, id: number): boolean;
  /** csum_check: the L4 checksum of a packet a helper must look into (§6.2). */
  csumCheck(pv: PacketView, pktFlags: number): boolean;
  /** dnat_handler: client → real server rewrite of a NAT conn (§6). */
  dnatHandler(ipvs: Ipvs, pv: PacketView, id: number, full: boolean): void;
  /** snat_handler: real server → client rewrite of a NAT conn (§6). */
  snatHandler(ipvs: Ipvs, pv: PacketView, id: number, full: boolean): void;
  /**
   * state_transition for a packet in `dir` (DIR_INPUT or DIR_OUTPUT): the new state,
   * the dest's active/inactive accounting and the timeout from the table (§2).
   */
  stateTransition(ipvs: Ipvs, id: number, dir: number, pv: PacketView): void;
  /** Put a conn into a state (helpers: LISTEN for FTP data conns), accounted. */
  setState(ipvs: Ipvs, id: number, state: number): void;
  /** app_conn_bind: bind a new NAT conn to the helper registered for its vport (§9.1). */
  appConnBind(ipvs: Ipvs, id: number): void;
  /** A helper's hook around a packet (TCP: with sequence adjustment, §9.1). */
  appHook(
    ipvs: Ipvs,
    app: AppHelper,
    id: number,
    pv: PacketView,
    mark: number,
    toServer: boolean,
  ): number;
  /** DROPENTRY_*: what the random drop_entry defence does with a conn in `state`. */
  dropEntry(state: number): number;
}
