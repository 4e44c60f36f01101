/**
 * keepalived's checker timing in HealthManager (spec keepalived-lvs-reference §3.1,
 * §5), with an injected check and mock timers: without alpha the first failure takes a
 * real server down at once; later, a failure needs `retry` more failed tries
 * `delay_before_retry` apart; one success brings it back; with alpha a real server is
 * only added after its first success; misc_dynamic weights; inhibit_on_failure.
 */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/engine/engine.js';
import { ControlModel } from '../../src/control/model.js';
import { parseKeepalived } from '../../src/health/keepalived.js';
import { HealthManager } from '../../src/health/manager.js';
import type { CheckResult } from '../../src/health/check.js';

function setup(conf: string) {
  const model = new ControlModel(new Engine());
  const cfg = parseKeepalived(conf);
  assert.deepEqual(cfg.errors, []);
  const results = new Map<string, CheckResult[]>();
  const calls: string[] = [];
  const check = async (_c: unknown, t: { addr: string; port: number }): Promise<CheckResult> => {
    const k = `${t.addr}:${t.port}`;
    calls.push(k);
    const q = results.get(k) ?? [];
    return q.length > 1 ? q.shift()! : (q[0] ?? { ok: true });
  };
  const h = new HealthManager(model, cfg, () => undefined, check);
  const dests = () =>
    model
      .services()
      .flatMap((s) => s.dests.map((d) => `${d.addr}:${d.port}/${d.weight}`))
      .sort();
  return { model, h, results, calls, dests };
}

/** Let the mocked clock run `ms`, settling the async checks in between. */
async function run(ms: number, step = 100): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    mock.timers.tick(step);
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}

const VS = (rs: string, extra = '') => `
virtual_server 10.0.0.1 80 {
  delay_loop 10
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  ${extra}
  ${rs}
}`;

test('no alpha: up at start, the first failure takes it down at once; one success brings it back', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const s = setup(
      VS('real_server 10.0.1.1 80 { TCP_CHECK { warmup 0 retry 3 delay_before_retry 1 } }'),
    );
    s.results.set('10.0.1.1:80', [{ ok: false }, { ok: true }]);
    s.h.start();
    assert.deepEqual(s.dests(), ['10.0.1.1:80/1'], 'added at start');
    await run(200);
    assert.deepEqual(s.dests(), [], 'down at the first failure (no retries at start)');
    assert.equal(s.calls.length, 1);
    await run(10_000);
    assert.deepEqual(s.dests(), ['10.0.1.1:80/1'], 'one success: back');
    s.h.stop();
  } finally {
    mock.timers.reset();
  }
});

test('once up, a failure needs retry more failed tries delay_before_retry apart', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const s = setup(
      VS('real_server 10.0.1.1 80 { TCP_CHECK { warmup 0 retry 2 delay_before_retry 1 } }'),
    );
    s.results.set('10.0.1.1:80', [
      { ok: true },
      { ok: false },
      { ok: false },
      { ok: false },
      { ok: true },
    ]);
    s.h.start();
    await run(200); // check 1: ok (retries reset to 2)
    await run(10_000); // check 2: fails → retry in 1 s
    assert.deepEqual(s.dests(), ['10.0.1.1:80/1']);
    await run(1000); // check 3: fails → one retry left
    assert.deepEqual(s.dests(), ['10.0.1.1:80/1']);
    await run(1000); // check 4: fails → down
    assert.deepEqual(s.dests(), []);
    assert.equal(s.calls.length, 4);
    s.h.stop();
  } finally {
    mock.timers.reset();
  }
});

test('alpha: added only after the first success; inhibit_on_failure keeps it at weight 0', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const s = setup(
      VS(
        `real_server 10.0.1.1 80 { weight 4 alpha TCP_CHECK { warmup 0 } }
         real_server 10.0.1.2 80 { weight 2 inhibit_on_failure TCP_CHECK { warmup 0 } }`,
      ),
    );
    s.results.set('10.0.1.1:80', [{ ok: true }]);
    s.results.set('10.0.1.2:80', [{ ok: false }]);
    s.h.start();
    assert.deepEqual(s.dests(), ['10.0.1.2:80/2'], 'alpha: not yet');
    await run(200);
    assert.deepEqual(s.dests(), ['10.0.1.1:80/4', '10.0.1.2:80/0']);
    s.h.stop();
  } finally {
    mock.timers.reset();
  }
});

test('misc_dynamic: the exit code sets the weight', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const s = setup(
      VS(
        'real_server 10.0.1.1 80 { weight 5 MISC_CHECK { misc_path "/bin/true" misc_dynamic warmup 0 } }',
      ),
    );
    s.results.set('10.0.1.1:80', [{ ok: true, weight: 9 }]);
    s.h.start();
    await run(200);
    assert.deepEqual(s.dests(), ['10.0.1.1:80/9']);
    s.h.stop();
  } finally {
    mock.timers.reset();
  }
});
