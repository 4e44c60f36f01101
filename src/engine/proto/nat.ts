/**
 * NAT (masq) rewriting — the body of the protocols' dnat/snat handlers (proto/l4.ts) —
 * and csum_check, with the checksum rules of spec §6: incremental (RFC 1624)
 * update when nothing but addresses/ports changed, the offload (CHECKSUM_PARTIAL)
 * case where the field holds the pseudo-header sum, and full recomputation when a
 * helper changed the payload or a UDP checksum was zero.
 */
import type { AddressFamily } from '../constants.js';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from '../constants.js';
import type { PacketView } from '../../wire/packet.js';
import { read16, write16 } from '../../wire/bytes.js';
import { setIcmpChecksum } from '../../wire/icmp.js';
import { writeIpAddr } from '../../wire/ip.js';
import { IPV4_CHECKSUM } from '../../wire/ipv4.js';
import { TCP_DPORT, TCP_SPORT } from '../../wire/tcp.js';
import {
  csumReplace16,
  csumReplace32,
  finishSum,
  fold16,
  pseudoSum,
  sumBytes,
} from '../../wire/checksum.js';

/** Incremental IPv4 header checksum update for a changed 32-bit address word. */
function ipv4AddrChanged(b: Uint8Array, l3off: number, oldW: number, newW: number): void {
  // straight byte access: natRewrite's inlining budget goes to the checksum arithmetic
  const o = l3off + IPV4_CHECKSUM;
  const check = csumReplace32((b[o] << 8) | b[o + 1], oldW, newW);
  b[o] = check >>> 8;
  b[o + 1] = check & 0xff;
}

function l4Sum(pv: PacketView): number {
  const addrLen = pv.af === 4 ? 4 : 16;
  let s = pseudoSum(pv.buf, pv.saddrOff, pv.daddrOff, addrLen, pv.proto, pv.l4len);
  s = sumBytes(pv.buf, pv.l4off, pv.l4len, s);
  return s;
}

/** csum_check: verify the L4 (or ICMP) checksum over the whole segment. */
export function verifyL4Checksum(pv: PacketView): boolean {
  if (pv.frag !== 0) return true;
  const buf = pv.buf;
  if (pv.proto === IPPROTO_UDP) {
    if (pv.af === 4 && read16(buf, pv.csumOff) === 0) return true;
    return fold16(l4Sum(pv)) === 0xffff;
  }
  if (pv.proto === IPPROTO_ICMP) return fold16(sumBytes(buf, pv.l4off, pv.l4len)) === 0xffff;
  return fold16(l4Sum(pv)) === 0xffff;
}

/** Recompute the ICMP (v4: no pseudo-header) or ICMPv6 checksum in full. */
export function icmpChecksumFill(pv: PacketView): void {
  const buf = pv.buf;
  setIcmpChecksum(buf, pv.l4off, 0);
  const s = pv.af === 4 ? finishSum(sumBytes(buf, pv.l4off, pv.l4len)) : finishSum(l4Sum(pv));
  setIcmpChecksum(buf, pv.l4off, s);
}

/**
 * Rewrite destination (DNAT, isDst) or source (SNAT) address and port of a TCP/UDP
 * packet, with the checksum rule of §6.2, then the IPv4 header checksum.
 * @param full the payload was changed by a helper: recompute the L4 checksum in full
 * @param partial the checksum field holds the pseudo-header sum (offload pending)
 */
export function natRewrite(
  pv: PacketView,
  words: ArrayLike<number>,
  woff: number,
  port: number,
  isDst: boolean,
  full: boolean,
  partial: boolean,
): void {
  const buf = pv.buf;
  const af = pv.af as AddressFamily;
  const nw = af === 4 ? 1 : 4;
  const addrOff = isDst ? pv.daddrOff : pv.saddrOff;
  const old = isDst ? pv.daddr : pv.saddr;
  // TCP and UDP both start with the source and destination ports
  const portOff = pv.l4off + (isDst ? TCP_DPORT : TCP_SPORT);
  const oldPort = isDst ? pv.dport : pv.sport;
  const hasL4 = pv.frag !== 2 && (pv.proto === IPPROTO_TCP || pv.proto === IPPROTO_UDP);
  if (!hasL4) {
    writeIpAddr(buf, addrOff, words, woff, af);
    if (af === 4) ipv4AddrChanged(buf, pv.l3off, old[0], words[woff]);
    return;
  }
  // straight byte access to the checksum and port fields (not read16/write16): each
  // inlined helper counts against natRewrite's inlining budget, which the checksum
  // arithmetic (csumReplace32/16 → fold16) needs on every packet
  const co = pv.csumOff;
  let check = (buf[co] << 8) | buf[co + 1];
  const udp = pv.proto === IPPROTO_UDP;
  writeIpAddr(buf, addrOff, words, woff, af);
  buf[portOff] = port >>> 8;
  buf[portOff + 1] = port & 0xff;
  if (partial) {
    // the field is the folded, non-complemented pseudo-header sum
    check = fold16(pseudoSum(buf, pv.saddrOff, pv.daddrOff, af === 4 ? 4 : 16, pv.proto, pv.l4len));
  } else if (!full && (!udp || check !== 0)) {
    for (let i = 0; i < nw; i++) check = csumReplace32(check, old[i], words[woff + i]);
    check = csumReplace16(check, oldPort, port);
    if (udp && check === 0) check = 0xffff;
  } else if (pv.frag === 0) {
    write16(buf, co, 0);
    check = finishSum(l4Sum(pv));
    if (udp && check === 0) check = 0xffff;
  }
  buf[co] = check >>> 8;
  buf[co + 1] = check & 0xff;
  if (af === 4) ipv4AddrChanged(buf, pv.l3off, old[0], words[woff]);
}
