/**
 * NAT (masq) rewriting and the checksum rules of spec §6: incremental (RFC 1624)
 * update when nothing but addresses/ports changed, the offload (CHECKSUM_PARTIAL)
 * case where the field holds the pseudo-header sum, and full recomputation when a
 * helper changed the payload or a UDP checksum was zero.
 */
import type { AddressFamily } from '../constants.js';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from '../constants.js';
import type { PacketView } from '../../wire/packet.js';
import {
  csumReplace16,
  csumReplace32,
  finishSum,
  fold16,
  pseudoSum,
  sumBytes,
} from '../../wire/checksum.js';

export function writeAddr(
  buf: Uint8Array,
  off: number,
  w: ArrayLike<number>,
  woff: number,
  af: AddressFamily,
): void {
  const n = af === 4 ? 1 : 4;
  for (let i = 0; i < n; i++) {
    const v = w[woff + i];
    const o = off + i * 4;
    buf[o] = v >>> 24;
    buf[o + 1] = (v >>> 16) & 255;
    buf[o + 2] = (v >>> 8) & 255;
    buf[o + 3] = v & 255;
  }
}

export function writePort(buf: Uint8Array, off: number, port: number): void {
  buf[off] = port >>> 8;
  buf[off + 1] = port & 255;
}

/**
 * Decrement TTL / hop limit; the IPv4 header checksum is updated incrementally (the
 * kernel's ip_decrease_ttl). Headers reaching the director were verified by the IP
 * layer, so incremental updates give what a full recomputation would.
 */
export function decTtl(pv: PacketView): void {
  const b = pv.buf;
  if (pv.af === 4) {
    const o = pv.l3off;
    const ttl = b[o + 8];
    b[o + 8] = (ttl - 1) & 255;
    // the TTL is the high byte of the 16-bit word at offset 8: subtracting 0x0100
    const c = csumReplace16((b[o + 10] << 8) | b[o + 11], ttl << 8, ((ttl - 1) & 255) << 8);
    b[o + 10] = c >>> 8;
    b[o + 11] = c & 255;
  } else {
    b[pv.l3off + 7] = (b[pv.l3off + 7] - 1) & 255;
  }
}

/** Incremental IPv4 header checksum update for a changed 32-bit address word. */
function ipv4AddrChanged(b: Uint8Array, l3off: number, oldW: number, newW: number): void {
  const c = csumReplace32((b[l3off + 10] << 8) | b[l3off + 11], oldW, newW);
  b[l3off + 10] = c >>> 8;
  b[l3off + 11] = c & 255;
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
    if (pv.af === 4 && buf[pv.csumOff] === 0 && buf[pv.csumOff + 1] === 0) return true;
    return fold16(l4Sum(pv)) === 0xffff;
  }
  if (pv.proto === IPPROTO_ICMP) return fold16(sumBytes(buf, pv.l4off, pv.l4len)) === 0xffff;
  return fold16(l4Sum(pv)) === 0xffff;
}

/** Recompute the ICMP (v4: no pseudo-header) or ICMPv6 checksum in full. */
export function icmpChecksumFill(pv: PacketView): void {
  const buf = pv.buf;
  const co = pv.l4off + 2;
  buf[co] = buf[co + 1] = 0;
  const s = pv.af === 4 ? finishSum(sumBytes(buf, pv.l4off, pv.l4len)) : finishSum(l4Sum(pv));
  buf[co] = s >>> 8;
  buf[co + 1] = s & 255;
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
  const portOff = pv.l4off + (isDst ? 2 : 0);
  const oldPort = isDst ? pv.dport : pv.sport;
  const hasL4 = pv.frag !== 2 && (pv.proto === IPPROTO_TCP || pv.proto === IPPROTO_UDP);
  if (!hasL4) {
    writeAddr(buf, addrOff, words, woff, af);
    if (af === 4) ipv4AddrChanged(buf, pv.l3off, old[0], words[woff]);
    return;
  }
  const co = pv.csumOff;
  let check = (buf[co] << 8) | buf[co + 1];
  const udp = pv.proto === IPPROTO_UDP;
  writeAddr(buf, addrOff, words, woff, af);
  writePort(buf, portOff, port);
  if (partial) {
    // the field is the folded, non-complemented pseudo-header sum
    check = fold16(pseudoSum(buf, pv.saddrOff, pv.daddrOff, af === 4 ? 4 : 16, pv.proto, pv.l4len));
  } else if (!full && (!udp || check !== 0)) {
    for (let i = 0; i < nw; i++) check = csumReplace32(check, old[i], words[woff + i]);
    check = csumReplace16(check, oldPort, port);
    if (udp && check === 0) check = 0xffff;
  } else if (pv.frag === 0) {
    buf[co] = buf[co + 1] = 0;
    check = finishSum(l4Sum(pv));
    if (udp && check === 0) check = 0xffff;
  }
  buf[co] = check >>> 8;
  buf[co + 1] = check & 255;
  if (af === 4) ipv4AddrChanged(buf, pv.l3off, old[0], words[woff]);
}
