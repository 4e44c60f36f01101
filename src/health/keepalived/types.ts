/**
 * The LVS part of a keepalived.conf as tsvs reads it (spec keepalived-lvs-reference
 * §1–§4): a typed, fully defaulted configuration, keepalived's view of a virtual
 * server (with its checkers, quorum and sorry server). `control.ts` turns it into the
 * control model's shapes (engine/spec.ts).
 */
import type { FwdName, TunTypeName } from '../../engine/spec.js';

/** The forwarding methods keepalived can give (NAT, DR, TUN; no local). */
export type KaMethod = Exclude<FwdName, 'local'>;
/** keepalived's tunnel `type` names are ipvsadm's. */
export type KaTunType = TunTypeName;
export type KaTunCsum = 'nocsum' | 'csum' | 'remcsum';

/** keepalived 2.2's checkers (check_api.c's install_checkers_keyword). */
export type KaCheckerType =
  | 'TCP_CHECK'
  | 'HTTP_GET'
  | 'SSL_GET'
  | 'SMTP_CHECK'
  | 'MISC_CHECK'
  | 'PING_CHECK'
  | 'UDP_CHECK'
  | 'DNS_CHECK'
  | 'FILE_CHECK'
  | 'BFD_CHECK';

/** One url block of HTTP_GET / SSL_GET. */
export interface KaUrl {
  path: string;
  /** Inclusive ranges; default 200-299. */
  statusCodes: [number, number][];
  /** MD5 of the body, lower-case hex. */
  digest?: string;
  virtualhost?: string;
  /** keepalived's PCRE2 regex, run against the body (see docs/keepalived-checkers.md). */
  regex?: string;
  /** JavaScript RegExp flags translated from regex_options. */
  regexFlags?: string;
  /** The check fails when the regex matches. */
  regexNoMatch?: boolean;
  /** First body offset where a match may start. */
  regexMinOffset?: number;
  /** Last body offset where a match may start (as written). */
  regexMaxOffset?: number;
}

/** The top-level `SSL { password ca certificate key }` block (check_parser.c). */
export interface KaSsl {
  password?: string;
  ca?: string;
  certificate?: string;
  key?: string;
}

/** A `track_file NAME { file PATH weight N [reverse] }` block as a FILE_CHECK uses it. */
export interface KaTrackFile {
  name: string;
  path: string;
  /** The FILE_CHECK's weight, else the track_file's, else 1. */
  weight: number;
  reverse: boolean;
}

/** A keepalived bfd_instance, as BFD_CHECK follows it in FRR's bfdd (checkers/bfd.ts). */
export interface KaBfdSession {
  name: string;
  /** neighbor_ip, as written. */
  peer: string;
  /** source_ip, as written (any local address when unset). */
  local?: string;
  /** The directory of bfdd's vty socket (`vtysh --vty_socket`). */
  vtyDir: string;
}

export interface KaChecker {
  type: KaCheckerType;
  /**
   * Set when tsvs cannot run this checker (a missing tool, an option it cannot honour,
   * an incomplete block): the real server must be kept out of rotation and this reason
   * logged. Fail closed: never a real server without the check its operator wrote.
   */
  unusable?: string;
  /** Resolved: checker option, else real_server, else virtual_server, else default (spec §2.2/§3.1). Seconds, may be fractional. */
  connectTimeout: number;
  retry: number;
  delayBeforeRetry: number;
  delayLoop: number;
  /** Seconds; undefined = keepalived's random 0..delay_loop. */
  warmup?: number;
  alpha: boolean;
  /** log_all_failures: log every failed try, not only the change to down. */
  logAllFailures?: boolean;
  /** As written; undefined = the real server's address / port. */
  connectIp?: string;
  connectPort?: number;
  bindto?: string;
  bindPort?: number;
  /** bind_if: the zone of an IPv6 link-local address, else SO_BINDTODEVICE (through socat or ping). */
  bindIf?: string;
  /** fwmark: the checker's packets carry this mark (SO_MARK, set by socat or iputils' ping). */
  fwmark?: number;
  /** HTTP_GET / SSL_GET */
  urls: KaUrl[];
  /** HTTP_GET: the checker's virtualhost, else the real server's, else the service's. */
  virtualhost?: string;
  /** HTTP_GET / SSL_GET: '1.0' (default), '1.0C' (1.0 with Connection: close), '1.1'. */
  httpProtocol?: '1.0' | '1.0C' | '1.1';
  fastRecovery?: boolean;
  /** SSL_GET: send the virtualhost as SNI. */
  enableSni?: boolean;
  /** SSL_GET: the global SSL block, when written. */
  ssl?: KaSsl;
  /** SMTP_CHECK: HELO name (default smtpchecker.keepalived.org). */
  heloName?: string;
  /** UDP_CHECK: the datagram sent, hex (default 32 bytes of "keepalived check - "). */
  payload?: string;
  /** UDP_CHECK: a reply is required. */
  requireReply?: boolean;
  /** UDP_CHECK: the reply's first bytes, hex; `replyMask` bits set are not compared. */
  replyData?: string;
  replyMask?: string;
  minReplyLength?: number;
  maxReplyLength?: number;
  /** DNS_CHECK: query type name (default SOA) and name (default "."). */
  dnsType?: string;
  dnsName?: string;
  /** FILE_CHECK */
  trackFile?: KaTrackFile;
  /** MISC_CHECK */
  miscPath?: string;
  miscTimeout?: number;
  miscDynamic: boolean;
  /** MISC_CHECK `user USER [GROUP]`: the script runs as this user (and group). */
  miscUser?: string;
  miscGroup?: string;
  /** MISC_CHECK: global_defs `enable_script_security` (refuse scripts writable by non-root). */
  scriptSecurity?: boolean;
  /** BFD_CHECK: the bfd_instance name. */
  bfdName?: string;
  /** BFD_CHECK: the session to follow in FRR's bfdd (from the bfd_instance block). */
  bfd?: KaBfdSession;
  line: number;
}

export interface KaRealServer {
  addr: string;
  port: number;
  weight: number;
  method: KaMethod;
  /** Only for method 'tunnel' (ipip when `type` is not written). */
  tunType?: KaTunType;
  tunPort?: number;
  /** Added field: the TUN checksum option (`nocsum|csum|remcsum`), as written. */
  tunCsum?: KaTunCsum;
  uThreshold: number;
  lThreshold: number;
  inhibitOnFailure: boolean;
  alpha: boolean;
  checkers: KaChecker[];
  /**
   * Checkers written in the block that cannot run (a checker keepalived has and this
   * build does not, or an unknown block): each keeps the real server out of rotation.
   */
  unusableCheckers: KaUnusableChecker[];
  notifyUp?: KaScript;
  notifyDown?: KaScript;
  line: number;
}

/** A checker block that cannot run, with the reason logged when the real server is kept out. */
export interface KaUnusableChecker {
  type: string;
  reason: string;
  line: number;
}

/**
 * A notify script as keepalived reads it: the first word (quoted when it has spaces)
 * is the command line, split into arguments; then an optional user and group to run it as.
 */
export interface KaScript {
  args: string[];
  user?: string;
  group?: string;
  line: number;
}

/** One entry of a virtual_server_group: an address range with a port, or a fwmark. */
export type KaGroupEntry =
  | {
      kind: 'range';
      af: 4 | 6;
      /** First and last address of the range, inclusive (equal for a single address). */
      start: string;
      end: string;
      port: number;
      line: number;
    }
  | { kind: 'fwmark'; fwmark: number; af?: 4 | 6; line: number };

export interface KaGroup {
  name: string;
  entries: KaGroupEntry[];
  line: number;
}

export interface KaVirtualServer {
  /**
   * 'addr' services have addr/port/protocol; 'fwmark' ones fwmark; 'group' ones are one
   * service per address (and per fwmark) of the virtual_server_group `group`.
   */
  kind: 'addr' | 'fwmark' | 'group';
  /** For kind 'group': the group's name and its entries (as the group block gives them). */
  group?: string;
  groupEntries?: KaGroupEntry[];
  /** For kind 'group': the position among the virtual servers of that group (keepalived's `[NAME]:N`). */
  groupMember?: number;
  af: 4 | 6;
  /** 6 TCP, 17 UDP, 132 SCTP; fwmark services carry 6 (TCP), as in the control model. */
  protocol: number;
  /** '' for fwmark services. */
  addr: string;
  port: number;
  /** 0 for address services. */
  fwmark: number;
  scheduler: string;
  method: KaMethod;
  /** seconds; undefined = not persistent */
  persistenceTimeout?: number;
  /** IPv4 dotted mask or IPv6 prefix length, as written */
  persistenceGranularity?: string;
  persistenceEngine?: string;
  ops: boolean;
  /** 'flag-1'.., 'sh-port', 'sh-fallback', 'mh-port', 'mh-fallback' */
  schedFlags: string[];
  quorum: number;
  hysteresis: number;
  /** Added fields tunType/tunPort/tunCsum: set when the sorry server's method is 'tunnel'. */
  sorryServer?: {
    addr: string;
    port: number;
    method: KaMethod;
    tunType?: KaTunType;
    tunPort?: number;
    tunCsum?: KaTunCsum;
  };
  sorryServerInhibit: boolean;
  inhibitOnFailure: boolean;
  alpha: boolean;
  /** Added field: `ha_suspend` (always false on fwmark services). */
  haSuspend: boolean;
  /** `omega`: notify_down and quorum_down scripts also run at shutdown. */
  omega: boolean;
  quorumUp?: KaScript;
  quorumDown?: KaScript;
  delayLoop: number;
  connectTimeout: number;
  retry: number;
  delayBeforeRetry?: number;
  virtualhost?: string;
  realServers: KaRealServer[];
  line: number;
}

/** A notify FIFO (`notify_fifo` / `lvs_notify_fifo`) and the script that reads it. */
export interface KaFifo {
  path: string;
  user?: string;
  group?: string;
  /** `*_notify_fifo_script`: started with the FIFO's name as its last argument. */
  script?: KaScript;
  line: number;
}

export interface KaConfig {
  virtualServers: KaVirtualServer[];
  /** virtual_server_group blocks by name. */
  groups: Map<string, KaGroup>;
  /** `lvs_flush_on_stop`: 'none' deletes each real server then each service (keepalived's default), 'full' flushes, 'vs' deletes each service. */
  lvsFlushOnStop: 'none' | 'full' | 'vs';
  /** `notify_fifo` (global: VRRP and LVS lines) and `lvs_notify_fifo` (LVS lines only). */
  notifyFifo?: KaFifo;
  lvsNotifyFifo?: KaFifo;
  /** `rs_init_notifies`: notify for the real servers that are up at start. */
  rsInitNotifies: boolean;
  /** `script_user USER [GROUP]`: the default user of scripts (else keepalived_script if it exists, else root). */
  scriptUser?: { user: string; group?: string };
  /** `enable_script_security`: scripts writable by a non-root user are not run. */
  scriptSecurity: boolean;
  /** `checker_log_all_failures`: log every failed check, not only state changes. */
  logAllFailures: boolean;
  /** Blocks and keywords that belong to keepalived itself (VRRP, BFD, e-mail...), each "line N: text". */
  notes: string[];
  lvsTimeouts?: { tcp?: number; tcpfin?: number; udp?: number };
  /** lvs_sync_daemon IFACE [[inst] NAME] [id N] [maxlen N] [port N] [ttl N] [group IP] */
  syncDaemon?: {
    ifname: string;
    syncId?: number;
    maxLen?: number;
    port?: number;
    ttl?: number;
    group?: string;
    instance?: string;
  };
  lvsFlush: boolean;
  /** Config warnings, each "line N: text" (keepalived's wording where the spec gives it). */
  warnings: string[];
  /** Fatal problems that make a block unusable, each "line N: text"; the block is skipped. */
  errors: string[];
}
