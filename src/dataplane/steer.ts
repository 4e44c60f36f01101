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
 * This module only builds the `tc -batch` lines; the director runs them. cls_u32 and
 * act_mirred are the kernel facilities needed (cls_flower is not in every kernel: it is
 * not in the one this was built on).
 *
 * @module
 */
import type { Engine } from '../engine/engine.js';
import { CONN_F_MASQ, CONN_F_TUNNEL, type AddressFamily } from '../engine/constants.js';
import { formatAddr } from '../engine/addr.js';

/** At most this many filters per family and direction; beyond, the queue captures alone. */
export const STEER_MAX_FILTERS = 256;

/** What the filters match, per family: u32 selectors (without the action). */
export interface SteerMatches {
  req4: string[];
  req6: string[];
  rep4: string[];
  rep6: string[];
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
export function steerMatches(engine: Engine): SteerMatches {
  const m: SteerMatches = { req4: [], req6: [], rep4: [], rep6: [] };
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
  ): string => {
    const a = formatAddr(af, addr);
    const p = dir === 'dst' ? 'dport' : 'sport';
    if (af === 4)
      return (
        `match u8 0x45 0xff at 0 match u16 0 0x3fff at 6 match ip ${dir} ${a}/32 ` +
        `match ip protocol ${proto} 0xff` +
        (port ? ` match ip ${p} ${port} 0xffff` : '')
      );
    return (
      `match ip6 ${dir} ${a}/128 match ip6 protocol ${proto} 0xff` +
      (port ? ` match ip6 ${p} ${port} 0xffff` : '')
    );
  };
  for (const s of services) {
    if (s.fwmark !== 0) continue;
    if (s.protocol !== 6 && s.protocol !== 17) continue;
    if (s.dests.some((d) => d.fwd === CONN_F_TUNNEL)) continue;
    const helper = s.protocol === 6 && helperPorts.includes(s.port);
    // port-0 services, the FTP port and helper ports take every port of the VIP
    const allPorts = s.port === 0 || s.port === 21 || helper;
    if (!m.reqOff)
      add(
        s.af === 4 ? m.req4 : m.req6,
        sel(s.af, 'dst', s.addr, s.protocol, allPorts ? 0 : s.port),
      );
    for (const d of s.dests) {
      if (d.fwd !== CONN_F_MASQ) continue;
      // FTP: active data connections come from port 20, passive ones from any port
      const every = d.port === 0 || helper || (s.port === 21 && s.protocol === 6);
      add(d.af === 4 ? m.rep4 : m.rep6, sel(d.af, 'src', d.addr, s.protocol, every ? 0 : d.port));
    }
  }
  for (const k of ['req4', 'req6', 'rep4', 'rep6'] as const)
    if (m[k].length > STEER_MAX_FILTERS) m[k] = [];
  return m;
}

/** Names and numbers of one director's steering. */
export interface SteerNames {
  /** TUN device requests are redirected to (also the one packets are handed back through). */
  tunIn: string;
  /** TUN device NAT replies are redirected to. */
  tunOut: string;
  /** tc filter priorities (`pref`) for IPv4 and IPv6; the director owns these. */
  pref4: number;
  pref6: number;
}

/**
 * The `tc -batch` lines that replace this director's filters on `devs`: the clsact
 * qdisc (an existing one is kept: "File exists" is expected), our priorities deleted,
 * the new filters added. Run with `-force` so the expected failures do not stop it.
 */
export function steerBatch(names: SteerNames, devs: string[], m: SteerMatches): string[] {
  const out: string[] = [];
  for (const dev of devs) {
    out.push(`qdisc add dev ${dev} clsact`);
    out.push(`filter del dev ${dev} ingress pref ${names.pref4}`);
    out.push(`filter del dev ${dev} ingress pref ${names.pref6}`);
    const put = (pref: number, proto: string, sels: string[], tun: string): void => {
      for (const s of sels)
        out.push(
          `filter add dev ${dev} ingress pref ${pref} protocol ${proto} u32 ${s} ` +
            `action mirred egress redirect dev ${tun}`,
        );
    };
    put(names.pref4, 'ip', m.req4, names.tunIn);
    put(names.pref4, 'ip', m.rep4, names.tunOut);
    put(names.pref6, 'ipv6', m.req6, names.tunIn);
    put(names.pref6, 'ipv6', m.rep6, names.tunOut);
  }
  return out;
}

/** One interface as `ip -j link show` prints it (the fields used here). */
export interface LinkJson {
  ifname?: string;
  link_type?: string;
  master?: string;
  flags?: string[];
}

/**
 * The interfaces to steer on: every interface that receives IP packets for this host
 * (not enslaved to a bridge or bond — the master is steered instead —, not loopback,
 * not the director's own TUN devices).
 */
export function steerDevices(links: LinkJson[], names: SteerNames): string[] {
  const out: string[] = [];
  for (const l of links) {
    if (!l.ifname || l.master) continue;
    if (l.link_type === 'loopback' || l.ifname === 'lo') continue;
    if (l.ifname === names.tunIn || l.ifname === names.tunOut) continue;
    out.push(l.ifname);
  }
  return out;
}

/** Device names for an instance: at most 15 characters (IFNAMSIZ − 1). */
export function steerNames(instance: string, pref: number): SteerNames {
  const base = instance.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 9);
  return { tunIn: `tsvsi-${base}`, tunOut: `tsvso-${base}`, pref4: pref, pref6: pref + 1 };
}
