/**
 * The text of FTP commands and replies the FTP helper reads and writes (the kernel's
 * `ip_vs_ftp_get_addrport`, spec §9.2): the PORT / PASV six-number form `h1,h2,h3,h4,p1,p2`,
 * the RFC 2428 EPRT / EPSV form `<d><af><d><addr><d><port><d>`, the command and reply
 * words, and decimal output for the rewritten reply. Works on the packet bytes in place
 * and allocates nothing: results go to a caller-owned {@link FtpAddrPort}.
 */
import type { AddressFamily } from '../constants.js';
import { parseIpv4Text, parseIpv6Text } from '../../wire/addr.js';

/** Parser results besides an index: the data ended early / the text is not acceptable. */
export const INCOMPLETE = -1;
export const MALFORMED = -2;

/** ASCII bytes the grammar names. */
export const CR = 13;
export const LF = 10;
export const SPACE = 32;
export const COMMA = 44;
export const LPAREN = 40;
export const PIPE = 124;

function ascii(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

/** Command and reply words, upper case (matched case-insensitively by {@link matchWord}). */
export const W_PASV = ascii('PASV');
export const W_EPSV = ascii('EPSV');
export const W_PORT = ascii('PORT');
export const W_EPRT = ascii('EPRT');
export const W_227 = ascii('227 ');
export const W_229 = ascii('229 ');

/** ASCII 0-9. */
export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Case-insensitive match of an upper-case ASCII word at `b[i..]` (false when cut). */
export function matchWord(b: Uint8Array, i: number, end: number, w: Uint8Array): boolean {
  if (end - i < w.length) return false;
  for (let k = 0; k < w.length; k++) {
    const c = b[i + k];
    // fold a-z to A-Z; the words hold only letters, digits and spaces
    if ((c >= 97 && c <= 122 ? c - 32 : c) !== w[k]) return false;
  }
  return true;
}

/** What a parse found: the announced address (if any) and port, plus scratch. */
export class FtpAddrPort {
  /** The address as host-order words (IPv4: word 0, the rest 0). */
  readonly addr = new Uint32Array(4);
  /** False for an EPSV reply without an address (the control conn's peer is meant). */
  hasAddr = false;
  port = 0;
  /** Scratch for the IPv6 parser. */
  readonly groups = new Uint16Array(8);
}

/**
 * Six comma-separated decimal numbers 0..255 (`h1,h2,h3,h4,p1,p2`) starting at `i`,
 * then a terminator that is neither a digit nor a comma. Sets `out`'s addr/port; returns the
 * terminator's index, INCOMPLETE or MALFORMED.
 */
export function parseSix(b: Uint8Array, i: number, end: number, out: FtpAddrPort): number {
  let word = 0;
  let port = 0;
  for (let k = 0; k < 6; k++) {
    if (i >= end) return INCOMPLETE;
    if (!isDigit(b[i])) return MALFORMED;
    let v = 0;
    while (i < end && isDigit(b[i])) {
      v = v * 10 + b[i++] - 48;
      if (v > 255) return MALFORMED;
    }
    if (i >= end) return INCOMPLETE;
    if (k < 5) {
      if (b[i] !== COMMA) return MALFORMED;
      i++;
    } else if (b[i] === COMMA) {
      return MALFORMED;
    }
    if (k < 4) word = ((word << 8) | v) >>> 0;
    else port = (port << 8) | v;
  }
  const a = out.addr;
  a[0] = word;
  a[1] = a[2] = a[3] = 0;
  out.hasAddr = true;
  out.port = port;
  return i;
}

/**
 * RFC 2428 `<d><af><d><addr><d><port><d>` starting at `i`, `d` any of 33..126. `af`
 * must be the control conn's family ("1" / "2"); with `allowEmpty` (EPSV replies) the
 * family and address may be empty. The port is 1..65535. Sets `out`'s addr/hasAddr/port;
 * returns the index after the closing delimiter, INCOMPLETE or MALFORMED.
 */
export function parseExt(
  b: Uint8Array,
  i: number,
  end: number,
  af: AddressFamily,
  allowEmpty: boolean,
  out: FtpAddrPort,
): number {
  if (i >= end) return INCOMPLETE;
  const d = b[i++];
  if (d < 33 || d > 126) return MALFORMED;
  if (i >= end) return INCOMPLETE;
  out.hasAddr = false;
  if (b[i] === d) {
    // empty family: the address must be empty too
    if (!allowEmpty) return MALFORMED;
    i++;
    if (i >= end) return INCOMPLETE;
    if (b[i] !== d) return MALFORMED;
    i++;
  } else {
    if (b[i] !== (af === 4 ? 49 : 50)) return MALFORMED;
    i++;
    if (i >= end) return INCOMPLETE;
    if (b[i] !== d) return MALFORMED;
    i++;
    let j = i;
    while (j < end && b[j] !== d) j++;
    if (j >= end) return INCOMPLETE;
    if (j === i) {
      if (!allowEmpty) return MALFORMED;
    } else {
      const a = out.addr;
      if (af === 4) {
        const w = parseIpv4Text(b, i, j);
        if (w < 0) return MALFORMED;
        a[0] = w;
        a[1] = a[2] = a[3] = 0;
      } else if (!parseIpv6Text(b, i, j, a, out.groups)) {
        return MALFORMED;
      }
      out.hasAddr = true;
    }
    i = j + 1;
  }
  if (i >= end) return INCOMPLETE;
  if (!isDigit(b[i])) return MALFORMED;
  let port = 0;
  while (i < end && isDigit(b[i])) {
    port = port * 10 + b[i++] - 48;
    if (port > 65535) return MALFORMED;
  }
  if (i >= end) return INCOMPLETE;
  if (b[i] !== d || port === 0) return MALFORMED;
  out.port = port;
  return i + 1;
}

/** Write `v` (≥ 0) in decimal at `t[n..]`; returns the index after it. */
export function writeDec(t: Uint8Array, n: number, v: number): number {
  if (v >= 10) n = writeDec(t, n, Math.floor(v / 10));
  t[n] = 48 + (v % 10);
  return n + 1;
}
