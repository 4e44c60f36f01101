/**
 * SCTP (RFC 9260 §3): the common header's named offsets and accessors, the chunk
 * header walk (type, flags, length; every read bounds-checked against the end of the
 * packet, a malformed chunk is a -1, never an exception), and the CRC32c checksum of
 * the whole packet (no pseudo-header: the addresses are not covered).
 *
 * The checksum field holds the CRC as the kernel's `sctp_compute_cksum` stores it: the
 * 32-bit value in little-endian byte order (RFC 9260 Appendix A).
 */
import { read16, write16 } from './bytes.js';
import { CRC32C_INIT, crc32cUpdate, crc32cZeros } from './crc32c.js';

export const SCTP_SPORT = 0;
export const SCTP_DPORT = 2;
/** Verification tag. */
export const SCTP_VTAG = 4;
/** CRC32c, little-endian. */
export const SCTP_CHECKSUM = 8;
/** Common header length; the first chunk starts here. */
export const SCTP_HLEN = 12;

/** Chunk header (RFC 9260 §3.2): type, flags, length (header + value, padding excluded). */
export const CHUNK_TYPE = 0;
export const CHUNK_FLAGS = 1;
export const CHUNK_LENGTH = 2;
export const CHUNK_HLEN = 4;

/** Chunk types (RFC 9260 §3.2, and the extensions' that a name is printed for). */
export const SCTP_CID_DATA = 0;
export const SCTP_CID_INIT = 1;
export const SCTP_CID_INIT_ACK = 2;
export const SCTP_CID_SACK = 3;
export const SCTP_CID_HEARTBEAT = 4;
export const SCTP_CID_HEARTBEAT_ACK = 5;
export const SCTP_CID_ABORT = 6;
export const SCTP_CID_SHUTDOWN = 7;
export const SCTP_CID_SHUTDOWN_ACK = 8;
export const SCTP_CID_ERROR = 9;
export const SCTP_CID_COOKIE_ECHO = 10;
export const SCTP_CID_COOKIE_ACK = 11;
export const SCTP_CID_ECN_ECNE = 12;
export const SCTP_CID_ECN_CWR = 13;
export const SCTP_CID_SHUTDOWN_COMPLETE = 14;
export const SCTP_CID_AUTH = 15;
export const SCTP_CID_I_DATA = 64;
export const SCTP_CID_ASCONF_ACK = 128;
export const SCTP_CID_RECONF = 130;
export const SCTP_CID_PAD = 132;
export const SCTP_CID_FWD_TSN = 192;
export const SCTP_CID_ASCONF = 193;
export const SCTP_CID_I_FWD_TSN = 194;

const CHUNK_NAMES: ReadonlyMap<number, string> = new Map([
  [SCTP_CID_DATA, 'DATA'],
  [SCTP_CID_INIT, 'INIT'],
  [SCTP_CID_INIT_ACK, 'INIT_ACK'],
  [SCTP_CID_SACK, 'SACK'],
  [SCTP_CID_HEARTBEAT, 'HEARTBEAT'],
  [SCTP_CID_HEARTBEAT_ACK, 'HEARTBEAT_ACK'],
  [SCTP_CID_ABORT, 'ABORT'],
  [SCTP_CID_SHUTDOWN, 'SHUTDOWN'],
  [SCTP_CID_SHUTDOWN_ACK, 'SHUTDOWN_ACK'],
  [SCTP_CID_ERROR, 'ERROR'],
  [SCTP_CID_COOKIE_ECHO, 'COOKIE_ECHO'],
  [SCTP_CID_COOKIE_ACK, 'COOKIE_ACK'],
  [SCTP_CID_ECN_ECNE, 'ECNE'],
  [SCTP_CID_ECN_CWR, 'CWR'],
  [SCTP_CID_SHUTDOWN_COMPLETE, 'SHUTDOWN_COMPLETE'],
  [SCTP_CID_AUTH, 'AUTH'],
  [SCTP_CID_I_DATA, 'I_DATA'],
  [SCTP_CID_ASCONF_ACK, 'ASCONF_ACK'],
  [SCTP_CID_RECONF, 'RE_CONFIG'],
  [SCTP_CID_PAD, 'PAD'],
  [SCTP_CID_FWD_TSN, 'FORWARD_TSN'],
  [SCTP_CID_ASCONF, 'ASCONF'],
  [SCTP_CID_I_FWD_TSN, 'I_FORWARD_TSN'],
]);

/** A chunk type's name ("INIT", "COOKIE_ECHO"); `CHUNK_<n>` for others. */
export function sctpChunkName(type: number): string {
  return CHUNK_NAMES.get(type) ?? `CHUNK_${type}`;
}

export function sctpSport(buf: Uint8Array, off: number): number {
  return read16(buf, off + SCTP_SPORT);
}
export function setSctpSport(buf: Uint8Array, off: number, v: number): void {
  write16(buf, off + SCTP_SPORT, v);
}
export function sctpDport(buf: Uint8Array, off: number): number {
  return read16(buf, off + SCTP_DPORT);
}
export function setSctpDport(buf: Uint8Array, off: number, v: number): void {
  write16(buf, off + SCTP_DPORT, v);
}
/** The verification tag (unsigned). */
export function sctpVtag(buf: Uint8Array, off: number): number {
  const o = off + SCTP_VTAG;
  return ((buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]) >>> 0;
}
/**
 * The checksum field as the CRC value it holds (read little-endian), as an int32 with
 * the CRC's bits (`>>> 0` gives the unsigned value): a uint32 ≥ 2^31 returned from a
 * call V8 does not inline is boxed, i.e. allocated, and this runs per packet.
 */
export function sctpChecksum(buf: Uint8Array, off: number): number {
  const o = off + SCTP_CHECKSUM;
  return buf[o] | (buf[o + 1] << 8) | (buf[o + 2] << 16) | (buf[o + 3] << 24);
}
/** Store a CRC value in the checksum field (little-endian). */
export function setSctpChecksum(buf: Uint8Array, off: number, crc: number): void {
  const o = off + SCTP_CHECKSUM;
  buf[o] = crc;
  buf[o + 1] = crc >>> 8;
  buf[o + 2] = crc >>> 16;
  buf[o + 3] = crc >>> 24;
}

/**
 * The type of the chunk at `at`, or -1 when its 4-byte header does not fit before
 * `end` (the end of the SCTP packet).
 */
export function sctpChunkType(buf: Uint8Array, at: number, end: number): number {
  return at >= 0 && at + CHUNK_HLEN <= end ? buf[at + CHUNK_TYPE] : -1;
}
/** The flags of the chunk at `at` (its header is known to fit). */
export function sctpChunkFlags(buf: Uint8Array, at: number): number {
  return buf[at + CHUNK_FLAGS];
}
/** The length field of the chunk at `at` (header + value, without padding). */
export function sctpChunkLength(buf: Uint8Array, at: number): number {
  return read16(buf, at + CHUNK_LENGTH);
}

/**
 * Offset of the chunk after the one at `at` (its length rounded up to 4 bytes), or -1
 * when the chunk at `at` is cut before `end` or its length is below the header's 4
 * bytes (a malformed chunk: the walk cannot go on). The result may equal `end` (no
 * more chunks).
 */
export function sctpNextChunk(buf: Uint8Array, at: number, end: number): number {
  if (at < 0 || at + CHUNK_HLEN > end) return -1;
  const len = read16(buf, at + CHUNK_LENGTH);
  if (len < CHUNK_HLEN) return -1;
  const next = at + ((len + 3) & ~3);
  // the last chunk may stop at its length, before its padding
  if (at + len > end) return -1;
  return next < end ? next : end;
}

/**
 * Walks every chunk of the SCTP packet at `buf[off .. off+len)`: returns the number of
 * chunks, or -1 when one is malformed (cut, or a length below 4) or there is none.
 */
export function sctpChunkCount(buf: Uint8Array, off: number, len: number): number {
  const end = off + len;
  let at = off + SCTP_HLEN;
  let n = 0;
  while (at < end) {
    at = sctpNextChunk(buf, at, end);
    if (at < 0) return -1;
    n++;
  }
  return n > 0 ? n : -1;
}

/**
 * The CRC32c of the SCTP packet at `buf[off .. off+len)` with its checksum field
 * taken as zero (the packet is not modified), as an int32 with the CRC's bits (see
 * {@link sctpChecksum}). `len` ≥ {@link SCTP_HLEN}.
 */
export function sctpComputeChecksum(buf: Uint8Array, off: number, len: number): number {
  let c = crc32cUpdate(CRC32C_INIT, buf, off, SCTP_CHECKSUM);
  c = crc32cZeros(c, 4);
  c = crc32cUpdate(c, buf, off + SCTP_HLEN, len - SCTP_HLEN);
  return ~c;
}

/** Does the checksum field hold the CRC32c of the packet (the kernel's sctp_csum_check)? */
export function sctpChecksumOk(buf: Uint8Array, off: number, len: number): boolean {
  return sctpChecksum(buf, off) === sctpComputeChecksum(buf, off, len);
}

/** Compute and store the checksum (the kernel's sctp_nat_csum). */
export function sctpChecksumFill(buf: Uint8Array, off: number, len: number): void {
  setSctpChecksum(buf, off, sctpComputeChecksum(buf, off, len));
}
