/**
 * The shares of the flows when the data plane runs several workers (`tsvs daemon
 * --workers N`, daemon/workers.ts): what each worker's steering filters add to
 * today's (steer.ts) so that a flow's requests and its NAT replies reach one worker,
 * and the names and tc priorities of each worker's devices.
 *
 * @module
 */
import { formatAddr } from '../engine/addr.js';
import type { AddressFamily } from '../engine/constants.js';
import type { Engine } from '../engine/engine.js';

/** A worker's device names and tc priorities (steer.ts SteerNames' shape). */
export interface ShardNames {
  tunIn: string;
  tunOut: string;
  tunSyn: string;
  pref4: number;
  pref6: number;
  prefFast: number;
}

/**
 * One worker's share of the flows when the data plane runs several (daemon/workers.ts):
 * the flows whose client port — or, for {@link addressPartitioned} services, client
 * address — has `id` in its low bits (`count` is a power of two).
 */
export interface SteerPart {
  id: number;
  count: number;
}

/**
 * The u32 match of a share: requests by their source (the client), NAT replies by
 * their destination (the client again), so both directions reach the same worker.
 * The client's port (IHL 5 is matched already, so `ip sport` is at its place), or the
 * low bits of the client's address (IPv4 saddr at 12, daddr at 16; the last word of
 * IPv6's at 20 and 36).
 */
export function partMatch(
  part: SteerPart,
  af: AddressFamily,
  request: boolean,
  clientAddr: boolean,
): string {
  const mask = part.count - 1;
  if (clientAddr)
    return ` match u32 ${part.id} ${mask} at ${af === 4 ? (request ? 12 : 16) : request ? 20 : 36}`;
  return ` match ${af === 4 ? 'ip' : 'ip6'} ${request ? 'sport' : 'dport'} ${part.id} ${mask}`;
}

/**
 * Services whose flows are shared out by client address instead of client port:
 * persistent services (one client's template and all its connections in one worker),
 * and every service sharing a NAT real server (address and port) with one of those,
 * whose replies the same filters carry.
 */
export function addressPartitioned(engine: Engine): Set<object> {
  const out = new Set<object>();
  const rips = new Set<string>();
  const key = (d: { af: AddressFamily; addr: Uint32Array; port: number }): string =>
    `${formatAddr(d.af, d.addr)}|${d.port}`;
  let grew = true;
  while (grew) {
    grew = false;
    for (const s of engine.services) {
      if (out.has(s)) continue;
      if (s.persistent || s.dests.some((d) => rips.has(key(d)))) {
        out.add(s);
        for (const d of s.dests) rips.add(key(d));
        grew = true;
      }
    }
  }
  return out;
}

/** Workers a data plane can have (their device names carry one digit). */
export const MAX_SHARDS = 8;

/**
 * Names and filter priorities of worker `id` ≥ 1 of several (worker 0 keeps
 * steer.ts steerNames'): `tsvsi-<first 7 of the instance>-<id>` (not a dot: sysctl names
 * the device's settings with dots as separators), priorities 20 per worker
 * below the first's (tc tries lower priorities first; the shares are disjoint).
 */
export function shardSteerNames(instance: string, pref: number, id: number): ShardNames {
  const base = `${instance.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 7)}-${id}`;
  const p = Math.max(3, pref - 20 * id);
  return {
    tunIn: `tsvsi-${base}`,
    tunOut: `tsvso-${base}`,
    tunSyn: `tsvss-${base}`,
    pref4: p,
    pref6: p + 1,
    prefFast: p - 1,
  };
}

/** The request devices of every worker of an instance, as an iptables interface pattern. */
export function shardSkipDev(instance: string): string {
  return `tsvsi-${instance.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 7)}+`;
}
