/**
 * Verdicts and drop reasons of the packet path. The engine never throws on a packet:
 * malformed or refused packets are a DROP counted under one of these reasons.
 */

/** Not ours: let the packet continue unchanged (the kernel's NF_ACCEPT). */
export const V_ACCEPT = 0;
/** Discard; `result.reason` says why (counted in `engine.drops`). */
export const V_DROP = 1;
/** Transmit the (rewritten / encapsulated) packet in `result`; see `result.method`. */
export const V_FORWARD = 2;
/** Deliver to the local stack unchanged (LOCALNODE, or RIP is local). */
export const V_LOCAL = 3;
/** Send the packet the engine built in `result` (ICMP error) and drop the original. */
export const V_REPLY = 4;

export const VERDICT_NAMES = ['ACCEPT', 'DROP', 'FORWARD', 'LOCAL', 'REPLY'];

export const DropReason = {
  NONE: 0,
  MALFORMED: 1,
  FRAGMENT: 2,
  BAD_CHECKSUM: 3,
  NO_DEST_CONN: 4,
  DROP_PACKET_DEFENCE: 5,
  NO_DEST_AVAILABLE: 6,
  TTL_EXCEEDED: 7,
  FRAG_NEEDED: 8,
  HELPER: 9,
  NO_CPORT_BAD: 10,
  ICMP_UNRELATED_NAT: 11,
  NAT_ICMP_SEND: 12,
  NO_ROOM: 13,
  BACKUP_ONLY: 14,
  RESCHEDULE: 15,
  /** tsvs: an ACK to a SYN-proxied service without a conn whose cookie is not valid. */
  SYNPROXY_BAD_COOKIE: 16,
  /** tsvs: client data held by the SYN proxy until the real server answers (not lost). */
  SYNPROXY_HELD: 17,
  /** tsvs: client data before the real server answered, with no room to hold it. */
  SYNPROXY_EARLY_DATA: 18,
  /** tsvs: a real server's packet that does not answer the proxy's SYN. */
  SYNPROXY_BAD_SERVER: 19,
  /** tsvs: the client's RST that proves its address to the SYN proxy (DR, consumed). */
  SYNPROXY_AUTH: 20,
  /** tsvs: a valid cookie, but the scheduler chose a real server the proxy cannot carry. */
  SYNPROXY_METHOD: 21,
  /** tsvs: the connection table is at conn_max (the kernel has no such limit). */
  CONN_TABLE_FULL: 22,
} as const;

export const DROP_REASON_NAMES = [
  'none',
  'malformed',
  'fragment',
  'bad-checksum',
  'dest-unavailable',
  'drop-packet-defence',
  'no-dest-available',
  'ttl-exceeded',
  'frag-needed',
  'helper',
  'no-cport',
  'icmp-unrelated',
  'nat-icmp-send',
  'no-room',
  'backup-only',
  'reschedule',
  'synproxy-bad-cookie',
  'synproxy-held',
  'synproxy-early-data',
  'synproxy-bad-server',
  'synproxy-auth',
  'synproxy-method',
  'conn-table-full',
];
export const DROP_REASON_COUNT = DROP_REASON_NAMES.length;
