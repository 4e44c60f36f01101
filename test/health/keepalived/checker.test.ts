/**
 * The checker blocks (spec §3.1): HTTP_GET urls, status codes, digest and virtualhost;
 * MISC_CHECK options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { one, svc, hasWarning } from './helpers.js';

test('HTTP_GET: several url blocks, status_code forms, digest, virtualhost cascade', () => {
  const { vs, cfg } = one(
    svc(`
 virtualhost svc.example
 real_server 10.0.0.2 80 {
  HTTP_GET {
   connect_ip 10.0.0.100
   connect_port 8080
   url {
    path /one
    status_code 200-299 301 404
    digest 9B3A0C85A887A256D6939DA88AABD8CD
   }
   url {
    path /two
    status_code 204
    status_code 500-599
    virtualhost two.example
   }
   url {
    path /three
    status_code 99 abc 300-200
   }
   url {
    status_code 200
   }
  }
 }
 real_server 10.0.0.3 80 {
  virtualhost rs.example
  HTTP_GET {
   url {
    path /
   }
  }
  HTTP_GET {
   virtualhost chk.example
   url {
    path /
    digest nothex
   }
  }
  HTTP_GET {
  }
 }`),
  );
  const c = vs.realServers[0].checkers[0];
  assert.deepEqual(
    [c.connectIp, c.connectPort, c.virtualhost],
    ['10.0.0.100', 8080, 'svc.example'],
  );
  assert.deepEqual(c.urls, [
    {
      path: '/one',
      statusCodes: [
        [200, 299],
        [301, 301],
        [404, 404],
      ],
      digest: '9b3a0c85a887a256d6939da88aabd8cd',
    },
    {
      path: '/two',
      statusCodes: [
        [204, 204],
        [500, 599],
      ],
      virtualhost: 'two.example',
    },
    { path: '/three', statusCodes: [[200, 299]] },
  ]);
  for (const v of ['99', 'abc', '300-200'])
    hasWarning(cfg, new RegExp(`^line 24: status_code: invalid value '${v}'`));
  assert.ok(
    cfg.errors.includes('line 26: HTTP/SSL_GET checker url has no path, url ignored'),
    String(cfg.errors),
  );
  const [a, b] = vs.realServers[1].checkers;
  assert.equal(a.virtualhost, 'rs.example');
  assert.equal(b.virtualhost, 'chk.example');
  assert.equal(b.urls[0].digest, undefined);
  hasWarning(cfg, /^line 42: digest: invalid MD5 digest 'nothex'/);
  assert.ok(
    cfg.errors.includes(
      'line 45: HTTP/SSL_GET checker has no urls specified: its real server is kept out of rotation',
    ),
    String(cfg.errors),
  );
  // fail closed: the checker stays, unusable, so its real server is not left unchecked
  assert.equal(vs.realServers[1].checkers.length, 3);
  assert.match(vs.realServers[1].checkers[2].unusable ?? '', /no urls/);
});

test('MISC_CHECK: misc_path, misc_timeout, misc_dynamic', () => {
  const { vs, cfg } = one(
    svc(`
 real_server 10.0.0.2 80 {
  MISC_CHECK {
   misc_path "/usr/local/bin/check 10.0.0.2"
   misc_timeout 4
   misc_dynamic
   user nobody
  }
  MISC_CHECK {
   misc_path /bin/false
   misc_dynamic no
   connect_port 80
  }
  MISC_CHECK {
   misc_timeout 3
  }
 }`),
  );
  const [a, b] = vs.realServers[0].checkers;
  assert.deepEqual(
    [a.type, a.miscPath, a.miscTimeout, a.miscDynamic, a.retry],
    ['MISC_CHECK', '/usr/local/bin/check 10.0.0.2', 4, true, 0],
  );
  assert.deepEqual([a.miscUser, a.miscGroup], ['nobody', undefined]);
  // keepalived's misc_dynamic takes no value: any word after it still turns it on
  assert.deepEqual(
    [b.miscPath, b.miscTimeout, b.miscDynamic, b.connectPort],
    ['/bin/false', undefined, true, undefined],
  );
  hasWarning(cfg, /^line 16: unknown keyword 'connect_port' in MISC_CHECK, ignored$/);
  assert.deepEqual(cfg.errors, [
    'line 18: No script path has been specified for MISC_CHECK: its real server is kept out of rotation',
  ]);
  assert.equal(vs.realServers[0].checkers.length, 3);
  assert.ok(vs.realServers[0].checkers[2].unusable);
});
