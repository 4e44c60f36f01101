/** UDP (spec §3): one state, 300 s, never active. */
import { IPPROTO_UDP } from '../constants.js';
import type { ProtocolModule } from './types.js';

export const UDP_S_NORMAL = 0;
export const UDP_DEFAULT_TIMEOUT = 300;

export const udpProtocol: ProtocolModule = {
  protocol: IPPROTO_UDP,
  name: 'UDP',
  numStates: 1,
  stateName: (s) => (s === 0 ? 'UDP' : 'BUG!'),
  stateByName: (n) => (n.toUpperCase() === 'UDP' || n.toUpperCase() === 'NORMAL' ? 0 : -1),
  defaultTimeouts: () => [UDP_DEFAULT_TIMEOUT],
  isActive: () => false,
};
