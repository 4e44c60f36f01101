/**
 * What the port-carrying protocols (TCP, UDP) share in their ops: the NAT rewrite of
 * addresses and ports (snat/dnat handlers over proto/nat.ts's natRewrite) and the
 * checksum check of a packet a helper must read.
 */
import type { Ipvs } from '../ipvs.js';
import { PKT_CSUM_OK, PKT_CSUM_PARTIAL } from '../ipvs.js';
import { natRewrite, verifyL4Checksum } from './nat.js';
import type { PacketView } from '../../wire/packet.js';

/** csum_check: trusted when the caller verified it or it is a partial (offload) sum. */
export function l4CsumCheck(pv: PacketView, pktFlags: number): boolean {
  return (pktFlags & (PKT_CSUM_OK | PKT_CSUM_PARTIAL)) !== 0 || verifyL4Checksum(pv);
}

/** dnat_handler: destination := the conn's real server address and port. */
export function l4DnatHandler(ipvs: Ipvs, pv: PacketView, id: number, full: boolean): void {
  const c = ipvs.conns;
  natRewrite(pv, c.daddr, id * 4, c.dport[id], true, full, ipvs.partial);
}

/** snat_handler: source := the conn's virtual address and port. */
export function l4SnatHandler(ipvs: Ipvs, pv: PacketView, id: number, full: boolean): void {
  const c = ipvs.conns;
  natRewrite(pv, c.vaddr, id * 4, c.vport[id], false, full, ipvs.partial);
}
