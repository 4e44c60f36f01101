/**
 * An engine with live connections made by real packets: a TCP SYN to an IPv4 NAT
 * service and a UDP datagram to an IPv6 one, at engine time 1 s.
 */
import { buildPacket, SYN } from '../helpers/packets.js';
import type { ControlModel } from '../../src/control/model.js';
import { newModel } from './helpers.js';

export const TCP_SVC = { af: 4 as const, protocol: 6, addr: '10.0.3.100', port: 80 };
export const UDP6_SVC = { af: 6 as const, protocol: 17, addr: '2001:db8:3::100', port: 53 };

export function connFixture(): ControlModel {
  const m = newModel();
  m.addService({ ...TCP_SVC, scheduler: 'rr' });
  m.addDest(TCP_SVC, { addr: '10.0.2.11', port: 8080, fwd: 'masq' });
  m.addService({ ...UDP6_SVC, scheduler: 'rr' });
  m.addDest(UDP6_SVC, { addr: '2001:db8:2::11', port: 53, fwd: 'masq' });
  const e = m.engine;
  e.tick(1000);
  const syn = buildPacket({
    src: '10.0.1.2',
    dst: '10.0.3.100',
    sport: 40000,
    dport: 80,
    flags: SYN,
  });
  e.in(syn, 0, syn.length, 1000);
  const udp = buildPacket({
    src: '2001:db8:1::2',
    dst: '2001:db8:3::100',
    sport: 5353,
    dport: 53,
    proto: 'udp',
    payload: 'q',
  });
  e.in(udp, 0, udp.length, 1000);
  return m;
}
