/**
 * keepalived's load-time checks and defaults (spec §2.2/§3): default scheduler,
 * method and protocol, the timer cascade, weights, persistence, validation, ports by
 * method, quorum and hysteresis, scheduler flags and ops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKeepalived } from '../../../src/health/keepalived.js';
import { one, svc, hasWarning } from './helpers.js';

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
  assert.deepEqual(b.notifyUp, { args: ['/usr/local/bin/up.sh', 'arg'], user: 'root', line: 15 });
  assert.deepEqual(b.notifyDown, { args: ['/usr/local/bin/down.sh'], line: 16 });
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
