/**
 * UDP (the kernel's ip_vs_proto_udp.c, spec §3): one state, the udp timeout on every
 * packet either way, never active; any packet may create a connection.
 */
import { IPPROTO_UDP } from '../constants.js';
import type { Ipvs } from '../ipvs.js';
import { TIMEOUT_DEFAULTS } from '../spec.js';
import { Why } from '../verdict.js';
import { appConnBind, appHookPlain } from '../app/seq.js';
import { assureTemplate } from '../conn/template.js';
import type { PacketView } from '../../wire/packet.js';
import { l4CsumCheck, l4DnatHandler, l4SnatHandler } from './l4.js';
import { DIR_OUTPUT, DROPENTRY_MAYBE, type ProtocolOps } from './types.js';

export const UDP_S_NORMAL = 0;
/** Default timeouts in seconds, by state: the one state's (§3). */
export const UDP_DEFAULT_TIMEOUTS: readonly number[] = [TIMEOUT_DEFAULTS.udp];
export const UDP_DEFAULT_TIMEOUT = TIMEOUT_DEFAULTS.udp;

/** Every packet sets the timeout; a reply makes the controlling template ASSURED. */
function udpStateTransition(ipvs: Ipvs, id: number, dir: number, _pv: PacketView): void {
  ipvs.conns.timeout[id] = ipvs.timeouts[IPPROTO_UDP][UDP_S_NORMAL];
  if (dir === DIR_OUTPUT) assureTemplate(ipvs, id);
}

/** The UDP ops (the kernel's `ip_vs_protocol_udp`). */
export const udpProtocol: ProtocolOps = {
  protocol: IPPROTO_UDP,
  name: 'UDP',
  numStates: 1,
  defaultTimeouts: UDP_DEFAULT_TIMEOUTS,
  onePacket: true,
  ftpData: false,
  // every UDP conn prints as UDP, whatever state a sync message gave it
  stateName: () => 'UDP',
  stateByName: (n) => (n.toUpperCase() === 'UDP' || n.toUpperCase() === 'NORMAL' ? 0 : -1),
  isActive: () => false,
  isNewConn: () => false,
  connSchedule: () => Why.NONE,
  connReuse: () => false,
  csumCheck: l4CsumCheck,
  dnatHandler: l4DnatHandler,
  snatHandler: l4SnatHandler,
  stateTransition: udpStateTransition,
  setState(ipvs, id) {
    ipvs.conns.state[id] = UDP_S_NORMAL;
    ipvs.conns.timeout[id] = ipvs.timeouts[IPPROTO_UDP][UDP_S_NORMAL];
  },
  appConnBind,
  appHook: appHookPlain,
  dropEntry: () => DROPENTRY_MAYBE,
};
