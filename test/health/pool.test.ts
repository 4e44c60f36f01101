/**
 * keepalived's pool transitions (ipwrapper.c), each expectation worked out from
 * keepalived's code: quorum with hysteresis and the sorry server (update_quorum_state,
 * perform_quorum_state), sorry_server_inhibit, inhibit_on_failure while the sorry server
 * stands in (ipvs_cmd turns the removal into weight 0), starting with the quorum down,
 * a checker that cannot run (fail closed), virtual_server_group pools, lvs_flush,
 * lvs_flush_on_stop and ha_suspend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/engine/engine.js';
import { ControlModel } from '../../src/control/model.js';
import { parseKeepalived } from '../../src/health/keepalived.js';
import { HealthManager } from '../../src/health/manager.js';
import type { CheckResult } from '../../src/health/check.js';
import { lab, run, withClock } from './helpers.js';

const CHK = 'TCP_CHECK { warmup 0 retry 1 delay_before_retry 1 }';
const vs = (body: string, head = '10.0.0.1 80') => `virtual_server ${head} {
  delay_loop 10
  lvs_sched wrr
  lvs_method NAT
  protocol TCP
${body}
}`;

test('quorum with hysteresis: the sorry server stands in below quorum−hysteresis, leaves at quorum+hysteresis', () =>
  withClock(async () => {
    const s = lab(
      vs(`  quorum 3
  hysteresis 1
  sorry_server 10.0.9.9 80
  real_server 10.0.1.1 80 { weight 2 ${CHK} }
  real_server 10.0.1.2 80 { weight 1 ${CHK} }
  real_server 10.0.1.3 80 { weight 1 ${CHK} }`),
    );
    const a = '10.0.1.1:80';
    const b = '10.0.1.2:80';
    s.results.set(a, [{ ok: false }]);
    s.results.set(b, [{ ok: true }]);
    s.h.start();
    const all = ['10.0.1.1:80/2', '10.0.1.2:80/1', '10.0.1.3:80/1'];
    assert.deepEqual(s.dests(), all, 'all alive at start; live weight 4 ≥ 3+1: quorum up');
    await run(200);
    // A down: live 2, not below 3−1: quorum holds
    assert.deepEqual(s.dests(), ['10.0.1.2:80/1', '10.0.1.3:80/1']);
    s.results.set(b, [{ ok: false }]);
    await run(10_000);
    assert.deepEqual(
      s.dests(),
      ['10.0.1.2:80/1', '10.0.1.3:80/1'],
      'a failure while up is retried first',
    );
    await run(1000);
    // B down: live 1 < 2: quorum lost, the live servers make way for the sorry server
    assert.deepEqual(s.dests(), ['10.0.9.9:80/1']);
    assert.ok(s.logs.some((l) => /Lost quorum 3-1=2 > 1 for VS \[10\.0\.0\.1\]:tcp:80/.test(l)));
    s.results.set(a, [{ ok: true }]);
    await run(10_000);
    // A back: live 3 < 3+1: still down, and no IPVS change while the sorry server is in
    assert.deepEqual(s.dests(), ['10.0.9.9:80/1']);
    s.results.set(b, [{ ok: true }]);
    await run(10_000);
    assert.deepEqual(s.dests(), all, 'live 4: quorum back, sorry server out, the alive ones in');
    assert.ok(s.logs.some((l) => /Gained quorum 3\+1=4 <= 4/.test(l)));
    s.h.stop();
  }));

test('sorry_server_inhibit: present at weight 0 from the start, enabled and disabled by weight', () =>
  withClock(async () => {
    const s = lab(
      vs(`  sorry_server 10.0.9.9 80
  sorry_server_inhibit
  real_server 10.0.1.1 80 { ${CHK} }`),
    );
    s.results.set('10.0.1.1:80', [{ ok: false }, { ok: true }]);
    s.h.start();
    assert.deepEqual(s.dests(), ['10.0.1.1:80/1', '10.0.9.9:80/0']);
    await run(200);
    assert.deepEqual(s.dests(), ['10.0.9.9:80/1']);
    await run(10_000);
    assert.deepEqual(s.dests(), ['10.0.1.1:80/1', '10.0.9.9:80/0']);
    s.h.stop();
  }));

test('inhibit_on_failure: when the quorum goes, an alive inhibited server is set to weight 0, not removed', () =>
  withClock(async () => {
    const s = lab(
      vs(`  quorum 2
  sorry_server 10.0.9.9 80
  real_server 10.0.1.1 80 { ${CHK} }
  real_server 10.0.1.2 80 { inhibit_on_failure ${CHK} }`),
    );
    s.results.set('10.0.1.1:80', [{ ok: false }]);
    s.h.start();
    await run(200);
    assert.deepEqual(s.dests(), ['10.0.1.2:80/0', '10.0.9.9:80/1']);
    s.h.stop();
  }));

test('alpha with a sorry server: starting with the quorum down puts the sorry server in at once', () =>
  withClock(async () => {
    const s = lab(
      vs(`  alpha
  sorry_server 10.0.9.9 80
  real_server 10.0.1.1 80 { ${CHK} }`),
    );
    s.results.set('10.0.1.1:80', [{ ok: false }, { ok: true }]);
    s.h.start();
    assert.deepEqual(s.dests(), ['10.0.9.9:80/1']);
    assert.ok(s.logs.some((l) => /Starting with quorum down/.test(l)));
    await run(200);
    assert.deepEqual(s.dests(), ['10.0.9.9:80/1'], 'alpha: a failure changes nothing');
    await run(10_000);
    assert.deepEqual(s.dests(), ['10.0.1.1:80/1'], 'the first success: quorum, sorry server out');
    s.h.stop();
  }));

test('fail closed: a checker that cannot run keeps its real server out, with the reason in the log', () =>
  withClock(async () => {
    const s = lab(
      vs(`  real_server 10.0.1.1 80 { ${CHK} }
  real_server 10.0.1.2 80 { NO_SUCH_CHECK { } ${CHK} }
  real_server 10.0.1.3 80 {
    inhibit_on_failure
    FOOBAR { }
  }`),
    );
    s.h.start();
    assert.deepEqual(s.dests(), ['10.0.1.1:80/1', '10.0.1.3:80/0']);
    await run(20_000);
    assert.deepEqual(
      s.dests(),
      ['10.0.1.1:80/1', '10.0.1.3:80/0'],
      'its other checker passing changes nothing',
    );
    assert.ok(
      s.logs.some((l) =>
        /\[10\.0\.1\.2\]:tcp:80 of VS \[10\.0\.0\.1\]:tcp:80 is kept out of rotation: .*unknown checker 'NO_SUCH_CHECK'/.test(
          l,
        ),
      ),
      s.logs.join('\n'),
    );
    assert.ok(
      s.logs.some((l) =>
        /\[10\.0\.1\.3\]:tcp:80 .* kept out of rotation: unknown checker 'FOOBAR'/.test(l),
      ),
    );
    s.h.stop();
  }));

test('a checker marked unusable by the checker parser counts as failed for good', () =>
  withClock(async () => {
    const s = lab(vs(`  real_server 10.0.1.1 80 { ${CHK} }`));
    s.cfg.virtualServers[0].realServers[0].checkers[0].unusable = 'ping not found';
    s.h.start();
    await run(20_000);
    assert.deepEqual(s.dests(), []);
    assert.equal(s.calls.length, 0, 'never run');
    assert.ok(s.logs.some((l) => /kept out of rotation: ping not found/.test(l)));
    s.h.stop();
  }));

test('virtual_server_group: a real server going down leaves every service of the group', () =>
  withClock(async () => {
    const s = lab(`virtual_server_group G {
  10.0.0.1-2 80
  fwmark 5
}
${vs(
  `  real_server 10.0.1.1 8080 { ${CHK} }
  real_server 10.0.1.2 8080 { ${CHK} }`,
  'group G',
)}`);
    s.results.set('10.0.1.1:8080', [{ ok: true }, { ok: false }]);
    s.h.start();
    const both = (a: string) => [
      `-a -f 5 -r ${a}:8080 -m -w 1`,
      `-a -t 10.0.0.1:80 -r ${a}:8080 -m -w 1`,
      `-a -t 10.0.0.2:80 -r ${a}:8080 -m -w 1`,
    ];
    const svcs = ['-A -f 5 -s wrr', '-A -t 10.0.0.1:80 -s wrr', '-A -t 10.0.0.2:80 -s wrr'];
    assert.deepEqual(s.save(), [...svcs, ...both('10.0.1.1'), ...both('10.0.1.2')].sort());
    await run(200);
    await run(10_000);
    await run(1000);
    assert.deepEqual(s.save(), [...svcs, ...both('10.0.1.2')].sort());
    s.h.stop();
  }));

test('lvs_flush empties IPVS at start; shutdown deletes real servers then services (keepalived default)', () =>
  withClock(async () => {
    const s = lab(`global_defs {
  lvs_flush
}
${vs(`  real_server 10.0.1.1 80 { ${CHK} }`)}`);
    s.model.addService({ af: 4, protocol: 17, addr: '192.0.2.1', port: 53, scheduler: 'rr' });
    s.h.start();
    assert.deepEqual(s.save(), [
      '-A -t 10.0.0.1:80 -s wrr',
      '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1',
    ]);
    s.model.addService({ af: 4, protocol: 17, addr: '192.0.2.1', port: 53, scheduler: 'rr' });
    s.h.shutdown();
    assert.deepEqual(s.save(), ['-A -u 192.0.2.1:53 -s rr'], "only keepalived's own services go");
  }));

test('lvs_flush_on_stop flushes everything; lvs_flush_on_stop VS deletes each service', () =>
  withClock(async () => {
    for (const [mode, left] of [
      ['lvs_flush_on_stop', []],
      ['lvs_flush_on_stop VS', ['-A -u 192.0.2.1:53 -s rr']],
    ] as const) {
      const s = lab(`global_defs {
  ${mode}
}
${vs(`  real_server 10.0.1.1 80 { ${CHK} }`)}`);
      s.model.addService({ af: 4, protocol: 17, addr: '192.0.2.1', port: 53, scheduler: 'rr' });
      s.h.start();
      s.h.shutdown();
      assert.deepEqual(s.save(), left, mode);
    }
  }));

test('ha_suspend: no checks while the virtual address is not local', () =>
  withClock(async () => {
    const local = new Set<string>(['127.0.0.1']);
    const s = lab(vs(`  ha_suspend\n  real_server 10.0.1.1 80 { ${CHK} }`), {
      localAddresses: () => local,
      addressPollMs: 1000,
    });
    s.h.start();
    await run(30_000);
    assert.equal(s.calls.length, 0);
    local.add('10.0.0.1');
    await run(1000);
    await run(10_000);
    assert.ok(s.calls.length >= 1);
    assert.ok(
      s.logs.some((l) => /Activating healthchecker for service \[10\.0\.0\.1\]:tcp:80/.test(l)),
    );
    s.h.stop();
  }));

test('lvs_sync_daemon without a VRRP instance starts the master and the backup sync daemons, as keepalived', () => {
  const model = new ControlModel(new Engine(), {
    interfaceExists: () => true,
    sync: { start: () => undefined, stop: () => undefined },
  });
  const cfg = parseKeepalived(`global_defs {
  lvs_sync_daemon eth1 id 9 port 8849
}
${vs(`  real_server 10.0.1.1 80 { ${CHK} }`)}`);
  const h = new HealthManager(
    model,
    cfg,
    () => undefined,
    async () => ({ ok: true }),
  );
  h.start();
  h.stop();
  assert.deepEqual(
    model.daemons().map((d) => [d.state, d.mcastIfn, d.syncId, d.mcastPort]),
    [
      ['master', 'eth1', 9, 8849],
      ['backup', 'eth1', 9, 8849],
    ],
  );
});

test('a saved configuration restored before start: alive servers kept, alpha ones taken out (inhibited: weight 0)', () =>
  withClock(async () => {
    const s = lab(
      vs(`  real_server 10.0.1.1 80 { weight 3 ${CHK} }
  real_server 10.0.1.2 80 { alpha ${CHK} }
  real_server 10.0.1.3 80 { alpha inhibit_on_failure ${CHK} }`),
    );
    const id = { af: 4 as const, protocol: 6, addr: '10.0.0.1', port: 80 };
    s.model.addService({ ...id, scheduler: 'rr' });
    for (const a of ['10.0.1.1', '10.0.1.2', '10.0.1.3'])
      s.model.addDest(id, { addr: a, port: 80, fwd: 'masq', weight: 5 });
    s.h.start();
    assert.deepEqual(s.save(), [
      '-A -t 10.0.0.1:80 -s wrr',
      '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 3',
      '-a -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 0',
    ]);
    s.h.stop();
  }));

test('ha_suspend on a group: the checks run while any of its addresses is local', () =>
  withClock(async () => {
    const local = new Set<string>();
    const s = lab(
      `virtual_server_group G {\n  10.0.0.1-2 80\n}\n${vs(`  ha_suspend\n  real_server 10.0.1.1 80 { ${CHK} }`, 'group G')}`,
      { localAddresses: () => local, addressPollMs: 1000 },
    );
    s.h.start();
    await run(20_000);
    assert.equal(s.calls.length, 0);
    local.add('10.0.0.2');
    await run(11_000);
    assert.ok(s.calls.length >= 1);
    s.h.stop();
  }));

test("a checker's cur_weight (FILE_CHECK, misc_dynamic) is added to the configured weight", () =>
  withClock(async () => {
    const s = lab(vs(`  real_server 10.0.1.1 80 { weight 5 ${CHK} }`));
    const r = (curWeight: number) => ({ ok: true, curWeight }) as CheckResult;
    s.results.set('10.0.1.1:80', [r(3), r(-2)]);
    s.h.start();
    await run(200);
    assert.deepEqual(s.dests(), ['10.0.1.1:80/8']);
    await run(10_000);
    assert.deepEqual(s.dests(), ['10.0.1.1:80/3']);
    s.h.stop();
  }));
