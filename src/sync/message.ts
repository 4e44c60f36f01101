/**
 * Connection-synchronisation datagrams (spec §12): the version 1 format (default, IPv4 and
 * IPv6, 4-byte aligned records with optional parameters) and the old version 0 format
 * (IPv4 only, fixed 24-byte records). This module only encodes and decodes; what a master
 * sends and what a backup does with a record (flag masking, protocol/state checks, PE
 * lookup, conn creation) belongs to the caller.
 *
 * Byte order: every field is big-endian on the wire, except the v0 sequence options,
 * which the kernel copies raw from its in-memory struct, i.e. in the *sender's* host
 * order. All kernels we interoperate with are little-endian, so v0 seq words are written
 * and read little-endian here.
 */
import {
  CONN_F_BACKUP_MASK,
  CONN_F_BACKUP_UPD_MASK,
  CONN_F_HASHED,
  CONN_F_ONE_PACKET,
  CONN_F_SEQ_MASK,
} from '../engine/constants.js';
import { read16, read32, read32le, write16, write32, write32le } from '../wire/bytes.js';

/** Default sync port (thread i uses SYNC_PORT + i). */
export const SYNC_PORT = 8848;
/** Default IPv4 multicast group. */
export const SYNC_GROUP4 = '224.0.0.81';
/** Size of the v1 message header. */
export const SYNC_V1_HEADER = 8;
/** Size of the v0 message header. */
export const SYNC_V0_HEADER = 4;
/** Fixed part of a v1 IPv4 / IPv6 record. */
export const SYNC_V1_CONN4 = 36;
export const SYNC_V1_CONN6 = 72;
/** v0 record without / with the seq options. */
export const SYNC_V0_CONN = 24;
export const SYNC_V0_CONN_FULL = 48;
/** Most records one datagram can announce (nr_conns is one byte). */
export const SYNC_MAX_CONNS = 255;

/** v1 parameter types and the "may be skipped" flag. */
export const SYNC_OPT_SEQ_DATA = 1;
export const SYNC_OPT_PE_DATA = 2;
export const SYNC_OPT_PE_NAME = 3;
export const SYNC_OPT_F_PARAM = 0x40;
/** Length of the SEQ_DATA parameter / the v0 seq options. */
export const SYNC_SEQ_LEN = 24;
/** Longest PE data / PE name the receiver accepts. */
export const SYNC_PE_DATA_MAXLEN = 255;
export const SYNC_PE_NAME_MAXLEN = 16;

/**
 * Field offsets of the v1 message header (`struct ip_vs_sync_mesg`): reserved (0), sync
 * id, size of the whole datagram, number of records, version (1), spare (0).
 */
export const SYNC_V1_H_RESERVED = 0;
export const SYNC_V1_H_SYNCID = 1;
export const SYNC_V1_H_SIZE = 2;
export const SYNC_V1_H_NR_CONNS = 4;
export const SYNC_V1_H_VERSION = 5;
export const SYNC_V1_H_SPARE = 6;
/** The version byte of a v1 header. */
export const SYNC_PROTO_VER = 1;
/** Field offsets of the v0 message header (`struct ip_vs_sync_mesg_v0`). */
export const SYNC_V0_H_NR_CONNS = 0;
export const SYNC_V0_H_SYNCID = 1;
export const SYNC_V0_H_SIZE = 2;

/**
 * Field offsets of a v1 record (`struct ip_vs_sync_v4` / `_v6`): type (bit 0: IPv6),
 * protocol, version (high 4 bits) and size (low 12 bits), conn flags (32 bits), state,
 * ports, fwmark, timeout in seconds, then client, virtual and real server addresses
 * (4 or 16 bytes each), then the optional parameters.
 */
export const SYNC_V1_TYPE = 0;
export const SYNC_V1_PROTOCOL = 1;
export const SYNC_V1_VER_SIZE = 2;
export const SYNC_V1_FLAGS = 4;
export const SYNC_V1_STATE = 8;
export const SYNC_V1_CPORT = 10;
export const SYNC_V1_VPORT = 12;
export const SYNC_V1_DPORT = 14;
export const SYNC_V1_FWMARK = 16;
export const SYNC_V1_TIMEOUT = 20;
export const SYNC_V1_CADDR = 24;
/** Type bit of an IPv6 record; the size bits of ver_size and the version shift. */
export const SYNC_V1_TYPE_INET6 = 1;
export const SYNC_V1_SIZE_MASK = 0x0fff;
export const SYNC_V1_VER_SHIFT = 12;

/**
 * Field offsets of a v0 record (`struct ip_vs_sync_conn_v0`): reserved, protocol, ports,
 * IPv4 addresses, 16-bit flags and state, then (with IN_SEQ/OUT_SEQ) the two sequence
 * records.
 */
export const SYNC_V0_RESERVED = 0;
export const SYNC_V0_PROTOCOL = 1;
export const SYNC_V0_CPORT = 2;
export const SYNC_V0_VPORT = 4;
export const SYNC_V0_DPORT = 6;
export const SYNC_V0_CADDR = 8;
export const SYNC_V0_VADDR = 12;
export const SYNC_V0_DADDR = 16;
export const SYNC_V0_FLAGS = 20;
export const SYNC_V0_STATE = 22;
export const SYNC_V0_IN_SEQ = 24;
export const SYNC_V0_OUT_SEQ = 36;

/** A v1 parameter: type, length of the data, data. */
export const SYNC_PARAM_TYPE = 0;
export const SYNC_PARAM_LEN = 1;
export const SYNC_PARAM_HLEN = 2;

/** One sequence record (`struct ip_vs_seq`): init_seq, delta, previous_delta. */
export const SYNC_SEQ_INIT = 0;
export const SYNC_SEQ_DELTA = 4;
export const SYNC_SEQ_PREV_DELTA = 8;
export const SYNC_SEQ_REC_LEN = 12;

/** Conn flags a backup takes from a v1 record (spec §0.4: 0x1F87, ONE_PACKET not in it). */
export const IP_VS_CONN_F_BACKUP_MASK = CONN_F_BACKUP_MASK;
/** Conn flags a backup updates on an existing conn (INACTIVE | SEQ_MASK). */
export const IP_VS_CONN_F_BACKUP_UPD_MASK = CONN_F_BACKUP_UPD_MASK;

/** One sequence-adjust record as the kernel keeps it (u32 values). */
export interface SyncSeq {
  initSeq: number;
  delta: number;
  previousDelta: number;
}

export interface SyncConn {
  af: 4 | 6;
  protocol: number;
  /** Conn flags as sent (v1: 32 bits; v0: 16 bits), HASHED already cleared by the encoder. */
  flags: number;
  state: number;
  /** Host-order port numbers. */
  cport: number;
  vport: number;
  dport: number;
  /** v1 only (0 in v0). */
  fwmark: number;
  /** Seconds (v1); undefined for v0 records. */
  timeout?: number;
  /** Addresses as 32-bit words, network order semantics: IPv4 one word, IPv6 four. */
  caddr: Uint32Array;
  vaddr: Uint32Array;
  daddr: Uint32Array;
  /**
   * Sequence adjustments. The encoder sends them (missing ones as zeros) iff the flags
   * have IN_SEQ or OUT_SEQ; the decoder sets both iff the record carried them (v1:
   * SEQ_DATA parameter, big-endian; v0: 24 bytes in the sender's host order, read as
   * little-endian).
   */
  inSeq?: SyncSeq;
  outSeq?: SyncSeq;
  /** Persistence-engine data and name (v1 only; each sent only when non-empty). */
  peData?: Uint8Array;
  peName?: string;
}

export interface SyncMessage {
  version: 0 | 1;
  syncId: number;
  conns: SyncConn[];
  problems: string[];
}

const UTF8_ENC = new TextEncoder();
const UTF8_DEC = new TextDecoder('utf-8');

/** UTF-8 length of `s` without encoding it. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (
      c >= 0xd800 &&
      c < 0xdc00 &&
      i + 1 < s.length &&
      (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function hasSeq(flags: number): boolean {
  return (flags & CONN_F_SEQ_MASK) !== 0;
}

/**
 * Builds one datagram at a time into a reused, growable buffer. Records are appended with
 * {@link add} until it refuses; {@link finish} then returns a copy of the datagram and
 * starts the next one.
 */
export class SyncEncoder {
  readonly version: 0 | 1;
  readonly syncId: number;
  /** Size limit of one datagram (clamped to 65535, the size field's range). */
  readonly maxLen: number;
  private buf: Uint8Array;
  private len: number;
  private nr = 0;
  private readonly header: number;

  constructor(version: 0 | 1, syncId: number, maxLen: number) {
    this.version = version;
    this.syncId = syncId & 0xff;
    this.maxLen = Math.max(0, Math.min(65535, Math.floor(maxLen)));
    this.header = version === 1 ? SYNC_V1_HEADER : SYNC_V0_HEADER;
    this.buf = new Uint8Array(Math.max(this.header, Math.min(this.maxLen, 1024)));
    this.len = this.header;
  }

  get count(): number {
    return this.nr;
  }

  get empty(): boolean {
    return this.nr === 0;
  }

  /** Current datagram length (header included). */
  get length(): number {
    return this.len;
  }

  /** Size of `c`'s record alone (v1: excluding padding, i.e. its ver_size). */
  static recordLength(version: 0 | 1, c: SyncConn): number {
    if (version === 0) return hasSeq(c.flags) ? SYNC_V0_CONN_FULL : SYNC_V0_CONN;
    let n = c.af === 6 ? SYNC_V1_CONN6 : SYNC_V1_CONN4;
    if (hasSeq(c.flags)) n += SYNC_PARAM_HLEN + SYNC_SEQ_LEN;
    if (c.peData !== undefined && c.peData.length > 0) n += SYNC_PARAM_HLEN + c.peData.length;
    if (c.peName !== undefined && c.peName.length > 0) n += SYNC_PARAM_HLEN + utf8Length(c.peName);
    return n;
  }

  /**
   * Bytes the datagram would grow by if `c` were added now: the zero padding that aligns
   * it to 4 bytes (v1) plus the record itself.
   */
  recordSize(c: SyncConn): number {
    const pad = this.version === 1 ? (4 - (this.len & 3)) & 3 : 0;
    return pad + SyncEncoder.recordLength(this.version, c);
  }

  /**
   * Append a record. Returns false, adding nothing, when the datagram would exceed
   * `maxLen` or 255 records, or when the format cannot express `c` (v0: IPv6 or
   * ONE_PACKET; v1: PE data > 255 bytes or PE name > 16 bytes). v0 does not carry
   * fwmark, timeout or PE data (silently not sent).
   */
  add(c: SyncConn): boolean {
    if (this.nr >= SYNC_MAX_CONNS) return false;
    if (this.version === 0) {
      if (c.af !== 4 || (c.flags & CONN_F_ONE_PACKET) !== 0) return false;
    } else {
      if (c.peData !== undefined && c.peData.length > SYNC_PE_DATA_MAXLEN) return false;
      if (c.peName !== undefined && utf8Length(c.peName) > SYNC_PE_NAME_MAXLEN) return false;
    }
    const rec = SyncEncoder.recordLength(this.version, c);
    const p = this.version === 1 ? (this.len + 3) & ~3 : this.len;
    const end = p + rec;
    if (end > this.maxLen) return false;
    this.reserve(end);
    // Padding bytes (v1) must be zero even though the buffer is reused.
    this.buf.fill(0, this.len, p);
    if (this.version === 1) this.writeV1(c, p, rec);
    else this.writeV0(c, p);
    this.len = end;
    this.nr++;
    return true;
  }

  /** The finished datagram (header filled in) as a fresh copy; the encoder restarts empty. */
  finish(): Uint8Array {
    const buf = this.buf;
    if (this.version === 1) {
      buf[SYNC_V1_H_RESERVED] = 0;
      buf[SYNC_V1_H_SYNCID] = this.syncId;
      write16(buf, SYNC_V1_H_SIZE, this.len);
      buf[SYNC_V1_H_NR_CONNS] = this.nr;
      buf[SYNC_V1_H_VERSION] = SYNC_PROTO_VER;
      write16(buf, SYNC_V1_H_SPARE, 0);
    } else {
      buf[SYNC_V0_H_NR_CONNS] = this.nr;
      buf[SYNC_V0_H_SYNCID] = this.syncId;
      write16(buf, SYNC_V0_H_SIZE, this.len);
    }
    const out = buf.slice(0, this.len);
    this.len = this.header;
    this.nr = 0;
    return out;
  }

  private reserve(n: number): void {
    if (n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < n) cap *= 2;
    const nb = new Uint8Array(Math.min(cap, 65535));
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
  }

  private writeV1(c: SyncConn, p: number, size: number): void {
    const buf = this.buf;
    const v6 = c.af === 6;
    const words = v6 ? 4 : 1;
    buf[p + SYNC_V1_TYPE] = v6 ? SYNC_V1_TYPE_INET6 : 0;
    buf[p + SYNC_V1_PROTOCOL] = c.protocol;
    write16(buf, p + SYNC_V1_VER_SIZE, size & SYNC_V1_SIZE_MASK);
    write32(buf, p + SYNC_V1_FLAGS, c.flags & ~CONN_F_HASHED);
    write16(buf, p + SYNC_V1_STATE, c.state);
    write16(buf, p + SYNC_V1_CPORT, c.cport);
    write16(buf, p + SYNC_V1_VPORT, c.vport);
    write16(buf, p + SYNC_V1_DPORT, c.dport);
    write32(buf, p + SYNC_V1_FWMARK, c.fwmark);
    write32(buf, p + SYNC_V1_TIMEOUT, c.timeout ?? 0);
    let q = writeAddr(buf, p + SYNC_V1_CADDR, c.caddr, words);
    q = writeAddr(buf, q, c.vaddr, words);
    q = writeAddr(buf, q, c.daddr, words);
    if (hasSeq(c.flags)) {
      q = writeParamHeader(buf, q, SYNC_OPT_SEQ_DATA, SYNC_SEQ_LEN);
      writeSeq(buf, q, c.inSeq, false);
      writeSeq(buf, q + SYNC_SEQ_REC_LEN, c.outSeq, false);
      q += SYNC_SEQ_LEN;
    }
    if (c.peData !== undefined && c.peData.length > 0) {
      q = writeParamHeader(buf, q, SYNC_OPT_PE_DATA, c.peData.length);
      buf.set(c.peData, q);
      q += c.peData.length;
    }
    if (c.peName !== undefined && c.peName.length > 0) {
      const n = utf8Length(c.peName);
      q = writeParamHeader(buf, q, SYNC_OPT_PE_NAME, n);
      UTF8_ENC.encodeInto(c.peName, buf.subarray(q, q + n));
    }
  }

  private writeV0(c: SyncConn, p: number): void {
    const buf = this.buf;
    buf[p + SYNC_V0_RESERVED] = 0;
    buf[p + SYNC_V0_PROTOCOL] = c.protocol;
    write16(buf, p + SYNC_V0_CPORT, c.cport);
    write16(buf, p + SYNC_V0_VPORT, c.vport);
    write16(buf, p + SYNC_V0_DPORT, c.dport);
    write32(buf, p + SYNC_V0_CADDR, c.caddr.length > 0 ? c.caddr[0] : 0);
    write32(buf, p + SYNC_V0_VADDR, c.vaddr.length > 0 ? c.vaddr[0] : 0);
    write32(buf, p + SYNC_V0_DADDR, c.daddr.length > 0 ? c.daddr[0] : 0);
    write16(buf, p + SYNC_V0_FLAGS, c.flags & ~CONN_F_HASHED & 0xffff);
    write16(buf, p + SYNC_V0_STATE, c.state);
    if (hasSeq(c.flags)) {
      writeSeq(buf, p + SYNC_V0_IN_SEQ, c.inSeq, true);
      writeSeq(buf, p + SYNC_V0_OUT_SEQ, c.outSeq, true);
    }
  }
}

function writeAddr(buf: Uint8Array, q: number, a: Uint32Array, words: number): number {
  for (let i = 0; i < words; i++, q += 4) write32(buf, q, i < a.length ? a[i] : 0);
  return q;
}

/** Write a v1 parameter's type and length at `q`; returns the offset of its data. */
function writeParamHeader(buf: Uint8Array, q: number, type: number, len: number): number {
  buf[q + SYNC_PARAM_TYPE] = type;
  buf[q + SYNC_PARAM_LEN] = len;
  return q + SYNC_PARAM_HLEN;
}

/** Write one sequence record (missing: zeros), little-endian for v0 (see the header). */
function writeSeq(buf: Uint8Array, q: number, s: SyncSeq | undefined, le: boolean): void {
  const w = le ? write32le : write32;
  w(buf, q + SYNC_SEQ_INIT, s?.initSeq ?? 0);
  w(buf, q + SYNC_SEQ_DELTA, s?.delta ?? 0);
  w(buf, q + SYNC_SEQ_PREV_DELTA, s?.previousDelta ?? 0);
}

/** Read one sequence record, little-endian for v0. */
function readSeq(buf: Uint8Array, q: number, le: boolean): SyncSeq {
  const r = le ? read32le : read32;
  return {
    initSeq: r(buf, q + SYNC_SEQ_INIT),
    delta: r(buf, q + SYNC_SEQ_DELTA),
    previousDelta: r(buf, q + SYNC_SEQ_PREV_DELTA),
  };
}

function readAddr(buf: Uint8Array, q: number, words: number): Uint32Array {
  const a = new Uint32Array(words);
  for (let i = 0; i < words; i++) a[i] = read32(buf, q + 4 * i);
  return a;
}

/** True when the datagram is parsed as v1 (byte 0 = 0, byte 5 = 1, bytes 6-7 = 0). */
export function isSyncV1(buf: Uint8Array): boolean {
  return (
    buf.length >= SYNC_V1_HEADER &&
    buf[SYNC_V1_H_RESERVED] === 0 &&
    buf[SYNC_V1_H_VERSION] === SYNC_PROTO_VER &&
    read16(buf, SYNC_V1_H_SPARE) === 0
  );
}

/**
 * Decode one datagram, v1 or v0 by the rule of §12.3. Never throws. Whole-datagram
 * problems (shorter than 4 bytes, size field ≠ length, foreign sync id) yield no conns;
 * record problems either drop the rest of the datagram or skip one record, exactly as
 * §12.2 lists, and are reported in `problems` ("record N: …", N counted from 0).
 * Parameters of unknown type with the 0x40 flag are skipped silently. Flags, protocol
 * and state are returned as received: masking and protocol/state checks are the caller's.
 */
export function decodeSync(buf: Uint8Array, syncId?: number): SyncMessage {
  const v1 = isSyncV1(buf);
  const msg: SyncMessage = {
    version: v1 ? 1 : 0,
    // the sync id sits at the same offset in both headers
    syncId: buf.length > SYNC_V1_H_SYNCID ? buf[SYNC_V1_H_SYNCID] : 0,
    conns: [],
    problems: [],
  };
  if (buf.length < SYNC_V0_HEADER) {
    msg.problems.push(`message too short (${buf.length} bytes)`);
    return msg;
  }
  const size = read16(buf, SYNC_V1_H_SIZE); // the same offset in both headers
  if (size !== buf.length) {
    msg.problems.push(`size field ${size} != datagram length ${buf.length}`);
    return msg;
  }
  if (syncId !== undefined && syncId !== 0 && msg.syncId !== syncId) {
    msg.problems.push(`sync id ${msg.syncId} ignored`);
    return msg;
  }
  if (v1) decodeV1(buf, msg);
  else decodeV0(buf, msg);
  return msg;
}

function decodeV0(buf: Uint8Array, msg: SyncMessage): void {
  const nr = buf[SYNC_V0_H_NR_CONNS];
  const end = buf.length;
  let p = SYNC_V0_HEADER;
  for (let i = 0; i < nr; i++) {
    if (p + SYNC_V0_CONN > end) {
      msg.problems.push(`record ${i}: truncated record; rest dropped`);
      return;
    }
    const flags = read16(buf, p + SYNC_V0_FLAGS);
    const seq = hasSeq(flags);
    if (seq && p + SYNC_V0_CONN_FULL > end) {
      msg.problems.push(`record ${i}: truncated seq options; rest dropped`);
      return;
    }
    const c: SyncConn = {
      af: 4,
      protocol: buf[p + SYNC_V0_PROTOCOL],
      flags,
      state: read16(buf, p + SYNC_V0_STATE),
      cport: read16(buf, p + SYNC_V0_CPORT),
      vport: read16(buf, p + SYNC_V0_VPORT),
      dport: read16(buf, p + SYNC_V0_DPORT),
      fwmark: 0,
      caddr: readAddr(buf, p + SYNC_V0_CADDR, 1),
      vaddr: readAddr(buf, p + SYNC_V0_VADDR, 1),
      daddr: readAddr(buf, p + SYNC_V0_DADDR, 1),
    };
    if (seq) {
      c.inSeq = readSeq(buf, p + SYNC_V0_IN_SEQ, true);
      c.outSeq = readSeq(buf, p + SYNC_V0_OUT_SEQ, true);
    }
    msg.conns.push(c);
    p += seq ? SYNC_V0_CONN_FULL : SYNC_V0_CONN;
  }
}

/** Outcome of one v1 record: the conn, a skip (problem, continue), or a drop. */
type RecordResult = SyncConn | { skip: string } | { drop: string };

function decodeV1(buf: Uint8Array, msg: SyncMessage): void {
  const nr = buf[SYNC_V1_H_NR_CONNS];
  const end = buf.length;
  let p = SYNC_V1_HEADER;
  for (let i = 0; i < nr; i++) {
    if (p + SYNC_V1_CONN4 > end) {
      msg.problems.push(`record ${i}: truncated record; rest dropped`);
      return;
    }
    const verSize = read16(buf, p + SYNC_V1_VER_SIZE);
    const size = verSize & SYNC_V1_SIZE_MASK;
    if (p + size > end) {
      msg.problems.push(`record ${i}: size ${size} exceeds datagram; rest dropped`);
      return;
    }
    if (verSize >>> SYNC_V1_VER_SHIFT !== 0) {
      msg.problems.push(
        `record ${i}: unknown version ${verSize >>> SYNC_V1_VER_SHIFT}; rest dropped`,
      );
      return;
    }
    const r = decodeV1Record(buf, p, p + size);
    if ('drop' in r) {
      msg.problems.push(`record ${i}: ${r.drop}; rest dropped`);
      return;
    }
    if ('skip' in r) msg.problems.push(`record ${i}: ${r.skip}; record skipped`);
    else msg.conns.push(r);
    p += (size + 3) & ~3;
  }
}

function decodeV1Record(buf: Uint8Array, p: number, recEnd: number): RecordResult {
  const type = buf[p + SYNC_V1_TYPE];
  let af: 4 | 6;
  if ((type & SYNC_V1_TYPE_INET6) !== 0) af = 6;
  else if (type === 0) af = 4;
  else return { drop: `unknown type ${type}` };
  const fixed = af === 6 ? SYNC_V1_CONN6 : SYNC_V1_CONN4;
  if (p + fixed > recEnd) return { drop: `size ${recEnd - p} smaller than fixed part ${fixed}` };
  const words = af === 6 ? 4 : 1;
  const c: SyncConn = {
    af,
    protocol: buf[p + SYNC_V1_PROTOCOL],
    flags: read32(buf, p + SYNC_V1_FLAGS),
    state: read16(buf, p + SYNC_V1_STATE),
    cport: read16(buf, p + SYNC_V1_CPORT),
    vport: read16(buf, p + SYNC_V1_VPORT),
    dport: read16(buf, p + SYNC_V1_DPORT),
    fwmark: read32(buf, p + SYNC_V1_FWMARK),
    timeout: read32(buf, p + SYNC_V1_TIMEOUT),
    caddr: readAddr(buf, p + SYNC_V1_CADDR, words),
    vaddr: readAddr(buf, p + SYNC_V1_CADDR + 4 * words, words),
    daddr: readAddr(buf, p + SYNC_V1_CADDR + 8 * words, words),
  };
  let seen = 0;
  let q = p + fixed;
  while (q < recEnd) {
    if (q + SYNC_PARAM_HLEN > recEnd) return { drop: 'truncated parameter header' };
    const ptype = buf[q + SYNC_PARAM_TYPE];
    const plen = buf[q + SYNC_PARAM_LEN];
    q += SYNC_PARAM_HLEN;
    if (plen === 0) return { drop: `zero-length parameter ${ptype}` };
    if (q + plen > recEnd) return { drop: `parameter ${ptype} overflows record` };
    const base = ptype & ~SYNC_OPT_F_PARAM;
    switch (base) {
      case SYNC_OPT_SEQ_DATA:
        if (plen !== SYNC_SEQ_LEN) return { drop: `SEQ_DATA length ${plen} != ${SYNC_SEQ_LEN}` };
        if (seen & (1 << base)) return { drop: `duplicate parameter ${base}` };
        c.inSeq = readSeq(buf, q, false);
        c.outSeq = readSeq(buf, q + SYNC_SEQ_REC_LEN, false);
        break;
      case SYNC_OPT_PE_DATA:
        if (seen & (1 << base)) return { drop: `duplicate parameter ${base}` };
        c.peData = buf.slice(q, q + plen);
        break;
      case SYNC_OPT_PE_NAME:
        if (plen > SYNC_PE_NAME_MAXLEN) {
          return { drop: `PE name length ${plen} > ${SYNC_PE_NAME_MAXLEN}` };
        }
        if (seen & (1 << base)) return { drop: `duplicate parameter ${base}` };
        c.peName = UTF8_DEC.decode(buf.subarray(q, q + plen));
        break;
      default:
        if ((ptype & SYNC_OPT_F_PARAM) === 0) return { skip: `unknown parameter type ${ptype}` };
    }
    if (base >= SYNC_OPT_SEQ_DATA && base <= SYNC_OPT_PE_NAME) seen |= 1 << base;
    q += plen;
  }
  return c;
}
