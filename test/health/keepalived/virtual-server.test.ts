/**
 * The virtual_server block (spec §2): the scheduler registry's names, the TUN method,
 * old keyword names, IPv6 and fwmark services, unknown keywords and bad values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKeepalived } from '../../../src/health/keepalived.js';
import { one, svc, hasWarning } from './helpers.js';

test('a scheduler outside the list is an error and the service is skipped', () => {
  const cfg = parseKeepalived(
    `${svc(' real_server 10.0.0.2 80 {\n }')}virtual_server 10.0.0.9 80 {\n lvs_sched fancy\n real_server 10.0.0.2 80 {\n }\n}\n`,
  );
  assert.deepEqual(
    cfg.virtualServers.map((v) => v.addr),
    ['10.0.0.1'],
  );
  assert.deepEqual(cfg.errors, ["line 9: Invalid lvs_scheduler 'fancy', virtual_server skipped"]);
});

test('TUN method with its tunnel types, ports and checksum options', () => {
  const { vs, cfg } = one(
    svc(`
 real_server 10.0.0.2 80 {
  lvs_method TUN type gue port 6080 remcsum
 }
 real_server 10.0.0.3 80 {
  lvs_method TUN type gre csum
 }
 real_server 10.0.0.4 80 {
  lvs_method TUN type ipip
 }
 real_server 10.0.0.5 80 {
  lvs_method TUN type gue
 }
 real_server 10.0.0.6 80 {
  lvs_method TUN type ipip nocsum
 }
 real_server 10.0.0.7 80 {
  lvs_method TUN type gre remcsum
 }
 real_server 10.0.0.8 80 {
  lvs_method TUN type vxlan
 }`),
  );
  assert.deepEqual(
    vs.realServers.map((r) => [r.method, r.tunType, r.tunPort, r.tunCsum]),
    [
      ['tunnel', 'gue', 6080, 'remcsum'],
      ['tunnel', 'gre', undefined, 'csum'],
      ['tunnel', 'ipip', undefined, undefined],
      ['masq', undefined, undefined, undefined],
      ['masq', undefined, undefined, undefined],
      ['masq', undefined, undefined, undefined],
      ['masq', undefined, undefined, undefined],
    ],
  );
  hasWarning(cfg, /^line 16: lvs_method: tunnel type gue requires a port, ignored$/);
  hasWarning(cfg, /^line 19: lvs_method: tunnel type ipip takes no checksum option, ignored$/);
  hasWarning(cfg, /^line 22: lvs_method: tunnel type gre rejects remcsum, ignored$/);
  hasWarning(cfg, /^line 25: lvs_method: invalid tunnel type 'vxlan', ignored$/);
  // at service level, inherited by the real servers (and the sorry server)
  const t = one(
    `virtual_server 10.0.0.1 80 {\n lvs_sched rr\n protocol TCP\n lvs_method TUN type gue port 5555\n sorry_server 10.0.0.9 8080\n real_server 10.0.0.2 81 {\n }\n}`,
  );
  assert.equal(t.vs.method, 'tunnel');
  assert.deepEqual(
    [t.vs.realServers[0].port, t.vs.realServers[0].tunType, t.vs.realServers[0].tunPort],
    [80, 'gue', 5555],
  );
  assert.deepEqual(t.vs.sorryServer, {
    addr: '10.0.0.9',
    port: 80,
    method: 'tunnel',
    tunType: 'gue',
    tunPort: 5555,
  });
});

test('old keyword names: lb_algo, lb_kind, nb_get_retry', () => {
  const { vs, cfg } = one(`virtual_server 10.0.0.1 80 {
  lb_algo wrr
  lb_kind DR
  protocol TCP
  real_server 10.0.0.2 80 {
    lb_kind TUN
    HTTP_GET {
      url {
        path /
      }
      nb_get_retry 4
    }
  }
}`);
  // keepalived 2.2 still reads nb_get_retry, with a deprecation warning
  assert.deepEqual(cfg.warnings, ["line 11: nb_get_retry is deprecated - please use 'retry'"]);
  assert.deepEqual([vs.scheduler, vs.method], ['wrr', 'droute']);
  assert.equal(vs.realServers[0].method, 'tunnel');
  assert.equal(vs.realServers[0].checkers[0].retry, 4);
});

test('IPv6 service', () => {
  const { vs, cfg } = one(`virtual_server 2001:db8::1 443 {
  lvs_sched sed
  lvs_method NAT
  protocol TCP
  persistence_granularity 64
  real_server 2001:db8::10 8443 {
    TCP_CHECK {
      connect_ip 2001:db8::99
      bindto 2001:db8::1
      bind_port 4000
    }
  }
  real_server 2001:DB8:0:0::10 8443 {
  }
  real_server 10.0.0.2 443 {
  }
}`);
  assert.deepEqual(
    [vs.af, vs.addr, vs.port, vs.persistenceTimeout, vs.persistenceGranularity],
    [6, '2001:db8::1', 443, 360, '64'],
  );
  assert.equal(vs.realServers.length, 1);
  const c = vs.realServers[0].checkers[0];
  assert.deepEqual([c.connectIp, c.bindto, c.bindPort], ['2001:db8::99', '2001:db8::1', 4000]);
  hasWarning(cfg, /^line 13: duplicate real server \[2001:DB8:0:0::10\]:8443/);
  hasWarning(cfg, /^line 15: real server 10\.0\.0\.2 is not of the address family/);
  // an IPv4 mask is no IPv6 granularity
  const bad = one(
    svc(
      ' persistence_granularity 255.255.255.0\n real_server 2001:db8::2 443 {\n }',
      '2001:db8::1 443',
    ),
  );
  assert.equal(bad.vs.persistenceGranularity, undefined);
  hasWarning(bad.cfg, /^line 5: persistence_granularity '255\.255\.255\.0' does not suit an IPv6/);
});

test('fwmark service: family from ip_family or the real servers, protocol TCP', () => {
  const { vs, cfg } = one(`virtual_server fwmark 100 {
  lvs_sched rr
  lvs_method DR
  real_server 2001:db8::2 {
  }
}`);
  assert.deepEqual(
    [vs.kind, vs.fwmark, vs.af, vs.protocol, vs.addr, vs.port],
    ['fwmark', 100, 6, 6, '', 0],
  );
  assert.deepEqual(cfg.warnings, []);
  const tun = one(`virtual_server fwmark 5 {
  lvs_sched rr
  lvs_method TUN
  ip_family inet6
  real_server 10.0.0.2 {
  }
}`);
  assert.deepEqual([tun.vs.af, tun.vs.realServers[0].addr], [6, '10.0.0.2']);
  const bad = parseKeepalived('virtual_server fwmark 0 {\n}\nvirtual_server fwmark x {\n}');
  assert.deepEqual(bad.errors, [
    "line 1: virtual_server: invalid fwmark '0', block skipped",
    "line 3: virtual_server: invalid fwmark 'x', block skipped",
  ]);
});

test('unknown keywords in LVS blocks, include, unsupported checkers, groups: warnings', () => {
  const cfg = parseKeepalived(`include /etc/keepalived/other.conf
virtual_server group G1 {
  real_server 10.0.0.2 80 {
  }
}
${svc(` frobnicate 3
 include more.conf
 quorum_up /bin/up.sh
 mystery {
  a b
 }
 real_server 10.0.0.2 80 {
  bogus
  SSL_GET {
   url {
    path /
   }
  }
  TCP_CHECK {
   weird 1
  }
 }`)}`);
  assert.deepEqual(cfg.errors, []);
  assert.deepEqual(cfg.warnings, [
    "line 1: 'include' is not supported by tsvs (tsvs reads one file; put the LVS configuration in it), ignored",
    'line 2: Virtual server group G1 specified but not configured - ignoring virtual server group G1',
    "line 10: unknown keyword 'frobnicate' in virtual_server, ignored",
    "line 11: 'include' is not supported by tsvs (tsvs reads one file; put the LVS configuration in it), ignored",
    "line 13: unknown keyword 'mystery' in virtual_server (block skipped), ignored",
    "line 17: unknown keyword 'bogus' in real_server, ignored",
    "line 24: unknown keyword 'weird' in TCP_CHECK, ignored",
  ]);
  assert.equal(cfg.virtualServers.length, 1);
  assert.deepEqual(
    cfg.virtualServers[0].realServers[0].checkers.map((c) => c.type),
    ['SSL_GET', 'TCP_CHECK'],
  );
});

test('bad addresses and values: errors or warnings with line numbers', () => {
  const cfg = parseKeepalived(`virtual_server 10.0.0.1:80 {
  real_server 10.0.0.2 80 {
  }
}
virtual_server 10.0.0.1 99999 {
}
virtual_server {
}
${svc(` real_server 10.0.0.300 80 {
 }
 real_server 10.0.0.3 80 {
  TCP_CHECK {
   connect_timeout soon
   retry 0
   connect_ip nowhere
  }
 }
 sorry_server 10.0.0.5 http
 delay_loop -1`)}`);
  assert.deepEqual(cfg.errors, [
    "line 1: virtual_server: invalid address '10.0.0.1:80' (the port is a separate word), block skipped",
    "line 5: virtual_server: invalid port '99999', block skipped",
    'line 7: virtual_server: missing address, block skipped',
    "line 13: real_server: invalid address '10.0.0.300', real server skipped",
  ]);
  assert.equal(cfg.virtualServers.length, 1);
  const vs = cfg.virtualServers[0];
  assert.equal(vs.sorryServer, undefined);
  assert.equal(vs.delayLoop, 60);
  const c = vs.realServers[0].checkers[0];
  // a checker's retry may be 0 (check_api.c retry_handler: 0..UINT_MAX)
  assert.deepEqual([c.connectTimeout, c.retry, c.connectIp], [5, 0, undefined]);
  hasWarning(cfg, /^line 17: connect_timeout: invalid time 'soon', ignored$/);
  hasWarning(cfg, /^line 19: connect_ip: invalid address 'nowhere', ignored$/);
  hasWarning(cfg, /^line 22: sorry_server: invalid port 'http', ignored$/);
  hasWarning(cfg, /^line 23: delay_loop: invalid time '-1', ignored$/);
});
