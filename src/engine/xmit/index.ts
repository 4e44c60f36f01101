/**
 * Transmission of an INPUT packet by its conn's forwarding method (the conn's
 * packet_xmit in the kernel): one transmitter per method, each in its own file.
 */
import {
  CONN_F_BYPASS,
  CONN_F_DROUTE,
  CONN_F_FWD_MASK,
  CONN_F_LOCALNODE,
  CONN_F_MASQ,
  CONN_F_TUNNEL,
} from '../constants.js';
import { DropReason } from '../drop.js';
import type { Ipvs } from '../ipvs.js';
import type { ProtocolOps } from '../proto/types.js';
import type { PacketView } from '../../wire/packet.js';
import { xmitBypass } from './bypass.js';
import { xmitDr } from './dr.js';
import { xmitLocal } from './local.js';
import { xmitNat } from './nat.js';
import { drop } from './result.js';
import { xmitTunnel } from './tunnel.js';

/** Transmit `pv` on conn `id` by the conn's method; the result's why is already set. */
export function transmit(
  ipvs: Ipvs,
  pp: ProtocolOps,
  id: number,
  pv: PacketView,
  mark: number,
  pktFlags: number,
): number {
  const c = ipvs.conns;
  const r = ipvs.result;
  const fwd = c.flags[id] & CONN_F_FWD_MASK;
  r.conn = id;
  r.dest = c.dest[id];
  r.method = fwd;
  switch (fwd) {
    case CONN_F_MASQ:
      return xmitNat(ipvs, pp, id, pv, mark, pktFlags);
    case CONN_F_DROUTE:
      return xmitDr(ipvs, id, pv, pktFlags);
    case CONN_F_TUNNEL:
      return xmitTunnel(ipvs, id, pv, pktFlags);
    case CONN_F_LOCALNODE:
      return xmitLocal(ipvs);
    case CONN_F_BYPASS:
      return xmitBypass(ipvs, pv);
    default:
      return drop(ipvs, DropReason.MALFORMED);
  }
}
