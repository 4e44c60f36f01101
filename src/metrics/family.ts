/**
 * One metric family of the exporter's table (./registry.ts): its name, type, HELP,
 * labels and how its samples are read from a snapshot.
 *
 * @module
 */
import type { MetricsSnapshot } from './snapshot.js';

export type Labels = Record<string, string>;
export type Sample = readonly [Labels, number];

/** One family of the table. */
export interface Family {
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  labelNames: readonly string[];
  samples(snap: MetricsSnapshot): Iterable<Sample>;
}
