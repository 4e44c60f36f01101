/**
 * Virtual service lookup (the kernel's ip_vs_service_find, spec §4.1): by fwmark,
 * by (protocol, address, port), then the FTP and port-zero fallbacks; and the hash
 * tables the lookup uses, kept up to date by the administration (ctl.ts).
 */
import type { AddressFamily } from './constants.js';
import { foldAddr } from './addr.js';
import type { Ipvs } from './ipvs.js';
import type { Service } from './service.js';
import { protoGet } from './proto/index.js';

/** The FTP control port: its service also takes the data connections (§4.1). */
const FTP_PORT = 21;
/** The FTP data port of active mode. */
const FTP_DATA_PORT = 20;

function svcHash(
  af: AddressFamily,
  proto: number,
  addr: ArrayLike<number>,
  aoff: number,
  port: number,
): number {
  return (Math.imul(foldAddr(af, addr, aoff) ^ (proto << 24) ^ af, 0x9e3779b1) ^ port) | 0;
}

/** Put a service into the lookup tables (ip_vs_svc_hash). */
export function svcLink(ipvs: Ipvs, svc: Service): void {
  if (svc.fwmark !== 0) {
    const l = ipvs.svcByMark.get(svc.fwmark) ?? [];
    l.push(svc);
    ipvs.svcByMark.set(svc.fwmark, l);
  } else {
    const h = svcHash(svc.af, svc.protocol, svc.addr, 0, svc.port);
    const l = ipvs.svcByAddr.get(h) ?? [];
    l.push(svc);
    ipvs.svcByAddr.set(h, l);
    if (svc.port === FTP_PORT) ipvs.ftpSvcCount++;
    if (svc.port === 0) ipvs.port0SvcCount++;
  }
}

/** Take a service out of the lookup tables (ip_vs_svc_unhash). */
export function svcUnlink(ipvs: Ipvs, svc: Service): void {
  const m = svc.fwmark !== 0 ? ipvs.svcByMark : ipvs.svcByAddr;
  const h = svc.fwmark !== 0 ? svc.fwmark : svcHash(svc.af, svc.protocol, svc.addr, 0, svc.port);
  const l = m.get(h);
  if (l) {
    const i = l.indexOf(svc);
    if (i >= 0) l.splice(i, 1);
    if (l.length === 0) m.delete(h);
  }
  if (svc.fwmark === 0 && svc.port === FTP_PORT) ipvs.ftpSvcCount--;
  if (svc.fwmark === 0 && svc.port === 0) ipvs.port0SvcCount--;
}

/** ip_vs_service_find (§4.1). */
export function serviceFind(
  ipvs: Ipvs,
  af: AddressFamily,
  mark: number,
  proto: number,
  vaddr: Uint32Array,
  voff: number,
  vport: number,
): Service | null {
  if (mark !== 0) {
    const l = ipvs.svcByMark.get(mark);
    if (l) for (let i = 0; i < l.length; i++) if (l[i].af === af) return l[i];
  }
  let s = svcExact(ipvs, af, proto, vaddr, voff, vport);
  if (s) return s;
  if (ipvs.ftpSvcCount > 0 && (vport === FTP_DATA_PORT || vport >= 1024)) {
    const pp = protoGet(proto);
    if (pp !== null && pp.ftpData) {
      s = svcExact(ipvs, af, proto, vaddr, voff, FTP_PORT);
      if (s) return s;
    }
  }
  if (ipvs.port0SvcCount > 0) {
    s = svcExact(ipvs, af, proto, vaddr, voff, 0);
    if (s) return s;
  }
  return null;
}

function svcExact(
  ipvs: Ipvs,
  af: AddressFamily,
  proto: number,
  vaddr: Uint32Array,
  voff: number,
  vport: number,
): Service | null {
  const l = ipvs.svcByAddr.get(svcHash(af, proto, vaddr, voff, vport));
  if (!l) return null;
  for (let i = 0; i < l.length; i++) {
    const s = l[i];
    if (
      s.af === af &&
      s.protocol === proto &&
      s.port === vport &&
      s.addr[0] === vaddr[voff] &&
      (af === 4 ||
        (s.addr[1] === vaddr[voff + 1] &&
          s.addr[2] === vaddr[voff + 2] &&
          s.addr[3] === vaddr[voff + 3]))
    )
      return s;
  }
  return null;
}
