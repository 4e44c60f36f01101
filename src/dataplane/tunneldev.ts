/**
 * Which interfaces deliver packets the kernel's IPVS would call tunnelled
 * (`ignore_tunneled`).
 *
 * The kernel (`ip_vs_in_hook`, `net/netfilter/ipvs/ip_vs_core.c`): a packet for this
 * host whose protocol IPVS has no handler for (anything but TCP, UDP, SCTP, ICMP) is
 * accepted, and — with `ignore_tunneled` set — marked `skb->ipvs_property` first: "the
 * only way we'll see this packet again is if it's encapsulated". A tunnel device
 * decapsulating it in the same namespace keeps the mark (`skb_scrub_packet` clears
 * `ipvs_property` only across namespaces), so the inner packet passes both IPVS hooks
 * untouched. The packets so marked are therefore exactly those that come out of a
 * tunnel whose outer protocol is not TCP/UDP/SCTP/ICMP: IPIP (4), IPv6-in-IP (41), GRE
 * (47), ESP (50, VTI). Tunnels carried in UDP — VXLAN, Geneve, FOU/GUE encapsulation,
 * WireGuard — are not marked: the outer packet went through IPVS's UDP handler.
 *
 * tsvs sees the inner packet with the interface it arrived on (the netfilter queue's
 * `indev`), so it tells by the interface's kind (`ip -d -j link show`). What it cannot
 * tell this way, and the README lists: IPsec tunnel mode without a VTI device (the
 * inner packet arrives on the physical interface), a decapsulated frame bridged into a
 * bridge (its `indev` is the bridge), L2TP over IP (proto 115; the device does not say
 * its encapsulation).
 *
 * @module
 */
import { run, runAsync } from '../sys/exec.js';

/** Interface kinds (`linkinfo.info_kind`) whose outer protocol IPVS does not handle. */
export const TUNNEL_KINDS: ReadonlySet<string> = new Set([
  'ipip',
  'sit',
  'gre',
  'gretap',
  'erspan',
  'ip6tnl',
  'ip6gre',
  'ip6gretap',
  'ip6erspan',
  'vti',
  'vti6',
]);

/** One interface as `ip -d -j link show` prints it (the fields used here). */
export interface TunnelLinkJson {
  ifindex?: number;
  ifname?: string;
  linkinfo?: { info_kind?: string; info_data?: { encap?: { type?: string | null } | null } };
}

/**
 * Whether packets decapsulated by this interface are the kernel's tunnelled ones: a
 * kind from {@link TUNNEL_KINDS} with no further encapsulation (FOU/GUE put the tunnel
 * in UDP, which IPVS handles).
 */
export function isTunnelLink(l: TunnelLinkJson): boolean {
  const kind = l.linkinfo?.info_kind;
  if (kind === undefined || !TUNNEL_KINDS.has(kind)) return false;
  // iproute2 prints `encap` only for an encapsulation other than none (FOU, GUE: UDP;
  // MPLS: not IP at all)
  const encap = l.linkinfo?.info_data?.encap;
  return encap === undefined || encap === null;
}

/** Per-ifindex state in {@link TunnelDevices.state}. */
export const DEV_UNKNOWN = 0;
export const DEV_PLAIN = 1;
export const DEV_TUNNEL = 2;

/**
 * The interfaces of the director's namespace by ifindex: plain or tunnel. Read by the
 * queue drain per packet (a typed array, nothing allocated); refreshed from `ip -d -j
 * link show` when an ifindex is not known yet (once per new interface: an ifindex the
 * refresh does not find is taken as plain) and when interfaces change.
 */
export class TunnelDevices {
  /** Index: ifindex; value: DEV_UNKNOWN, DEV_PLAIN or DEV_TUNNEL. */
  state = new Uint8Array(64);

  /**
   * @param list  lists the interfaces (default: `ip -d -j link show` in `netns`)
   */
  constructor(
    private readonly netns: string | undefined,
    private readonly log: (line: string) => void = () => undefined,
    private readonly list: () => TunnelLinkJson[] = () =>
      JSON.parse(run(netns, 'ip', ['-d', '-j', 'link', 'show'])) as TunnelLinkJson[],
  ) {}

  /** Whether packets from interface `ifindex` are tunnelled (0: not known, e.g. locally generated). */
  tunnelled(ifindex: number): boolean {
    if (ifindex <= 0) return false;
    let s = ifindex < this.state.length ? this.state[ifindex] : DEV_UNKNOWN;
    if (s === DEV_UNKNOWN) {
      this.refresh();
      if (ifindex >= this.state.length) this.grow(ifindex);
      s = this.state[ifindex];
      if (s === DEV_UNKNOWN) s = this.state[ifindex] = DEV_PLAIN;
    }
    return s === DEV_TUNNEL;
  }

  /** Re-reads the interfaces (an interface appeared or went). */
  refresh(): void {
    let links: TunnelLinkJson[];
    try {
      links = this.list();
    } catch (e) {
      this.log(`tunnel devices: ${(e as Error).message.split('\n')[0]}`);
      return;
    }
    this.apply(links);
  }

  /** {@link refresh} without blocking (interfaces changed; the periodic check). */
  async refreshLater(): Promise<void> {
    try {
      const out = await runAsync(this.netns, 'ip', ['-d', '-j', 'link', 'show']);
      this.apply(JSON.parse(out) as TunnelLinkJson[]);
    } catch (e) {
      this.log(`tunnel devices: ${(e as Error).message.split('\n')[0]}`);
    }
  }

  /** Sets the table from a listing. */
  apply(links: readonly TunnelLinkJson[]): void {
    let top = 0;
    for (const l of links) if ((l.ifindex ?? 0) > top) top = l.ifindex ?? 0;
    const st = new Uint8Array(Math.max(this.state.length, top + 1));
    for (const l of links)
      if (l.ifindex !== undefined && l.ifindex > 0)
        st[l.ifindex] = isTunnelLink(l) ? DEV_TUNNEL : DEV_PLAIN;
    this.state = st;
  }

  private grow(ifindex: number): void {
    const st = new Uint8Array(ifindex + 1);
    st.set(this.state);
    this.state = st;
  }
}
