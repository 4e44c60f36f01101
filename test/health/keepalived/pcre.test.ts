/**
 * PCRE2 patterns (keepalived's HTTP_GET regex) as JavaScript RegExp sources: what
 * means the same is translated, what a RegExp would read differently is refused.
 * The expectations are PCRE2's documented meanings (pcre2pattern(3)).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pcreToJs } from '../../../src/health/keepalived/pcre.js';
import { parseKeepalived } from '../../../src/health/keepalived.js';

const src = (p: string): string => {
  const r = pcreToJs(p);
  assert.ok('source' in r, `${p}: ${'error' in r ? r.error : ''}`);
  return r.source;
};
const refused = (p: string, why: RegExp): void => {
  const r = pcreToJs(p);
  assert.ok('error' in r, `${p} should be refused, got ${'source' in r ? r.source : ''}`);
  assert.match(r.error, why);
};
const matches = (p: string, s: string): boolean => new RegExp(src(p)).test(s);

test('what means the same carries over', () => {
  for (const p of [
    'healthy',
    '^HTTP/1\\.[01] 200',
    'a(b|c)*d',
    '(?:x)+?',
    '\\d{3}\\s',
    '(?=a)a',
    '(?<=a)b',
    '(?<n>x)',
  ])
    assert.doesNotThrow(() => new RegExp(src(p)), p);
  assert.equal(matches('status: (ok|healthy)', 'HTTP/1.0 200 OK\r\n\r\nstatus: healthy'), true);
  assert.equal(matches('a{2,3}b', 'aab'), true);
  assert.equal(matches('x{,2}', 'x{,2}'), true, 'not a quantifier in PCRE2 10.42: literal');
});

test('PCRE2 forms a RegExp reads differently are translated', () => {
  // an escaped non-alphanumeric is that character
  assert.equal(matches('a\\-b\\ c\\"', 'a-b c"'), true);
  assert.equal(matches('\\x{41}\\x42\\x4', 'AB\x04'), true);
  assert.equal(matches('\\e\\a', '\x1b\x07'), true);
  assert.equal(matches('(?P<v>[0-9]+)', 'v42'), true);
  assert.equal(matches('^[[:digit:][:upper:]]+$', '42AB'), true);
  assert.equal(matches('^[[:digit:]]+$', 'digit'), false, 'a POSIX class, not the letters');
  assert.equal(matches('[]a]', ']'), true, 'a ] first in a class is literal');
  assert.equal(matches('a}b]', 'a}b]'), true);
});

test('what has no RegExp meaning is refused, named', () => {
  refused('\\Ahealthy', /\\A \(start of subject\)/);
  refused('ok\\Z', /\\Z/);
  refused('\\Qa.b\\E', /quoting/);
  refused('\\h+', /horizontal space/);
  refused('\\v', /vertical space/);
  refused('\\p{L}', /Unicode property/);
  refused('\\x{263A}', /beyond FF/);
  refused('\\012', /octal/);
  refused('a++', /possessive/);
  refused('a{2}+', /possessive/);
  refused('(?>ab)', /atomic/);
  refused('(?i)ok', /inline option/);
  refused('(?#note)ok', /comment/);
  refused('(a)(?1)', /recursion or subroutine/);
  refused('(?R)', /recursion/);
  refused('(?(1)a|b)', /conditional/);
  refused('(*FAIL)', /backtracking verb/);
  refused('(?|a|b)', /branch reset/);
  refused('[[:^digit:]]', /negated POSIX/);
  refused('[[:foo:]]', /unknown POSIX/);
  refused('[abc', /unterminated/);
  refused('\\12', /back reference or octal/);
});

test('a refused regex is a configuration error and its checker unusable', () => {
  const cfg = parseKeepalived(`
virtual_server 10.9.9.9 80 {
  protocol TCP
  real_server 10.9.9.10 80 {
    HTTP_GET {
      url {
        path /
        regex "\\\\Aok"
      }
    }
  }
  real_server 10.9.9.11 80 {
    HTTP_GET {
      url {
        path /
        regex "[[:digit:]]+ OK"
      }
    }
  }
}
`);
  assert.equal(cfg.errors.length, 1, cfg.errors.join('\n'));
  assert.match(
    cfg.errors[0],
    /regex '\\Aok': \\A \(start of subject\) has no JavaScript RegExp equivalent/,
  );
  const [a, b] = cfg.virtualServers[0].realServers;
  assert.match(a.checkers[0].unusable ?? '', /start of subject/);
  assert.equal(b.checkers[0].unusable, undefined);
  assert.equal(b.checkers[0].urls[0].regex, '[0-9]+ OK');
});
