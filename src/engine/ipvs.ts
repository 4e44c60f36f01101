/**
 * The state of one IPVS instance (the kernel's `struct netns_ipvs`): settings,
 * services and dests, the connection table, per-protocol timeouts, defences,
 * counters, application helpers and the scratch objects of the packet path. The
 * engine's parts are plain functions taking it as their first argument, as the
 * kernel's take `ipvs`; `Engine` (engine.ts) is the facade over it.
 */
import type { AddressFamily } from './constants.js';
import type { ConnTable } from './conn/table.js';
import { DROP_REASON_COUNT } from './drop.js';
import type { Dest, SchedPacket, Service } from './service.js';
import type { SchedulerContext } from './sched/types.js';
import type { Settings } from './settings.js';
import { Stats } from './stats.js';
import { PacketResult } from './verdict.js';
import type { AppContext, AppHelper } from './app/types.js';
import { newAddr } from './addr.js';
import { PacketView } from '../wire/packet.js';
import { SynProxyState } from './synproxy-state.js';

/** Packet flags passed by the data plane with each packet. */
export const PKT_GSO = 0x1;
/** The L4 checksum field holds only the pseudo-header sum (CHECKSUM_PARTIAL). */
export const PKT_CSUM_PARTIAL = 0x2;
/** The packet was generated on this host (LOCAL_OUT) or came in on loopback. */
export const PKT_LOCAL = 0x4;
/** The checksum was already verified (CHECKSUM_UNNECESSARY). */
export const PKT_CSUM_OK = 0x8;
/**
 * The packet arrived inside a tunnel this host decapsulated (IPIP, SIT, GRE, …: a
 * protocol IPVS does not handle, which the kernel marks ipvs_property when
 * ignore_tunneled is set, so the inner packet is left alone).
 */
export const PKT_TUNNELED = 0x10;

/**
 * The data plane's established-flow fast path (see `Engine.fastpath`): asked before a
 * conn's timer expires it (true: the conn was seen there since and is re-armed), told
 * when a conn is about to be freed.
 */
export interface FastpathHooks {
  expiring(id: number): boolean;
  gone(id: number): void;
}

/** Where a tunnelled packet's outer source comes from (see `EngineOptions`). */
export type TunnelSource = (af: AddressFamily, rip: Uint32Array) => Uint32Array | null;

export class Ipvs {
  readonly settings: Settings;
  readonly conns: ConnTable;
  readonly totals = new Stats();
  /** Drop counters by DropReason. */
  readonly drops = new Float64Array(DROP_REASON_COUNT);
  /**
   * Per-protocol timeout tables in ms, indexed by protocol number then state (the
   * kernel's `ip_vs_proto_data.timeout_table`); empty for unregistered protocols.
   */
  readonly timeouts: Uint32Array[];
  readonly result = new PacketResult();

  /** Services in creation order. */
  readonly services: Service[] = [];
  /** Dests by id (including dests waiting in the trash); null = free slot. */
  readonly destById: (Dest | null)[] = [];
  /** Deleted dests still referenced by conns (§2.14). */
  readonly trash: Dest[] = [];
  /** Service lookup tables (ip_vs_svc_table, ip_vs_svc_fwm_table). */
  readonly svcByAddr = new Map<number, Service[]>();
  readonly svcByMark = new Map<number, Service[]>();
  /** Services on port 21 (ftpsvc_counter) and on port 0 (nullsvc_counter). */
  ftpSvcCount = 0;
  port0SvcCount = 0;

  /** Registered application helpers (register_app). */
  readonly apps: AppHelper[] = [];
  /** Per-conn helper and sequence-adjust state (sparse: only helper conns). */
  readonly appOf = new Map<number, AppHelper>();
  readonly appData = new Map<number, number>();
  readonly seqs = new Map<number, Uint32Array>();
  /** What helpers are handed (the engine facade). */
  appCtx!: AppContext;

  // scratch of the packet path: one of each per engine, never per packet
  readonly pv = new PacketView();
  readonly epv = new PacketView();
  /** The client packet inside an IPIP packet quoted by an ICMP error (§8.1 step 4). */
  readonly ipv = new PacketView();
  readonly spkt: SchedPacket = {
    af: 4,
    protocol: 0,
    saddr: new Uint32Array(4),
    sport: 0,
    daddr: new Uint32Array(4),
    dport: 0,
  };
  readonly snet = newAddr();
  readonly tmpAddr = newAddr();
  readonly scratch = new Uint8Array(65536 + 128);

  readonly schedCtx: SchedulerContext;
  readonly random: () => number;
  readonly tunnelSource: TunnelSource | undefined;
  /** Tunnel source address per dest id, asked of `tunnelSource` once. */
  readonly tunSrc = new Map<number, Uint32Array>();
  readonly mtu: number;
  /** Engine clock (ms), the `now` of the last call. */
  now = 0;
  /**
   * End (exclusive index in the buffer) of the room the current packet may grow into:
   * `off + cap` of the `in`/`out` call. Helpers that lengthen a payload stay below it.
   */
  room = 0;
  /** Bytes before the packet that may be overwritten (tunnel headers), from `in`. */
  headroom = 0;
  /** The current packet's checksum field holds a partial (offload) sum. */
  partial = false;
  /** See `Engine.onExpire`. */
  onExpire: ((id: number) => void) | null = null;
  /** See `Engine.fastpath`. */
  fastpath: FastpathHooks | null = null;
  /** See `Engine.syncMaster`. */
  syncMaster: ((id: number, pkts: number) => void) | null = null;
  /** A backup sync daemon runs: with backup_only set, nothing is forwarded (§12.5). */
  syncBackup = false;
  lastSecond = -1;
  lastEstimate = -1;
  lastTrash = -1;
  /** IP id of the next tunnel header. */
  ipId = 1;

  // defence state (§2.6, §2.9)
  dropRate = 0;
  dropCounter = 0;
  dropEntryActive = false;
  secureTable = false;
  readonly todropCounter = new Int32Array(9);
  /** Available memory in pages, as the caller last reported it. */
  availMem = Number.MAX_SAFE_INTEGER;

  /** Services with SVC_F_SYNPROXY (ctl.ts keeps it): the proxy is asked only then. */
  spServices = 0;
  /** The SYN proxy's secrets, counters, held-data pool and proved clients. */
  readonly sp: SynProxyState;

  constructor(
    settings: Settings,
    conns: ConnTable,
    timeouts: Uint32Array[],
    random: () => number,
    tunnelSource: TunnelSource | undefined,
    mtu: number,
  ) {
    this.settings = settings;
    this.conns = conns;
    this.timeouts = timeouts;
    this.random = random;
    this.tunnelSource = tunnelSource;
    this.mtu = mtu;
    this.schedCtx = { random, settings };
    this.secureTable = settings.secure_tcp > 1;
    this.sp = new SynProxyState(random);
  }
}
