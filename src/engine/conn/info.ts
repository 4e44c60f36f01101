/**
 * A connection as ipvsadm -L -c and /proc/net/ip_vs_conn show it (admin path:
 * allocates).
 */
import { CONN_F_TEMPLATE, TEMPLATE_ASSURED, type AddressFamily } from '../constants.js';
import { formatAddr } from '../addr.js';
import type { Ipvs } from '../ipvs.js';
import { protoGet } from '../proto/index.js';

/** A connection as shown by `ipvsadm -L -c` and /proc/net/ip_vs_conn. */
export interface ConnInfo {
  id: number;
  af: AddressFamily;
  protocol: number;
  caddr: string;
  cport: number;
  vaddr: string;
  vport: number;
  daddr: string;
  dport: number;
  state: string;
  /** Seconds until expiry. */
  expires: number;
  flags: number;
  fwmark: number;
  control: number;
  nControl: number;
  inPkts: number;
  template: boolean;
}

/** State name of a conn as ipvsadm prints it. */
export function connStateName(ipvs: Ipvs, id: number): string {
  const c = ipvs.conns;
  if (c.flags[id] & CONN_F_TEMPLATE) return c.state[id] & TEMPLATE_ASSURED ? 'ASSURED' : 'NONE';
  const pp = protoGet(c.proto[id]);
  return pp !== null ? pp.stateName(c.state[id]) : 'NONE';
}

export function connInfo(ipvs: Ipvs, id: number): ConnInfo {
  const c = ipvs.conns;
  const af = c.af[id] as AddressFamily;
  const o = id * 4;
  const did = c.dest[id];
  const d = did >= 0 ? ipvs.destById[did] : null;
  const daf = d ? d.af : af;
  const flags = c.flags[id];
  return {
    id,
    af,
    protocol: c.proto[id],
    caddr: formatAddr(af, c.caddr, o),
    cport: c.cport[id],
    vaddr:
      c.proto[id] === 0 && flags & CONN_F_TEMPLATE
        ? String(c.vaddr[o])
        : formatAddr(af, c.vaddr, o),
    vport: c.vport[id],
    daddr: formatAddr(daf, c.daddr, o),
    dport: c.dport[id],
    state: connStateName(ipvs, id),
    expires: Math.max(0, Math.ceil((c.expires[id] - ipvs.now) / 1000)),
    flags,
    fwmark: c.fwmark[id],
    control: c.control[id],
    nControl: c.nControl[id],
    inPkts: c.inPkts[id],
    template: (flags & CONN_F_TEMPLATE) !== 0,
  };
}
