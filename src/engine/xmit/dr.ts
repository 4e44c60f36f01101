/**
 * The direct-routing transmitter (the kernel's ip_vs_dr_xmit, spec §7.3): the packet
 * goes unchanged but for the TTL to the real server's MAC; the next hop is the RIP.
 * Too big for the path: ICMP frag-needed / packet-too-big, as for NAT and tunnels. A
 * real server whose address is local gets the packet through the local stack.
 */
import type { AddressFamily } from '../constants.js';
import type { Ipvs } from '../ipvs.js';
import { decTtl } from '../../wire/ip.js';
import type { PacketView } from '../../wire/packet.js';
import { xmitLocal } from './local.js';
import { mtuCheck, pathMtu } from './mtu.js';
import { forward, replyTtlExceeded } from './result.js';

export function xmitDr(ipvs: Ipvs, id: number, pv: PacketView, pktFlags: number): number {
  const c = ipvs.conns;
  const d = ipvs.destById[c.dest[id]];
  // __ip_vs_get_out_rt found the RIP local: ip_vs_send_or_cont(…, local=1)
  if (d !== null && d.route !== null && d.route.local === true) return xmitLocal(ipvs);
  if (pv.ttl <= 1) return replyTtlExceeded(ipvs, pv);
  decTtl(pv.buf, pv.l3off, pv.af as AddressFamily);
  const tooBig = mtuCheck(ipvs, pv, pktFlags, pathMtu(ipvs, d), false);
  if (tooBig >= 0) return tooBig;
  return forward(ipvs, pv, d ? d.af : (pv.af as AddressFamily), c.daddr, id * 4);
}
