/**
 * node_exporter's IPVS collector (`collector/ipvs_linux.go`), reproduced so that a
 * dashboard built for `node_ipvs_*` works unchanged against tsvs: the same family
 * names, types, HELP texts and backend labels, and the values node_exporter would
 * read from this daemon's /proc/net/ip_vs and /proc/net/ip_vs_stats.
 *
 * The label rules, as node_exporter (through prometheus/procfs) derives them from
 * /proc/net/ip_vs:
 * - `local_address`, `remote_address`: Go's `net.IP.String()` — dotted IPv4, IPv6 in
 *   RFC 5952 form, and an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as plain dotted
 *   IPv4; a fwmark service has no address: `""`;
 * - `local_port`, `remote_port`: decimal; `0` for a fwmark service;
 * - `proto`: `TCP`, `UDP`, or `FWM` for a fwmark service (IPv4 and IPv6 alike);
 * - `local_mark`: the mark as the kernel prints it (`%08X`: `0000000A`) for a fwmark
 *   service, `""` otherwise;
 * - backends with the same label values are summed (weights too), as the collector
 *   does: an IPv4 and an IPv6 fwmark service with the same mark share `local_mark`.
 *
 * One deliberate difference: procfs does not recognise `SCTP` service lines, so
 * node_exporter files an SCTP service's real servers under the service listed before
 * it; tsvs exports them under their own `proto="SCTP"` labels.
 *
 * @module
 */
import { parseAddr } from '../engine/addr.js';
import type { MetricsSnapshot } from './snapshot.js';

/** The label names, in node_exporter's order. */
export const NODE_IPVS_BACKEND_LABELS = [
  'local_address',
  'local_port',
  'remote_address',
  'remote_port',
  'proto',
  'local_mark',
] as const;

export type NodeIpvsBackendLabel = (typeof NODE_IPVS_BACKEND_LABELS)[number];

/** The totals' families: name, HELP, and which field of /proc/net/ip_vs_stats. */
export const NODE_IPVS_TOTALS = [
  ['node_ipvs_connections_total', 'The total number of connections made.', 'conns'],
  ['node_ipvs_incoming_packets_total', 'The total number of incoming packets.', 'inpkts'],
  ['node_ipvs_outgoing_packets_total', 'The total number of outgoing packets.', 'outpkts'],
  ['node_ipvs_incoming_bytes_total', 'The total amount of incoming data.', 'inbytes'],
  ['node_ipvs_outgoing_bytes_total', 'The total amount of outgoing data.', 'outbytes'],
] as const;

/** The backend families: name, HELP, and which figure. */
export const NODE_IPVS_BACKEND = [
  [
    'node_ipvs_backend_connections_active',
    'The current active connections by local and remote address.',
    'active',
  ],
  [
    'node_ipvs_backend_connections_inactive',
    'The current inactive connections by local and remote address.',
    'inactive',
  ],
  ['node_ipvs_backend_weight', 'The current backend weight by local and remote address.', 'weight'],
] as const;

/** One aggregated backend series. */
export interface NodeIpvsBackend {
  labels: Record<NodeIpvsBackendLabel, string>;
  active: number;
  inactive: number;
  weight: number;
}

function hex16(w: number): string {
  return w.toString(16);
}

/**
 * An address as Go's `net.IP.String()` prints it. Differs from inet_ntop for
 * IPv4-mapped addresses (Go prints `1.2.3.4`) and IPv4-compatible ones (Go prints
 * `::102:304`).
 */
export function goIPString(text: string): string {
  const p = parseAddr(text);
  if (!p) return text;
  const w = p.words;
  if (p.af === 4) return text;
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) {
    const v = w[3] >>> 0;
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const g: number[] = [];
  for (let i = 0; i < 4; i++) g.push(w[i] >>> 16, w[i] & 0xffff);
  // longest run of zero groups (the first of equals), at least two long
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) return g.map(hex16).join(':');
  return `${g.slice(0, best).map(hex16).join(':')}::${g
    .slice(best + bestLen)
    .map(hex16)
    .join(':')}`;
}

/** The backend series node_exporter would export for this snapshot, summed by labels. */
export function nodeIpvsBackends(snap: MetricsSnapshot): NodeIpvsBackend[] {
  const sums = new Map<string, NodeIpvsBackend>();
  for (const s of snap.services) {
    const e = s.entry;
    const fwm = e.fwmark !== 0;
    const local = {
      local_address: fwm ? '' : goIPString(e.addr),
      local_port: fwm ? '0' : String(e.port),
      proto: fwm ? 'FWM' : s.labels.protocol,
      local_mark: fwm ? (e.fwmark >>> 0).toString(16).toUpperCase().padStart(8, '0') : '',
    };
    for (const d of s.dests) {
      const labels: NodeIpvsBackend['labels'] = {
        local_address: local.local_address,
        local_port: local.local_port,
        remote_address: goIPString(d.address),
        remote_port: String(d.port),
        proto: local.proto,
        local_mark: local.local_mark,
      };
      const key = NODE_IPVS_BACKEND_LABELS.map((l) => labels[l]).join('\0');
      let b = sums.get(key);
      if (!b) {
        b = { labels, active: 0, inactive: 0, weight: 0 };
        sums.set(key, b);
      }
      b.active += d.activeconns;
      b.inactive += d.inactconns;
      b.weight += d.weight;
    }
  }
  return [...sums.values()];
}

/** The totals as /proc/net/ip_vs_stats prints them (whole numbers). */
export function nodeIpvsTotal(
  snap: MetricsSnapshot,
  field: keyof MetricsSnapshot['totals'],
): number {
  return Math.max(0, Math.floor(snap.totals[field]));
}
