/**
 * The NAT transmitter (the kernel's ip_vs_nat_xmit, spec §7.2): fill a no-client-port
 * conn's port, check and decrement the TTL, check the path MTU, run the helper (with
 * its checksum check) and rewrite the destination through the protocol's dnat_handler.
 */
import { CONN_F_NO_CPORT, type AddressFamily } from '../constants.js';
import { DropReason } from '../drop.js';
import type { Ipvs } from '../ipvs.js';
import type { ProtocolOps } from '../proto/types.js';
import { APP_DROP, APP_MANGLED } from '../app/types.js';
import { decTtl } from '../../wire/ip.js';
import type { PacketView } from '../../wire/packet.js';
import { mtuCheck, pathMtu } from './mtu.js';
import { drop, forward, replyTtlExceeded } from './result.js';

export function xmitNat(
  ipvs: Ipvs,
  pp: ProtocolOps,
  id: number,
  pv: PacketView,
  mark: number,
  pktFlags: number,
): number {
  const c = ipvs.conns;
  if (c.flags[id] & CONN_F_NO_CPORT) {
    // §4.4: the first packet fills the client port
    c.unhash(id);
    c.cport[id] = pv.sport;
    c.flags[id] &= ~CONN_F_NO_CPORT;
    c.noCportCount--;
    c.hash(id);
  }
  // __ip_vs_get_out_rt: a local RIP takes the packet as it is (no TTL, no MTU: it is
  // delivered here after the rewrite); else the TTL, then the path MTU, before
  // anything is rewritten
  const d = ipvs.destById[c.dest[id]];
  if (d === null || d.route === null || d.route.local !== true) {
    if (pv.ttl <= 1) return replyTtlExceeded(ipvs, pv);
    decTtl(pv.buf, pv.l3off, pv.af as AddressFamily);
    const tooBig = mtuCheck(ipvs, pv, pktFlags, pathMtu(ipvs, d), false);
    if (tooBig >= 0) return tooBig;
  }
  const v = natRewriteWithHelper(ipvs, pp, id, pv, mark, pktFlags, true);
  if (v >= 0) return v;
  return forward(ipvs, pv, c.af[id] as AddressFamily, c.daddr, id * 4);
}

/**
 * The NAT rewrite of a packet of conn `id`, either way (the kernel's dnat_handler
 * towards the server, snat_handler back to the client): the conn's application helper
 * first when it has one — the checksum checked, then its hook, whose mangled payload
 * asks for a full checksum — then the protocol's rewrite. Returns -1 when the packet
 * was rewritten, or the DROP verdict (bad checksum, the helper refused it).
 */
export function natRewriteWithHelper(
  ipvs: Ipvs,
  pp: ProtocolOps,
  id: number,
  pv: PacketView,
  mark: number,
  pktFlags: number,
  toServer: boolean,
): number {
  let full = false;
  const app = ipvs.appOf.size > 0 ? ipvs.appOf.get(id) : undefined;
  if (app) {
    if (!pp.csumCheck(pv, pktFlags)) return drop(ipvs, DropReason.BAD_CHECKSUM);
    const rv = pp.appHook(ipvs, app, id, pv, mark, toServer);
    if (rv === APP_DROP) return drop(ipvs, DropReason.HELPER);
    full = rv === APP_MANGLED;
  }
  if (toServer) pp.dnatHandler(ipvs, pv, id, full);
  else pp.snatHandler(ipvs, pv, id, full);
  return -1;
}
