/**
 * SCTP packets for the engine tests, built here without src/wire: an IPv4 or IPv6
 * header, the common header and the chunks asked for, and a CRC32c from a plain
 * bit-at-a-time implementation (so the engine's slicing CRC and its NAT rewrites are
 * checked against a second one).
 */
import { isIPv4 } from 'node:net';
import { ipBytes, naiveSum } from '../helpers/packets.js';

export const DATA = 0;
export const INIT = 1;
export const INIT_ACK = 2;
export const SACK = 3;
export const HEARTBEAT = 4;
export const HEARTBEAT_ACK = 5;
export const ABORT = 6;
export const SHUTDOWN = 7;
export const SHUTDOWN_ACK = 8;
export const ERROR = 9;
export const COOKIE_ECHO = 10;
export const COOKIE_ACK = 11;
export const ECNE = 12;
export const CWR = 13;
export const SHUTDOWN_COMPLETE = 14;
export const AUTH = 15;
export const ASCONF = 193;

/** One chunk: its type, and optionally flags, value bytes and a forged length field. */
export interface ChunkSpec {
  type: number;
  flags?: number;
  /** Value bytes (default: a plausible size for the type, zero-filled). */
  value?: Uint8Array;
  /** Length field to write instead of 4 + value length (malformed chunks). */
  length?: number;
}

export interface SctpSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  vtag?: number;
  /** Chunk types or full chunk specs, in order (none: a bare common header). */
  chunks: (number | ChunkSpec)[];
  ttl?: number;
  /** Store a wrong CRC. */
  badCrc?: boolean;
}

/** Value length of a typical chunk of each type (RFC 9260 §3.3). */
function defaultValue(type: number): number {
  switch (type) {
    case INIT:
    case INIT_ACK:
      return 16; // init tag, a_rwnd, streams, initial TSN (no parameters)
    case DATA:
      return 12 + 5; // TSN, stream, SSN, PPID + 5 bytes of user data
    case SACK:
      return 12;
    case SHUTDOWN:
      return 4;
    case COOKIE_ECHO:
      return 24;
    case HEARTBEAT:
    case HEARTBEAT_ACK:
      return 8;
    default:
      return 0;
  }
}

/** CRC-32C bit by bit (reflected 0x1EDC6F41, init and final xor all ones). */
export function crc32cBitwise(b: ArrayLike<number>, start = 0, end = b.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) {
    crc ^= b[i];
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** The SCTP checksum of the SCTP packet at `b[l4 ..]`: CRC32c with the field zeroed. */
export function sctpCrc(b: Uint8Array, l4: number): number {
  const c = b.slice(l4);
  c.fill(0, 8, 12);
  return crc32cBitwise(c);
}

/** The CRC stored in the SCTP packet at `b[l4 ..]` (little-endian). */
export function storedCrc(b: Uint8Array, l4: number): number {
  return (b[l4 + 8] | (b[l4 + 9] << 8) | (b[l4 + 10] << 16) | (b[l4 + 11] << 24)) >>> 0;
}

/** Offset of the SCTP header in an IPv4 (no options) or IPv6 packet. */
export function l4Of(b: Uint8Array): number {
  return b[0] >> 4 === 4 ? (b[0] & 15) * 4 : 40;
}

/** Does the packet carry a valid SCTP checksum (by the bitwise CRC)? */
export function sctpCrcValid(b: Uint8Array): boolean {
  const l4 = l4Of(b);
  return storedCrc(b, l4) === sctpCrc(b, l4);
}

/** Build an IPv4 or IPv6 SCTP packet with a valid (or, asked for, wrong) CRC32c. */
export function sctpPacket(p: SctpSpec): Uint8Array {
  const v6 = !isIPv4(p.src);
  const chunks: Uint8Array[] = [];
  for (const c0 of p.chunks) {
    const c: ChunkSpec = typeof c0 === 'number' ? { type: c0 } : c0;
    const value = c.value ?? new Uint8Array(defaultValue(c.type));
    const len = 4 + value.length;
    const padded = (len + 3) & ~3;
    const b = new Uint8Array(padded);
    b[0] = c.type;
    b[1] = c.flags ?? 0;
    const lf = c.length ?? len;
    b[2] = lf >> 8;
    b[3] = lf & 255;
    b.set(value, 4);
    chunks.push(b);
  }
  const l4len = 12 + chunks.reduce((n, c) => n + c.length, 0);
  const ipHdr = v6 ? 40 : 20;
  const b = new Uint8Array(ipHdr + l4len);
  if (!v6) {
    b[0] = 0x45;
    b[2] = b.length >> 8;
    b[3] = b.length & 255;
    b[6] = 0x40;
    b[8] = p.ttl ?? 64;
    b[9] = 132;
    b.set(ipBytes(p.src), 12);
    b.set(ipBytes(p.dst), 16);
    const hs = 0xffff - naiveSum(b, 0, 20);
    b[10] = hs >> 8;
    b[11] = hs & 255;
  } else {
    b[0] = 0x60;
    b[4] = l4len >> 8;
    b[5] = l4len & 255;
    b[6] = 132;
    b[7] = p.ttl ?? 64;
    b.set(ipBytes(p.src), 8);
    b.set(ipBytes(p.dst), 24);
  }
  const o = ipHdr;
  b[o] = p.sport >> 8;
  b[o + 1] = p.sport & 255;
  b[o + 2] = p.dport >> 8;
  b[o + 3] = p.dport & 255;
  const tag = p.vtag ?? 0x01020304;
  b[o + 4] = tag >>> 24;
  b[o + 5] = (tag >>> 16) & 255;
  b[o + 6] = (tag >>> 8) & 255;
  b[o + 7] = tag & 255;
  let at = o + 12;
  for (const c of chunks) {
    b.set(c, at);
    at += c.length;
  }
  const crc = (sctpCrc(b, o) ^ (p.badCrc ? 0x5a5a5a5a : 0)) >>> 0;
  b[o + 8] = crc & 255;
  b[o + 9] = (crc >>> 8) & 255;
  b[o + 10] = (crc >>> 16) & 255;
  b[o + 11] = crc >>> 24;
  return b;
}
