/**
 * keepalived.conf's lexical structure: comments and braces on odd lines, unrelated
 * blocks skipped whole, unbalanced braces, and bad input never throwing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKeepalived, type KaConfig } from '../../../src/health/keepalived.js';
import { svc, hasWarning } from './helpers.js';

test('comments and braces on odd lines', () => {
  const text = `! a comment
# another
virtual_server 10.0.0.1 80   # trailing comment
{
  lvs_sched rr ! comment after a value
  lvs_method NAT
  protocol TCP
  real_server 10.0.0.2 80
  {
    TCP_CHECK { connect_timeout 2 connect_port 8080 }
    MISC_CHECK
    {
      misc_path "/usr/bin/check --name #1 !x"
    } }
  real_server 10.0.0.3 80 { weight 4 }
  real_server 10.0.0.4 80{weight 6}
  #real_server 10.0.0.5 80 {
  #}
}
virtual_server 10.0.0.20 80 { lvs_sched lc lvs_method DR protocol TCP
  real_server 10.0.0.21 80 { HTTP_GET { url { path "/a b" status_code 200 } url { path /c } } }
}`;
  const cfg = parseKeepalived(text);
  assert.deepEqual(cfg.warnings, []);
  assert.deepEqual(cfg.errors, []);
  const [a, b] = cfg.virtualServers;
  assert.equal(a.line, 3);
  assert.equal(a.scheduler, 'rr');
  assert.deepEqual(
    a.realServers.map((r) => [r.addr, r.weight, r.line]),
    [
      ['10.0.0.2', 1, 8],
      ['10.0.0.3', 4, 15],
      ['10.0.0.4', 6, 16],
    ],
  );
  const [tcp, misc] = a.realServers[0].checkers;
  assert.deepEqual([tcp.connectTimeout, tcp.connectPort, tcp.line], [2, 8080, 10]);
  assert.deepEqual([misc.miscPath, misc.line], ['/usr/bin/check --name #1 !x', 11]);
  assert.deepEqual([b.scheduler, b.method, b.protocol], ['lc', 'droute', 6]);
  assert.deepEqual(b.realServers[0].checkers[0].urls, [
    { path: '/a b', statusCodes: [[200, 200]] },
    { path: '/c', statusCodes: [[200, 299]] },
  ]);
});

test('unrelated blocks are skipped whole, without warnings', () => {
  const text = `global_defs {
  router_id LVS_1
  notification_email {
    admin@example.com
  }
  vrrp_strict
}
vrrp_script chk {
  script "/bin/true"
}
vrrp_instance VI_1 {
  state MASTER
  virtual_ipaddress {
    192.168.10.100/24 dev eth0
  }
  track_script {
    chk
  }
  authentication { auth_type PASS auth_pass x }
  real_server 9.9.9.9 80 {
  }
}
${svc(' real_server 10.0.0.2 80 {\n }')}
static_routes {
  10.1.0.0/16 via 10.0.0.254
}
vrrp_instance VI_2 {
  nested { deeper { deepest { } } }
  virtual_server 9.9.9.9 80 {
  }
}
virtual_server_group G {
  10.0.0.50 80
}
`;
  const cfg = parseKeepalived(text);
  assert.deepEqual(cfg.warnings, []);
  assert.deepEqual(cfg.errors, []);
  assert.deepEqual(
    cfg.virtualServers.map((v) => [v.addr, v.line, v.realServers.length]),
    [['10.0.0.1', 23, 1]],
  );
});

test('unbalanced braces: errors with line numbers, unusable blocks skipped', () => {
  const good = svc(' real_server 10.0.0.2 80 {\n }');
  const unclosed = parseKeepalived(
    `${good}virtual_server 10.0.0.9 80 {\n real_server 10.0.0.2 80 {\n`,
  );
  assert.deepEqual(
    unclosed.virtualServers.map((v) => v.addr),
    ['10.0.0.1'],
  );
  assert.deepEqual(unclosed.errors, [
    "line 8: 'virtual_server' block is not closed (missing '}')",
    "line 9: 'real_server' block is not closed (missing '}')",
  ]);

  const extra = parseKeepalived(`}\n${good}}\n{\n}\n`);
  assert.equal(extra.virtualServers.length, 1);
  assert.deepEqual(extra.errors, [
    "line 1: unmatched '}' ignored",
    "line 9: unmatched '}' ignored",
    "line 10: '{' without a keyword, block ignored",
  ]);

  // an unclosed vrrp_instance swallows what follows: reported, nothing parsed from it
  const vrrp = parseKeepalived(`vrrp_instance VI_1 {\n state MASTER\n${good}`);
  assert.deepEqual(vrrp.virtualServers, []);
  assert.deepEqual(vrrp.errors, ["line 1: 'vrrp_instance' block is not closed (missing '}')"]);

  const quote = parseKeepalived(
    svc(' real_server 10.0.0.2 80 {\n  MISC_CHECK {\n   misc_path "/bin/x\n  }\n }'),
  );
  assert.equal(quote.virtualServers[0].realServers[0].checkers[0].miscPath, '/bin/x');
  hasWarning(quote, /^line 7: unterminated quoted string/);
});

test('bad input never throws', () => {
  const fixed = [
    '',
    '\n\n\n',
    '{',
    '}',
    '{{{{',
    '}}}}',
    '"',
    'virtual_server',
    'virtual_server 10.0.0.1 80 {',
    'virtual_server 10.0.0.1 80 { real_server',
    'virtual_server fwmark',
    'virtual_server group',
    'global_defs { lvs_sync_daemon',
    'global_defs { lvs_timeouts tcp',
    'virtual_server 10.0.0.1 80 { real_server 10.0.0.2 { HTTP_GET { url { } } } }',
    'virtual_server 10.0.0.1 80 { lvs_method TUN type',
    'virtual_server 10.0.0.1 80 { lvs_method TUN type gue port',
    '\u0000\uffff\ud800 { } "\r\n#!',
  ];
  for (const t of fixed) assert.doesNotThrow(() => parseKeepalived(t), JSON.stringify(t));

  // seeded random soup of the words the parser cares about
  const words = [
    '{',
    '}',
    '{',
    '}',
    '\n',
    '\n',
    '\n',
    '!',
    '#',
    '"',
    'virtual_server',
    'real_server',
    'fwmark',
    'group',
    'global_defs',
    'vrrp_instance',
    'TCP_CHECK',
    'HTTP_GET',
    'MISC_CHECK',
    'url',
    'path',
    'status_code',
    'digest',
    'misc_path',
    'lvs_sched',
    'sh',
    'sh-port',
    'lvs_method',
    'TUN',
    'type',
    'gue',
    'port',
    'DR',
    'NAT',
    'protocol',
    'TCP',
    'quorum',
    'hysteresis',
    'weight',
    'persistence_timeout',
    'persistence_granularity',
    'sorry_server',
    'lvs_timeouts',
    'lvs_sync_daemon',
    'tcp',
    'ip_family',
    'inet6',
    '10.0.0.1',
    '10.0.0.2',
    '2001:db8::1',
    '80',
    '0',
    '-1',
    '1.5',
    '99999999999',
    'on',
    'include',
    'garbage',
  ];
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let i = 0; i < 400; i++) {
    const parts: string[] = [];
    const len = 1 + rnd(120);
    for (let j = 0; j < len; j++) parts.push(words[rnd(words.length)]);
    const text = parts.join(rnd(4) === 0 ? '' : ' ');
    let cfg: KaConfig | undefined;
    assert.doesNotThrow(() => {
      cfg = parseKeepalived(text);
    }, JSON.stringify(text));
    for (const m of [...cfg!.warnings, ...cfg!.errors]) assert.match(m, /^line \d+: /);
    for (const vs of cfg!.virtualServers) assert.ok(vs.realServers.length > 0);
  }
});

test("keepalived's parameter language ($NAME=, $NAME, ~SEQ) is refused with a warning, never half-read", () => {
  const cfg = parseKeepalived(`$RS=10.0.1.1
~SEQ(n, 1, 1, 3)
virtual_server 10.0.0.1 80 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  real_server $RS 80 {
  }
  real_server 10.0.1.2 80 {
  }
}`);
  assert.deepEqual(cfg.warnings.slice(0, 3), [
    'line 1: parameter definitions ($NAME=, ~SEQ, ~LST) are not supported by tsvs, line skipped',
    'line 2: parameter definitions ($NAME=, ~SEQ, ~LST) are not supported by tsvs, line skipped',
    'line 7: a $parameter is not expanded by tsvs (keepalived definitions are not supported)',
  ]);
  assert.deepEqual(cfg.errors, ["line 7: real_server: invalid address '$RS', real server skipped"]);
  assert.equal(cfg.virtualServers[0].realServers.length, 1);
});
