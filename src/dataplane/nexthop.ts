/**
 * Route and neighbour look-ups for the director's link-layer transmission, from the
 * JSON output of iproute2 (`ip -j route get ADDR`, `ip -j neigh show`). They run in
 * the control path only (configuration changes and a periodic refresh), never per
 * packet.
 *
 * @module
 */

/** What `ip -j route get` says about one destination. */
export interface RouteInfo {
  /** Egress device. */
  dev: string;
  /** Next-hop router, when the destination is not on a connected network. */
  gateway?: string;
  /** Preferred source address of the route. */
  prefsrc?: string;
  /** The route delivers locally (the address is one of this host's). */
  local: boolean;
  /** MTU metric of the route, 0 when none (the device's MTU applies). */
  mtu: number;
}

interface RouteJson {
  type?: string;
  dst?: string;
  dev?: string;
  gateway?: string;
  via?: { family?: string; host?: string };
  prefsrc?: string;
  metrics?: { mtu?: number }[];
}

/** Parses `ip -j route get` output; null when it names no device. */
export function parseRouteGet(text: string): RouteInfo | null {
  let arr: unknown;
  try {
    arr = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(arr) || arr.length === 0) return null;
  const r = arr[0] as RouteJson;
  if (!r || typeof r.dev !== 'string') return null;
  let mtu = 0;
  for (const m of r.metrics ?? []) if (typeof m.mtu === 'number') mtu = m.mtu;
  return {
    dev: r.dev,
    gateway: r.gateway ?? r.via?.host,
    prefsrc: r.prefsrc,
    local: r.type === 'local' || r.dev === 'lo',
    mtu,
  };
}

/** One entry of `ip -j neigh show`. */
export interface NeighEntry {
  dst: string;
  dev: string;
  lladdr?: string;
  state: string[];
}

/** Parses `ip -j neigh show` output (an empty list on anything unexpected). */
export function parseNeigh(text: string): NeighEntry[] {
  let arr: unknown;
  try {
    arr = JSON.parse(text || '[]');
  } catch {
    return [];
  }
  if (!Array.isArray(arr)) return [];
  const out: NeighEntry[] = [];
  for (const x of arr as { dst?: string; dev?: string; lladdr?: string; state?: string[] }[]) {
    if (!x || typeof x.dst !== 'string') continue;
    out.push({ dst: x.dst, dev: x.dev ?? '', lladdr: x.lladdr, state: x.state ?? [] });
  }
  return out;
}

/** A usable link-layer address of an entry: present and not FAILED/INCOMPLETE. */
export function usableLladdr(n: NeighEntry | undefined): string | undefined {
  if (!n || !n.lladdr) return undefined;
  if (n.state.includes('FAILED') || n.state.includes('INCOMPLETE')) return undefined;
  return n.lladdr;
}

/** `aa:bb:cc:dd:ee:ff` → 6 bytes, or null when malformed. */
export function parseMac(s: string): Uint8Array | null {
  const p = s.split(':');
  if (p.length !== 6) return null;
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) {
    if (!/^[0-9a-fA-F]{1,2}$/.test(p[i])) return null;
    out[i] = parseInt(p[i], 16);
  }
  return out;
}
