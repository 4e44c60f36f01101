/**
 * Fast capture ("steering"): tc filters on the director's ingress that redirect the
 * packets IPVS would handle into two TUN devices the director reads, one for requests
 * to virtual services and one for NAT replies from real servers (docs/dataplane.md,
 * "Steering by tc"). Nothing is queued and no verdict is owed, which is what makes the
 * small-packet path cheaper than the netfilter queue (measured there).
 *
 * The filters are an accelerator in front of the netfilter-queue rules, which stay the
 * complete capture: whatever these exact matches leave (IPv4 packets with options,
 * IPv6 with extension headers, ICMP, fwmark services, services with a tunnel real
 * server) still reaches the queue, and the engine decides every packet either way.
 *
 * On an Ethernet interface every filter also matches the destination MAC — the
 * interface's own ({@link steerTargets}) — because the kernel's IPVS sees only
 * PACKET_HOST packets: a frame for another host's MAC (a flooding switch, a bridge, a
 * promiscuous port) is left to the stack, which drops it, as `ip_rcv` does.
 *
 * Over 600 lines: the selectors, the batch and the devices' life cycle are one
 * mechanism (a data-plane worker's share of the flows is steer-share.ts's).
 *
 * {@link steerMatches} and {@link steerBatch} build the `tc -batch` lines;
 * {@link Steering} opens the devices and runs them. cls_u32 and act_mirred are the kernel facilities needed (cls_flower is not in every kernel: it is
 * not in the one this was built on).
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Engine } from '../engine/engine.js';
import { CONN_F_MASQ, CONN_F_TUNNEL, type AddressFamily } from '../engine/constants.js';
import { formatAddr } from '../engine/addr.js';
import { run, runAsync, runBatch, runQuiet } from '../sys/exec.js';
import { openTun, type PacketChannel } from './native.js';
import { TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN } from './native-meta.js';
import { adoptTun } from './native-fds.js';
import { interfaceIndex } from './native-if.js';
import { isTunnelLink, type TunnelLinkJson } from './tunneldev.js';
import { VNET_HDR_BYTES } from './vnet.js';
import { capturedServices } from './ruleset.js';
import { addressPartitioned, partMatch, type SteerPart } from './steer-share.js';

/** At most this many filters per family and direction; beyond, the queue captures alone. */
export const STEER_MAX_FILTERS = 256;

/** What the filters match, per family: u32 selectors (without the action). */
export interface SteerMatches {
  req4: string[];
  req6: string[];
  rep4: string[];
  rep6: string[];
  /**
   * TCP requests with SYN alone (new connections, and a flood's), matched before the
   * other requests and steered into their own TUN: read after the established
   * traffic and a bounded number per wake-up, so that a SYN flood fills only its own
   * queue (known flows first).
   */
  syn4?: string[];
  syn6?: string[];
  /** Why requests are not steered (e.g. a fwmark service exists), if they are not. */
  reqOff?: string;
}

/**
 * The u32 selectors for the configured services, mirroring the queue rules of
 * `buildRuleset`: a request selector per VIP (and port, unless the service takes
 * every port of its VIP), a reply selector per NAT real server (and port).
 *
 * Not steered: fwmark services (their marks are set by the operator's iptables rules,
 * which run after tc ingress), and while any fwmark service exists no request at all
 * (a marked packet must find the fwmark service first, as in the kernel); services
 * with a tunnel real server (their packets are queued without GSO); ICMP.
 *
 * IPv4 selectors require IHL 5 (`match u8 0x45 0xff at 0`) so the port offsets are
 * exact, and an unfragmented packet (`match u16 0 0x3fff at 6`: no MF flag, offset 0),
 * so fragments reach the queue after the kernel's reassembly as before; IPv6
 * selectors require the transport header to follow the fixed header (a fragment
 * header or any other extension header leaves the packet to the queue).
 */
export function steerMatches(engine: Engine, part: SteerPart | null = null): SteerMatches {
  const m: SteerMatches = { req4: [], req6: [], rep4: [], rep6: [], syn4: [], syn6: [] };
  const byAddr = part ? addressPartitioned(engine) : null;
  const helperPorts = engine.appPorts(6);
  const services = engine.services;
  if (services.some((s) => s.fwmark !== 0)) m.reqOff = 'a fwmark service exists';
  const add = (l: string[], sel: string): void => {
    if (!l.includes(sel)) l.push(sel);
  };
  const sel = (
    af: AddressFamily,
    dir: 'dst' | 'src',
    addr: Uint32Array | number[],
    proto: number,
    port: number,
    clientAddr = false,
  ): string => {
    const a = formatAddr(af, addr);
    const p = dir === 'dst' ? 'dport' : 'sport';
    // a worker's share (steer-share.ts): the client's port or address, both directions
    const cut = part ? partMatch(part, af, dir === 'dst', clientAddr) : '';
    if (af === 4)
      return (
        `match u8 0x45 0xff at 0 match u16 0 0x3fff at 6 match ip ${dir} ${a}/32 ` +
        `match ip protocol ${proto} 0xff` +
        (port ? ` match ip ${p} ${port} 0xffff` : '') +
        cut
      );
    return (
      `match ip6 ${dir} ${a}/128 match ip6 protocol ${proto} 0xff` +
      (port ? ` match ip6 ${p} ${port} 0xffff` : '') +
      cut
    );
  };
  // with the trashed real servers connections still use (ruleset.ts)
  for (const { svc: s, dests } of capturedServices(engine)) {
    if (s.fwmark !== 0) continue;
    if (s.protocol !== 6 && s.protocol !== 17) continue;
    if (dests.some((d) => d.fwd === CONN_F_TUNNEL)) continue;
    const helper = s.protocol === 6 && helperPorts.includes(s.port);
    // port-0 services, the FTP port and helper ports take every port of the VIP
    const allPorts = s.port === 0 || s.port === 21 || helper;
    const ca = byAddr?.has(s) ?? false;
    if (!m.reqOff) {
      const r = sel(s.af, 'dst', s.addr, s.protocol, allPorts ? 0 : s.port, ca);
      add(s.af === 4 ? m.req4 : m.req6, r);
      // the TCP flags byte (offset 33 after a 20-byte IPv4 header, 53 after IPv6's):
      // SYN set, ACK, RST and FIN clear
      if (s.protocol === 6)
        add(s.af === 4 ? m.syn4! : m.syn6!, `${r} match u8 0x02 0x17 at ${s.af === 4 ? 33 : 53}`);
    }
    for (const d of dests) {
      if (d.fwd !== CONN_F_MASQ) continue;
      // FTP: active data connections come from port 20, passive ones from any port
      const every = d.port === 0 || helper || (s.port === 21 && s.protocol === 6);
      add(
        d.af === 4 ? m.rep4 : m.rep6,
        sel(d.af, 'src', d.addr, s.protocol, every ? 0 : d.port, ca),
      );
    }
  }
  for (const k of ['req4', 'req6', 'rep4', 'rep6', 'syn4', 'syn6'] as const)
    if ((m[k]?.length ?? 0) > STEER_MAX_FILTERS) m[k] = [];
  if (m.req4.length === 0) m.syn4 = [];
  if (m.req6.length === 0) m.syn6 = [];
  return m;
}

/** Names and numbers of one director's steering. */
export interface SteerNames {
  /** TUN device requests are redirected to (also the one packets are handed back through). */
  tunIn: string;
  /** TUN device NAT replies are redirected to. */
  tunOut: string;
  /** TUN device TCP requests with SYN alone are redirected to (read last, bounded). */
  tunSyn: string;
  /** tc filter priorities (`pref`) for IPv4 and IPv6; the director owns these. */
  pref4: number;
  pref6: number;
  /** tc priority of the established-flow fast path's BPF program (fastpath.ts), run first. */
  prefFast: number;
}

/**
 * The `tc -batch` lines that replace this director's filters on `devs`: the clsact
 * qdisc (an existing one is kept: "File exists" is expected), our priorities deleted,
 * the new filters added. Run with `-force` so the expected failures do not stop it.
 */
export function steerBatch(
  names: SteerNames,
  devs: string[],
  m: SteerMatches,
  fastProg: string | null = null,
  macs: ReadonlyMap<string, string> = new Map(),
  synProg: string | null = null,
): string[] {
  const out: string[] = [];
  for (const dev of devs) {
    const mac = macs.get(dev);
    const toMe = mac ? `${macMatch(mac)} ` : '';
    out.push(`qdisc add dev ${dev} clsact`);
    out.push(`filter del dev ${dev} ingress pref ${names.pref4}`);
    out.push(`filter del dev ${dev} ingress pref ${names.pref6}`);
    out.push(`filter del dev ${dev} ingress pref ${names.prefFast}`);
    // established flows the daemon put in the fast path's map, before the u32 filters
    if (fastProg !== null)
      out.push(
        `filter add dev ${dev} ingress pref ${names.prefFast} protocol all bpf ` +
          `object-pinned ${fastProg} direct-action`,
      );
    // SYNs of services under the SYN proxy answered in the kernel (syncookie.ts); in the
    // same priority (cls_bpf runs the later-added program first; either order works:
    // the fast path never takes a SYN, this program nothing else)
    if (synProg !== null)
      out.push(
        `filter add dev ${dev} ingress pref ${names.prefFast} protocol all bpf ` +
          `object-pinned ${synProg} direct-action`,
      );
    const put = (pref: number, proto: string, sels: string[], tun: string): void => {
      for (const s of sels)
        out.push(
          `filter add dev ${dev} ingress pref ${pref} protocol ${proto} u32 ${toMe}${s} ` +
            `action mirred egress redirect dev ${tun}`,
        );
    };
    // u32 tries a priority's filters in the order they were added: SYNs first
    put(names.pref4, 'ip', m.syn4 ?? [], names.tunSyn);
    put(names.pref4, 'ip', m.req4, names.tunIn);
    put(names.pref4, 'ip', m.rep4, names.tunOut);
    put(names.pref6, 'ipv6', m.syn6 ?? [], names.tunSyn);
    put(names.pref6, 'ipv6', m.req6, names.tunIn);
    put(names.pref6, 'ipv6', m.rep6, names.tunOut);
  }
  return out;
}

/**
 * The u32 selectors of "the frame's destination MAC is `mac`": on the ingress, u32's
 * offsets are relative to the network header, so the Ethernet destination is the 6
 * bytes at -14 (a 16-bit and a 32-bit key; `tc` prints them at -16 and -12, whole
 * words). `mac` as `ip link` prints it (aa:bb:cc:dd:ee:ff).
 */
export function macMatch(mac: string): string {
  const h = mac.toLowerCase().split(':').join('');
  return `match u16 0x${h.slice(0, 4)} 0xffff at -14 match u32 0x${h.slice(4)} 0xffffffff at -12`;
}

/**
 * The devices to steer on ({@link steerDevices}) and, per device with an Ethernet
 * header, its own MAC: the filters take only frames addressed to it. The kernel's IPVS
 * handles only PACKET_HOST packets from the network (`ip_vs_in` ignores the other
 * packet types; `ip_rcv` drops PACKET_OTHERHOST ones — frames for another host's MAC
 * that a bridge, a promiscuous port or a switch flooding unknown unicast delivers);
 * broadcast and multicast frames (PACKET_BROADCAST / PACKET_MULTICAST) pass `ip_rcv`
 * but IPVS ignores them too. Devices without an Ethernet header (TUN, WireGuard,
 * `link_type` none) have no MAC to match: every packet they receive is the host's. An
 * Ethernet device whose own unicast MAC cannot be read is not steered (its packets
 * reach the queue, which sees only what the kernel accepted).
 */
export function steerTargets(
  links: LinkJson[],
  names: SteerNames,
): { devs: string[]; macs: Map<string, string> } {
  const macs = new Map<string, string>();
  const devs: string[] = [];
  const byName = new Map(links.map((l) => [l.ifname, l]));
  for (const dev of steerDevices(links, names)) {
    const l = byName.get(dev)!;
    if (l.link_type === 'ether') {
      const a = l.address ?? '';
      // a unicast Ethernet address: the group bit of the first byte clear
      if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(a) || parseInt(a.slice(0, 2), 16) & 1) continue;
      macs.set(dev, a.toLowerCase());
    }
    devs.push(dev);
  }
  return { devs, macs };
}

/** One interface as `ip -j link show` prints it (the fields used here). */
export interface LinkJson extends TunnelLinkJson {
  ifname?: string;
  link_type?: string;
  /** The link-layer address (Ethernet: aa:bb:cc:dd:ee:ff). */
  address?: string;
  master?: string;
  flags?: string[];
}

/**
 * The interfaces to steer on: every interface that receives IP packets for this host
 * (not enslaved to a bridge or bond — the master is steered instead —, not loopback,
 * not the director's own TUN devices, not a tunnel device whose packets the kernel
 * would call tunnelled — those reach the queue, whose `indev` tells the engine so, for
 * `ignore_tunneled`: tunneldev.ts).
 */
export function steerDevices(links: LinkJson[], names: SteerNames): string[] {
  const out: string[] = [];
  for (const l of links) {
    if (!l.ifname || l.master) continue;
    if (l.link_type === 'loopback' || l.ifname === 'lo') continue;
    if (l.ifname === names.tunIn || l.ifname === names.tunOut || l.ifname === names.tunSyn)
      continue;
    // nor another worker's devices (daemon/workers.ts): what it hands back is not steered
    if (/^tsvs[ios]-/.test(l.ifname) || isTunnelLink(l)) continue;
    out.push(l.ifname);
  }
  return out;
}

/** Device names for an instance: at most 15 characters (IFNAMSIZ − 1). */
export function steerNames(instance: string, pref: number): SteerNames {
  const base = instance.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 9);
  return {
    tunIn: `tsvsi-${base}`,
    tunOut: `tsvso-${base}`,
    tunSyn: `tsvss-${base}`,
    pref4: pref,
    pref6: pref + 1,
    prefFast: Math.max(1, pref - 1),
  };
}

/** Address given to the steering TUN, so the reverse-path check can pass (see {@link Steering.open}). */
const STEER_ADDR = '169.254.253.253';
/**
 * Packets a steering device holds while its descriptor is open but nobody reads (a
 * hand-over, a restart with the service manager's descriptor store).
 */
export const STEER_TXQUEUELEN = 10000;

/**
 * The steering devices and filters of one director: opens the two TUN devices, puts
 * the filters for the current services on every interface (again when interfaces
 * appear), and removes them. A failure anywhere turns steering off: the queues then
 * capture alone.
 */
export class Steering {
  /** The TUN devices (null: steering off). */
  tunIn: PacketChannel | null = null;
  tunOut: PacketChannel | null = null;
  /** The SYN device (null: SYNs are steered with the other requests). */
  tunSyn: PacketChannel | null = null;
  /** The filters are in place (false: the queues capture alone). */
  on = false;
  /** Interfaces the filters were last put on, and what they matched (for change detection). */
  private applied = '';
  /** `ip monitor link`: interfaces that appear get the steering filters at once. */
  private linkMonitor: ChildProcess | null = null;
  private linkChange: NodeJS.Timeout | undefined;
  /** The devices are open but not yet set up ({@link configure}). */
  private unconfigured = false;
  /** The fast path's pinned program, attached in front of the filters (null: none). */
  fastProg: string | null = null;
  /** Called when the fast path's program could not be attached (it is then left off). */
  fastFailed: (why: string) => void = () => undefined;
  /** This worker's share of the flows (null: all of them). */
  part: SteerPart | null = null;
  /** The kernel SYN-cookie program (syncookie.ts), attached with the fast path's (null: none). */
  synProg: string | null = null;
  /** Called when the SYN-cookie program could not be attached (it is then left off). */
  synFailed: (why: string) => void = () => undefined;

  /**
   * @param inNs  runs a function in the director's network namespace
   * @param becameOn  called when the filters are first in place
   * @param closed  called when steering turns off after a failed filter (the devices are closed)
   */
  constructor(
    readonly names: SteerNames,
    private readonly netns: string | undefined,
    private readonly inNs: <T>(fn: () => T) => T,
    private readonly log: (line: string) => void,
    private readonly becameOn: () => Promise<void>,
    private readonly closed: () => void,
  ) {}

  /**
   * Follows interfaces appearing and going (`ip -o monitor link`, in our namespace): a
   * new interface gets the filters within 200 ms (`changed`) instead of at the next
   * 30-s check.
   */
  watchLinks(changed: () => void): void {
    const argv = this.netns
      ? ['netns', 'exec', this.netns, 'ip', '-o', 'monitor', 'link']
      : ['-o', 'monitor', 'link'];
    let child: ChildProcess;
    try {
      child = spawn('ip', argv, { stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return; // the periodic check still runs
    }
    child.on('error', () => undefined);
    child.stdout?.on('data', () => {
      if (this.linkChange) return;
      this.linkChange = setTimeout(() => {
        this.linkChange = undefined;
        changed();
      }, 200);
    });
    child.unref();
    (child.stdout as { unref?: () => void } | null)?.unref?.();
    this.linkMonitor = child;
  }

  /**
   * Opens and configures the two steering TUN devices; on failure steering stays off.
   *
   * The devices are persistent (`ip tuntap add`, TUNSETPERSIST): when the daemon stops
   * for a restart or hands over, or crashes, they stay with their address and settings,
   * and the tc filters keep redirecting into them. A persistent TUN without a reader
   * loses its carrier and drops what is redirected to it, so a VIP's packets are dropped
   * (the peers retransmit) instead of reaching the local stack, which would answer them
   * with a reset. The next daemon attaches to the same devices.
   */
  open(adopt?: { in: number; out: number; syn?: number }): void {
    const n = this.names;
    const offload = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
    const exists = (dev: string): boolean => {
      try {
        this.inNs(() => interfaceIndex(dev));
        return true;
      } catch {
        return false;
      }
    };
    // adopted from the previous daemon: attach at once (they are already set up and
    // the filters redirect into them), set up again after reading has started
    const adopted = exists(n.tunIn) && exists(n.tunOut);
    // the SYN device handed over too (a held SYN spares the client 1 s), else opened anew
    const openSyn = (): void => {
      if (adopt?.syn !== undefined && exists(n.tunSyn)) {
        this.tunSyn = adoptTun(adopt.syn, n.tunSyn);
        return;
      }
      if (!exists(n.tunSyn))
        runQuiet(this.netns, 'ip', ['tuntap', 'add', 'dev', n.tunSyn, 'mode', 'tun', 'vnet_hdr']);
      try {
        this.tunSyn = this.inNs(() =>
          openTun({ name: n.tunSyn, vnetHdrSize: VNET_HDR_BYTES, offload }),
        );
      } catch {
        this.tunSyn = null; // SYNs then go with the other requests
      }
    };
    // descriptors still attached (a hand-over's, the service manager's): what the
    // filters redirected meanwhile waits in them (daemon/fdstore.ts)
    if (adopted && adopt) {
      this.tunIn = adoptTun(adopt.in, n.tunIn);
      this.tunOut = adoptTun(adopt.out, n.tunOut);
      openSyn();
      this.unconfigured = true;
      return;
    }
    if (!adopted)
      for (const dev of [n.tunIn, n.tunOut])
        runQuiet(this.netns, 'ip', ['tuntap', 'add', 'dev', dev, 'mode', 'tun', 'vnet_hdr']);
    try {
      this.inNs(() => {
        this.tunIn = openTun({ name: n.tunIn, vnetHdrSize: VNET_HDR_BYTES, offload });
        this.tunOut = openTun({ name: n.tunOut, vnetHdrSize: VNET_HDR_BYTES, offload });
      });
      openSyn();
      this.unconfigured = true;
      // a new device is set up before the filters redirect into it (Director.start)
    } catch (e) {
      this.log(`steering off (the queues capture alone): ${(e as Error).message}`);
      this.destroy();
    }
  }

  /**
   * Sets the opened devices up (idempotent; see {@link open}). On failure steering
   * turns off and `closed` is called.
   */
  async configure(): Promise<void> {
    if (!this.unconfigured || !this.tunIn) return;
    this.unconfigured = false;
    const n = this.names;
    try {
      // Packets handed back through tunIn come "from" it: an address of its own lets
      // the loose reverse-path check (rp_filter 2) pass even when conf/all asks for
      // strict, and accept_local lets NAT replies whose source is now a local VIP in.
      await runAsync(
        this.netns,
        'ip',
        ['-batch', '-'],
        [
          // while no daemon reads (a restart, a hand-over) a device holds this many
          `link set ${n.tunIn} up txqueuelen ${STEER_TXQUEUELEN}`,
          `link set ${n.tunOut} up txqueuelen ${STEER_TXQUEUELEN}`,
          // room for bursts of SYNs (tun's default queue is 500 packets)
          ...(this.tunSyn ? [`link set ${n.tunSyn} txqueuelen 4096 up`] : []),
          `addr replace ${STEER_ADDR}/32 dev ${n.tunIn}`,
          '',
        ].join('\n'),
      );
      await runAsync(this.netns, 'sysctl', [
        '-qw',
        `net.ipv4.conf.${n.tunIn}.rp_filter=2`,
        `net.ipv4.conf.${n.tunIn}.accept_local=1`,
      ]);
      await runAsync(
        this.netns,
        'tc',
        ['-force', '-batch', '-'],
        `qdisc replace dev ${n.tunIn} root noqueue\nqdisc replace dev ${n.tunOut} root noqueue\n` +
          (this.tunSyn ? `qdisc replace dev ${n.tunSyn} root noqueue\n` : ''),
      ).catch(() => undefined);
    } catch (e) {
      this.log(`steering off (the queues capture alone): ${(e as Error).message}`);
      this.destroy();
      this.closed();
    }
  }

  /**
   * Puts the filters for the current services on every interface (again when the
   * services or the interfaces changed). A filter that cannot be added (no cls_u32 or
   * act_mirred) turns steering off: the queues then capture everything.
   */
  async apply(engine: Engine): Promise<void> {
    if (!this.tunIn || !this.tunOut) return;
    const m = steerMatches(engine, this.part);
    if (!this.tunSyn) m.syn4 = m.syn6 = [];
    let links: LinkJson[];
    try {
      links = JSON.parse(
        await runAsync(this.netns, 'ip', ['-d', '-j', 'link', 'show']),
      ) as LinkJson[];
    } catch (e) {
      this.log(`steering: ip link show: ${(e as Error).message}`);
      return;
    }
    const { devs, macs } = steerTargets(links, this.names);
    const key = JSON.stringify([devs, [...macs], m, this.fastProg, this.synProg]);
    if (key === this.applied) return;
    const lines = steerBatch(this.names, devs, m, this.fastProg, macs, this.synProg);
    const r = await runBatch(this.netns, 'tc', lines);
    const added = r.failedLines.filter((i) => lines[i]?.startsWith('filter add'));
    const failed = added.filter((i) => !lines[i].includes(' bpf object-pinned '));
    const refused = (prog: string | null): boolean =>
      prog !== null && added.some((i) => lines[i].includes(` ${prog} `));
    const synRefused = refused(this.synProg);
    const fastRefused = refused(this.fastProg);
    if (synRefused) {
      // cls_bpf missing or the program refused: the SYNs go to the engine
      this.synProg = null;
      this.synFailed(`tc: ${r.stderr.trim().split('\n')[0]}`);
    }
    if (fastRefused) {
      // cls_bpf missing or the program refused: steering goes on without it
      this.fastProg = null;
      this.fastFailed(`tc: ${r.stderr.trim().split('\n')[0]}`);
    }
    if ((synRefused || fastRefused) && failed.length === 0) {
      await this.apply(engine);
      return;
    }
    if (failed.length) {
      this.log(
        `steering off (the queues capture alone): tc ${lines[failed[0]]}: ${r.stderr.trim().split('\n')[0]}`,
      );
      this.destroy();
      this.closed();
      return;
    }
    if (!this.on) {
      this.on = true;
      await this.becameOn();
    }
    if (m.reqOff && !this.applied.includes(m.reqOff))
      this.log(`steering replies only: ${m.reqOff}`);
    this.applied = key;
  }

  /**
   * Removes our filters from every interface, and the clsact qdisc where nothing else
   * is left in it (also what a crashed run left behind). Synchronous: start and stop.
   */
  remove(): void {
    let links: LinkJson[] = [];
    try {
      links = JSON.parse(run(this.netns, 'ip', ['-j', 'link', 'show'])) as LinkJson[];
    } catch {
      return;
    }
    const n = this.names;
    for (const l of links) {
      const dev = l.ifname;
      if (!dev || l.link_type === 'loopback') continue;
      let shown: string;
      try {
        shown = run(this.netns, 'tc', ['-j', 'filter', 'show', 'dev', dev, 'ingress']);
      } catch {
        continue; // no clsact/ingress qdisc: nothing of ours
      }
      const prefs = new Set(
        (JSON.parse(shown || '[]') as { pref?: number }[]).map((f) => f.pref ?? -1),
      );
      for (const pref of [n.pref4, n.pref6, n.prefFast])
        if (prefs.has(pref))
          runQuiet(this.netns, 'tc', [
            'filter',
            'del',
            'dev',
            dev,
            'ingress',
            'pref',
            String(pref),
          ]);
      prefs.delete(n.pref4);
      prefs.delete(n.pref6);
      prefs.delete(n.prefFast);
      if (prefs.size > 0) continue;
      let egress = '[]';
      try {
        egress = run(this.netns, 'tc', ['-j', 'filter', 'show', 'dev', dev, 'egress']);
      } catch {
        /* none */
      }
      if ((JSON.parse(egress || '[]') as unknown[]).length === 0)
        runQuiet(this.netns, 'tc', ['qdisc', 'del', 'dev', dev, 'clsact']);
    }
  }

  /**
   * Removes the filters and deletes the (persistent) devices: a clean stop, steering
   * turned off, or what an earlier run left behind.
   */
  destroy(): void {
    this.remove();
    this.close();
    for (const dev of [this.names.tunIn, this.names.tunOut, this.names.tunSyn])
      runQuiet(this.netns, 'ip', ['link', 'del', 'dev', dev]);
  }

  /**
   * Stops following links and closes the devices (the filters are removed by
   * {@link remove}, the devices deleted by {@link destroy}: they are persistent).
   */
  close(keep?: (dev: PacketChannel) => void): void {
    this.linkMonitor?.kill();
    this.linkMonitor = null;
    if (this.linkChange) clearTimeout(this.linkChange);
    // kept open (a hand-over), the SYN device too: they keep carrier and hold what comes
    if (keep && this.tunIn && this.tunOut) {
      for (const dev of [this.tunIn, this.tunOut, this.tunSyn])
        if (dev) {
          dev.stopPolling();
          keep(dev);
        }
    } else for (const dev of [this.tunIn, this.tunOut, this.tunSyn]) dev?.close();
    this.tunIn = this.tunOut = this.tunSyn = null;
    this.on = false;
    this.applied = '';
  }
}
