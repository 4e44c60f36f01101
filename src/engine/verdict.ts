/**
 * Why the engine decided what it did: one code for every verdict (not just drops),
 * set on the packet path as a number and named only when someone asks
 * (`tsvs trace --explain`). DROPs keep their {@link DropReason} in `result.reason`;
 * a REPLY (an ICMP error built by the engine) carries the counter it was counted
 * under there too.
 */
import { NO_CONN } from './conn/table.js';
import type { AddressFamily } from './constants.js';
import { V_ACCEPT } from './drop.js';

/** The reason code of a verdict (`result.why`). */
export const Why = {
  NONE: 0,
  // ACCEPT: not IPVS traffic, or IPVS lets it pass
  /** No protocol handler for it (not TCP/UDP/SCTP) (§1.2). */
  NOT_IPVS: 1,
  /** backup_only with a backup sync daemon: nothing is forwarded (§12.5). */
  BACKUP_ONLY: 2,
  /** A TCP RST never creates a connection (§2.7). */
  RST: 3,
  /** TCP without SYN and sloppy_tcp=0: not scheduled (§2.7). */
  NOT_SYN: 4,
  /** An IPv6 fragment is never scheduled (§1.2). */
  IPV6_FRAGMENT: 5,
  /** No virtual service for the destination (§2.7). */
  NO_SERVICE: 6,
  /** Client port 20 (FTP data) is never scheduled (§2.8). */
  FTP_DATA: 7,
  /** A reply from a local real server: its conn exists reversed (§2.8). */
  LOCAL_REPLY: 8,
  /** Another port of an FTP service (no dest for it): not IPVS traffic (§2.10). */
  FTP_OTHER_PORT: 9,
  /** ICMP that is not an error about TCP/UDP (§1.2, §8.1). */
  ICMP_UNRELATED: 10,
  /** ICMP error about no connection (§8.1, §8.2). */
  ICMP_NO_CONN: 11,
  /** A reply without a connection (§1.3). */
  OUT_NO_CONN: 12,
  /** A reply of a DR/TUN/local conn: the state follows it, the packet passes (§1.3). */
  OUT_NOT_NAT: 13,
  // FORWARD / LOCAL
  /** The packet belongs to an existing connection. */
  CONN: 14,
  /** The scheduler chose a real server for a new connection (§2.8). */
  NEW_CONN: 15,
  /** Persistence: the client's template chose the real server (§4.5). */
  TEMPLATE_REUSED: 16,
  /** Persistence: the scheduler chose, and a new template remembers it (§4.5). */
  NEW_TEMPLATE: 17,
  /** No real server, cache_bypass on a fwmark service: to the original destination (§2.10). */
  BYPASS: 18,
  // REPLY: an ICMP error built by the engine
  /** No real server available: port unreachable to the client (§2.10). */
  NO_DEST: 19,
  /** TTL would reach 0: time exceeded (§7.1). */
  TTL_EXCEEDED: 20,
  /** Too big for the tunnel with DF: fragmentation needed (§7.1). */
  FRAG_NEEDED: 21,
  /** Reply from a NAT real server without a conn, nat_icmp_send=1 (§1.3). */
  NAT_ICMP_SEND: 22,
  /** An error about a tunnelled packet, relayed to the client (§8.1). */
  TUNNEL_ICMP: 23,
  // DROP: `result.reason` is the DropReason
  DROP: 24,
  // ACCEPT (SCTP, after the codes above so that their numbers stay)
  /** An SCTP packet whose first chunk is ABORT never creates a connection (§2.7). */
  ABORT: 25,
  /** SCTP whose first chunk is not INIT, sloppy_sctp=0: not scheduled (§2.7). */
  NOT_INIT: 26,
  // tsvs's SYN proxy (synproxy.ts)
  /** REPLY: a SYN-ACK carrying a SYN cookie, no conn created. */
  SYNPROXY_COOKIE: 27,
  /** FORWARD: a valid cookie created the conn; the proxy's SYN goes to the real server. */
  SYNPROXY_SYN: 28,
  /** FORWARD: the real server's SYN-ACK answered with the handshake's ACK (or held data). */
  SYNPROXY_ACK: 29,
  /** REPLY: a SYN-ACK the client must refuse with an RST that proves its address (DR). */
  SYNPROXY_AUTH: 30,
  /** The client's address was proved to the SYN proxy: its SYN is scheduled as usual. */
  SYNPROXY_AUTHED: 31,
} as const;

/** Names of {@link Why} codes, by code. */
export const WHY_NAMES = [
  'none',
  'not-ipvs',
  'backup-only',
  'rst',
  'not-syn',
  'ipv6-fragment',
  'no-service',
  'ftp-data',
  'local-reply',
  'ftp-other-port',
  'icmp-unrelated',
  'icmp-no-conn',
  'out-no-conn',
  'out-not-nat',
  'conn',
  'new-conn',
  'template-reused',
  'new-template',
  'bypass',
  'no-dest',
  'ttl-exceeded',
  'frag-needed',
  'nat-icmp-send',
  'tunnel-icmp',
  'drop',
  'abort',
  'not-init',
  'synproxy-cookie',
  'synproxy-syn',
  'synproxy-ack',
  'synproxy-auth',
  'synproxy-authed',
];

/** The packet the data plane must act on, filled by every `in` / `out` call. */
export class PacketResult {
  verdict = V_ACCEPT;
  /** DropReason of a DROP (and the counter a REPLY was counted under); else 0. */
  reason = 0;
  /** Why the engine gave this verdict ({@link Why}). */
  why = 0;
  /** Packet to transmit (the input buffer, or the engine's scratch buffer). */
  buf: Uint8Array = new Uint8Array(0);
  off = 0;
  len = 0;
  /** Forwarding method (CONN_F_MASQ…) for FORWARD from `in`; -1 for replies from `out`. */
  method = -1;
  /** Family and address of the next hop: RIP (NAT/DR/TUN), original dst (bypass), client (out). */
  af: AddressFamily = 4;
  readonly nextHop = new Uint32Array(4);
  conn = NO_CONN;
  dest = -1;
}
