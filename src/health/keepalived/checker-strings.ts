/**
 * keepalived's string forms used by the checker blocks: quoted and escaped words
 * (parser.c alloc_strvec_quoted_escaped: misc_path, regex) and hex strings
 * (parser.c read_hex_str: UDP_CHECK payload and require_reply).
 */

/** One backslash escape of keepalived's quoted/escaped strings at s[i] (after the `\`). */
function escapeAt(s: string, i: number): [string, number] {
  const c = s[i];
  const hex = /^x([0-9a-fA-F]+)/.exec(s.slice(i));
  if (hex) return [String.fromCharCode(parseInt(hex[1], 16) & 0xff), i + hex[0].length];
  if (c === 'c' && i + 1 < s.length)
    return [String.fromCharCode(s.charCodeAt(i + 1) & 0x1f), i + 2];
  const oct = /^[0-7]{1,3}/.exec(s.slice(i));
  if (oct) return [String.fromCharCode(parseInt(oct[0], 8) & 0xff), i + oct[0].length];
  const named: Record<string, string> = {
    a: '\x07',
    b: '\b',
    E: '\x1b',
    f: '\f',
    n: '\n',
    r: '\r',
    t: '\t',
    v: '\v',
  };
  return [named[c] ?? c, i + 1];
}

/**
 * keepalived's alloc_strvec_quoted_escaped (parser.c): words split at blanks, '…' and
 * "…" quoting, and backslash escapes everywhere (`\n`, `\t`, `\xHH`, octal, `\cX`;
 * any other escaped character stands for itself, so `\.` is `.`). Used for misc_path
 * and regex, the keywords keepalived reads this way.
 */
export function quotedEscapedWords(s: string): string[] {
  const out: string[] = [];
  let cur: string | null = null;
  let q: string | null = null;
  for (let i = 0; i < s.length;) {
    const ch = s[i];
    if (ch === '\\' && i + 1 < s.length) {
      const [c, next] = escapeAt(s, i + 1);
      cur = (cur ?? '') + c;
      i = next;
    } else if (q) {
      if (ch === q) q = null;
      else cur += ch;
      i++;
    } else if (ch === '"' || ch === "'") {
      q = ch;
      cur ??= '';
      i++;
    } else if (ch === ' ' || ch === '\t') {
      if (cur !== null) out.push(cur);
      cur = null;
      i++;
    } else {
      cur = (cur ?? '') + ch;
      i++;
    }
  }
  if (cur !== null) out.push(cur);
  return out;
}

/** The escapes of one word the lexer has already unquoted. */
export function unescapeWord(w: string): string {
  let out = '';
  for (let i = 0; i < w.length;) {
    if (w[i] === '\\' && i + 1 < w.length) {
      const [c, next] = escapeAt(w, i + 1);
      out += c;
      i = next;
    } else out += w[i++];
  }
  return out;
}

/**
 * keepalived's hex strings (parser.c read_hex_str): pairs of hex digits, a lone digit
 * before a space is one byte, spaces anywhere; with `mask`, an x/X digit matches
 * anything. Returns undefined for an invalid or empty string.
 */
export function parseHex(
  s: string,
  mask: boolean,
): { data: Uint8Array; mask?: Uint8Array } | undefined {
  const data: number[] = [];
  const m: number[] = [];
  let masked = false;
  let i = 0;
  const nibble = (c: string): number | 'x' | undefined => {
    if (/^[0-9a-fA-F]$/.test(c)) return parseInt(c, 16);
    if (mask && (c === 'x' || c === 'X')) return 'x';
    return undefined;
  };
  while (i < s.length) {
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (i >= s.length) break;
    const a = nibble(s[i++]);
    if (a === undefined) return undefined;
    let v = a === 'x' ? 0 : a;
    let mv = a === 'x' ? 0x0f : 0;
    if (i < s.length && s[i] !== ' ' && s[i] !== '\t') {
      const b = nibble(s[i++]);
      if (b === undefined) return undefined;
      v = (v << 4) | (b === 'x' ? 0 : b);
      mv = (mv << 4) | (b === 'x' ? 0x0f : 0);
    }
    if (mv) masked = true;
    data.push(v);
    m.push(mv);
  }
  if (!data.length) return undefined;
  return masked
    ? { data: Uint8Array.from(data), mask: Uint8Array.from(m) }
    : { data: Uint8Array.from(data) };
}
