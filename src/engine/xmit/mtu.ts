/**
 * The path-MTU check every transmitter makes on its way out (the kernel's
 * ensure_mtu_is_adequate and __mtu_check_toobig_v6, called from __ip_vs_get_out_rt
 * for NAT, DR and tunnels alike): a packet too big for the path to its real server
 * is answered with ICMP frag-needed (IPv4, DF set) or packet-too-big (IPv6) and
 * dropped. GSO super-packets are segmented later and pass; errors about ICMP
 * errors are never sent.
 */
import { IPV4_FLAG_DF, IPV4_FRAG } from '../../wire/ipv4.js';
import { Frag, type PacketView } from '../../wire/packet.js';
import { DropReason } from '../drop.js';
import type { Ipvs } from '../ipvs.js';
import { PKT_GSO } from '../ipvs.js';
import type { Dest } from '../service.js';
import { Why } from '../verdict.js';
import { drop, replyIcmp } from './result.js';

/**
 * Engine-internal packet flag: the packet is an ICMP error being relayed to its conn's
 * real server (the kernel's ip_vs_iph_icmp), never answered with another ICMP error.
 */
export const PKT_ICMP_RELATED = 0x100;

/** The MTU of the path to `d`: what the data plane's route says, else the engine's. */
export function pathMtu(ipvs: Ipvs, d: Dest | null): number {
  const r = d !== null ? d.route : null;
  return r !== null && r.mtu > 0 ? r.mtu : ipvs.mtu;
}

/**
 * -1 when `pv` fits `mtu` (or may be fragmented on the way), else the verdict: REPLY
 * with the ICMP error, or DROP. `tunnel`: with pmtu_disc off an IPv4 packet is
 * fragmented inside the tunnel rather than refused.
 */
export function mtuCheck(
  ipvs: Ipvs,
  pv: PacketView,
  pktFlags: number,
  mtu: number,
  tunnel: boolean,
): number {
  if (pv.l3len <= mtu || (pktFlags & PKT_GSO) !== 0) return -1;
  if (pv.af === 6) {
    // too big whatever the flags; only a first fragment (or a whole packet) is answered
    if (pv.frag !== Frag.LATER && (pktFlags & PKT_ICMP_RELATED) === 0)
      return replyIcmp(ipvs, pv, 2, 0, mtu, pv.daddr, DropReason.FRAG_NEEDED, Why.FRAG_NEEDED);
    return drop(ipvs, DropReason.FRAG_NEEDED);
  }
  if (tunnel && !ipvs.settings.pmtu_disc) return -1;
  if ((pv.buf[pv.l3off + IPV4_FRAG] & (IPV4_FLAG_DF >>> 8)) === 0) return -1;
  if ((pktFlags & PKT_ICMP_RELATED) !== 0) return -1;
  return replyIcmp(ipvs, pv, 3, 4, mtu, pv.daddr, DropReason.FRAG_NEEDED, Why.FRAG_NEEDED);
}
