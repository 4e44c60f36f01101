/**
 * Shared by the health manager's tests: a model and a manager over a keepalived.conf
 * text, with checks answered from per-server queues (the last answer repeats), the log
 * kept, the dests and `ipvsadm -S -n` lines at hand, and a mocked clock to run.
 */
import assert from 'node:assert/strict';
import { mock } from 'node:test';
import { Engine } from '../../src/engine/engine.js';
import { ControlModel } from '../../src/control/model.js';
import { formatSave, type Names } from '../../src/control/ipvsadm/format.js';
import { parseKeepalived, type KaConfig } from '../../src/health/keepalived.js';
import { HealthManager, type HealthOptions } from '../../src/health/manager.js';
import type { CheckResult } from '../../src/health/check.js';

const numeric: Names = { numeric: true, host: (_af, a) => a, service: () => null };

export interface Lab {
  model: ControlModel;
  h: HealthManager;
  cfg: KaConfig;
  /** Answers per `addr:port`; the last one repeats. */
  results: Map<string, CheckResult[]>;
  calls: string[];
  logs: string[];
  /** Every dest as `addr:port/weight`, sorted. */
  dests(): string[];
  /** `ipvsadm -S -n`, sorted lines. */
  save(): string[];
}

export function lab(conf: string, opts: Omit<HealthOptions, 'check'> = {}): Lab {
  const model = new ControlModel(new Engine());
  const cfg = parseKeepalived(conf);
  assert.deepEqual(cfg.errors, []);
  const results = new Map<string, CheckResult[]>();
  const calls: string[] = [];
  const logs: string[] = [];
  const check = async (_c: unknown, t: { addr: string; port: number }): Promise<CheckResult> => {
    const k = `${t.addr}:${t.port}`;
    calls.push(k);
    const q = results.get(k) ?? [];
    return q.length > 1 ? q.shift()! : (q[0] ?? { ok: true });
  };
  const h = new HealthManager(model, cfg, (l) => logs.push(l), { ...opts, check });
  return {
    model,
    h,
    cfg,
    results,
    calls,
    logs,
    dests: () =>
      model
        .services()
        .flatMap((s) => s.dests.map((d) => `${d.addr}:${d.port}/${d.weight}`))
        .sort(),
    save: () =>
      formatSave(model.services(), numeric)
        .split('\n')
        .filter((l) => l !== '')
        .sort(),
  };
}

/** Let the mocked clock run `ms`, settling the async checks in between. */
export async function run(ms: number, step = 100): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    mock.timers.tick(step);
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}

/** Runs `fn` with setTimeout/setInterval mocked. */
export async function withClock(fn: () => Promise<void>): Promise<void> {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  try {
    await fn();
  } finally {
    mock.timers.reset();
  }
}
