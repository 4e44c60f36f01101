/**
 * virtual_server_group (keepalived's vsg_handler/alloc_vsg_entry, check_data.c): a named
 * list of addresses with ports, address ranges and fwmarks that one or several
 * `virtual_server group NAME` blocks share; each address of each range becomes one
 * IPVS service, as keepalived's ipvs_group_range_cmd programs them.
 *
 * Entry forms, as keepalived reads them:
 * - `ADDR [PORT]`; a port of 0 (or none) means port 0;
 * - `A.B.C.D-E` (the last octet runs to E, decimal) and `X::Y-Z` (the last group runs
 *   to Z, hexadecimal);
 * - `A.B.C.D-A.B.C.H` / `X::Y-X::Z` (a full end address; IPv4 counts across octets,
 *   IPv6 only the last group, as keepalived's loop does);
 * - `ADDR/LEN` (the whole prefix, which must have no host bits set);
 * - `fwmark N [inet|inet6]`.
 */
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../../wire/addr.js';
import type { KaGroup, KaGroupEntry } from './types.js';
import type { Node, Problems } from './lexer.js';
import { intOf, UINT_MAX } from './values.js';

/** The most services one entry may expand to (a /8 would be 16 million). */
export const MAX_RANGE = 65536;

function v6Words(a: string): Uint32Array | undefined {
  const w = new Uint32Array(4);
  return parseIpv6(a, w) ? w : undefined;
}

/** One group entry, or undefined when it is unusable (reported). */
function parseEntry(n: Node, gname: string, p: Problems): KaGroupEntry | undefined {
  const w = n.words.map((x) => x.v);
  if (w[0] === 'fwmark') {
    const mark = intOf(w[1], 0, UINT_MAX);
    if (mark === undefined) {
      p.warn(n.line, `(${gname}): fwmark '${w[1] ?? ''}' must be in [0, ${UINT_MAX}] - ignoring`);
      return undefined;
    }
    if (w[2] === undefined) return { kind: 'fwmark', fwmark: mark, line: n.line };
    if (w[2] !== 'inet' && w[2] !== 'inet6') {
      p.warn(n.line, `(${gname}): fwmark '${mark}' family ${w[2]} unknown - ignoring`);
      return undefined;
    }
    return { kind: 'fwmark', fwmark: mark, af: w[2] === 'inet' ? 4 : 6, line: n.line };
  }
  const text = w[0];
  let port = 0;
  if (w[1] !== undefined && !/^0+$/.test(w[1])) {
    const v = intOf(w[1], 1, 65535);
    if (v === undefined) {
      p.warn(n.line, `Invalid virtual server group IP address ${text}/port/${w[1]} - skipping`);
      return undefined;
    }
    port = v;
  }
  if (w.length > 2) p.warn(n.line, `(${gname}): extra arguments after '${text} ${w[1]}' ignored`);
  const af: 4 | 6 = text.includes(':') ? 6 : 4;
  const cut = text.search(/[-/]/);
  const base = cut < 0 ? text : text.slice(0, cut);
  const bad = (msg: string): undefined => {
    p.warn(n.line, `${msg} - ${text} - skipping`);
    return undefined;
  };
  if (af === 4) {
    const a = parseIpv4(base);
    if (a < 0) return bad('Invalid virtual server group IP address');
    let end = a;
    if (text[cut] === '/') {
      const len = intOf(text.slice(cut + 1), 1, 32);
      if (len === undefined) return bad('Invalid netmask');
      const host = len === 32 ? 0 : 2 ** (32 - len) - 1;
      if ((a & host) !== 0) return bad('Address mask bits not empty');
      end = a + host;
    } else if (text[cut] === '-') {
      const tail = text.slice(cut + 1);
      if (tail.includes('.')) {
        end = parseIpv4(tail);
        if (end < 0) return bad('Invalid range end');
        if (end < a) return bad('Address range end is less than address range start');
      } else {
        const last = intOf(tail, 0, 255);
        if (last === undefined) return bad('Virtual server group range end invalid or too large');
        if ((a & 255) >= last)
          return bad('Address range end is not greater than address range start');
        end = a - (a & 255) + last;
      }
    }
    if (end - a >= MAX_RANGE)
      return bad(`Range of more than ${MAX_RANGE} addresses not supported by tsvs`);
    return { kind: 'range', af, start: formatIpv4(a), end: formatIpv4(end), port, line: n.line };
  }
  const a = v6Words(base);
  if (!a) return bad('Invalid virtual server group IP address');
  const e = Uint32Array.from(a);
  if (text[cut] === '/') {
    const len = intOf(text.slice(cut + 1), 1, 128);
    if (len === undefined) return bad('Invalid netmask');
    for (let i = 0; i < 4; i++) {
      const bits = Math.min(32, Math.max(0, len - i * 32));
      const host = bits === 32 ? 0 : bits === 0 ? 0xffffffff : 2 ** (32 - bits) - 1;
      if ((a[i] & host) >>> 0 !== 0) return bad('Address mask bits not empty');
      e[i] = (a[i] | host) >>> 0;
    }
    // keepalived walks only the last 16 bits of an IPv6 range
    if (len < 112) return bad(`Range of more than ${MAX_RANGE} addresses not supported by tsvs`);
  } else if (text[cut] === '-') {
    const tail = text.slice(cut + 1);
    if (tail.includes(':')) {
      const t = v6Words(tail);
      if (!t) return bad('Invalid range end');
      e.set(t);
      for (let i = 0; i < 4; i++) {
        if (t[i] > a[i]) break;
        if (t[i] < a[i]) return bad('Address range end is less than address range start');
      }
      if (t[0] !== a[0] || t[1] !== a[1] || t[2] !== a[2] || t[3] >>> 16 !== a[3] >>> 16)
        return bad('IPv6 range beyond the last 16 bits not supported by tsvs');
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(tail))
        return bad('Virtual server group range end invalid or too large');
      const last = parseInt(tail, 16);
      if ((a[3] & 0xffff) >= last)
        return bad('Address range end is not greater than address range start');
      e[3] = ((a[3] & 0xffff0000) | last) >>> 0;
    }
  }
  return { kind: 'range', af, start: formatIpv6(a), end: formatIpv6(e), port, line: n.line };
}

/** A virtual_server_group block; undefined (reported) when it is left with no entry. */
export function parseGroup(n: Node, p: Problems): KaGroup | undefined {
  const name = n.words[1]?.v;
  if (name === undefined) {
    p.error(n.line, 'virtual_server_group without a name, block skipped');
    return undefined;
  }
  const g: KaGroup = { name, entries: [], line: n.line };
  for (const s of n.children ?? []) {
    if (!s.words.length) continue;
    if (s.children)
      p.warn(s.line, `(${name}): '${s.words[0].v}' takes no block, block contents ignored`);
    const e = parseEntry(s, name, p);
    if (e) g.entries.push(e);
  }
  const v4 = g.entries.some((e) => e.af === 4);
  const v6 = g.entries.some((e) => e.af === 6);
  const bareMark = g.entries.some((e) => e.kind === 'fwmark' && e.af === undefined);
  if (!g.entries.length) {
    p.warn(n.line, `virtual server group ${name} has no entries - removing`);
    return undefined;
  }
  if (v4 && v6 && bareMark) {
    p.warn(
      n.line,
      `virtual server group ${name} cannot have IPv4, IPv6 and fwmark without family - removing`,
    );
    return undefined;
  }
  return g;
}

/** Every address of a range entry, in order. */
export function rangeAddrs(e: Extract<KaGroupEntry, { kind: 'range' }>): string[] {
  if (e.af === 4) {
    const a = parseIpv4(e.start);
    const b = parseIpv4(e.end);
    const out: string[] = [];
    for (let x = a; x <= b; x++) out.push(formatIpv4(x >>> 0));
    return out;
  }
  const a = v6Words(e.start)!;
  const last = v6Words(e.end)![3] & 0xffff;
  const out: string[] = [];
  for (let g = a[3] & 0xffff; g <= last; g++) {
    a[3] = ((a[3] & 0xffff0000) | g) >>> 0;
    out.push(formatIpv6(a));
  }
  return out;
}
