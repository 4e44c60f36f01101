/**
 * The protocol registry (the kernel's ip_vs_proto.c): ops objects by protocol number.
 * Adding a protocol is adding its file and one line here.
 */
import { tcpProtocol } from './tcp.js';
import { udpProtocol } from './udp.js';
import { sctpProtocol } from './sctp.js';
import type { ProtocolOps } from './types.js';

/** Every registered protocol. */
export const PROTOCOLS: readonly ProtocolOps[] = [tcpProtocol, udpProtocol, sctpProtocol];

const BY_NUMBER: (ProtocolOps | null)[] = new Array<ProtocolOps | null>(256).fill(null);
for (const pp of PROTOCOLS) BY_NUMBER[pp.protocol] = pp;

/** ip_vs_proto_get: the ops of a protocol number, or null when IPVS does not handle it. */
export function protoGet(protocol: number): ProtocolOps | null {
  return BY_NUMBER[protocol & 0xff];
}

/** The protocol whose name (`tcp`, `UDP`) is given, or null. */
export function protoByName(name: string): ProtocolOps | null {
  const n = name.toUpperCase();
  for (const pp of PROTOCOLS) if (pp.name === n) return pp;
  return null;
}

/** A fresh set of per-protocol timeout tables in ms (indexed by protocol number). */
export function defaultTimeoutTables(): Uint32Array[] {
  const t: Uint32Array[] = [];
  const none = new Uint32Array(0);
  for (let p = 0; p < 256; p++) {
    const pp = BY_NUMBER[p];
    t.push(pp !== null ? new Uint32Array(pp.defaultTimeouts.map((s) => s * 1000)) : none);
  }
  return t;
}

export { tcpProtocol, udpProtocol, sctpProtocol };
export type { ProtocolOps };
