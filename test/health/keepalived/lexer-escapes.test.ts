/**
 * Quotes, escapes and comments as keepalived 2.2's parser.c reads a line: `decomment`
 * (a backslash takes the next character with it, `\!`/`\#` outside quotes are literal,
 * a comment starts at an unquoted `!`/`#`), then the words; misc_path and regex read
 * the line again with quotes and escapes (alloc_strvec_quoted_escaped), so `\"` is a
 * quote inside them. keepalived 2.2.7 (`keepalived -t`) accepts this file without a
 * complaint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKeepalived } from '../../../src/health/keepalived.js';

const CONF = `
virtual_server 10.9.9.9 80 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  real_server 10.9.9.10 80 {
    HTTP_GET {
      url {
        path /
        regex "status: \\"ok\\" # x"
      }
      virtualhost a\\#b   # a comment
    }
  }
  real_server 10.9.9.11 80 {
    MISC_CHECK {
      misc_path "/bin/echo \\"a b\\" c" ! a comment
    }
  }
}
`;

test('\\" inside misc_path and regex is a quote; # and ! in quotes are not comments', () => {
  const cfg = parseKeepalived(CONF);
  assert.deepEqual(cfg.errors, []);
  assert.deepEqual(cfg.warnings, []);
  const [a, b] = cfg.virtualServers[0].realServers;
  const http = a.checkers[0];
  assert.equal(http.urls[0].regex, 'status: "ok" # x');
  assert.equal(http.virtualhost, 'a#b', '\\# outside quotes is a literal #');
  assert.equal(b.checkers[0].miscPath, '/bin/echo "a b" c');
});

test('a comment after a quoted word; an unterminated quote is reported', () => {
  const cfg = parseKeepalived(`
virtual_server 10.9.9.9 80 {
  protocol TCP # TCP "quoted" in a comment
  real_server 10.9.9.10 80 {
    MISC_CHECK {
      misc_path "/bin/true
    }
  }
}
`);
  assert.equal(cfg.virtualServers[0].protocol, 6, 'the comment holds quotes');
  assert.ok(
    cfg.warnings.some((w) => /line 6: unterminated quoted string/.test(w)),
    cfg.warnings.join('\n'),
  );
});
