/**
 * The one shape of a virtual service, a real server and the timeouts, with their
 * defaults — shared by the engine's administration, the control model, the ipvsadm
 * parser, persistence, keepalived.conf and replay. A default is written here and
 * nowhere else; range checks happen once, in the control model (the engine keeps
 * the kernel's own checks).
 */
import { FWD_METHOD_NAME, IPPROTO_TCP, type AddressFamily, type FwdMethod } from './constants.js';

/** What identifies a virtual service: fwmark, or protocol + address + port. */
export interface ServiceId {
  af: AddressFamily;
  /** 6 (TCP), 17 (UDP) or 132 (SCTP); fwmark services carry one too (default TCP). */
  protocol?: number;
  /** Textual address; absent (ignored) for fwmark services. */
  addr?: string;
  port?: number;
  /** Non-zero for firewall-mark services. */
  fwmark?: number;
}

/** A service's parameters (ipvsadm -A/-E). Absent fields take {@link SERVICE_DEFAULTS}. */
export interface ServiceParams {
  scheduler?: string;
  /** SVC_F_PERSISTENT 0x1, SVC_F_ONEPACKET 0x4, SVC_F_SCHED1..3 0x8/0x10/0x20. */
  flags?: number;
  /** Persistence timeout in seconds. */
  timeout?: number;
  /** IPv4: the mask as a 32-bit number or dotted quad; IPv6: prefix length. */
  netmask?: number | string;
  /** Persistence engine ('' or 'sip'). */
  pe?: string;
}

/** A whole service. */
export interface ServiceSpec extends ServiceId, ServiceParams {}

/**
 * Forwarding methods a real server may be given (ipvsadm -g/-m/-i, and local): the
 * engine's {@link FwdMethod} names less `bypass`, which only a connection can have.
 */
export type FwdName = Exclude<FwdMethod, 'bypass'>;
/** The names of {@link FwdName}, indexed by conn-flag value (CONN_F_MASQ 0 … CONN_F_DROUTE 3). */
export const FWD_NAMES: readonly FwdName[] = FWD_METHOD_NAME.filter(
  (n): n is FwdName => n !== 'bypass',
);

/**
 * Tunnel type names (ipvsadm `--tun-type`, keepalived's `type`), indexed by a real
 * server's `tunType` (TUNNEL_TYPE_IPIP 0, TUNNEL_TYPE_GUE 1, TUNNEL_TYPE_GRE 2).
 */
export const TUN_TYPE_NAMES = ['ipip', 'gue', 'gre'] as const;
export type TunTypeName = (typeof TUN_TYPE_NAMES)[number];

/** What identifies a real server inside its service. */
export interface DestId {
  addr: string;
  port: number;
}

/** A whole real server. Absent fields take {@link DEST_DEFAULTS}. */
export interface DestSpec extends DestId {
  fwd?: FwdName;
  weight?: number;
  uThreshold?: number;
  lThreshold?: number;
  /** 0 ipip, 1 gue, 2 gre. */
  tunType?: number;
  tunPort?: number;
  /** 0 nocsum, 1 csum, 2 remcsum. */
  tunFlags?: number;
}

/** `ipvsadm --set tcp tcpfin udp`, seconds. */
export interface Timeouts {
  tcp: number;
  tcpfin: number;
  udp: number;
}

/** ipvsadm's and the kernel's defaults for a service. */
export const SERVICE_DEFAULTS = {
  /** The protocol a fwmark service carries when none is given. */
  protocol: IPPROTO_TCP,
  scheduler: 'wlc',
  flags: 0,
  /** Persistence timeout when persistence is asked for without one (ipvsadm, keepalived). */
  persistentTimeout: 360,
  /** IPv4 persistence netmask (all ones) and IPv6 prefix length. */
  netmask4: 0xffffffff,
  netmask6: 128,
  pe: '',
} as const;

/** The default persistence netmask of a family. */
export function defaultNetmask(af: AddressFamily): number {
  return af === 4 ? SERVICE_DEFAULTS.netmask4 : SERVICE_DEFAULTS.netmask6;
}

/** ipvsadm's defaults for a real server: direct routing, weight 1, no thresholds, ipip. */
export const DEST_DEFAULTS = {
  fwd: 'droute' as FwdName,
  weight: 1,
  uThreshold: 0,
  lThreshold: 0,
  tunType: 0,
  tunPort: 0,
  tunFlags: 0,
} as const;

/** The kernel's default timeouts (ESTABLISHED, FIN_WAIT, UDP), seconds. */
export const TIMEOUT_DEFAULTS: Readonly<Timeouts> = { tcp: 900, tcpfin: 120, udp: 300 };

/** Upper bound of persistence and connection timeouts ipvsadm accepts (31 days). */
export const MAX_TIMEOUT = 2678400;

/** The kernel's `ip_vs_proto_name`: the one protocol-name table (kept in wire/). */
export { ipProtoName as protoName } from '../wire/ipproto.js';
