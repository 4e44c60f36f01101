/**
 * The local transmitter (the kernel's ip_vs_null_xmit, spec §7.5): the real server is
 * this host, the packet is delivered to the local stack unchanged.
 */
import { V_LOCAL } from '../drop.js';
import type { Ipvs } from '../ipvs.js';

export function xmitLocal(ipvs: Ipvs): number {
  ipvs.result.verdict = V_LOCAL;
  return V_LOCAL;
}
