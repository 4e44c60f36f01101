/**
 * The checker blocks as keepalived 2.2 reads them: each checker type's keywords and
 * defaults, SMTP_CHECK host blocks, UDP_CHECK hex strings, DNS_CHECK names, the SSL
 * and track_file blocks, and the checkers kept as unusable (fail closed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKeepalived } from '../../src/health/keepalived.js';
import { parseHex, quotedEscapedWords, unescapeWord } from '../../src/health/keepalived/checker.js';
import { one, svc, hasWarning } from './keepalived/helpers.js';

const rs = (body: string, extra = ''): string =>
  svc(` delay_loop 10\n real_server 10.0.0.2 80 {\n${body}\n }`) + extra;

test('defaults per checker type: retry 1 (MISC 0, DNS 3), delay_before_retry 1 (HTTP/SSL 3, DNS delay_loop)', () => {
  const { vs } = one(
    rs(
      `  TCP_CHECK {\n  }\n  SSL_GET {\n   url {\n    path /\n   }\n  }\n  DNS_CHECK {\n  }\n  MISC_CHECK {\n   misc_path /bin/true\n  }\n  SMTP_CHECK {\n  }\n  PING_CHECK {\n  }\n  UDP_CHECK {\n  }`,
    ),
  );
  const got = vs.realServers[0].checkers.map((c) => [
    c.type,
    c.retry,
    c.delayBeforeRetry,
    c.delayLoop,
  ]);
  assert.deepEqual(got, [
    ['TCP_CHECK', 1, 1, 10],
    ['SSL_GET', 1, 3, 10],
    ['DNS_CHECK', 3, 10, 10],
    ['MISC_CHECK', 0, 1, 10],
    ['SMTP_CHECK', 1, 1, 10],
    ['PING_CHECK', 1, 1, 10],
    ['UDP_CHECK', 1, 1, 10],
  ]);
  const [, ssl, dns, , smtp, , udp] = vs.realServers[0].checkers;
  assert.equal(ssl.unusable, undefined);
  assert.deepEqual([dns.dnsType, dns.dnsName], ['SOA', '.']);
  assert.equal(smtp.heloName, 'smtpchecker.keepalived.org');
  assert.deepEqual([udp.minReplyLength, udp.maxReplyLength, udp.payload], [0, 255, undefined]);
});

test('HTTP_GET options: http_protocol, fast_recovery, enable_sni, regex with its options', () => {
  const { vs, cfg } = one(
    rs(`  SSL_GET {
   http_protocol 1.0c
   fast_recovery
   enable_sni
   url {
    path /h
    regex "ok|fine"
    regex_no_match
    regex_options caseless multiline
    regex_min_offset 2
    regex_max_offset 100
   }
   url {
    path /x
    regex_no_match
   }
  }
  HTTP_GET {
   http_protocol 2.0
   url { path / regex "a" regex_options extended }
  }`),
  );
  const [a, b] = vs.realServers[0].checkers;
  assert.deepEqual([a.httpProtocol, a.fastRecovery, a.enableSni], ['1.0C', true, true]);
  assert.deepEqual(a.urls[0], {
    path: '/h',
    statusCodes: [[200, 299]],
    regex: 'ok|fine',
    regexFlags: 'im',
    regexNoMatch: true,
    regexMinOffset: 2,
    regexMaxOffset: 100,
  });
  assert.equal(a.urls[1].regexNoMatch, undefined);
  hasWarning(cfg, /regex parameters specified without regex/);
  hasWarning(cfg, /Invalid http_protocol version 2\.0/);
  // a PCRE2 option JavaScript cannot honour: refused, not run with another meaning
  assert.match(b.unusable ?? '', /regex option 'extended'/);
});

test('SMTP_CHECK host blocks: one checker per host; with connect options on the checker, the checker too', () => {
  const { vs } = one(
    rs(`  SMTP_CHECK {
   helo_name mx.example
   host {
    connect_ip 10.0.0.20
    connect_port 2525
   }
   host {
    connect_ip 10.0.0.21
    bindto 10.0.0.1
   }
  }
  SMTP_CHECK {
   connect_timeout 9
   host {
    connect_ip 10.0.0.30
   }
   host {
    connect_ip 10.0.0.31
    connect_timeout 2
   }
  }`),
  );
  const c = vs.realServers[0].checkers;
  assert.deepEqual(
    c.map((x) => [x.connectIp, x.connectPort, x.bindto, x.heloName, x.connectTimeout]),
    [
      ['10.0.0.20', 2525, undefined, 'mx.example', 5],
      ['10.0.0.21', undefined, '10.0.0.1', 'mx.example', 5],
      // keepalived.conf.SMTP_CHECK's sample: the real server itself with the checker's
      // timeout, then each host with its own (else the real server's)
      [undefined, undefined, undefined, 'smtpchecker.keepalived.org', 9],
      ['10.0.0.30', undefined, undefined, 'smtpchecker.keepalived.org', 5],
      ['10.0.0.31', undefined, undefined, 'smtpchecker.keepalived.org', 2],
    ],
  );
});

test('UDP_CHECK hex strings as keepalived reads them, x digits in require_reply', () => {
  assert.deepEqual(
    [...parseHex('Ab12f 3 456 546443123', false)!.data],
    [0xab, 0x12, 0x0f, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03],
  );
  const m = parseHex('aX 1x', true)!;
  assert.deepEqual(
    [[...m.data], [...m.mask!]],
    [
      [0xa0, 0x10],
      [0x0f, 0x0f],
    ],
  );
  assert.equal(parseHex('zz', false), undefined);
  assert.equal(parseHex('aX', false), undefined, 'no wildcard in a payload');
  const { vs, cfg } = one(
    rs(`  UDP_CHECK {
   payload 01 02 ff
   require_reply 0x 02
   min_reply_length 2
   max_reply_length 1
  }`),
  );
  const u = vs.realServers[0].checkers[0];
  assert.deepEqual(
    [u.payload, u.requireReply, u.replyData, u.replyMask],
    ['0102ff', true, '0002', '0f00'],
  );
  hasWarning(cfg, /min_reply length 2 > max_reply_length 1 - will always fail/);
});

test('DNS_CHECK type and name; bad ones warned and ignored', () => {
  const { vs, cfg } = one(
    rs(
      `  DNS_CHECK {\n   type aaaa\n   name www.example.org\n  }\n  DNS_CHECK {\n   type WKS\n   name a..b\n  }`,
    ),
  );
  const [a, b] = vs.realServers[0].checkers;
  assert.deepEqual(
    [a.dnsType, a.dnsName, b.dnsType, b.dnsName],
    ['AAAA', 'www.example.org', 'SOA', '.'],
  );
  hasWarning(cfg, /Unknown DNS check type WKS/);
  hasWarning(cfg, /DNS_CHECK name 'a\.\.b' has empty label/);
});

test('SSL and track_file blocks reach their checkers; FILE_CHECK weight overrides the track_file one', () => {
  const cfg = parseKeepalived(
    rs(
      `  SSL_GET {\n   url { path / }\n  }\n  FILE_CHECK {\n   track_file up\n  }\n  FILE_CHECK {\n   track_file up\n   weight -3 reverse\n  }\n  FILE_CHECK {\n   track_file nosuch\n  }`,
      `SSL {\n password secret\n ca /etc/ca.pem\n certificate /etc/c.pem\n key /etc/k.pem\n}\ntrack_file up {\n file /run/up\n weight 5\n}\n`,
    ),
  );
  const [ssl, f1, f2, f3] = cfg.virtualServers[0].realServers[0].checkers;
  assert.deepEqual(ssl.ssl, {
    password: 'secret',
    ca: '/etc/ca.pem',
    certificate: '/etc/c.pem',
    key: '/etc/k.pem',
  });
  assert.deepEqual(f1.trackFile, { name: 'up', path: '/run/up', weight: 5, reverse: false });
  assert.deepEqual(f2.trackFile, { name: 'up', path: '/run/up', weight: -3, reverse: true });
  assert.equal(f1.unusable, undefined);
  assert.match(f3.unusable ?? '', /track_file nosuch not found/);
  assert.deepEqual([f1.retry, f1.warmup, f1.delayLoop], [0, 0, 1]);
});

test('fail closed: BFD_CHECK, link-local without bind_if, unknown checker names are unusable; fwmark and bind_if kept', () => {
  const { vs, cfg } = one(
    rs(
      `  BFD_CHECK {\n   name bfd1\n  }\n  TCP_CHECK {\n   fwmark 7\n  }\n  TCP_CHECK {\n   bind_if eth0\n  }\n  TCP_CHECK {\n   connect_ip fe80::1\n   bind_if eth0\n  }\n  FOO_CHECK {\n   x 1\n  }\n  PING_CHECK {\n   fwmark 9\n   bind_if eth0\n  }\n  MISC_CHECK {\n   misc_path /bin/true\n   user nobody nogroup\n  }\n  UDP_CHECK {\n   connect_ip fe80::2\n  }`,
    ),
  );
  const c = vs.realServers[0].checkers;
  // no bfd_instance bfd1 in the file: keepalived's "BFD bfd1 not configured"
  assert.match(c[0].unusable ?? '', /BFD_CHECK - BFD bfd1 not configured/);
  // fwmark and bind_if are honoured (through socat): not refused
  assert.deepEqual([c[1].fwmark, c[1].unusable], [7, undefined]);
  assert.deepEqual([c[2].bindIf, c[2].unusable], ['eth0', undefined]);
  assert.equal(c[3].unusable, undefined, 'link-local with bind_if: the zone');
  assert.equal(c[3].bindIf, 'eth0');
  assert.match(c[4].unusable ?? '', /unknown checker 'FOO_CHECK'/);
  // PING_CHECK honours fwmark and bind_if (through iputils' ping)
  assert.deepEqual([c[5].fwmark, c[5].bindIf, c[5].unusable], [9, 'eth0', undefined]);
  assert.deepEqual(
    [c[6].miscUser, c[6].miscGroup, c[6].unusable],
    ['nobody', 'nogroup', undefined],
  );
  assert.match(c[7].unusable ?? '', /link local address fe80::2 requires a bind_if/);
  hasWarning(cfg, /unknown checker 'FOO_CHECK'/);
  const lower = one(rs('  tcp_check {\n  }')).vs.realServers[0].checkers;
  assert.match(lower[0].unusable ?? '', /unknown checker 'tcp_check'/);
});

test('global_defs script_user and enable_script_security reach MISC_CHECK', () => {
  const cfg = parseKeepalived(
    `global_defs {\n script_user nobody nogroup\n enable_script_security\n}\n` +
      rs(
        `  MISC_CHECK {\n   misc_path /bin/true\n  }\n  MISC_CHECK {\n   misc_path /bin/true\n   user daemon\n  }`,
      ),
  );
  const [a, b] = cfg.virtualServers[0].realServers[0].checkers;
  assert.deepEqual([a.miscUser, a.miscGroup, a.scriptSecurity], ['nobody', 'nogroup', true]);
  assert.deepEqual([b.miscUser, b.miscGroup], ['daemon', undefined]);
});

test("misc_path and regex are read with keepalived's quoting and escapes", () => {
  assert.deepEqual(quotedEscapedWords(`/bin/check "a b" c\\ d 'x\\ty' \\x41\\101`), [
    '/bin/check',
    'a b',
    'c d',
    'x\ty',
    'AA',
  ]);
  assert.equal(unescapeWord('a\\.b\\n'), 'a.b\n');
  const { vs } = one(rs(`  HTTP_GET {\n   url {\n    path /\n    regex "up\\\\.\\\\d"\n   }\n  }`));
  const [h] = vs.realServers[0].checkers;
  // "\\." in the file is a backslash and a dot for PCRE2: an escaped dot
  assert.equal(h.urls[0].regex, 'up\\.\\d');
});
