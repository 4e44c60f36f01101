/**
 * keepalived.conf's lexical structure: words (quoted or not), `!`/`#` comments,
 * blocks in braces (including a `{` alone on the next line and several keywords after
 * a brace on one line), and the warnings and errors collected while reading, each
 * "line N: text". `include` is not followed (no file access): the block parsers
 * report it.
 */

export class Problems {
  readonly warnings: string[] = [];
  readonly errors: string[] = [];
  /** What tsvs leaves to keepalived itself (VRRP, BFD, e-mail): information, not a fault. */
  readonly notes: string[] = [];
  note(line: number, msg: string): void {
    this.notes.push(`line ${line}: ${msg}`);
  }
  warn(line: number, msg: string): void {
    this.warnings.push(`line ${line}: ${msg}`);
  }
  error(line: number, msg: string): void {
    this.errors.push(`line ${line}: ${msg}`);
  }
}

interface Word {
  v: string;
  /** Written in double quotes: never a keyword, never a brace. */
  q: boolean;
  /** Where the word is in its line's text `src` (for {@link rawText}). */
  s?: number;
  e?: number;
  src?: string;
}

export interface Node {
  words: Word[];
  line: number;
  /** Started after a brace on the same line (`url { path /x status_code 200 }`). */
  inline: boolean;
  /** Present when the statement opens a block. */
  children?: Node[];
  /** False when the block's `}` never came. */
  closed: boolean;
}

type Tok = Word | '{' | '}';

/**
 * One line as keepalived 2.2 reads it (parser.c): `decomment` first — a backslash
 * takes the next character with it (so `\"` neither opens nor closes a quoted
 * string), `\!` and `\#` outside quotes stand for `!` and `#`, and a comment starts
 * at the first `!` or `#` outside quotes —, then the words (alloc_strvec): a word in
 * double quotes runs to the next `"` whatever precedes it, any other word to a blank,
 * a quote or a brace. Keywords keepalived reads with escapes (misc_path, regex) take
 * their words again from the line's text ({@link rawWords}).
 */
function lexLine(s: string, lineNo: number, warn: (line: number, msg: string) => void): Tok[] {
  // decomment: the line up to its comment, `\!`/`\#` outside quotes unescaped
  let text = '';
  let quote = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length) {
      const d = s[i + 1];
      text += !quote && (d === '!' || d === '#') ? d : c + d;
      i++;
    } else if (c === '"') {
      quote = !quote;
      text += c;
    } else if (!quote && (c === '!' || c === '#')) {
      break;
    } else text += c;
  }
  if (quote) warn(lineNo, 'unterminated quoted string, closed at the end of the line');
  const out: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
      i++;
    } else if (c === '{' || c === '}') {
      out.push(c);
      i++;
    } else if (c === '"') {
      const end = text.indexOf('"', i + 1);
      const e = end < 0 ? text.length : end;
      out.push({
        v: text.slice(i + 1, e),
        q: true,
        s: i,
        e: Math.min(e + 1, text.length),
        src: text,
      });
      i = e + 1;
    } else {
      let j = i;
      while (j < text.length && !/[\s{}"]/.test(text[j])) j++;
      out.push({ v: text.slice(i, j), q: false, s: i, e: j, src: text });
      i = j;
    }
  }
  return out;
}

/**
 * The text a statement was written with (after comments are removed), from its first
 * word to its last: what keepalived's alloc_strvec_quoted_escaped reads for the
 * keywords that take escapes. Undefined for a statement built without a line.
 */
export function rawText(n: Node): string | undefined {
  const a = n.words[0];
  const b = n.words[n.words.length - 1];
  if (a?.src === undefined || b?.src !== a.src || a.s === undefined || b.e === undefined)
    return undefined;
  return a.src.slice(a.s, b.e);
}

export function buildTree(text: string, p: Problems): Node[] {
  const root: Node[] = [];
  const stack: { list: Node[]; owner: Node | null }[] = [{ list: root, owner: null }];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const lineNo = n + 1;
    if (/^\s*@/.test(lines[n])) {
      // keepalived's conditional lines (`@id ...`) depend on its -i option
      p.warn(lineNo, 'conditional configuration (@id) is not supported by tsvs, line skipped');
      continue;
    }
    if (/^\s*\$[A-Za-z_]\w*\s*=/.test(lines[n]) || /^\s*~(SEQ|LST)/.test(lines[n])) {
      // keepalived's parameter definitions and sequences: a language of their own
      p.warn(
        lineNo,
        'parameter definitions ($NAME=, ~SEQ, ~LST) are not supported by tsvs, line skipped',
      );
      continue;
    }
    if (/(^|\s)\$\{?[A-Za-z_]/.test(lines[n].replace(/["!#].*$/, '')))
      p.warn(
        lineNo,
        'a $parameter is not expanded by tsvs (keepalived definitions are not supported)',
      );
    const toks = lexLine(lines[n], lineNo, (l, m) => p.warn(l, m));
    let cur: Node | null = null;
    let braceSeen = false;
    toks.forEach((t, idx) => {
      const top = stack[stack.length - 1];
      if (t === '{') {
        let owner = cur;
        if (!owner) {
          const prev = top.list[top.list.length - 1];
          // a `{` alone at the start of a line opens the block of the previous statement
          if (idx === 0 && prev && !prev.children) owner = prev;
          else {
            p.error(lineNo, "'{' without a keyword, block ignored");
            owner = { words: [], line: lineNo, inline: false, closed: true };
          }
        }
        owner.children = [];
        owner.closed = false;
        stack.push({ list: owner.children, owner });
        cur = null;
        braceSeen = true;
      } else if (t === '}') {
        if (stack.length === 1) p.error(lineNo, "unmatched '}' ignored");
        else stack.pop()!.owner!.closed = true;
        cur = null;
        braceSeen = true;
      } else {
        if (!cur) {
          cur = { words: [], line: lineNo, inline: braceSeen, closed: true };
          top.list.push(cur);
        }
        cur.words.push(t);
      }
    });
  }
  for (let i = stack.length - 1; i > 0; i--) {
    const o = stack[i].owner!;
    const name = o.words.length ? o.words[0].v : '{';
    p.error(o.line, `'${name}' block is not closed (missing '}')`);
  }
  return root;
}

/**
 * Statements written after a brace on the same line may hold several keywords
 * (`url { path /health status_code 200 }`): they are split at the block's keywords.
 */
export function expand(nodes: Node[] | undefined, keys: ReadonlySet<string>): Node[] {
  const out: Node[] = [];
  for (const n of nodes ?? []) {
    if (!n.inline || n.words.length < 2) {
      out.push(n);
      continue;
    }
    let start = 0;
    for (let i = 1; i <= n.words.length; i++) {
      const last = i === n.words.length;
      if (last || (!n.words[i].q && keys.has(n.words[i].v))) {
        out.push({
          words: n.words.slice(start, i),
          line: n.line,
          inline: true,
          closed: last ? n.closed : true,
          children: last ? n.children : undefined,
        });
        start = i;
      }
    }
  }
  return out;
}
