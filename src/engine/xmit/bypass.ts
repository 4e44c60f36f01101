/**
 * The bypass transmitter (the kernel's ip_vs_bypass_xmit, spec §7.5): a cache_bypass
 * conn's packets go to their original destination.
 */
import type { AddressFamily } from '../constants.js';
import type { Ipvs } from '../ipvs.js';
import { decTtl } from '../../wire/ip.js';
import type { PacketView } from '../../wire/packet.js';
import { forward, replyTtlExceeded } from './result.js';

export function xmitBypass(ipvs: Ipvs, pv: PacketView): number {
  if (pv.ttl <= 1) return replyTtlExceeded(ipvs, pv);
  decTtl(pv.buf, pv.l3off, pv.af as AddressFamily);
  return forward(ipvs, pv, pv.af as AddressFamily, pv.daddr, 0);
}
