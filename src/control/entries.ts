/**
 * What the control model shows: services, real servers and connections as `ipvsadm
 * -L`, /proc/net/ip_vs* and the JSON API list them, read from the engine's own state
 * and counters (the one path every figure an operator sees comes through).
 */
import type { Engine } from '../engine/engine.js';
import { formatAddr } from '../engine/addr.js';
import { CONN_F_SYNC, CONN_F_TEMPLATE, type AddressFamily } from '../engine/constants.js';
import type { Dest, Service } from '../engine/service.js';
import type { RateSnapshot, StatsSnapshot } from '../engine/stats.js';
import { FWD_NAMES, protoName, type FwdName } from '../engine/spec.js';

/** Connection hash table size reported by `-L` and /proc (2^conn_tab_bits, default 12). */
export const CONN_TAB_SIZE = 4096;

/** A real server as listed. */
export interface DestEntry {
  af: AddressFamily;
  addr: string;
  port: number;
  fwd: FwdName;
  weight: number;
  uThreshold: number;
  lThreshold: number;
  activeconns: number;
  inactconns: number;
  persistconns: number;
  tunType: number;
  tunPort: number;
  tunFlags: number;
  stats: StatsSnapshot;
  rates: RateSnapshot;
}

/** A virtual service as listed. */
export interface ServiceEntry {
  af: AddressFamily;
  protocol: number;
  /** '0.0.0.0' / '::' for fwmark services. */
  addr: string;
  port: number;
  fwmark: number;
  scheduler: string;
  flags: number;
  timeout: number;
  /** IPv4: 32-bit mask as a number; IPv6: prefix length. */
  netmask: number;
  pe: string;
  stats: StatsSnapshot;
  rates: RateSnapshot;
  /** In the kernel's list order: most recently added first. */
  dests: DestEntry[];
}

/** ipvsadm's first question: the version and the connection-table size. */
export interface Info {
  /** 0x010201. */
  versionCode: number;
  /** "1.2.1". */
  version: string;
  connTabSize: number;
}

/** A connection as `ipvsadm -L -c` and /proc/net/ip_vs_conn show it. */
export interface ConnEntry {
  /** Connection id within this listing (valid until the connection expires). */
  id: number;
  /** Id of the controlling connection (persistence template or FTP control conn), or -1. */
  control: number;
  /** Number of connections this one controls. */
  nControl: number;
  protocol: number;
  /** Kernel name: TCP, UDP, SCTP, IP (fwmark templates), ... */
  protoName: string;
  af: AddressFamily;
  caddr: string;
  cport: number;
  /** For fwmark templates the mark, shown as an IPv4 address (0.0.0.1 for mark 1). */
  vaddr: string;
  vport: number;
  daf: AddressFamily;
  daddr: string;
  dport: number;
  state: string;
  /** Seconds until expiry (rounded down). */
  expires: number;
  flags: number;
  template: boolean;
  origin: 'LOCAL' | 'SYNC';
  peName: string;
  peData: string;
}

/** One `net.ipv4.vs.*` setting. */
export interface SysctlEntry {
  /** Kernel name, e.g. `net.ipv4.vs.secure_tcp`. */
  name: string;
  value: string;
}

/** A real server of the engine as listed. */
export function destEntry(d: Dest): DestEntry {
  return {
    af: d.af,
    addr: formatAddr(d.af, d.addr),
    port: d.port,
    fwd: FWD_NAMES[d.fwd] ?? 'masq',
    weight: d.weight,
    uThreshold: d.uThreshold,
    lThreshold: d.lThreshold,
    activeconns: d.activeconns,
    inactconns: d.inactconns,
    persistconns: d.persistconns,
    tunType: d.tunType,
    tunPort: d.tunPort,
    tunFlags: d.tunFlags,
    stats: d.stats.snapshot(),
    rates: d.stats.rates(),
  };
}

/**
 * The kernel's service hash bucket (ip_vs_svc_hashkey / ip_vs_svc_fwm_hashkey, 256
 * buckets) without its netns term: the kernel mixes the address of its netns_ipvs in,
 * which no one outside can know, so tsvs takes it as 0. Services share a bucket in
 * the kernel exactly when they share one here (the term is XORed or added to all).
 */
export function svcBucket(s: Service): number {
  if (s.fwmark !== 0) return s.fwmark & 255;
  const a = s.addr;
  const fold = s.af === 6 ? (a[0] ^ a[1] ^ a[2] ^ a[3]) >>> 0 : a[0];
  const p = s.port;
  return (s.protocol ^ fold ^ (p >>> 8) ^ p) & 255;
}

/**
 * Services in the order the kernel dumps them (ipvsadm --nosort, /proc/net/ip_vs):
 * the address table, then the fwmark table, bucket by bucket, and within a bucket the
 * most recently added first (hlist_add_head). `services` is in the order added.
 */
export function dumpOrder(services: readonly Service[]): Service[] {
  const out: Service[] = [];
  for (const fwm of [false, true])
    for (let b = 0; b < 256; b++)
      for (let i = services.length - 1; i >= 0; i--) {
        const s = services[i];
        if ((s.fwmark !== 0) === fwm && svcBucket(s) === b) out.push(s);
      }
  return out;
}

/** A service of the engine as listed, with its real servers. */
export function serviceEntry(s: Service): ServiceEntry {
  return {
    af: s.af,
    protocol: s.protocol,
    addr: formatAddr(s.af, s.addr),
    port: s.port,
    fwmark: s.fwmark,
    scheduler: s.scheduler ? s.schedName : 'none',
    flags: s.flags,
    timeout: s.timeout,
    netmask: s.netmask,
    pe: s.peName,
    stats: s.stats.snapshot(),
    rates: s.stats.rates(),
    dests: s.dests.map(destEntry),
  };
}

/** Every connection and template of `e`, as /proc/net/ip_vs_conn lists them. */
export function connEntries(e: Engine): ConnEntry[] {
  const c = e.conns;
  const out: ConnEntry[] = [];
  for (const id of c.ids()) {
    const af = c.af[id] as AddressFamily;
    const o = id * 4;
    const did = c.dest[id];
    const d = did >= 0 ? e.destById[did] : null;
    const daf = d ? d.af : af;
    const flags = c.flags[id];
    const proto = c.proto[id];
    out.push({
      id,
      control: c.control[id],
      nControl: c.nControl[id],
      protocol: proto,
      protoName: protoName(proto),
      af,
      caddr: formatAddr(af, c.caddr, o),
      cport: c.cport[id],
      // a fwmark template keeps the mark in the first word of vaddr (0.0.0.1 for mark 1)
      vaddr: formatAddr(af, c.vaddr, o),
      vport: c.vport[id],
      daf,
      daddr: formatAddr(daf, c.daddr, o),
      dport: c.dport[id],
      state: e.stateName(id),
      expires: Math.max(0, Math.floor((c.expires[id] - e.now) / 1000)),
      flags,
      template: (flags & CONN_F_TEMPLATE) !== 0,
      origin: flags & CONN_F_SYNC ? 'SYNC' : 'LOCAL',
      peName: '',
      peData: '',
    });
  }
  return out;
}
