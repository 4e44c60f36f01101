/**
 * The keepalived.conf parser (spec keepalived-lvs-reference §1–§4, §6): the worked
 * example, every default and load-time validation, old keyword names, odd layouts,
 * IPv6 and fwmark services, skipped unrelated blocks, global_defs, HTTP_GET and
 * MISC_CHECK options, and input that is bad in every way never throwing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseKeepalived,
  type KaConfig,
  type KaVirtualServer,
} from '../../src/health/keepalived.js';

/** The one service of `text` (asserting there is exactly one). */
function one(text: string): { vs: KaVirtualServer; cfg: KaConfig } {
  const cfg = parseKeepalived(text);
  assert.equal(cfg.virtualServers.length, 1, JSON.stringify(cfg, null, 1));
  return { vs: cfg.virtualServers[0], cfg };
}

/** A service header and body with a scheduler, method and protocol (no default warnings). */
function svc(body: string, head = '10.0.0.1 80'): string {
  return `virtual_server ${head} {\n lvs_sched rr\n lvs_method NAT\n protocol TCP\n${body}\n}\n`;
}

function hasWarning(cfg: KaConfig, re: RegExp): void {
  assert.ok(
    cfg.warnings.some((w) => re.test(w)),
    `no warning ${re}: ${JSON.stringify(cfg.warnings)}`,
  );
}

test('the worked example (§6) parses to exactly the described service', () => {
  const text = `virtual_server 192.168.10.100 80 {
    delay_loop 6
    lvs_sched wlc
    lvs_method NAT
    protocol TCP
    persistence_timeout 300
    quorum 2
    sorry_server 10.0.0.250 80

    real_server 10.0.0.11 80 {
        weight 3
        TCP_CHECK {
            connect_timeout 3
            retry 2
            delay_before_retry 2
        }
    }
    real_server 10.0.0.12 8080 {
        weight 1
        inhibit_on_failure
        HTTP_GET {
            url { path /health status_code 200 }
            connect_timeout 3
        }
    }
}
`;
  const cfg = parseKeepalived(text);
  assert.deepEqual(cfg.warnings, []);
  assert.deepEqual(cfg.errors, []);
  assert.equal(cfg.lvsFlush, false);
  assert.equal(cfg.lvsTimeouts, undefined);
  assert.equal(cfg.syncDaemon, undefined);
  const expected: KaVirtualServer = {
    kind: 'addr',
    af: 4,
    protocol: 6,
    addr: '192.168.10.100',
    port: 80,
    fwmark: 0,
    scheduler: 'wlc',
    method: 'masq',
    persistenceTimeout: 300,
    ops: false,
    schedFlags: [],
    quorum: 2,
    hysteresis: 0,
    sorryServer: { addr: '10.0.0.250', port: 80, method: 'masq' },
    sorryServerInhibit: false,
    inhibitOnFailure: false,
    alpha: false,
    haSuspend: false,
    delayLoop: 6,
    connectTimeout: 5,
    retry: 1,
    line: 1,
    realServers: [
      {
        addr: '10.0.0.11',
        port: 80,
        weight: 3,
        method: 'masq',
        uThreshold: 0,
        lThreshold: 0,
        inhibitOnFailure: false,
        alpha: false,
        line: 10,
        checkers: [
          {
            type: 'TCP_CHECK',
            connectTimeout: 3,
            retry: 2,
            delayBeforeRetry: 2,
            delayLoop: 6,
            alpha: false,
            urls: [],
            miscDynamic: false,
            line: 12,
          },
        ],
      },
      {
        addr: '10.0.0.12',
        port: 8080,
        weight: 1,
        method: 'masq',
        uThreshold: 0,
        lThreshold: 0,
        inhibitOnFailure: true,
        alpha: false,
        line: 18,
        checkers: [
          {
            type: 'HTTP_GET',
            connectTimeout: 3,
            retry: 1,
            delayBeforeRetry: 3,
            delayLoop: 6,
            alpha: false,
            urls: [{ path: '/health', statusCodes: [[200, 200]] }],
            miscDynamic: false,
            line: 21,
          },
        ],
      },
    ],
  };
  assert.deepEqual(cfg.virtualServers, [expected]);
});

test('defaults: scheduler wlc, method NAT, protocol UDP, each with its warning; timers', () => {
  const { vs, cfg } = one(
    'virtual_server 10.0.0.1 53 {\n real_server 10.0.0.2 53 {\n  TCP_CHECK {\n  }\n }\n}',
  );
  assert.equal(vs.scheduler, 'wlc');
  assert.equal(vs.method, 'masq');
  assert.equal(vs.protocol, 17);
  assert.deepEqual(cfg.warnings, [
    "line 1: no scheduler set, setting default 'wlc'",
    'line 1: no forwarding method set, setting default NAT',
    'line 1: no protocol set - defaulting to UDP',
  ]);
  assert.equal(vs.delayLoop, 60);
  assert.equal(vs.connectTimeout, 5);
  assert.equal(vs.retry, 1);
  assert.equal(vs.delayBeforeRetry, undefined);
  assert.equal(vs.persistenceTimeout, undefined);
  assert.equal(vs.quorum, 1);
  const rs = vs.realServers[0];
  assert.equal(rs.weight, 1);
  assert.equal(rs.method, 'masq');
  assert.equal(rs.tunType, undefined);
  const c = rs.checkers[0];
  assert.deepEqual(
    [c.connectTimeout, c.retry, c.delayBeforeRetry, c.delayLoop, c.warmup, c.alpha],
    [5, 1, 1, 60, undefined, false],
  );
});

test('checker timers: per-type defaults and the checker → real_server → service cascade', () => {
  const { vs } = one(
    svc(`
 real_server 10.0.0.2 80 {
  TCP_CHECK {
  }
  HTTP_GET {
   url {
    path /
   }
  }
  MISC_CHECK {
   misc_path /bin/true
  }
 }`),
  );
  const [tcp, http, misc] = vs.realServers[0].checkers;
  assert.deepEqual([tcp.retry, tcp.delayBeforeRetry], [1, 1]);
  assert.deepEqual([http.retry, http.delayBeforeRetry], [1, 3]);
  assert.deepEqual([misc.retry, misc.delayBeforeRetry], [0, 1]);

  const { vs: vs2 } = one(
    svc(`
 delay_loop 10
 connect_timeout 4
 retry 3
 delay_before_retry 7
 warmup 0
 alpha
 real_server 10.0.0.2 80 {
  connect_timeout 2.5
  delay_before_retry 0.25
  HTTP_GET {
   url {
    path /
   }
   delay_loop 1.5
  }
  MISC_CHECK {
   misc_path /bin/true
   retry 5
   alpha off
   warmup 2
  }
 }
 real_server 10.0.0.3 80 {
  TCP_CHECK {
  }
 }`),
  );
  assert.deepEqual(
    [vs2.delayLoop, vs2.connectTimeout, vs2.retry, vs2.delayBeforeRetry, vs2.alpha],
    [10, 4, 3, 7, true],
  );
  const [h, m] = vs2.realServers[0].checkers;
  assert.deepEqual(
    [h.connectTimeout, h.retry, h.delayBeforeRetry, h.delayLoop, h.warmup, h.alpha],
    [2.5, 3, 0.25, 1.5, 0, true],
  );
  assert.deepEqual(
    [m.connectTimeout, m.retry, m.delayBeforeRetry, m.delayLoop, m.warmup, m.alpha],
    [2.5, 5, 0.25, 10, 2, false],
  );
  const t = vs2.realServers[1].checkers[0];
  assert.deepEqual(
    [t.connectTimeout, t.retry, t.delayBeforeRetry, t.delayLoop, t.warmup],
    [4, 3, 7, 10, 0],
  );
  assert.equal(vs2.realServers[0].alpha, true);
});

test('weight: the service weight is the real servers’ default; thresholds; BOOL forms', () => {
  const { vs, cfg } = one(
    svc(`
 weight 5
 inhibit_on_failure yes
 real_server 10.0.0.2 80 {
 }
 real_server 10.0.0.3 80 {
  weight 0
  uthreshold 100
  lthreshold 50
  inhibit_on_failure off
  notify_up "/usr/local/bin/up.sh arg" root
  notify_down /usr/local/bin/down.sh
 }
 real_server 10.0.0.4 80 {
  weight 3000000000
  inhibit_on_failure maybe
 }`),
  );
  const [a, b, c] = vs.realServers;
  assert.deepEqual([a.weight, a.inhibitOnFailure], [5, true]);
  assert.deepEqual([b.weight, b.uThreshold, b.lThreshold, b.inhibitOnFailure], [0, 100, 50, false]);
  assert.equal(b.notifyUp, '/usr/local/bin/up.sh arg');
  assert.equal(b.notifyDown, '/usr/local/bin/down.sh');
  assert.deepEqual([c.weight, c.inhibitOnFailure], [5, true]);
  hasWarning(cfg, /^line 19: weight: invalid value '3000000000'/);
  hasWarning(cfg, /^line 20: inhibit_on_failure: invalid boolean 'maybe'/);
  assert.equal(vs.inhibitOnFailure, true);
});

test('persistence: bare timeout 360, granularity alone sets 360, port 0 forces 360', () => {
  const rs = ' real_server 10.0.0.2 80 {\n }';
  assert.equal(one(svc(` persistence_timeout\n${rs}`)).vs.persistenceTimeout, 360);
  const g = one(svc(` persistence_granularity 255.255.255.0\n persistence_engine sip\n${rs}`)).vs;
  assert.deepEqual(
    [g.persistenceTimeout, g.persistenceGranularity, g.persistenceEngine],
    [360, '255.255.255.0', 'sip'],
  );
  const bad = one(
    svc(` persistence_granularity 255.0.255.0\n persistence_timeout 100000000\n${rs}`),
  );
  assert.equal(bad.vs.persistenceGranularity, undefined);
  assert.equal(bad.vs.persistenceTimeout, undefined);
  hasWarning(bad.cfg, /^line 5: persistence_granularity: invalid value '255.0.255.0'/);
  hasWarning(bad.cfg, /^line 6: persistence_timeout: invalid value/);

  const zero = one(svc(` real_server 10.0.0.2 80 {\n }`, '10.0.0.1 0'));
  assert.equal(zero.vs.persistenceTimeout, 360);
  hasWarning(zero.cfg, /^line 1: .*zero port specified for non-persistent service/);
  // no port at all is port 0
  const noPort = one(svc(` persistence_timeout 50\n real_server 10.0.0.2 {\n }`, '10.0.0.1'));
  assert.deepEqual([noPort.vs.port, noPort.vs.persistenceTimeout], [0, 50]);
  assert.deepEqual(noPort.cfg.warnings, []);
});

test('validation: no real servers, duplicates, other family, ha_suspend on fwmark', () => {
  const empty = parseKeepalived(svc(''));
  assert.deepEqual(empty.virtualServers, []);
  hasWarning(empty, /^line 1: virtual server 10\.0\.0\.1:80 has no real servers, ignored$/);

  const { vs, cfg } = one(
    svc(`
 ha_suspend
 real_server 10.0.0.2 80 {
  weight 2
 }
 real_server 10.0.0.2 80 {
  weight 9
 }
 real_server 2001:db8::2 80 {
 }
 real_server 2001:db8::3 80 {
  lvs_method TUN
 }`),
  );
  assert.equal(vs.haSuspend, true);
  assert.deepEqual(
    vs.realServers.map((r) => [r.addr, r.weight, r.method, r.tunType]),
    [
      ['10.0.0.2', 2, 'masq', undefined],
      ['2001:db8::3', 1, 'tunnel', 'ipip'],
    ],
  );
  hasWarning(cfg, /^line 10: duplicate real server 10\.0\.0\.2:80/);
  hasWarning(cfg, /^line 13: real server 2001:db8::2 is not of the address family/);

  const fw = one(svc(' ha_suspend\n real_server 10.0.0.2 80 {\n }', 'fwmark 7'));
  assert.equal(fw.vs.haSuspend, false);
  hasWarning(fw.cfg, /^line 1: ha_suspend is not allowed on fwmark service fwmark 7, cleared$/);
});

test('ports: non-NAT takes the virtual port; fwmark non-NAT takes 0 (warned if written)', () => {
  const dr = one(
    svc(`
 lvs_method DR
 real_server 10.0.0.2 8080 {
 }
 real_server 10.0.0.3 {
 }
 real_server 10.0.0.4 8081 {
  lvs_method NAT
 }
 real_server 10.0.0.5 {
  lvs_method NAT
 }`),
  );
  assert.equal(dr.vs.method, 'droute');
  assert.deepEqual(
    dr.vs.realServers.map((r) => [r.port, r.method]),
    [
      [80, 'droute'],
      [80, 'droute'],
      [8081, 'masq'],
      [80, 'masq'],
    ],
  );
  hasWarning(dr.cfg, /^line 7: real server 10\.0\.0\.2: port 8080 ignored/);

  const fw = one(
    `virtual_server fwmark 3 {
 lvs_sched rr
 lvs_method DR
 protocol TCP
 real_server 10.0.0.2 80 {
 }
 real_server 10.0.0.3 {
 }
 real_server 10.0.0.4 8080 {
  lvs_method NAT
 }
}`,
  );
  assert.deepEqual(
    fw.vs.realServers.map((r) => [r.port, r.method]),
    [
      [0, 'droute'],
      [0, 'droute'],
      [8080, 'masq'],
    ],
  );
  hasWarning(fw.cfg, /^line 4: protocol is ignored for a fwmark service$/);
  hasWarning(fw.cfg, /^line 5: real server 10\.0\.0\.2: port 80 ignored for a non-NAT fwmark/);
  assert.equal(fw.cfg.warnings.length, 2);
});

test('quorum is clamped to the total weight, hysteresis kept below quorum', () => {
  const { vs, cfg } = one(
    svc(`
 quorum 10
 hysteresis 4
 real_server 10.0.0.2 80 {
  weight 2
 }
 real_server 10.0.0.3 80 {
  weight 1
 }`),
  );
  assert.deepEqual([vs.quorum, vs.hysteresis], [3, 2]);
  hasWarning(cfg, /^line 1: .*quorum 10 is more than the total weight 3, set to 3$/);
  hasWarning(cfg, /^line 1: .*hysteresis 4 must be below quorum 3, set to 2$/);
  const ok = one(svc(' quorum 2\n hysteresis 1\n real_server 10.0.0.2 80 {\n  weight 5\n }'));
  assert.deepEqual([ok.vs.quorum, ok.vs.hysteresis, ok.cfg.warnings], [2, 1, []]);
});

test('scheduler flags: sh-/mh- only after the matching lvs_sched; ops only on UDP', () => {
  const rs = '\n real_server 10.0.0.2 80 {\n }';
  const sh = one(
    `virtual_server 10.0.0.1 80 {\n protocol TCP\n lvs_method NAT\n sh-port\n lvs_sched sh\n sh-fallback\n flag-1\n mh-port${rs}\n}`,
  );
  assert.equal(sh.vs.scheduler, 'sh');
  assert.deepEqual(sh.vs.schedFlags, ['sh-fallback', 'flag-1']);
  hasWarning(sh.cfg, /^line 4: sh-port requires 'lvs_sched sh' earlier in the block, ignored$/);
  hasWarning(sh.cfg, /^line 8: mh-port requires 'lvs_sched mh' earlier in the block, ignored$/);
  const mh = one(svc(` lb_algo mh\n mh-port\n mh-fallback on\n flag-2 off${rs}`));
  assert.deepEqual([mh.vs.scheduler, mh.vs.schedFlags], ['mh', ['mh-port', 'mh-fallback']]);

  const tcp = one(svc(` ops${rs}`));
  assert.equal(tcp.vs.ops, false);
  hasWarning(tcp.cfg, /^line 1: ops is only for UDP services, reset/);
  const udp = one(
    `virtual_server 10.0.0.1 53 {\n lvs_sched rr\n lvs_method NAT\n protocol udp\n ops${rs}\n}`,
  );
  assert.deepEqual([udp.vs.protocol, udp.vs.ops, udp.cfg.warnings], [17, true, []]);
  const sctp = one(svc(` protocol SCTP${rs}`));
  assert.equal(sctp.vs.protocol, 132);
});

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
  assert.deepEqual(cfg.warnings, []);
  assert.deepEqual([vs.scheduler, vs.method], ['wrr', 'droute']);
  assert.equal(vs.realServers[0].method, 'tunnel');
  assert.equal(vs.realServers[0].checkers[0].retry, 4);
});

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

test('global_defs: lvs_timeouts, lvs_sync_daemon, lvs_flush', () => {
  const cfg = parseKeepalived(`global_defs {
  router_id X
  lvs_timeouts tcp 7200 tcpfin 120 udp 300
  lvs_sync_daemon eth1 VI_1 id 5 maxlen 1400 port 8848 ttl 2 group 224.0.0.81
  lvs_flush
}`);
  assert.deepEqual(cfg.lvsTimeouts, { tcp: 7200, tcpfin: 120, udp: 300 });
  assert.deepEqual(cfg.syncDaemon, {
    ifname: 'eth1',
    instance: 'VI_1',
    syncId: 5,
    maxLen: 1400,
    port: 8848,
    ttl: 2,
    group: '224.0.0.81',
  });
  assert.equal(cfg.lvsFlush, true);
  assert.deepEqual(cfg.warnings, []);
  assert.deepEqual(cfg.virtualServers, []);

  const cfg2 = parseKeepalived(`global_defs {
  lvs_timeouts udp 30 bogus 5
  lvs_sync_daemon eth0 inst VI_2 ttl 300
  lvs_flush off
}`);
  assert.deepEqual(cfg2.lvsTimeouts, { udp: 30 });
  assert.deepEqual(cfg2.syncDaemon, { ifname: 'eth0', instance: 'VI_2' });
  assert.equal(cfg2.lvsFlush, false);
  hasWarning(cfg2, /^line 2: lvs_timeouts: invalid 'bogus 5'/);
  hasWarning(cfg2, /^line 3: lvs_sync_daemon: invalid ttl '300'/);
  const plain = parseKeepalived('global_defs {\n lvs_sync_daemon eth2\n}');
  assert.deepEqual(plain.syncDaemon, { ifname: 'eth2' });
});

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
  assert.ok(cfg.errors.includes('line 26: url without a path, ignored'), String(cfg.errors));
  const [a, b] = vs.realServers[1].checkers;
  assert.equal(a.virtualhost, 'rs.example');
  assert.equal(b.virtualhost, 'chk.example');
  assert.equal(b.urls[0].digest, undefined);
  hasWarning(cfg, /^line 42: digest: invalid MD5 digest 'nothex'/);
  assert.ok(
    cfg.errors.includes('line 45: HTTP_GET has no url, checker ignored'),
    String(cfg.errors),
  );
  assert.equal(vs.realServers[1].checkers.length, 2);
});

test('MISC_CHECK: misc_path, misc_timeout, misc_dynamic', () => {
  const { vs, cfg } = one(
    svc(`
 real_server 10.0.0.2 80 {
  MISC_CHECK {
   misc_path "/usr/local/bin/check 10.0.0.2"
   misc_timeout 4.5
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
    ['MISC_CHECK', '/usr/local/bin/check 10.0.0.2', 4.5, true, 0],
  );
  assert.deepEqual(
    [b.miscPath, b.miscTimeout, b.miscDynamic, b.connectPort],
    ['/bin/false', undefined, false, undefined],
  );
  hasWarning(cfg, /^line 16: unknown keyword 'connect_port' in MISC_CHECK, ignored$/);
  assert.deepEqual(cfg.errors, ['line 18: MISC_CHECK has no misc_path, checker ignored']);
  assert.equal(vs.realServers[0].checkers.length, 2);
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
    'line 1: include not supported',
    'line 2: virtual_server group G1 is not supported, block skipped',
    "line 10: unknown keyword 'frobnicate' in virtual_server, ignored",
    'line 11: include not supported',
    "line 13: unknown keyword 'mystery' in virtual_server (block skipped), ignored",
    "line 17: unknown keyword 'bogus' in real_server, ignored",
    'line 18: SSL_GET is not supported, checker ignored',
    "line 24: unknown keyword 'weird' in TCP_CHECK, ignored",
  ]);
  assert.equal(cfg.virtualServers.length, 1);
  assert.equal(cfg.virtualServers[0].realServers[0].checkers.length, 1);
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
  assert.deepEqual([c.connectTimeout, c.retry, c.connectIp], [5, 1, undefined]);
  hasWarning(cfg, /^line 17: connect_timeout: invalid time 'soon', ignored$/);
  hasWarning(cfg, /^line 18: retry: invalid value '0'/);
  hasWarning(cfg, /^line 19: connect_ip: invalid address 'nowhere', ignored$/);
  hasWarning(cfg, /^line 22: sorry_server: invalid port 'http', ignored$/);
  hasWarning(cfg, /^line 23: delay_loop: invalid time '-1', ignored$/);
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
    "line 9: 'real_server' block is not closed (missing '}')",
    "line 8: 'virtual_server' block is not closed (missing '}')",
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
