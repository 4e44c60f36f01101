/**
 * The established-flow fast path on /metrics (docs/metrics.md, docs/dataplane.md
 * "Established flows in the kernel"): its state and why it is off, and the counts the
 * director's Fastpath keeps, read at scrape time ({@link fastpathReport}) after
 * folding what the kernel counted since the last fold.
 *
 * @module
 */
import type { Fastpath } from '../dataplane/fastpath.js';
import type { Family } from './family.js';
import type { FastpathReport, MetricsSnapshot } from './snapshot.js';

/** The fast path's states, as `tsvs_fastpath_info` labels them (docs/metrics.md). */
export const FASTPATH_STATES = [
  'active',
  'suspended',
  'disabled',
  'no_steering',
  'refused',
  'stopped',
] as const;

/**
 * The report of the director's fast path, its counts folded first (one batch of map
 * lookups per call: per scrape, never per packet).
 */
export function fastpathReport(fp: Pick<Fastpath, 'check' | 'status' | 'counts'>): FastpathReport {
  fp.check();
  return { ...fp.status, ...fp.counts };
}

function fastpathCounter(
  name: string,
  help: string,
  value: (f: NonNullable<MetricsSnapshot['fastpath']>) => number,
): Family {
  return {
    name,
    type: 'counter',
    help,
    labelNames: [],
    samples: (s) => (s.fastpath ? [[{}, value(s.fastpath)] as const] : []),
  };
}

/** The tsvs_fastpath_* families (none when the source has no fast path). */
export const FASTPATH_FAMILIES: readonly Family[] = [
  {
    name: 'tsvs_fastpath_active',
    type: 'gauge',
    help: 'Established TCP flows are forwarded in the kernel by the tc BPF program: 1 while it is loaded and taking flows, 0 when it is off or suspended (tsvs_fastpath_info says why).',
    labelNames: [],
    samples: (s) => (s.fastpath ? [[{}, s.fastpath.state === 'active' ? 1 : 0] as const] : []),
  },
  {
    name: 'tsvs_fastpath_info',
    type: 'gauge',
    help: 'The fast path (always 1): state active, suspended (reason: the defence or backup_only in effect), disabled (--no-fastpath, TSVS_FASTPATH=0), no_steering, refused (reason: why it could not be built, loaded or attached) or stopped.',
    labelNames: ['state', 'reason'],
    samples: (s) =>
      s.fastpath ? [[{ state: s.fastpath.state, reason: s.fastpath.reason }, 1] as const] : [],
  },
  fastpathCounter(
    'tsvs_fastpath_flows_inserted_total',
    'Connections put into the fast path flow map.',
    (f) => f.inserted,
  ),
  fastpathCounter(
    'tsvs_fastpath_flows_removed_total',
    'Connections taken out of the fast path flow map (closed, expired, no longer eligible, fast path off).',
    (f) => f.removed,
  ),
  {
    name: 'tsvs_fastpath_flows',
    type: 'gauge',
    help: 'Connections in the fast path flow map now.',
    labelNames: [],
    samples: (s) => (s.fastpath ? [[{}, s.fastpath.flows] as const] : []),
  },
  fastpathCounter(
    'tsvs_fastpath_packets_total',
    'Packets the kernel forwarded on the fast path (both directions; folded at least every second and on scrape; included in the service counters).',
    (f) => f.packets,
  ),
  fastpathCounter(
    'tsvs_fastpath_bytes_total',
    'Bytes (IP length) the kernel forwarded on the fast path (both directions; included in the service counters).',
    (f) => f.bytes,
  ),
  fastpathCounter(
    'tsvs_fastpath_map_errors_total',
    'Fast path flow map updates the kernel refused (map full...): the connection stays on the steering path.',
    (f) => f.errors,
  ),
];
