/**
 * The kernel's procfs views, byte for byte: `/proc/net/ip_vs`, `/proc/net/ip_vs_stats`,
 * `/proc/net/ip_vs_conn` and `/proc/net/ip_vs_conn_sync` (ipvsadm reference §7.9 and
 * §10.3; kernel spec §11). The daemon serves them over the control API (`proc`
 * request); `tsvs proc <name>` prints them (src/cli/proc.ts).
 *
 * Two kernel quirks are kept on purpose:
 * - the persistence timeout in `/proc/net/ip_vs` is in jiffies (seconds × HZ), because
 *   the kernel prints its internal value; HZ is this kernel's ({@link kernelHz});
 * - the netmask is printed through `ntohl`, so an IPv6 prefix length (kept in host
 *   order) shows byte-swapped: prefix 128 reads `80000000` on little-endian machines.
 */
import { DROP_REASON_NAMES } from '../engine/drop.js';
import { SP_COUNTER_NAMES } from '../engine/synproxy-state.js';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { parseAddr } from '../engine/addr.js';
import type { ConnEntry, ControlModel, Family } from './model.js';
import { ControlError, protoName } from './model.js';

export { protoName };

/** HZ when this kernel's cannot be found out (Debian's and Ubuntu's default). */
export const PROC_HZ = 250;

/** The values CONFIG_HZ can take. */
const HZ_CHOICES = [100, 250, 300, 1000];

/** CONFIG_HZ from a kernel config text, 0 when absent. */
export function hzFromConfig(text: string): number {
  const m = /^CONFIG_HZ=(\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** `now at N nsecs` and `jiffies: J` of a /proc/timer_list text; null when absent. */
export function timerListClock(text: string): { ns: number; jiffies: number } | null {
  const now = /^now at (\d+) nsecs$/m.exec(text);
  const j = /^jiffies: (\d+)$/m.exec(text);
  return now && j ? { ns: Number(now[1]), jiffies: Number(j[1]) } : null;
}

/** HZ from two /proc/timer_list samples: the jiffies rate, snapped to a CONFIG_HZ value. */
export function hzFromTimerList(
  a: { ns: number; jiffies: number },
  b: { ns: number; jiffies: number },
): number {
  const dt = (b.ns - a.ns) / 1e9;
  if (!(dt > 0)) return 0;
  const rate = (b.jiffies - a.jiffies) / dt;
  let best = 0;
  for (const hz of HZ_CHOICES)
    if (best === 0 || Math.abs(hz - rate) < Math.abs(best - rate)) best = hz;
  return Math.abs(best - rate) < best * 0.2 ? best : 0;
}

let hzKnown = 0;

/**
 * This kernel's HZ, which /proc/net/ip_vs's jiffies are counted in: CONFIG_HZ from
 * /proc/config.gz or /boot/config-<release>, else the jiffies rate measured in
 * /proc/timer_list over 50 ms, else {@link PROC_HZ}. Found once.
 */
export function kernelHz(): number {
  if (hzKnown > 0) return hzKnown;
  const tries: (() => number)[] = [
    () => hzFromConfig(gunzipSync(readFileSync('/proc/config.gz')).toString('latin1')),
    () => hzFromConfig(readFileSync(`/boot/config-${release()}`, 'latin1')),
    () => {
      const a = timerListClock(readFileSync('/proc/timer_list', 'latin1'));
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      const b = timerListClock(readFileSync('/proc/timer_list', 'latin1'));
      return a && b ? hzFromTimerList(a, b) : 0;
    },
  ];
  for (const t of tries) {
    try {
      const hz = t();
      if (hz > 0) return (hzKnown = hz);
    } catch {
      // not readable here: the next source
    }
  }
  return (hzKnown = PROC_HZ);
}

/** The names `tsvs proc` and the `proc` request accept. */
export const PROC_FILES = [
  'ip_vs',
  'ip_vs_stats',
  'ip_vs_conn',
  'ip_vs_conn_sync',
  'ip_vs_defense',
] as const;
export type ProcFile = (typeof PROC_FILES)[number];

const FWD_PROC: Record<string, string> = {
  masq: 'Masq',
  local: 'Local',
  tunnel: 'Tunnel',
  droute: 'Route',
};

function hex(v: number, width: number): string {
  return (v >>> 0).toString(16).toUpperCase().padStart(width, '0');
}

function hex64(v: number, width: number): string {
  return Math.max(0, Math.floor(v)).toString(16).toUpperCase().padStart(width, ' ');
}

function padEnd(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** `%pI6`: eight groups of four lowercase hex digits, no compression. */
export function fullIPv6(addr: string): string {
  const p = parseAddr(addr);
  const w = p ? p.words : new Uint32Array(4);
  const g: string[] = [];
  for (let i = 0; i < 4; i++) {
    g.push(
      (w[i] >>> 16).toString(16).padStart(4, '0'),
      (w[i] & 0xffff).toString(16).padStart(4, '0'),
    );
  }
  return g.join(':');
}

function v4word(addr: string): number {
  const p = parseAddr(addr);
  return p ? p.words[0] : 0;
}

function bswap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

/** `/proc/net/ip_vs`: services in dump order, dests in list order (most recent first). */
export function procIpVs(model: ControlModel, hz = kernelHz()): string {
  const info = model.info();
  let out =
    `IP Virtual Server version ${info.version} (size=${info.connTabSize})\n` +
    'Prot LocalAddress:Port Scheduler Flags\n' +
    '  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n';
  for (const s of model.services()) {
    const ops = s.flags & 0x4 ? 'ops ' : '';
    if (s.fwmark !== 0) out += `FWM  ${hex(s.fwmark, 8)} ${s.scheduler} ${ops}`;
    else if (s.af === 6)
      out += `${protoName(s.protocol)}  [${fullIPv6(s.addr)}]:${hex(s.port, 4)} ${s.scheduler} `;
    else
      out += `${protoName(s.protocol)}  ${hex(v4word(s.addr), 8)}:${hex(s.port, 4)} ${s.scheduler} ${ops} `;
    if (s.flags & 0x1) {
      const mask = s.af === 6 ? bswap32(s.netmask) : s.netmask;
      out += `persistent ${(s.timeout * hz) | 0} ${hex(mask, 8)}\n`;
    } else out += '\n';
    for (const d of s.dests) {
      const a = d.af === 6 ? `[${fullIPv6(d.addr)}]` : hex(v4word(d.addr), 8);
      out +=
        `  -> ${a}:${hex(d.port, 4)}      ${padEnd(FWD_PROC[d.fwd] ?? 'Masq', 7)} ` +
        `${padEnd(String(d.weight | 0), 6)} ${padEnd(String(d.activeconns | 0), 10)} ` +
        `${padEnd(String(d.inactconns | 0), 10)}\n`;
    }
  }
  return out;
}

/** `/proc/net/ip_vs_stats`: totals and total rates, in hex. */
export function procIpVsStats(model: ControlModel): string {
  const t = model.engine.totals;
  const s = t.snapshot();
  const r = t.rates();
  return (
    '   Total Incoming Outgoing         Incoming         Outgoing\n' +
    '   Conns  Packets  Packets            Bytes            Bytes\n' +
    `${hex64(s.conns, 8)} ${hex64(s.inpkts, 8)} ${hex64(s.outpkts, 8)} ` +
    `${hex64(s.inbytes, 16)} ${hex64(s.outbytes, 16)}\n\n` +
    ' Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n' +
    `${hex64(r.cps, 8)} ${hex64(r.inpps, 8)} ${hex64(r.outpps, 8)} ` +
    `${hex64(r.inbps, 16)} ${hex64(r.outbps, 16)}\n`
  );
}

function connAddr(af: Family, addr: string): string {
  return af === 6 ? fullIPv6(addr) : hex(v4word(addr), 8);
}

function connRow(c: ConnEntry): string {
  return (
    `${padEnd(c.protoName, 3)} ${connAddr(c.af, c.caddr)} ${hex(c.cport, 4)} ` +
    `${connAddr(c.af, c.vaddr)} ` +
    `${hex(c.vport, 4)} ${connAddr(c.daf, c.daddr)} ${hex(c.dport, 4)} ${padEnd(c.state, 11)}`
  );
}

/** `/proc/net/ip_vs_conn`. */
export function procIpVsConn(model: ControlModel): string {
  let out = 'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n';
  for (const c of model.connections()) {
    const pe = c.peName ? ` ${c.peName} ${c.peData}` : '';
    out += `${connRow(c)} ${String(c.expires).padStart(7)}${pe}\n`;
  }
  return out;
}

/** `/proc/net/ip_vs_conn_sync`: as ip_vs_conn, with the origin (LOCAL or SYNC). */
export function procIpVsConnSync(model: ControlModel): string {
  let out = 'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Origin Expires\n';
  for (const c of model.connections())
    out += `${connRow(c)} ${padEnd(c.origin, 6)} ${String(c.expires).padStart(7)}\n`;
  return out;
}

/**
 * `ip_vs_defense` — tsvs's own, no kernel file: the defences' state, the connection
 * table's size and limit, the SYN proxy's counters and the drops they caused, one
 * `name value` per line (figures the kernel does not have, or keeps only in memory).
 */
export function procIpVsDefense(model: ControlModel): string {
  const e = model.engine;
  const ip = e.ipvs;
  const s = e.settings;
  const drop = (n: string): number => e.drops[DROP_REASON_NAMES.indexOf(n)] ?? 0;
  const lines: [string, number | string][] = [
    ['drop_entry', `${s.drop_entry} ${ip.dropEntryActive ? 'active' : 'idle'}`],
    ['drop_packet', `${s.drop_packet} rate ${ip.dropRate}`],
    ['secure_tcp', `${s.secure_tcp} ${ip.secureTable ? 'secure' : 'normal'}`],
    ['conn_entries', e.conns.count],
    ['conn_capacity', e.conns.cap],
    ['conn_max', s.conn_max],
    ['conn_table_full_drops', drop('conn-table-full')],
    ['synproxy', `${s.synproxy} services ${ip.spServices}`],
    ['synproxy_held_now', ip.sp.heldNow],
  ];
  SP_COUNTER_NAMES.forEach((n, i) =>
    lines.push([`synproxy_${n.replace(/-/g, '_')}`, ip.sp.counters[i]]),
  );
  for (const n of DROP_REASON_NAMES)
    if (n.startsWith('synproxy-')) lines.push([`drops_${n.replace(/-/g, '_')}`, drop(n)]);
  return lines.map(([k, v]) => `${k} ${v}\n`).join('');
}

/** The text of one proc file; ENOENT for an unknown name. */
export function procText(model: ControlModel, name: string): string {
  switch (name.replace(/^\/proc\/net\//, '')) {
    case 'ip_vs':
      return procIpVs(model);
    case 'ip_vs_stats':
      return procIpVsStats(model);
    case 'ip_vs_conn':
      return procIpVsConn(model);
    case 'ip_vs_conn_sync':
      return procIpVsConnSync(model);
    case 'ip_vs_defense':
      return procIpVsDefense(model);
    default:
      throw new ControlError('proc', 'ENOENT', 'No such file or directory', `proc file ${name}`);
  }
}
