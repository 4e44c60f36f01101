/** UDP header (RFC 768): named offsets and thin accessors over `(buf, off)`. */
import { read16, write16 } from './bytes.js';

export const UDP_SPORT = 0;
export const UDP_DPORT = 2;
/** UDP length: header + data, as the sender wrote it. */
export const UDP_LENGTH = 4;
export const UDP_CHECKSUM = 6;
export const UDP_HLEN = 8;

export function udpSport(buf: Uint8Array, off: number): number {
  return read16(buf, off + UDP_SPORT);
}
export function setUdpSport(buf: Uint8Array, off: number, v: number): void {
  write16(buf, off + UDP_SPORT, v);
}
export function udpDport(buf: Uint8Array, off: number): number {
  return read16(buf, off + UDP_DPORT);
}
export function setUdpDport(buf: Uint8Array, off: number, v: number): void {
  write16(buf, off + UDP_DPORT, v);
}
export function udpLength(buf: Uint8Array, off: number): number {
  return read16(buf, off + UDP_LENGTH);
}
export function setUdpLength(buf: Uint8Array, off: number, v: number): void {
  write16(buf, off + UDP_LENGTH, v);
}
export function udpChecksum(buf: Uint8Array, off: number): number {
  return read16(buf, off + UDP_CHECKSUM);
}
export function setUdpChecksum(buf: Uint8Array, off: number, v: number): void {
  write16(buf, off + UDP_CHECKSUM, v);
}

/**
 * Write an 8-byte UDP header. `checksum` is stored as given (0: none, IPv4 only; fill
 * it later with the pseudo-header sum once the payload is in place).
 */
export function writeUdpHeader(
  buf: Uint8Array,
  off: number,
  sport: number,
  dport: number,
  length: number,
  checksum: number,
): void {
  write16(buf, off + UDP_SPORT, sport);
  write16(buf, off + UDP_DPORT, dport);
  write16(buf, off + UDP_LENGTH, length);
  write16(buf, off + UDP_CHECKSUM, checksum);
}
