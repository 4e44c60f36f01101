/**
 * keepalived's HTTP_GET `regex` is a PCRE2 pattern; tsvs matches with JavaScript's
 * RegExp. Most of PCRE2's syntax means the same in both, but some of it is an error in
 * one and not the other, and some is accepted by both with different meanings (`\A`
 * is the start of the subject in PCRE2, a literal `A` in a RegExp; `\x{41}` is `A`,
 * against 41 `x`s; `[[:digit:]]` a digit, against a class of `[:digt` and a `]`).
 * {@link pcreToJs} translates a pattern whose meaning carries over, and refuses, naming
 * the construct, one whose meaning does not: a check must not pass or fail for a
 * pattern read differently.
 *
 * Translated: an escaped non-alphanumeric character (PCRE2: always that character;
 * a RegExp in Unicode mode accepts only escaped syntax characters); `\e` `\a`, `\x{H..}`
 * up to FF, `(?P<name>`, POSIX classes inside a bracket class (`[:alpha:]`, ASCII as in
 * PCRE2 without `ucp`). Refused: `\A` `\Z` `\z` `\G` `\Q…\E` `\K` `\R` `\h` `\H` `\v`
 * `\V` `\N` `\X` `\C` `\g` `\o`, `\p`/`\P`, code points beyond FF, octal escapes,
 * possessive quantifiers, atomic groups, recursion and subroutine calls, conditionals,
 * inline option settings `(?i)`, comments `(?#`, backtracking verbs `(*…)`, branch
 * reset `(?|`, negated POSIX classes `[:^…:]`.
 *
 * Not expressible either way and so left as is: `$` without `multiline` also matches
 * before a final newline in PCRE2 (PCRE2_DOLLAR_ENDONLY unset); in a RegExp only at the
 * very end. The subject is an HTTP response, which rarely ends in a newline that
 * matters; docs/keepalived-checkers.md says so.
 *
 * @module
 */

/** The JavaScript source of a PCRE2 pattern, or why it has none. */
export type PcreResult = { source: string } | { error: string };

const POSIX: Record<string, string> = {
  alnum: 'A-Za-z0-9',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7f',
  blank: ' \\t',
  cntrl: '\\x00-\\x1f\\x7f',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: ' \\t\\n\\v\\f\\r',
  upper: 'A-Z',
  word: 'A-Za-z0-9_',
  xdigit: '0-9A-Fa-f',
};

/** Escapes that mean the same in PCRE2 and a RegExp (in or out of a bracket class). */
const SAME = new Set(['d', 'D', 'w', 'W', 's', 'S', 'n', 'r', 't', 'f', 'b', 'B']);

const REFUSED_ESCAPES: Record<string, string> = {
  A: 'start of subject',
  Z: 'end of subject',
  z: 'end of subject',
  G: 'first match position',
  Q: 'quoting',
  E: 'quoting',
  K: 'match start reset',
  R: 'any newline',
  h: 'horizontal space',
  H: 'non-horizontal space',
  v: 'vertical space',
  V: 'non-vertical space',
  N: 'non-newline',
  X: 'extended grapheme',
  C: 'one code unit',
  g: 'back reference by \\g',
  o: 'octal \\o{}',
  p: 'Unicode property',
  P: 'Unicode property',
  k: 'named back reference by \\k',
};

const hex2 = (n: number): string => `\\x${n.toString(16).padStart(2, '0')}`;

/**
 * One escape at `p[i]` (after the backslash); `inClass` inside a bracket class.
 * Returns the RegExp text and the index after the escape, or an error.
 */
function escape(p: string, i: number, inClass: boolean): [string, number] | string {
  const ch = p[i];
  if (ch === undefined) return 'a trailing backslash';
  if (!/[A-Za-z0-9]/.test(ch)) {
    // PCRE2: the character itself; keep it escaped only where a RegExp needs it
    if (ch === '-') return [inClass ? '\\-' : '-', i + 1];
    return [/[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch, i + 1];
  }
  if (SAME.has(ch)) {
    if (inClass && (ch === 'b' || ch === 'B'))
      return ch === 'b' ? ['\\x08', i + 1] : 'B in a class';
    return [`\\${ch}`, i + 1];
  }
  if (ch === 'e') return ['\\x1b', i + 1];
  if (ch === 'a') return ['\\x07', i + 1];
  if (ch === 'c') {
    const c = p[i + 1];
    if (c === undefined || !/[A-Za-z]/.test(c)) return '\\c with a non-letter';
    return [`\\c${c}`, i + 2];
  }
  if (ch === 'x') {
    if (p[i + 1] === '{') {
      const end = p.indexOf('}', i + 2);
      const h = end < 0 ? '' : p.slice(i + 2, end);
      if (!/^[0-9A-Fa-f]{1,8}$/.test(h)) return 'a malformed \\x{}';
      const n = parseInt(h, 16);
      if (n > 0xff) return `the code point \\x{${h}} beyond FF (the subject is bytes)`;
      return [hex2(n), end + 1];
    }
    // PCRE2: up to two hex digits (none: NUL)
    const m = /^[0-9A-Fa-f]{0,2}/.exec(p.slice(i + 1))![0];
    return [hex2(m ? parseInt(m, 16) : 0), i + 1 + m.length];
  }
  if (/[0-9]/.test(ch)) {
    if (inClass || ch === '0') return 'an octal escape';
    const m = /^[0-9]+/.exec(p.slice(i))![0];
    // PCRE2 reads \1..\9 (and \10.. when there are that many groups) as back references
    if (m.length > 1) return `the escape \\${m} (back reference or octal)`;
    return [`\\${m}`, i + 1];
  }
  const why = REFUSED_ESCAPES[ch];
  if (why !== undefined) return `\\${ch} (${why})`;
  return `the escape \\${ch}`;
}

/** Translates a PCRE2 pattern to a RegExp source (see the module comment). */
export function pcreToJs(p: string): PcreResult {
  let out = '';
  let i = 0;
  let lastWasQuantifier = false;
  while (i < p.length) {
    const ch = p[i];
    if (ch === '\\') {
      const r = escape(p, i + 1, false);
      if (typeof r === 'string') return { error: r };
      out += r[0];
      i = r[1];
      lastWasQuantifier = false;
      continue;
    }
    if (ch === '[') {
      const r = bracket(p, i);
      if (typeof r === 'string') return { error: r };
      out += r[0];
      i = r[1];
      lastWasQuantifier = false;
      continue;
    }
    if (ch === '(') {
      const rest = p.slice(i + 1);
      if (rest.startsWith('*')) return { error: 'a backtracking verb (*…)' };
      if (rest.startsWith('?')) {
        const g = rest.slice(1);
        if (g.startsWith('P<')) {
          out += '(?<';
          i += 4;
          continue;
        }
        if (!/^(:|=|!|<=|<!|<[A-Za-z_])/.test(g)) {
          const kind = g.startsWith('>')
            ? 'an atomic group (?>'
            : g.startsWith('|')
              ? 'a branch reset group (?|'
              : g.startsWith('#')
                ? 'a comment (?#'
                : g.startsWith('(')
                  ? 'a conditional group (?('
                  : /^(R|[+-]?[0-9]|&|P>|P=)/.test(g)
                    ? 'a recursion or subroutine call'
                    : `an inline option or group (?${g.slice(0, 2)}`;
          return { error: kind };
        }
      }
      out += ch;
      i++;
      lastWasQuantifier = false;
      continue;
    }
    if (ch === '*' || ch === '+' || ch === '?' || ch === '{') {
      let q = ch;
      if (ch === '{') {
        const m = /^\{[0-9]+(,[0-9]*)?\}/.exec(p.slice(i));
        if (!m) {
          // not a quantifier in PCRE2: a literal brace
          out += '\\{';
          i++;
          lastWasQuantifier = false;
          continue;
        }
        q = m[0];
      }
      if (lastWasQuantifier) {
        if (ch === '+') return { error: 'a possessive quantifier' };
        if (ch !== '?') return { error: 'a quantifier following a quantifier' };
        out += '?';
        i++;
        lastWasQuantifier = false;
        continue;
      }
      out += q;
      i += q.length;
      lastWasQuantifier = true;
      continue;
    }
    if (ch === '}' || ch === ']') {
      // literal in PCRE2 outside a class
      out += `\\${ch}`;
      i++;
      lastWasQuantifier = false;
      continue;
    }
    out += ch === '/' ? '\\/' : ch;
    i++;
    lastWasQuantifier = false;
  }
  try {
    new RegExp(out);
  } catch (e) {
    return { error: (e as Error).message };
  }
  return { source: out };
}

/** A bracket class from `p[start] === '['`: its RegExp text and the index after it. */
function bracket(p: string, start: number): [string, number] | string {
  let i = start + 1;
  let out = '[';
  if (p[i] === '^') {
    out += '^';
    i++;
  }
  // a ']' first is a literal in PCRE2
  if (p[i] === ']') {
    out += '\\]';
    i++;
  }
  while (i < p.length) {
    const ch = p[i];
    if (ch === ']') return [`${out}]`, i + 1];
    if (ch === '[' && p[i + 1] === ':') {
      const end = p.indexOf(':]', i + 2);
      if (end < 0) {
        out += '\\[';
        i++;
        continue;
      }
      const name = p.slice(i + 2, end);
      if (name.startsWith('^')) return `a negated POSIX class [:${name}:]`;
      const set = POSIX[name];
      if (set === undefined) return `an unknown POSIX class [:${name}:]`;
      out += set;
      i = end + 2;
      continue;
    }
    if (ch === '\\') {
      const r = escape(p, i + 1, true);
      if (typeof r === 'string') return r;
      out += r[0];
      i = r[1];
      continue;
    }
    out += ch === '[' ? '\\[' : ch;
    i++;
  }
  return 'a missing ] (unterminated class)';
}
