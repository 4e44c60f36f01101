import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN_SCHEDULERS, registerBuiltinSchedulers } from '../../../src/engine/sched/index.js';
import { findScheduler, schedulerNames } from '../../../src/engine/sched/registry.js';
import { Rig } from './rig.js';

const NAMES = [
  'rr',
  'wrr',
  'lc',
  'wlc',
  'lblc',
  'lblcr',
  'dh',
  'sh',
  'sed',
  'nq',
  'fo',
  'ovf',
  'mh',
  'twos',
];

test('importing the index registers all 14 schedulers', () => {
  for (const n of NAMES) assert.equal(findScheduler(n)?.name, n);
  assert.deepEqual(
    BUILTIN_SCHEDULERS.map((m) => m.name),
    NAMES,
  );
});

test('registerBuiltinSchedulers is idempotent', () => {
  const before = schedulerNames().length;
  registerBuiltinSchedulers();
  registerBuiltinSchedulers();
  assert.equal(schedulerNames().length, before);
});

test('every scheduler has a one-line description and fails on an empty service', () => {
  for (const mod of BUILTIN_SCHEDULERS) {
    assert.ok(mod.description.length > 10 && !mod.description.includes('\n'), mod.name);
    const r = new Rig(mod);
    assert.equal(r.pick(), null, mod.name);
    r.sched.tick?.(r.svc, 0);
  }
});

test('every scheduler picks the only server of a one-server service', () => {
  for (const mod of BUILTIN_SCHEDULERS) {
    const r = new Rig(mod);
    r.add('only', 1);
    assert.equal(r.name(r.pick()), 'only', mod.name);
    assert.equal(r.name(r.pick('203.0.113.77', 5555)), 'only', mod.name);
  }
});
