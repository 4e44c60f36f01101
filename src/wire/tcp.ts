/**
 * TCP header (RFC 9293): named offsets, flag bits and thin accessors over `(buf, off)`,
 * where `off` is the start of the TCP header.
 */
import { read16, read32, write16, write32 } from './bytes.js';

export const TCP_SPORT = 0;
export const TCP_DPORT = 2;
export const TCP_SEQ = 4;
export const TCP_ACK = 8;
/** Data offset in 32-bit words (high nibble). */
export const TCP_DOFF = 12;
export const TCP_FLAGS = 13;
export const TCP_WINDOW = 14;
export const TCP_CHECKSUM = 16;
export const TCP_URGENT = 18;
/** Header length without options. */
export const TCP_HLEN = 20;
export const TCP_MAX_HLEN = 60;

/** Flag bits of byte 13. */
export const TCP_FLAG_FIN = 0x01;
export const TCP_FLAG_SYN = 0x02;
export const TCP_FLAG_RST = 0x04;
export const TCP_FLAG_PSH = 0x08;
export const TCP_FLAG_ACK = 0x10;
export const TCP_FLAG_URG = 0x20;
export const TCP_FLAG_ECE = 0x40;
export const TCP_FLAG_CWR = 0x80;

/** The flag bits by name, for code that prefers `TcpFlag.SYN`. */
export const TcpFlag = {
  FIN: TCP_FLAG_FIN,
  SYN: TCP_FLAG_SYN,
  RST: TCP_FLAG_RST,
  PSH: TCP_FLAG_PSH,
  ACK: TCP_FLAG_ACK,
  URG: TCP_FLAG_URG,
  ECE: TCP_FLAG_ECE,
  CWR: TCP_FLAG_CWR,
} as const;

/** Option kinds. */
export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WSCALE = 3;
export const TCPOPT_SACK_PERM = 4;
export const TCPOPT_SACK = 5;
export const TCPOPT_TIMESTAMP = 8;

export function tcpSport(buf: Uint8Array, off: number): number {
  return read16(buf, off + TCP_SPORT);
}
export function setTcpSport(buf: Uint8Array, off: number, v: number): void {
  write16(buf, off + TCP_SPORT, v);
}
export function tcpDport(buf: Uint8Array, off: number): number {
  return read16(buf, off + TCP_DPORT);
}
export function setTcpDport(buf: Uint8Array, off: number, v: number): void {
  write16(buf, off + TCP_DPORT, v);
}
export function tcpSeq(buf: Uint8Array, off: number): number {
  return read32(buf, off + TCP_SEQ);
}
export function setTcpSeq(buf: Uint8Array, off: number, v: number): void {
  write32(buf, off + TCP_SEQ, v);
}
export function tcpAck(buf: Uint8Array, off: number): number {
  return read32(buf, off + TCP_ACK);
}
export function setTcpAck(buf: Uint8Array, off: number, v: number): void {
  write32(buf, off + TCP_ACK, v);
}
/** Header length in bytes (data offset × 4). */
export function tcpDoff(buf: Uint8Array, off: number): number {
  return (buf[off + TCP_DOFF] >>> 4) << 2;
}
export function tcpFlags(buf: Uint8Array, off: number): number {
  return buf[off + TCP_FLAGS];
}
export function setTcpFlags(buf: Uint8Array, off: number, v: number): void {
  buf[off + TCP_FLAGS] = v;
}
export function tcpWindow(buf: Uint8Array, off: number): number {
  return read16(buf, off + TCP_WINDOW);
}
export function setTcpWindow(buf: Uint8Array, off: number, v: number): void {
  write16(buf, off + TCP_WINDOW, v);
}
export function tcpChecksum(buf: Uint8Array, off: number): number {
  return read16(buf, off + TCP_CHECKSUM);
}
export function setTcpChecksum(buf: Uint8Array, off: number, v: number): void {
  write16(buf, off + TCP_CHECKSUM, v);
}

/**
 * Offset (absolute, in `buf`) of the first option of `kind` in the TCP header at `off`
 * with header length `doff`, or -1. Stops at EOL and at a malformed length, so it is
 * safe on any bytes within the header.
 */
export function tcpOptionFind(buf: Uint8Array, off: number, doff: number, kind: number): number {
  const end = off + doff;
  let p = off + TCP_HLEN;
  while (p < end) {
    const k = buf[p];
    if (k === TCPOPT_EOL) return -1;
    if (k === TCPOPT_NOP) {
      p++;
      continue;
    }
    if (p + 1 >= end) return -1;
    const len = buf[p + 1];
    if (len < 2 || p + len > end) return -1;
    if (k === kind) return p;
    p += len;
  }
  return -1;
}

/** tcpdump-style flag letters ("S", "S.", "P.", "F.", "R"); allocates, for traces only. */
export function tcpFlagsString(flags: number): string {
  let s = '';
  if (flags & TCP_FLAG_FIN) s += 'F';
  if (flags & TCP_FLAG_SYN) s += 'S';
  if (flags & TCP_FLAG_RST) s += 'R';
  if (flags & TCP_FLAG_PSH) s += 'P';
  if (flags & TCP_FLAG_URG) s += 'U';
  if (flags & TCP_FLAG_ECE) s += 'E';
  if (flags & TCP_FLAG_CWR) s += 'W';
  if (flags & TCP_FLAG_ACK) s += '.';
  return s === '' ? 'none' : s;
}
