/**
 * The director's next hops, kept in the control path (configuration changes and a
 * periodic refresh), never per packet:
 *
 * - link-layer next hops of NAT and DR real servers ({@link L2Hop}: route, egress
 *   interface and its packet socket, MTU, next-hop MAC), shared by dests with the same
 *   address, resolved with `ip route get` / `ip neigh show` and ARP/ND probes;
 * - source addresses of tunnels to TUN real servers;
 * - the routing and neighbour snapshot behind {@link ReplyRoutes} (NAT replies sent
 *   to the client-side next hop).
 *
 * @module
 */
import { createSocket } from 'node:dgram';
import type { AddressFamily } from '../engine/constants.js';
import { CONN_F_DROUTE } from '../engine/constants.js';
import { formatAddr, parseAddr } from '../engine/addr.js';
import type { Dest, DestRoute } from '../engine/service.js';
import { runAsync } from '../sys/exec.js';
import { loadNative } from './native.js';
import { parseMac, parseNeigh, parseRouteGet, usableLladdr, type RouteInfo } from './nexthop.js';
import type { ReplyRoutes } from './replyroute.js';
import type { L2Hop, L2Tx } from './xmit.js';

/** Neighbour refresh period; routes are looked up again every ROUTE_EVERY refreshes. */
export const NEIGH_REFRESH_MS = 5000;
export const ROUTE_EVERY = 6;

/** An address as text in one canonical form (iproute2 and formatAddr may differ). */
function normAddr(text: string): string {
  const a = parseAddr(text);
  return a ? formatAddr(a.af, a.words) : text;
}

/** What {@link NextHops} needs from the director. */
export interface NextHopsContext {
  netns: string | undefined;
  /** Runs a function in the director's network namespace. */
  inNs: <T>(fn: () => T) => T;
  log: (line: string) => void;
  /** The director is running (resolution loops stop when it is not). */
  running: () => boolean;
  /** Reply next hops are in use (steering is on). */
  replies: () => boolean;
  /** The packet socket of an egress interface (opened on first use). */
  l2For: (dev: string) => L2Tx;
  /** Hops by dest id, read per packet by the transmit side; kept here. */
  hopByDest: Map<number, L2Hop>;
  replyRoutes: ReplyRoutes;
}

/** Next hops of real servers, tunnel sources and reply routes of one director. */
export class NextHops {
  /** The same hops as hopByDest by family/RIP text (dests with the same address share one). */
  private readonly hopByRip = new Map<string, L2Hop>();
  /** Tunnel source address by real server address text. */
  readonly tunSrc = new Map<string, Uint32Array>();
  /** Route facts of tunnel real servers by address (engine `Dest.route`). */
  private readonly tunRoute = new Map<string, DestRoute>();
  /** NAT next hops still to be resolved (in the background). */
  private readonly natPending = new Set<L2Hop>();
  private natResolving = false;
  private refreshing = false;
  private refreshes = 0;
  private replyRefreshing = false;
  private replyRoutesAgain = false;

  constructor(private readonly c: NextHopsContext) {}

  /** Forgets every hop (the director stopped). */
  clear(): void {
    this.c.hopByDest.clear();
    this.hopByRip.clear();
    this.natPending.clear();
  }

  /**
   * The dests of a new configuration: resolves tunnel sources and the DR hops (DR has
   * no other way out, so before its rules exist), makes the hops by dest id the live
   * set, and returns the tunnel source addresses (for the ICMP rules) and the NAT hops
   * left to resolve behind the rules ({@link resolveNatLater}).
   */
  async update(dests: Dest[], tun: Dest[]): Promise<{ tunnelSources: string[]; nat: L2Hop[] }> {
    const dr: L2Hop[] = [];
    const nat: L2Hop[] = [];
    const live = new Map<number, L2Hop>();
    for (const d of dests) {
      const hop = this.hopOf(d);
      live.set(d.id, hop);
      d.route = hop; // the engine's path-MTU check reads hop.mtu as routes change
      if (!hop.ready) (d.fwd === CONN_F_DROUTE ? dr : nat).push(hop);
    }
    await this.resolveTunnelSources(tun);
    for (const d of tun) d.route = this.tunRoute.get(formatAddr(d.af, d.addr)) ?? null;
    if (dr.length) await this.resolveHops(dr, 30, true);
    const byDest = this.c.hopByDest;
    byDest.clear();
    for (const [id, hop] of live) byDest.set(id, hop);
    const used = new Set(live.values());
    for (const [k, h] of this.hopByRip) if (!used.has(h)) this.hopByRip.delete(k);
    const tunnelSources = new Set<string>();
    for (const d of tun) {
      const w = d.af === 4 ? this.tunSrc.get(formatAddr(d.af, d.addr)) : undefined;
      if (w) tunnelSources.add(formatAddr(4, w));
    }
    return { tunnelSources: [...tunnelSources], nat };
  }

  /**
   * NAT goes through the kernel until its next hop is resolved, so that resolution
   * (which may wait for ARP/ND) runs behind the rules, not before them.
   */
  resolveNatLater(nat: L2Hop[]): void {
    for (const h of nat) this.natPending.add(h);
    if (this.natPending.size > 0 && !this.natResolving) void this.resolveNat();
  }

  /** Routes, rules, links and neighbours for {@link ReplyRoutes} (control path). */
  async refreshReplyRoutes(withRoutes: boolean): Promise<void> {
    if (!this.c.replies()) return;
    if (this.replyRefreshing) {
      // one at a time; a route refresh asked for meanwhile runs after this one
      if (withRoutes) this.replyRoutesAgain = true;
      return;
    }
    this.replyRefreshing = true;
    const netns = this.c.netns;
    try {
      if (withRoutes) {
        const links = JSON.parse(await runAsync(netns, 'ip', ['-j', 'link', 'show'])) as {
          ifname?: string;
          address?: string;
          mtu?: number;
          link_type?: string;
        }[];
        const info = (dev: string): { mac: Uint8Array; mtu: number; ether: boolean } | null => {
          const l = links.find((x) => x.ifname === dev);
          const mac = l?.address ? parseMac(l.address) : null;
          if (!l || !mac) return null;
          return { mac, mtu: l.mtu ?? 1500, ether: l.link_type === 'ether' };
        };
        for (const af of [4, 6] as const) {
          const fam = af === 4 ? '-4' : '-6';
          const rules = await runAsync(netns, 'ip', ['-j', fam, 'rule', 'show']);
          const routes = await runAsync(netns, 'ip', ['-j', fam, 'route', 'show', 'table', 'main']);
          // the local table: replies to one of our own addresses never leave by L2
          const local = await runAsync(netns, 'ip', ['-j', fam, 'route', 'show', 'table', 'local']);
          this.c.replyRoutes.setRoutes(af, rules, routes, info, local);
        }
      }
      this.c.replyRoutes.setNeighbours(await runAsync(netns, 'ip', ['-j', 'neigh', 'show']));
    } catch (e) {
      this.c.log(`reply next hops: ${(e as Error).message}`);
    } finally {
      this.replyRefreshing = false;
    }
    if (this.replyRoutesAgain) {
      this.replyRoutesAgain = false;
      await this.refreshReplyRoutes(true);
    }
  }

  /** The hop of a NAT/DR dest: shared by dests with the same address, created unresolved. */
  private hopOf(d: Dest): L2Hop {
    const rip = formatAddr(d.af, d.addr);
    const key = `${d.af}/${rip}`;
    let hop = this.hopByRip.get(key);
    if (!hop) {
      hop = {
        af: d.af,
        rip,
        route: null,
        neighbour: rip,
        mtu: 1500,
        local: false,
        eth: new Uint8Array(12),
        ready: false,
        tx: null,
        dr: false,
      };
      this.hopByRip.set(key, hop);
    }
    if (d.fwd === CONN_F_DROUTE) hop.dr = true;
    return hop;
  }

  /** Resolves pending NAT next hops in the background, in batches. */
  private async resolveNat(): Promise<void> {
    this.natResolving = true;
    try {
      while (this.c.running() && this.natPending.size > 0) {
        const hops = [...this.natPending].filter(
          (h) => this.hopByRip.get(`${h.af}/${h.rip}`) === h,
        );
        this.natPending.clear();
        if (hops.length) await this.resolveHops(hops, 30, true);
      }
    } finally {
      this.natResolving = false;
    }
  }

  /**
   * `ip route get` for many addresses in one `ip -batch` process; the answers are
   * keyed by the normalised destination address.
   */
  private async routesOf(addrs: string[]): Promise<Map<string, RouteInfo>> {
    const out = new Map<string, RouteInfo>();
    if (addrs.length === 0) return out;
    const input = addrs.map((a) => `route get ${a}`).join('\n') + '\n';
    const text = await runAsync(this.c.netns, 'ip', ['-j', '-force', '-batch', '-'], input).catch(
      (e: Error & { stdout?: string }) => e.stdout ?? '',
    );
    for (const line of text.split('\n')) {
      if (!line.startsWith('[')) continue;
      const r = parseRouteGet(line);
      const dst = (JSON.parse(line) as { dst?: string }[])[0]?.dst;
      if (r && dst) out.set(normAddr(dst), r);
    }
    return out;
  }

  private async resolveTunnelSources(dests: Dest[]): Promise<void> {
    const todo = [...new Set(dests.map((d) => formatAddr(d.af, d.addr)))].filter(
      (a) => !this.tunSrc.has(a),
    );
    if (todo.length === 0) return;
    const routes = await this.routesOf(todo);
    for (const rip of todo) {
      const r = routes.get(normAddr(rip));
      const a = r?.prefsrc ? parseAddr(r.prefsrc) : null;
      if (a) this.tunSrc.set(rip, Uint32Array.from(a.words));
      else this.c.log(`no route (or no source address) to tunnel real server ${rip}`);
      // what the engine's tunnel transmitter needs of the route: its MTU, locality
      if (r) {
        const dev = this.devMtu(r.dev);
        this.tunRoute.set(rip, { mtu: r.mtu > 0 && r.mtu < dev ? r.mtu : dev, local: r.local });
      }
    }
  }

  /**
   * Applies a route to a hop: egress device, MTU, packet socket, source MAC. A
   * changed route makes the hop wait for its (new) neighbour; a local RIP or an egress
   * device without Ethernet framing (`ether` false: tun, wireguard, ...) never gets a
   * hop: NAT then goes through the kernel.
   */
  private applyRoute(hop: L2Hop, route: RouteInfo, ether: boolean): void {
    const log = this.c.log;
    const old = hop.route;
    const same =
      old !== null &&
      old.dev === route.dev &&
      old.gateway === route.gateway &&
      old.local === route.local;
    hop.route = route;
    hop.local = route.local;
    if (!same) {
      if (old) log(`route to ${hop.rip} changed: dev ${route.dev} via ${route.gateway ?? '-'}`);
      else if (!route.local && !ether)
        log(
          `real server ${hop.rip}: ${route.dev} has no Ethernet framing, the kernel forwards to it`,
        );
      hop.neighbour = route.gateway ? normAddr(route.gateway) : hop.rip;
      hop.ready = false;
      hop.tx = null;
    }
    if (route.local || !ether) {
      hop.ready = false;
      hop.tx = null;
      return;
    }
    try {
      const devMtu = this.c.inNs(() => loadNative().ifMtu(route.dev));
      hop.mtu = route.mtu > 0 && route.mtu < devMtu ? route.mtu : devMtu;
      if (!same || hop.tx === null) {
        hop.eth.set(this.c.inNs(() => loadNative().ifHwAddr(route.dev)).subarray(0, 6), 6);
        hop.tx = this.c.l2For(route.dev);
      }
    } catch (e) {
      hop.ready = false;
      hop.tx = null;
      log(`real server ${hop.rip}: egress ${route.dev}: ${(e as Error).message}`);
    }
  }

  /** MTU of a device, 0 when it cannot be read (the engine's default then applies). */
  private devMtu(dev: string): number {
    try {
      return this.c.inNs(() => loadNative().ifMtu(dev));
    } catch {
      return 0;
    }
  }

  /** Link types by interface name (`ip -j link show`), e.g. "ether", "none", "loopback". */
  private async linkTypes(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    try {
      const text = await runAsync(this.c.netns, 'ip', ['-j', 'link', 'show']);
      for (const l of JSON.parse(text) as { ifname?: string; link_type?: string }[])
        if (l.ifname) out.set(l.ifname, l.link_type ?? '');
    } catch (e) {
      this.c.log(`ip link show: ${(e as Error).message}`);
    }
    return out;
  }

  /**
   * Route, egress interface, MTU and next-hop MAC of NAT/DR real servers, all at once:
   * one `ip -batch` for the routes, one `ip neigh show` per try, probes (ARP/ND) for
   * what is missing, up to `tries` rounds 100 ms apart. A MAC learnt before is kept
   * when its entry is gone (our frames bypass the kernel's neighbour code, so entries
   * age out), and the neighbour is probed again. A local RIP never gets a hop: NAT
   * then goes through the kernel, DR counts a fault.
   */
  private async resolveHops(hops: L2Hop[], tries: number, withRoutes: boolean): Promise<void> {
    const log = this.c.log;
    try {
      if (withRoutes || hops.some((h) => !h.route)) {
        const routes = await this.routesOf(hops.map((h) => h.rip));
        const links = await this.linkTypes();
        for (const h of hops) {
          const r = routes.get(normAddr(h.rip));
          if (r) this.applyRoute(h, r, (links.get(r.dev) ?? 'ether') === 'ether');
          else if (!h.route) log(`no route to real server ${h.rip}`);
        }
      }
      let missing: L2Hop[] = [];
      for (let i = 0; i < tries && this.c.running(); i++) {
        const neigh = new Map<string, string>();
        for (const n of parseNeigh(await runAsync(this.c.netns, 'ip', ['-j', 'neigh', 'show']))) {
          const mac = usableLladdr(n);
          if (mac) neigh.set(`${normAddr(n.dst)}%${n.dev}`, mac);
        }
        missing = [];
        for (const h of hops) {
          if (!h.route || h.route.local || !h.tx) continue;
          const mac = neigh.get(`${h.neighbour}%${h.route.dev}`);
          const b = mac ? parseMac(mac) : null;
          if (b) {
            let same = h.ready;
            for (let k = 0; k < 6; k++) if (h.eth[k] !== b[k]) same = false;
            if (!same) {
              if (h.ready) log(`${h.neighbour} on ${h.route.dev} is now at ${mac}`);
              h.eth.set(b, 0);
            }
            h.ready = true;
          } else {
            missing.push(h);
          }
        }
        if (missing.length === 0) break;
        for (const h of missing) void this.probe(h.af, h.neighbour);
        if (i + 1 < tries) await new Promise((res) => setTimeout(res, 100));
      }
      if (tries > 1)
        for (const h of missing)
          if (!h.ready)
            log(
              `${h.dr ? 'DR' : 'NAT'} real server ${h.rip}: no link-layer address for ${h.neighbour} on ${h.route?.dev}` +
                (h.dr ? '' : ' (the kernel forwards its packets until it resolves)'),
            );
    } catch (e) {
      log(`resolving next hops: ${(e as Error).message}`);
    }
  }

  /**
   * Periodic refresh (control path): neighbour MACs every few seconds, routes every
   * ROUTE_EVERY refreshes; missing neighbours are probed.
   */
  async refreshHops(): Promise<void> {
    if (this.refreshing || this.hopByRip.size === 0) return;
    this.refreshing = true;
    try {
      const withRoutes = this.refreshes++ % ROUTE_EVERY === ROUTE_EVERY - 1;
      await this.resolveHops([...this.hopByRip.values()], 1, withRoutes);
    } finally {
      this.refreshing = false;
    }
  }

  /** Trigger neighbour resolution by sending one UDP datagram to the discard port. */
  private probe(af: AddressFamily, addr: string): Promise<void> {
    const netns = this.c.netns;
    if (netns)
      return runAsync(netns, 'ping', [af === 6 ? '-6' : '-4', '-c', '1', '-W', '1', addr]).then(
        () => undefined,
        () => undefined,
      );
    return new Promise((resolve) => {
      const s = createSocket(af === 6 ? 'udp6' : 'udp4');
      s.on('error', () => {
        s.close();
        resolve();
      });
      s.send(Buffer.alloc(0), 9, addr, () => {
        s.close();
        resolve();
      });
    });
  }
}
