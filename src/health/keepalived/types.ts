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

export interface KaChecker {
  type: 'TCP_CHECK' | 'HTTP_GET' | 'MISC_CHECK';
  /** Resolved: checker option, else real_server, else virtual_server, else default (spec §2.2/§3.1). Seconds, may be fractional. */
  connectTimeout: number;
  retry: number;
  delayBeforeRetry: number;
  delayLoop: number;
  /** Seconds; undefined = keepalived's random 0..delay_loop. */
  warmup?: number;
  alpha: boolean;
  /** As written; undefined = the real server's address / port. */
  connectIp?: string;
  connectPort?: number;
  bindto?: string;
  bindPort?: number;
  /** HTTP_GET */
  urls: { path: string; statusCodes: [number, number][]; digest?: string; virtualhost?: string }[];
  /** HTTP_GET: the checker's virtualhost, else the real server's, else the service's. */
  virtualhost?: string;
  /** MISC_CHECK */
  miscPath?: string;
  miscTimeout?: number;
  miscDynamic: boolean;
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
  notifyUp?: string;
  notifyDown?: string;
  line: number;
}

export interface KaVirtualServer {
  /** 'addr' services have addr/port/protocol; 'fwmark' ones fwmark. Groups (virtual_server group) are reported as a warning and skipped. */
  kind: 'addr' | 'fwmark';
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
  delayLoop: number;
  connectTimeout: number;
  retry: number;
  delayBeforeRetry?: number;
  virtualhost?: string;
  realServers: KaRealServer[];
  line: number;
}

export interface KaConfig {
  virtualServers: KaVirtualServer[];
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
