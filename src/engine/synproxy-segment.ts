/**
 * The SYN proxy's TCP segments (synproxy.ts): the options of the packet in hand, read
 * into one scratch array, the sequence-space rewrites with their checksum fix-up, the
 * segments the proxy writes (SYN-ACKs to clients, SYNs and ACKs to real servers) and
 * the verdicts that send them. Allocation-free.
 */
import { CONN_F_MASQ, IPPROTO_TCP, type AddressFamily } from './constants.js';
import { V_FORWARD, V_REPLY } from './drop.js';
import type { Ipvs } from './ipvs.js';
import { read16, write16, write32 } from '../wire/bytes.js';
import { csumReplace32, l4ChecksumFill, l4PartialFill } from '../wire/checksum.js';
import { IPV4_FLAG_DF, writeIpv4Header } from '../wire/ipv4.js';
import {
  TCP_ACK,
  TCP_CHECKSUM,
  TCP_DOFF,
  TCP_FLAGS,
  TCP_HLEN,
  TCP_SEQ,
  TCP_WINDOW,
  TCPOPT_MSS,
  TCPOPT_NOP,
  TCPOPT_SACK_PERM,
  TCPOPT_TIMESTAMP,
  TCPOPT_WSCALE,
  tcpOptionFind,
} from '../wire/tcp.js';
import type { PacketView } from '../wire/packet.js';

// TCP options of the packet in hand (module scratch: no object per packet;
// an Int32Array, not module `let`s: a number above 2^31 in a module variable is a
// heap allocation)
export const OPT = new Int32Array(6);
export const O_MSS = 0;
export const O_WS = 1;
export const O_SACK = 2;
/** Offset of the timestamp option in the buffer, or -1. */
export const O_TS = 3;
export const O_TSVAL = 4;
export const O_TSECR = 5;

export function readOptions(pv: PacketView): void {
  const o = OPT;
  o[O_MSS] = 0;
  o[O_WS] = -1;
  o[O_SACK] = 0;
  o[O_TS] = -1;
  o[O_TSVAL] = 0;
  o[O_TSECR] = 0;
  const b = pv.buf;
  const off = pv.l4off;
  const doff = pv.tcpDoff;
  let p = tcpOptionFind(b, off, doff, TCPOPT_MSS);
  if (p >= 0 && b[p + 1] === 4) o[O_MSS] = (b[p + 2] << 8) | b[p + 3];
  p = tcpOptionFind(b, off, doff, TCPOPT_WSCALE);
  if (p >= 0 && b[p + 1] === 3) o[O_WS] = b[p + 2] > 14 ? 14 : b[p + 2];
  p = tcpOptionFind(b, off, doff, TCPOPT_SACK_PERM);
  if (p >= 0 && b[p + 1] === 2) o[O_SACK] = 1;
  p = tcpOptionFind(b, off, doff, TCPOPT_TIMESTAMP);
  if (p >= 0 && b[p + 1] === 10) {
    o[O_TS] = p;
    o[O_TSVAL] = rd32(b, p + 2);
    o[O_TSECR] = rd32(b, p + 6);
  }
}

/** A 32-bit word as an int32 (never boxed; seq arithmetic is modulo 2^32 anyway). */
export function rd32(b: Uint8Array, o: number): number {
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
}

/**
 * Replace the 32-bit word at `o` of the TCP segment in `pv`, keeping its checksum
 * right (incrementally when the word is 16-bit aligned within the segment, else in
 * full); a partial (offload) sum does not cover it and is left alone.
 */
export function set32(ipvs: Ipvs, pv: PacketView, o: number, v: number): void {
  const b = pv.buf;
  const old = rd32(b, o);
  write32(b, o, v);
  if (ipvs.partial) return;
  if (((o - pv.l4off) & 1) === 0) {
    write16(b, pv.csumOff, csumReplace32(read16(b, pv.csumOff), old, v));
  } else {
    l4ChecksumFill(b, pv.af, pv.saddrOff, pv.daddrOff, IPPROTO_TCP, pv.l4off, pv.l4len);
  }
}

// ---------------------------------------------------------------------------
// Segments the proxy writes

/**
 * Write a TCP segment with an IP header into `b` at 0; returns its length. Options:
 * MSS (`mss` > 0), SACK-permitted, timestamps (`ts`), window scale (`ws` ≥ 0).
 */
export function writeSegment(
  ipvs: Ipvs,
  b: Uint8Array,
  af: AddressFamily,
  src: ArrayLike<number>,
  soff: number,
  dst: ArrayLike<number>,
  doff: number,
  sport: number,
  dport: number,
  seq: number,
  ack: number,
  flags: number,
  win: number,
  ttl: number,
  mss: number,
  sackPerm: boolean,
  ts: boolean,
  tsval: number,
  tsecr: number,
  ws: number,
  full: boolean,
): number {
  const ih = af === 4 ? 20 : 40;
  let p = ih + TCP_HLEN;
  if (mss > 0) {
    b[p] = TCPOPT_MSS;
    b[p + 1] = 4;
    write16(b, p + 2, mss);
    p += 4;
  }
  if (ts) {
    if (sackPerm) {
      b[p] = TCPOPT_SACK_PERM;
      b[p + 1] = 2;
    } else {
      b[p] = TCPOPT_NOP;
      b[p + 1] = TCPOPT_NOP;
    }
    b[p + 2] = TCPOPT_TIMESTAMP;
    b[p + 3] = 10;
    write32(b, p + 4, tsval);
    write32(b, p + 8, tsecr);
    p += 12;
  } else if (sackPerm) {
    b[p] = TCPOPT_NOP;
    b[p + 1] = TCPOPT_NOP;
    b[p + 2] = TCPOPT_SACK_PERM;
    b[p + 3] = 2;
    p += 4;
  }
  if (ws >= 0) {
    b[p] = TCPOPT_NOP;
    b[p + 1] = TCPOPT_WSCALE;
    b[p + 2] = 3;
    b[p + 3] = ws;
    p += 4;
  }
  const l4len = p - ih;
  write16(b, ih, sport);
  write16(b, ih + 2, dport);
  write32(b, ih + TCP_SEQ, seq);
  write32(b, ih + TCP_ACK, ack);
  b[ih + TCP_DOFF] = (l4len >>> 2) << 4;
  b[ih + TCP_FLAGS] = flags;
  write16(b, ih + TCP_WINDOW, win);
  write16(b, ih + TCP_CHECKSUM, 0);
  write16(b, ih + 18, 0);
  if (af === 4) {
    writeIpv4Header(b, 0, 0, p, 0, IPV4_FLAG_DF, ttl, IPPROTO_TCP, src[soff], dst[doff]);
  } else {
    write32(b, 0, 0x60000000);
    write16(b, 4, l4len);
    b[6] = IPPROTO_TCP;
    b[7] = ttl;
    for (let i = 0; i < 4; i++) {
      write32(b, 8 + i * 4, src[soff + i]);
      write32(b, 24 + i * 4, dst[doff + i]);
    }
  }
  const sa = af === 4 ? 12 : 8;
  const da = af === 4 ? 16 : 24;
  if (full) l4ChecksumFill(b, af, sa, da, IPPROTO_TCP, ih, l4len);
  else l4PartialFill(b, af, sa, da, IPPROTO_TCP, ih, l4len);
  return p;
}

/** The engine built a packet in its scratch buffer: REPLY it to `to` (the client). */
export function replyBuilt(
  ipvs: Ipvs,
  len: number,
  af: AddressFamily,
  to: Uint32Array,
  why: number,
): number {
  const r = ipvs.result;
  r.verdict = V_REPLY;
  r.reason = 0;
  r.why = why;
  r.buf = ipvs.scratch;
  r.off = 0;
  r.len = len;
  r.af = af;
  r.method = -1;
  for (let i = 0; i < 4; i++) r.nextHop[i] = af === 4 && i > 0 ? 0 : to[i];
  return V_REPLY;
}

/** FORWARD `buf[off..off+len)` to conn `id`'s real server (NAT). */
export function forwardToServer(
  ipvs: Ipvs,
  id: number,
  buf: Uint8Array,
  off: number,
  len: number,
  why: number,
): number {
  const c = ipvs.conns;
  const r = ipvs.result;
  r.verdict = V_FORWARD;
  r.reason = 0;
  r.why = why;
  r.buf = buf;
  r.off = off;
  r.len = len;
  r.conn = id;
  r.dest = c.dest[id];
  r.method = CONN_F_MASQ;
  const af = c.af[id] as AddressFamily;
  r.af = af;
  for (let i = 0; i < 4; i++) r.nextHop[i] = af === 4 && i > 0 ? 0 : c.daddr[id * 4 + i];
  return V_FORWARD;
}

/** The MSS the proxy offers clients: the path MTU less the headers. */
export function ourMss(ipvs: Ipvs, af: AddressFamily): number {
  return ipvs.mtu - (af === 4 ? 40 : 60);
}
