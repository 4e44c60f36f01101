/**
 * ipvsadm's output, byte for byte (reference §6–§8.1): the listing layouts (default,
 * --stats, --rate, --thresholds, --persistent-conn, --tun-info), connections (-c),
 * --timeout, --daemon, the save format (-S), sorting (§7.12) and name resolution (§6).
 *
 * Resolution is asynchronous, formatting is not: {@link prepareNames} looks every
 * address up once (in parallel) and the formatters read the answers.
 */
import { formatAddr, parseAddr } from '../../engine/addr.js';
import {
  SVC_F_ONEPACKET,
  SVC_F_SYNPROXY,
  SVC_F_PERSISTENT,
  SVC_F_SCHED1,
  SVC_F_SCHED2,
  SVC_F_SCHED3,
} from '../../engine/constants.js';
import { schedFlagNames } from '../../engine/sched/flags.js';
import { protoName } from '../../engine/spec.js';
import type {
  ConnEntry,
  DaemonEntry,
  DestEntry,
  Family,
  FwdName,
  Info,
  ServiceEntry,
  Timeouts,
} from '../model.js';
import { servicesProto } from './hostport.js';
import type { ListFormat } from './options.js';
import type { Resolver } from './resolve.js';

const SCHED_MASK = SVC_F_SCHED1 | SVC_F_SCHED2 | SVC_F_SCHED3;

/** Resolved names for one listing. */
export interface Names {
  readonly numeric: boolean;
  /** Name of an address, or its numeric form. */
  host(af: Family, addr: string): string;
  /** Service name of a port for a protocol number, or null. */
  service(port: number, protocol: number): string | null;
}

/** Look up every (family, address) once; with `numeric`, nothing is looked up. */
export async function prepareNames(
  resolver: Resolver,
  numeric: boolean,
  addrs: Iterable<[Family, string]>,
): Promise<Names> {
  const cache = new Map<string, string | null>();
  if (!numeric) {
    const jobs: Promise<void>[] = [];
    for (const [af, a] of addrs) {
      const k = `${af}/${a}`;
      if (cache.has(k)) continue;
      cache.set(k, null);
      jobs.push(
        resolver.hostByAddr(af, a).then(
          (n) => void cache.set(k, n),
          () => undefined,
        ),
      );
    }
    await Promise.all(jobs);
  }
  return {
    numeric,
    host: (af, a) => (numeric ? a : (cache.get(`${af}/${a}`) ?? a)),
    service: (port, protocol) => {
      if (numeric) return null;
      const p = servicesProto(protocol);
      return p ? resolver.serviceByPort(port, p) : null;
    },
  };
}

/** Every address a set of services (and their dests) would print. */
export function serviceAddrs(services: readonly ServiceEntry[]): [Family, string][] {
  const out: [Family, string][] = [];
  for (const s of services) {
    if (s.fwmark === 0) out.push([s.af, s.addr]);
    for (const d of s.dests) out.push([d.af, d.addr]);
  }
  return out;
}

/**
 * `ADDR:PORT` / `[ADDR]:PORT`, names resolved unless numeric, cut to 59 characters
 * (ipvsadm builds it in a 60-byte buffer).
 */
export function addrPort(
  names: Names,
  af: Family,
  addr: string,
  port: number,
  protocol: number,
): string {
  const host = names.host(af, addr);
  const serv = names.service(port, protocol);
  const s = `${af === 6 ? '[' : ''}${host}${af === 6 ? ']' : ''}:${serv ?? port}`;
  return s.slice(0, 59);
}

function padEnd(s: string | number, n: number): string {
  const t = String(s);
  return t.length >= n ? t : t + ' '.repeat(n - t.length);
}

function padStart(s: string | number, n: number): string {
  const t = String(s);
  return t.length >= n ? t : ' '.repeat(n - t.length) + t;
}

/** The C `%u` of a count (never negative). */
function u(v: number): string {
  return String(Math.max(0, Math.floor(v)));
}

/** §7.4.1: a value in 9 characters, K/M/G/T-scaled unless exact. */
export function bigNum(v: number, exact: boolean): string {
  const n = Math.max(0, Math.floor(v));
  if (exact) {
    const d = String(n);
    return d.length <= 8 ? padStart(d, 9) : ' ' + d;
  }
  if (n < 1e8) return padStart(n, 9);
  if (n < 1e9) return padStart(Math.floor(n / 1e3), 8) + 'K';
  if (n < 1e11) return padStart(Math.floor(n / 1e6), 8) + 'M';
  if (n < 1e14) return padStart(Math.floor(n / 1e9), 8) + 'G';
  return padStart(Math.floor(n / 1e12), 8) + 'T';
}

/** `<svc_name>` of §7.1 (cut to 33 characters for IPv4). */
export function serviceName(s: ServiceEntry, names: Names): string {
  let n: string;
  if (s.fwmark !== 0) n = `FWM  ${s.fwmark >>> 0}${s.af === 6 ? ' IPv6' : ''}`;
  else
    n = `${padEnd(protoName(s.protocol), 4)} ${addrPort(names, s.af, s.addr, s.port, s.protocol)}`;
  return s.af === 4 ? n.slice(0, 33) : n;
}

function destName(s: ServiceEntry, d: DestEntry, names: Names): string {
  // fwmark services have no protocol to look ports up with
  const a = addrPort(names, d.af, d.addr, d.port, s.fwmark !== 0 ? 0 : s.protocol);
  return d.af === 4 ? a.slice(0, 28) : a;
}

function maskText(s: ServiceEntry): string | null {
  if (s.af === 6) return s.netmask !== 128 ? String(s.netmask) : null;
  const m = s.netmask >>> 0;
  return m !== 0xffffffff ? formatAddr(4, [m]) : null;
}

/** The scheduler-and-flags part of a service line. */
function serviceLine(s: ServiceEntry, names: Names): string {
  let l = `${serviceName(s, names)} ${s.scheduler}`;
  if (s.flags & SCHED_MASK) l += ` (${schedFlagNames(s.scheduler, s.flags).join(',')})`;
  if (s.flags & SVC_F_PERSISTENT) {
    l += ` persistent ${s.timeout >>> 0}`;
    const m = maskText(s);
    if (m !== null) l += ` mask ${m}`;
    if (s.pe) l += ` pe ${s.pe}`;
  }
  if (s.flags & SVC_F_ONEPACKET) l += ' ops';
  if (s.flags & SVC_F_SYNPROXY) l += ' synproxy';
  return l;
}

const FWD_LABEL: Record<FwdName, string> = {
  masq: 'Masq',
  local: 'Local',
  tunnel: 'Tunnel',
  droute: 'Route',
};

function tunnelInfo(d: DestEntry): string {
  if (d.fwd !== 'tunnel') return 'n/a';
  const c = d.tunFlags === 1 ? '+c' : d.tunFlags === 2 ? 'r+c' : '-c';
  if (d.tunType === 1) return `gue:${d.tunPort}:${c}`;
  if (d.tunType === 2) return `gre:${c}`;
  return 'ipip';
}

// -----------------------------------------------------------------------------
// Sorting (§7.12): qsort with a comparator that subtracts 32-bit words and reads the
// result as signed, so values 2^31 or more apart compare reversed.

function i32diff(a: number, b: number): number {
  return ((a >>> 0) - (b >>> 0)) | 0;
}

function words(af: Family, addr: string): Uint32Array {
  const p = parseAddr(addr);
  return p ? p.words : new Uint32Array(4);
}

function cmpAddr(af: Family, a: string, b: string): number {
  const wa = words(af, a);
  const wb = words(af, b);
  for (let i = 0; i < (af === 4 ? 1 : 4); i++) {
    const r = i32diff(wa[i], wb[i]);
    if (r !== 0) return r;
  }
  return 0;
}

function cmpService(a: ServiceEntry, b: ServiceEntry): number {
  let r = i32diff(a.fwmark, b.fwmark);
  if (r !== 0) return r;
  r = (a.af === 4 ? 2 : 10) - (b.af === 4 ? 2 : 10);
  if (r !== 0) return r;
  r = a.protocol - b.protocol;
  if (r !== 0) return r;
  r = cmpAddr(a.af, a.addr, b.addr);
  if (r !== 0) return r;
  return a.port - b.port;
}

function cmpDest(a: DestEntry, b: DestEntry): number {
  const r = cmpAddr(a.af, a.addr, b.addr);
  return r !== 0 ? r : a.port - b.port;
}

/** glibc's qsort (a top-down merge sort): the order a non-transitive comparator yields. */
export function msort<T>(list: readonly T[], cmp: (a: T, b: T) => number): T[] {
  if (list.length <= 1) return list.slice();
  const n1 = list.length >> 1;
  const b1 = msort(list.slice(0, n1), cmp);
  const b2 = msort(list.slice(n1), cmp);
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < b1.length && j < b2.length) out.push(cmp(b1[i], b2[j]) <= 0 ? b1[i++] : b2[j++]);
  while (i < b1.length) out.push(b1[i++]);
  while (j < b2.length) out.push(b2[j++]);
  return out;
}

/** Services and their dests in ipvsadm's sorted order. */
export function sortServices(list: readonly ServiceEntry[]): ServiceEntry[] {
  return msort(list, cmpService).map((s) => ({ ...s, dests: msort(s.dests, cmpDest) }));
}

// -----------------------------------------------------------------------------
// Listings

type Layout = 'stats' | 'rate' | 'thresholds' | 'persistent' | 'tun' | 'default';

function layoutOf(f: ListFormat): Layout {
  if (f.stats) return 'stats';
  if (f.rate) return 'rate';
  if (f.thresholds) return 'thresholds';
  if (f.persistentConn) return 'persistent';
  if (f.tunInfo) return 'tun';
  return 'default';
}

function header(layout: Layout): string {
  const p = padEnd('Prot LocalAddress:Port', 33);
  switch (layout) {
    case 'stats':
      return `${p} ${['Conns', 'InPkts', 'OutPkts', 'InBytes', 'OutBytes'].map((h) => padStart(h, 8)).join(' ')}\n  -> RemoteAddress:Port\n`;
    case 'rate':
      return `${p} ${['CPS', 'InPPS', 'OutPPS', 'InBPS', 'OutBPS'].map((h) => padStart(h, 8)).join(' ')}\n  -> RemoteAddress:Port\n`;
    case 'thresholds':
      return `${p} ${padEnd('Uthreshold', 10)} ${padEnd('Lthreshold', 10)} ${padEnd('ActiveConn', 10)} ${padEnd('InActConn', 10)}\n  -> RemoteAddress:Port\n`;
    case 'persistent':
      return `${p} ${padEnd('Weight', 9)} ${padEnd('PersistConn', 11)} ${padEnd('ActiveConn', 10)} ${padEnd('InActConn', 10)}\n  -> RemoteAddress:Port\n`;
    case 'tun':
      return 'Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n';
    default:
      return 'Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n';
  }
}

function serviceBlock(s: ServiceEntry, layout: Layout, f: ListFormat, names: Names): string {
  const x = f.exact;
  let out: string;
  if (layout === 'stats') {
    const t = s.stats;
    out = `${padEnd(serviceName(s, names), 33)}${[t.conns, t.inpkts, t.outpkts, t.inbytes, t.outbytes].map((v) => bigNum(v, x)).join('')}\n`;
  } else if (layout === 'rate') {
    const r = s.rates;
    out = `${padEnd(serviceName(s, names), 33)}${[r.cps, r.inpps, r.outpps, r.inbps, r.outbps].map((v) => bigNum(v, x)).join('')}\n`;
  } else out = serviceLine(s, names) + '\n';
  for (const d of s.dests) {
    const a = `  -> ${padEnd(destName(s, d, names), 28)}`;
    switch (layout) {
      case 'stats': {
        const t = d.stats;
        out += `${a}${[t.conns, t.inpkts, t.outpkts, t.inbytes, t.outbytes].map((v) => bigNum(v, x)).join('')}\n`;
        break;
      }
      case 'rate': {
        const r = d.rates;
        // CPS/InPPS/OutPPS of a real server are never scaled (§7.5)
        out += `${a} ${padStart(u(r.cps), 8)} ${padStart(u(r.inpps), 8)} ${padStart(u(r.outpps), 8)}${bigNum(r.inbps, x)}${bigNum(r.outbps, x)}\n`;
        break;
      }
      case 'thresholds':
        out += `${a} ${padEnd(u(d.uThreshold), 10)} ${padEnd(u(d.lThreshold), 10)} ${padEnd(u(d.activeconns), 10)} ${padEnd(u(d.inactconns), 10)}\n`;
        break;
      case 'persistent':
        out += `${a} ${padEnd(u(d.weight), 9)} ${padEnd(u(d.persistconns), 11)} ${padEnd(u(d.activeconns), 10)} ${padEnd(u(d.inactconns), 10)}\n`;
        break;
      case 'tun':
        out += `${a} ${padEnd(FWD_LABEL[d.fwd], 7)} ${padEnd(tunnelInfo(d), 13)} ${padEnd(d.weight | 0, 6)} ${padEnd(u(d.activeconns), 10)} ${padEnd(u(d.inactconns), 10)}\n`;
        break;
      default:
        out += `${a} ${padEnd(FWD_LABEL[d.fwd], 7)} ${padEnd(d.weight | 0, 6)} ${padEnd(u(d.activeconns), 10)} ${padEnd(u(d.inactconns), 10)}\n`;
    }
  }
  return out;
}

/** The version line of a full listing (§7.1 line 1). */
export function versionLine(info: Info): string {
  return `IP Virtual Server version ${info.version} (size=${info.connTabSize})\n`;
}

/**
 * The service table: `services` already sorted (or not, with --nosort). The version
 * line is the caller's (only full listings print it, before fetching).
 */
export function formatServices(
  services: readonly ServiceEntry[],
  f: ListFormat,
  names: Names,
): string {
  const layout = layoutOf(f);
  let out = header(layout);
  for (const s of services) out += serviceBlock(s, layout, f, names);
  return out;
}

/** `ipvsadm -L -c` (§7.9). */
export function formatConnections(
  conns: readonly ConnEntry[],
  f: ListFormat,
  names: Names,
): string {
  let out = 'IPVS connection entries\n';
  out += f.persistentConn
    ? `pro expire ${padEnd('state', 11)} ${padEnd('source', 18)} ${padEnd('virtual', 18)} ${padEnd('destination', 18)} ${padEnd('pe name', 16)} pe_data\n`
    : `pro expire ${padEnd('state', 11)} ${padEnd('source', 18)} ${padEnd('virtual', 18)} destination\n`;
  for (const c of conns) {
    const named = servicesProto(c.protocol) !== null ? c.protocol : 0;
    const src = addrPort(names, c.af, c.caddr, c.cport, named);
    const virt = addrPort(names, c.af, c.vaddr, c.vport, named);
    const dst = addrPort(names, c.daf, c.daddr, c.dport, named);
    const s = Math.max(0, Math.floor(c.expires));
    const expire = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
    const lead = `${padEnd(c.protoName, 3)} ${padEnd(expire, 6)} ${padEnd(c.state, 11)} ${padEnd(src, 18)} ${padEnd(virt, 18)} `;
    if (f.persistentConn && c.peName !== '')
      out += `${lead}${padEnd(dst, 16)} ${padEnd(c.peName, 18)} ${c.peData}\n`;
    else out += `${lead}${dst}\n`;
  }
  return out;
}

/** Addresses a connection listing prints. */
export function connAddrs(conns: readonly ConnEntry[]): [Family, string][] {
  const out: [Family, string][] = [];
  for (const c of conns) out.push([c.af, c.caddr], [c.af, c.vaddr], [c.daf, c.daddr]);
  return out;
}

/** `ipvsadm -L --timeout` (§7.10). */
export function formatTimeouts(t: Timeouts): string {
  return `Timeout (tcp tcpfin udp): ${t.tcp | 0} ${t.tcpfin | 0} ${t.udp | 0}\n`;
}

/** `ipvsadm -L --daemon` (§7.11). */
export function formatDaemons(list: readonly DaemonEntry[]): string {
  let out = '';
  for (const d of list) {
    out += `${d.state} sync daemon (mcast=${d.mcastIfn}, syncid=${d.syncId}`;
    if (d.maxLen) out += `, maxlen=${d.maxLen}`;
    if (d.mcastGroup) out += `, group=${d.mcastGroup}`;
    if (d.mcastPort) out += `, port=${d.mcastPort}`;
    if (d.mcastTtl) out += `, ttl=${d.mcastTtl}`;
    out += ')\n';
  }
  return out;
}

// -----------------------------------------------------------------------------
// Save (§8.1)

function saveService(s: ServiceEntry, names: Names): string {
  if (s.fwmark !== 0) return `-f ${s.fwmark >>> 0}${s.af === 6 ? ' -6' : ''}`;
  const opt =
    s.protocol === 6
      ? '-t'
      : s.protocol === 17
        ? '-u'
        : s.protocol === 132
          ? '--sctp-service'
          : '--xxx-service';
  return `${opt} ${addrPort(names, s.af, s.addr, s.port, s.protocol)}`;
}

/** `ipvsadm -S [-n]`: services sorted as -L sorts them, each followed by its dests. */
export function formatSave(services: readonly ServiceEntry[], names: Names): string {
  let out = '';
  for (const s of services) {
    const svc = saveService(s, names);
    out += `-A ${svc} -s ${s.scheduler}`;
    if (s.flags & SVC_F_PERSISTENT) {
      out += ` -p ${s.timeout >>> 0}`;
      const m = maskText(s);
      if (m !== null) out += ` -M ${m}`;
    }
    if (s.pe) out += ` --pe ${s.pe}`;
    if (s.flags & SVC_F_ONEPACKET) out += ' -o';
    if (s.flags & SVC_F_SYNPROXY) out += ' --synproxy';
    if (s.flags & SCHED_MASK) out += ` -b ${schedFlagNames(s.scheduler, s.flags).join(',')}`;
    out += '\n';
    for (const d of s.dests) {
      const a = addrPort(names, d.af, d.addr, d.port, s.fwmark !== 0 ? 0 : s.protocol);
      const m = d.fwd === 'masq' ? '-m' : d.fwd === 'tunnel' ? '-i' : '-g';
      out += `-a ${svc} -r ${a} ${m} -w ${d.weight | 0}`;
      if (d.fwd === 'tunnel') {
        const c =
          d.tunFlags === 1 ? '--tun-csum' : d.tunFlags === 2 ? '--tun-remcsum' : '--tun-nocsum';
        if (d.tunType === 1) out += ` --tun-type gue --tun-port ${d.tunPort} ${c}`;
        else if (d.tunType === 2) out += ` --tun-type gre ${c}`;
        else out += ' --tun-type ipip';
      }
      out += '\n';
    }
  }
  return out;
}
