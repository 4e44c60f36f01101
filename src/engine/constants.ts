/**
 * IPVS constants: the uapi/internal flag values of spec §0, protocol numbers and the
 * engine's verdict codes. Values match the kernel's so that sync messages and /proc
 * views can carry them unchanged.
 */

export {
  IPPROTO_IP,
  IPPROTO_ICMP,
  IPPROTO_IPIP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPPROTO_IPV6,
  IPPROTO_GRE,
  IPPROTO_ICMPV6,
  IPPROTO_SCTP,
} from '../wire/ipproto.js';

export type AddressFamily = 4 | 6;

/** Virtual-service flags (`svc->flags`, spec §0.2). */
export const SVC_F_PERSISTENT = 0x0001;
export const SVC_F_HASHED = 0x0002;
export const SVC_F_ONEPACKET = 0x0004;
export const SVC_F_SCHED1 = 0x0008;
export const SVC_F_SCHED2 = 0x0010;
export const SVC_F_SCHED3 = 0x0020;
/**
 * tsvs's own: the service's TCP handshakes are answered by the director with SYN
 * cookies (synproxy.ts). No kernel flag has this bit; it never leaves tsvs.
 */
export const SVC_F_SYNPROXY = 0x10000;
export const SVC_F_SCHED_SH_FALLBACK = SVC_F_SCHED1;
export const SVC_F_SCHED_SH_PORT = SVC_F_SCHED2;
export const SVC_F_SCHED_MH_FALLBACK = SVC_F_SCHED1;
export const SVC_F_SCHED_MH_PORT = SVC_F_SCHED2;

/** Destination flags (`dest->flags`, spec §0.3). */
export const DEST_F_AVAILABLE = 0x1;
export const DEST_F_OVERLOAD = 0x2;

/** Connection flags (`cp->flags`, spec §0.4). */
export const CONN_F_FWD_MASK = 0x0007;
export const CONN_F_MASQ = 0;
export const CONN_F_LOCALNODE = 1;
export const CONN_F_TUNNEL = 2;
export const CONN_F_DROUTE = 3;
export const CONN_F_BYPASS = 4;
export const CONN_F_SYNC = 0x0020;
export const CONN_F_HASHED = 0x0040;
export const CONN_F_NOOUTPUT = 0x0080;
export const CONN_F_INACTIVE = 0x0100;
export const CONN_F_OUT_SEQ = 0x0200;
export const CONN_F_IN_SEQ = 0x0400;
export const CONN_F_SEQ_MASK = 0x0600;
export const CONN_F_NO_CPORT = 0x0800;
export const CONN_F_TEMPLATE = 0x1000;
export const CONN_F_ONE_PACKET = 0x2000;
export const CONN_F_NFCT = 0x10000;
/**
 * tsvs's own: a conn the SYN proxy opened (synproxy.ts); its sequence numbers are
 * translated. Outside CONN_F_BACKUP_MASK, so sync never sends it.
 */
export const CONN_F_SYNPROXY = 0x100000;
export const CONN_F_BACKUP_MASK = 0x1f87;
export const CONN_F_BACKUP_UPD_MASK = 0x0700;
export const CONN_F_DEST_MASK = CONN_F_FWD_MASK | CONN_F_ONE_PACKET | CONN_F_NFCT;

/** Forwarding methods, by their conn-flag value. */
export type FwdMethod = 'masq' | 'local' | 'tunnel' | 'droute' | 'bypass';
export const FWD_METHOD_FLAG: Readonly<Record<FwdMethod, number>> = {
  masq: CONN_F_MASQ,
  local: CONN_F_LOCALNODE,
  tunnel: CONN_F_TUNNEL,
  droute: CONN_F_DROUTE,
  bypass: CONN_F_BYPASS,
};
export const FWD_METHOD_NAME: readonly FwdMethod[] = [
  'masq',
  'local',
  'tunnel',
  'droute',
  'bypass',
];

/** Tunnel types and encapsulation flags (spec §0.5). */
export const TUNNEL_TYPE_IPIP = 0;
export const TUNNEL_TYPE_GUE = 1;
export const TUNNEL_TYPE_GRE = 2;
export const TUNNEL_ENCAP_FLAG_NOCSUM = 0;
export const TUNNEL_ENCAP_FLAG_CSUM = 1;
export const TUNNEL_ENCAP_FLAG_REMCSUM = 2;

/** Template state bit (spec §4.5). */
export const TEMPLATE_ASSURED = 0x1;

/** Version printed by ipvsadm / procfs (spec §0.1). */
export const IP_VS_VERSION_CODE = 0x010201;
