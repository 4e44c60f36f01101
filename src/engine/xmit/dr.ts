/**
 * The direct-routing transmitter (the kernel's ip_vs_dr_xmit, spec §7.3): the packet
 * goes unchanged but for the TTL to the real server's MAC; the next hop is the RIP.
 * Too big for the path: ICMP frag-needed / packet-too-big, as for NAT and tunnels.
 */
import type { AddressFamily } from '../constants.js';
import type { Ipvs } from '../ipvs.js';
import { decTtl } from '../../wire/ip.js';
import type { PacketView } from '../../wire/packet.js';
import { mtuCheck, pathMtu } from './mtu.js';
import { forward, replyTtlExceeded } from './result.js';

export function xmitDr(ipvs: Ipvs, id: number, pv: PacketView, pktFlags: number): number {
  if (pv.ttl <= 1) return replyTtlExceeded(ipvs, pv);
  decTtl(pv.buf, pv.l3off, pv.af as AddressFamily);
  const c = ipvs.conns;
  const d = ipvs.destById[c.dest[id]];
  const tooBig = mtuCheck(ipvs, pv, pktFlags, pathMtu(ipvs, d), false);
  if (tooBig >= 0) return tooBig;
  return forward(ipvs, pv, d ? d.af : (pv.af as AddressFamily), c.daddr, id * 4);
}
