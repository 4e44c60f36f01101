/**
 * Reconciling a running configuration with a wanted one by difference: what is the
 * same is not touched (the engine's service and dest objects, their counters and the
 * connections on them stay), what changed is edited in place, the rest added/deleted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reconcile, reconcileOrRollBack, WHOLE_CONFIG } from '../../src/control/reconcile.js';
import type { ControlModel } from '../../src/control/model.js';
import { newModel } from './helpers.js';

const A = { af: 4 as const, protocol: 6, addr: '10.0.0.1', port: 80 };
const B = { af: 4 as const, protocol: 17, addr: '10.0.0.2', port: 53 };
const F = { af: 4 as const, protocol: 6, fwmark: 7 };

function build(m: ControlModel, weight2 = 2, withB = true): ControlModel {
  m.addService({ ...A, scheduler: 'wrr' });
  m.addDest(A, { addr: '10.0.1.1', port: 80, weight: 1 });
  m.addDest(A, { addr: '10.0.1.2', port: 80, weight: weight2 });
  if (withB) {
    m.addService({ ...B, scheduler: 'rr' });
    m.addDest(B, { addr: '10.0.1.3', port: 53, fwd: 'droute' });
  }
  m.addService({ ...F, scheduler: 'sh' });
  m.addDest(F, { addr: '10.0.1.4', port: 0, fwd: 'tunnel' });
  return m;
}

test('the same configuration changes nothing: no change recorded, the same engine objects', () => {
  const m = build(newModel());
  const svc = m.engine.services.map((s) => s);
  const dests = m.engine.services.flatMap((s) => s.dests);
  const gen = m.generation;
  const want = build(newModel()).snapshot();
  assert.deepEqual(reconcile(m, want, WHOLE_CONFIG), []);
  assert.equal(m.generation, gen);
  assert.deepEqual(m.engine.services, svc);
  assert.deepEqual(
    m.engine.services.flatMap((s) => s.dests),
    dests,
  );
});

test('a changed weight is edited in place, a removed server deleted, a removed service deleted', () => {
  const m = build(newModel());
  const a = m.engine.services[0];
  const kept = a.dests.find((d) => d.port === 80 && d.weight === 1)!;
  const edited = a.dests.find((d) => d.weight === 2)!;
  const want = newModel();
  want.addService({ ...A, scheduler: 'wrr' });
  want.addDest(A, { addr: '10.0.1.1', port: 80, weight: 1 });
  want.addDest(A, { addr: '10.0.1.2', port: 80, weight: 5 });
  want.addService({ ...F, scheduler: 'sh' });
  const changes = reconcile(m, want.snapshot(), WHOLE_CONFIG);
  assert.deepEqual(changes.sort(), [
    'real server 10.0.1.2:80 of TCP 10.0.0.1:80 edited (weight 5)',
    'real server 10.0.1.4:0 of FWM 7 deleted',
    'service UDP 10.0.0.2:53 deleted',
  ]);
  assert.equal(m.engine.services[0], a, 'the service object is the same');
  assert.equal(a.dests.includes(kept), true);
  assert.equal(a.dests.includes(edited), true, 'edited in place, not re-created');
  assert.equal(edited.weight, 5);
  assert.deepEqual(m.snapshot(), want.snapshot());
});

test('a new service and servers are added, a changed scheduler edited', () => {
  const m = build(newModel(), 2, false);
  const want = build(newModel());
  want.editService({ ...A, scheduler: 'wlc' });
  want.addDest(A, { addr: '10.0.1.9', port: 80 });
  const changes = reconcile(m, want.snapshot(), WHOLE_CONFIG);
  assert.ok(changes.includes('service TCP 10.0.0.1:80 edited (wlc)'), changes.join('\n'));
  assert.ok(changes.includes('service UDP 10.0.0.2:53 added (rr)'), changes.join('\n'));
  // the saved configuration keeps the order services were added (listings use the
  // kernel's hash order): the new service comes after the ones that stayed
  const byKey = (x: { services: object[] }): string[] =>
    x.services.map((s) => JSON.stringify(s)).sort();
  assert.deepEqual(byKey(m.snapshot()), byKey(want.snapshot()));
});

test('timeouts, settings and what the scope leaves out', () => {
  const m = build(newModel());
  m.sysctlSet('expire_nodest_conn', '1');
  const want = build(newModel());
  want.setTimeouts({ tcp: 100 });
  const onlyServices = { services: true, timeouts: false, sysctl: false, daemons: false };
  assert.deepEqual(reconcile(m, want.snapshot(), onlyServices), []);
  assert.equal(m.getTimeouts().tcp, 900);
  const changes = reconcile(m, want.snapshot(), WHOLE_CONFIG);
  assert.deepEqual(changes, [
    'sysctl expire_nodest_conn = 0',
    'timeouts tcp 100 tcpfin 120 udp 300',
  ]);
  // services another owner keeps are left alone whatever the wanted configuration says
  const empty = newModel().snapshot();
  reconcile(m, empty, { ...onlyServices, keep: (s) => s.fwmark === 7 });
  assert.deepEqual(
    m.snapshot().services.map((s) => s.fwmark),
    [7],
  );
});

test('all or nothing: a refused step takes the configuration back', () => {
  const m = build(newModel());
  const before = m.snapshot();
  const want = build(newModel());
  want.addDest(A, { addr: '10.0.1.7', port: 80 });
  const snap = want.snapshot();
  // a wanted scheduler the engine does not have: the step fails after others applied
  snap.services.find((s) => s.port === 53)!.scheduler = 'nosuch';
  assert.throws(() => reconcileOrRollBack(m, snap, WHOLE_CONFIG), /not found/);
  assert.deepEqual(m.snapshot(), before);
});
