/**
 * Textual IP addresses: the one strict parser and the one formatter, both byte-exact with
 * glibc's inet_pton / inet_ntop (what ipvsadm and the kernel's tools print and accept).
 *
 * - Parsing accepts exactly what inet_pton accepts: IPv4 as a dotted quad of decimal
 *   numbers 0..255 without leading zeros; IPv6 as eight groups of 1–4 hex digits, at
 *   most one `::`, optionally ending in a dotted quad (RFC 4291 §2.2); no zone index, no
 *   surrounding text. The byte forms work on a range of a packet without allocating (the
 *   FTP helper parses PORT/EPRT text with them); the string forms serve configuration.
 * - IPv6 formatting is inet_ntop's: lower case, leading zeros dropped, the longest run of
 *   two or more zero groups written `::` (the first of equal runs), a single zero group
 *   written `0`; the IPv4-mapped form `::ffff:a.b.c.d` and the (deprecated) IPv4-compatible
 *   form `::a.b.c.d` for an address whose first 96 bits are zero and whose group 6 is not.
 *
 * Addresses are host-order 32-bit words (the numeric value of the big-endian bytes): an
 * IPv4 address is one word, an IPv6 address four.
 */

const DOT = 46;
const COLON = 58;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  if (l >= 97 && l <= 102) return l - 87;
  return -1;
}

/**
 * Parse a dotted-quad IPv4 address filling exactly `b[i..end)`: four decimal numbers
 * 0..255 without leading zeros. Returns the address as a host-order word, or -1.
 */
export function parseIpv4Text(b: Uint8Array, i: number, end: number): number {
  let word = 0;
  for (let k = 0; k < 4; k++) {
    if (k > 0) {
      if (i >= end || b[i] !== DOT) return -1;
      i++;
    }
    const s = i;
    let v = 0;
    while (i < end && isDigit(b[i]) && i - s < 3) v = v * 10 + b[i++] - 48;
    if (i === s || v > 255 || (b[s] === 48 && i - s > 1)) return -1;
    word = ((word << 8) | v) >>> 0;
  }
  return i === end ? word : -1;
}

/**
 * Parse a textual IPv6 address (RFC 4291 §2.2: groups of 1–4 hex digits, one `::`, an
 * optional dotted-quad tail) filling exactly `b[i..end)` into four host-order words at
 * `out`. `groups` is caller-provided scratch of 8 entries. No zone index.
 */
export function parseIpv6Text(
  b: Uint8Array,
  i: number,
  end: number,
  out: Uint32Array,
  groups: Uint16Array,
): boolean {
  let n = 0;
  let gap = -1;
  if (i >= end) return false;
  if (b[i] === COLON) {
    if (i + 1 >= end || b[i + 1] !== COLON) return false;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    const s = i;
    let v = 0;
    while (i < end && i - s < 5 && hexVal(b[i]) >= 0) v = v * 16 + hexVal(b[i++]);
    if (i < end && b[i] === DOT) {
      // dotted-quad tail: the last 32 bits
      if (n > 6) return false;
      const w = parseIpv4Text(b, s, end);
      if (w < 0) return false;
      groups[n++] = w >>> 16;
      groups[n++] = w & 0xffff;
      i = end;
      break;
    }
    if (i === s || i - s > 4 || n === 8) return false;
    groups[n++] = v;
    if (i === end) break;
    if (b[i] !== COLON) return false;
    i++;
    if (i < end && b[i] === COLON) {
      if (gap >= 0) return false;
      gap = n;
      i++;
    } else if (i === end) {
      return false; // a single trailing colon
    }
  }
  if (gap < 0 ? n !== 8 : n > 7) return false;
  // expand the gap: groups after it move to the end
  const move = gap < 0 ? 0 : 8 - n;
  for (let k = 7; k >= 0; k--) {
    let g = 0;
    if (gap < 0 || k < gap) g = groups[k];
    else if (k >= gap + move) g = groups[k - move];
    groups[k] = g;
  }
  for (let k = 0; k < 4; k++) out[k] = ((groups[2 * k] << 16) | groups[2 * k + 1]) >>> 0;
  return true;
}

/** Longest text of an address inet_pton accepts ("ffff:…:ffff:255.255.255.255"). */
const MAX_TEXT = 45;
const scratch = new Uint8Array(MAX_TEXT);
const scratchGroups = new Uint16Array(8);

/** Copy `text` into the scratch bytes (non-ASCII as 0, which no parser accepts). */
function toScratch(text: string): number {
  const n = text.length;
  if (n > MAX_TEXT) return -1;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    scratch[i] = c < 128 ? c : 0;
  }
  return n;
}

/** Parse an IPv4 dotted quad (inet_pton rules); the host-order word, or -1. */
export function parseIpv4(text: string): number {
  const n = toScratch(text);
  return n < 0 ? -1 : parseIpv4Text(scratch, 0, n);
}

/** Parse an IPv6 address (inet_pton rules) into `out[0..3]`; false if it is not one. */
export function parseIpv6(text: string, out: Uint32Array): boolean {
  const n = toScratch(text);
  return n >= 0 && parseIpv6Text(scratch, 0, n, out, scratchGroups);
}

/** Dotted-quad form of an IPv4 address word. */
export function formatIpv4(w: number): string {
  return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
}

/** The 16-bit group `i` (0..7) of the IPv6 address at `w[off..off+3]`. */
function group(w: ArrayLike<number>, off: number, i: number): number {
  const v = w[off + (i >> 1)];
  return (i & 1) === 0 ? v >>> 16 : v & 0xffff;
}

/** Text form of the IPv6 address at `w[off..off+3]`, exactly as glibc's inet_ntop writes it. */
export function formatIpv6(w: ArrayLike<number>, off = 0): string {
  // the longest run of zero groups (the first of equal ones)
  let best = -1;
  let bestLen = 0;
  let cur = -1;
  for (let i = 0; i <= 8; i++) {
    if (i < 8 && group(w, off, i) === 0) {
      if (cur < 0) cur = i;
      continue;
    }
    if (cur >= 0 && i - cur > bestLen) {
      best = cur;
      bestLen = i - cur;
    }
    cur = -1;
  }
  if (bestLen < 2) best = -1; // a single zero group is written as 0
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (best >= 0 && i >= best && i < best + bestLen) {
      if (i === best) s += ':';
      continue;
    }
    if (i !== 0) s += ':';
    // IPv4-compatible (::a.b.c.d) and IPv4-mapped (::ffff:a.b.c.d) tails
    if (
      i === 6 &&
      best === 0 &&
      (bestLen === 6 || (bestLen === 5 && group(w, off, 5) === 0xffff))
    ) {
      return s + formatIpv4(w[off + 3] >>> 0);
    }
    s += group(w, off, i).toString(16);
  }
  if (best >= 0 && best + bestLen === 8) s += ':';
  return s;
}
