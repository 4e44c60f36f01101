/**
 * Filling `ipvs.result`, the one place each verdict is written: ACCEPT, DROP (counted
 * under its reason), FORWARD with its next hop, and REPLY with an ICMP error the
 * engine built into its scratch buffer (the kernel's icmp_send from IPVS).
 */
import type { AddressFamily } from '../constants.js';
import { NO_CONN } from '../conn/table.js';
import { DropReason, V_ACCEPT, V_DROP, V_FORWARD, V_REPLY } from '../drop.js';
import type { Ipvs } from '../ipvs.js';
import { Why } from '../verdict.js';
import { buildIcmpError } from '../../wire/icmp.js';
import type { PacketView } from '../../wire/packet.js';

/** Reset the result for a new packet: ACCEPT unchanged, no reason yet. */
export function resultReset(ipvs: Ipvs, buf: Uint8Array, off: number, len: number): void {
  const r = ipvs.result;
  r.verdict = V_ACCEPT;
  r.reason = 0;
  r.why = Why.NONE;
  r.buf = buf;
  r.off = off;
  r.len = len;
  r.conn = NO_CONN;
  r.dest = -1;
  r.method = -1;
}

/** ACCEPT (the packet passes unchanged) because of `why`. */
export function accept(ipvs: Ipvs, why: number): number {
  const r = ipvs.result;
  r.verdict = V_ACCEPT;
  r.why = why;
  return V_ACCEPT;
}

/** DROP, counted under `reason`. */
export function drop(ipvs: Ipvs, reason: number): number {
  ipvs.drops[reason]++;
  const r = ipvs.result;
  r.verdict = V_DROP;
  r.reason = reason;
  r.why = Why.DROP;
  return V_DROP;
}

/** FORWARD the packet in `pv` to the next hop at `hop[hoff..]` (the why is already set). */
export function forward(
  ipvs: Ipvs,
  pv: PacketView,
  af: AddressFamily,
  hop: ArrayLike<number>,
  hoff: number,
): number {
  const r = ipvs.result;
  r.verdict = V_FORWARD;
  r.reason = 0;
  r.buf = pv.buf;
  r.off = pv.l3off;
  r.len = pv.l3len;
  r.af = af;
  for (let i = 0; i < 4; i++) r.nextHop[i] = af === 4 && i > 0 ? 0 : hop[hoff + i];
  return V_FORWARD;
}

/**
 * REPLY with an ICMP error about the packet in `pv`, from `src`, to its source;
 * counted under `reason`, explained by `why`.
 */
export function replyIcmp(
  ipvs: Ipvs,
  pv: PacketView,
  type: number,
  code: number,
  info: number,
  src: Uint32Array,
  reason: number,
  why: number,
): number {
  ipvs.drops[reason]++;
  return replyIcmpAbout(
    ipvs,
    pv.buf,
    pv.l3off,
    pv.l3len,
    pv.af as AddressFamily,
    type,
    code,
    info,
    src,
    pv.saddr,
    reason,
    why,
  );
}

/**
 * Build an ICMP error about the (possibly quoted, truncated) packet at
 * `buf[off..off+len)`, from `src`, into the scratch buffer; it goes to `to` (the
 * packet's source): REPLY. Not counted here (see {@link replyIcmp}).
 */
export function replyIcmpAbout(
  ipvs: Ipvs,
  buf: Uint8Array,
  off: number,
  len: number,
  af: AddressFamily,
  type: number,
  code: number,
  info: number,
  src: Uint32Array,
  to: Uint32Array,
  reason: number,
  why: number,
): number {
  const r = ipvs.result;
  const scratch = ipvs.scratch;
  const n = buildIcmpError(scratch, 0, scratch.length, buf, off, len, af, type, code, info, src);
  if (n === 0) return drop(ipvs, DropReason.NO_ROOM);
  r.verdict = V_REPLY;
  r.reason = reason;
  r.why = why;
  r.buf = scratch;
  r.off = 0;
  r.len = n;
  r.af = af;
  r.nextHop.set(to);
  r.method = -1;
  return V_REPLY;
}

/** TTL would reach 0 when forwarded: time exceeded to the sender (§7.1). */
export function replyTtlExceeded(ipvs: Ipvs, pv: PacketView): number {
  return replyIcmp(
    ipvs,
    pv,
    pv.af === 4 ? 11 : 3,
    0,
    0,
    pv.daddr,
    DropReason.TTL_EXCEEDED,
    Why.TTL_EXCEEDED,
  );
}

/** Port unreachable (ICMP 3/3, ICMPv6 1/4) to the sender, counted under `reason` (§2.10, §1.3). */
export function replyPortUnreach(ipvs: Ipvs, pv: PacketView, reason: number, why: number): number {
  const v4 = pv.af === 4;
  return replyIcmp(ipvs, pv, v4 ? 3 : 1, v4 ? 3 : 4, 0, pv.daddr, reason, why);
}
