/**
 * Configuration errors are typed IpvsErrors whose messages match ipvsadm's wording
 * (ipvsadm reference §9.3), and leave the configuration unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/engine/engine.js';
import { IpvsError } from '../../src/engine/errors.js';
import { TCP80 as K } from './fixture.js';

function snapshot(e: Engine): string {
  return JSON.stringify(
    e.services.map((s) => ({
      s: s.toString(),
      sched: s.schedName,
      flags: s.flags,
      timeout: s.timeout,
      dests: s.dests.map((d) => [d.toString(), d.weight, d.connFlags, d.uThreshold, d.lThreshold]),
    })),
  );
}

function expectError(e: Engine, fn: () => unknown, errno: string, message: string): void {
  const before = snapshot(e);
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof IpvsError);
    assert.equal(err.errno, errno);
    assert.equal(err.message, message);
    return true;
  });
  assert.equal(snapshot(e), before, 'configuration unchanged');
}

test('unknown scheduler', () => {
  const e = new Engine();
  expectError(
    e,
    () => e.addService(K, { scheduler: 'nope' }),
    'ENOENT',
    'Scheduler or persistence engine not found',
  );
  e.addService(K, { scheduler: 'rr' });
  expectError(
    e,
    () => e.editService(K, { scheduler: 'nope' }),
    'ENOENT',
    'Scheduler or persistence engine not found',
  );
});

test('duplicate service', () => {
  const e = new Engine();
  e.addService(K);
  expectError(e, () => e.addService(K), 'EEXIST', 'Service already exists');
});

test('missing service for edit, delete, zero', () => {
  const e = new Engine();
  expectError(e, () => e.editService(K), 'ESRCH', 'No such service');
  expectError(e, () => e.delService(K), 'ESRCH', 'No such service');
  expectError(e, () => e.zero(K), 'ESRCH', 'No such service');
});

test('real server on a missing service', () => {
  const e = new Engine();
  expectError(
    e,
    () => e.addDest(K, { addr: '10.0.2.11', port: 80 }),
    'ESRCH',
    'Service not defined',
  );
  expectError(
    e,
    () => e.editDest(K, { addr: '10.0.2.11', port: 80 }),
    'ESRCH',
    'Service not defined',
  );
  expectError(e, () => e.delDest(K, '10.0.2.11', 80), 'ESRCH', 'Service not defined');
});

test('weight out of range, thresholds inverted, duplicate and missing dest', () => {
  const e = new Engine();
  e.addService(K);
  expectError(
    e,
    () => e.addDest(K, { addr: '10.0.2.11', port: 80, weight: -1 }),
    'ERANGE',
    'Numerical result out of range',
  );
  expectError(
    e,
    () => e.addDest(K, { addr: '10.0.2.11', port: 80, uThreshold: 5, lThreshold: 10 }),
    'ERANGE',
    'Numerical result out of range',
  );
  e.addDest(K, { addr: '10.0.2.11', port: 80 });
  expectError(
    e,
    () => e.addDest(K, { addr: '10.0.2.11', port: 80 }),
    'EEXIST',
    'Destination already exists',
  );
  expectError(
    e,
    () => e.editDest(K, { addr: '10.0.2.12', port: 80 }),
    'ENOENT',
    'No such destination',
  );
  expectError(e, () => e.delDest(K, '10.0.2.12', 80), 'ENOENT', 'No such destination');
  expectError(
    e,
    () => e.editDest(K, { addr: '10.0.2.11', port: 80, weight: -5 }),
    'ERANGE',
    'Numerical result out of range',
  );
});

test('mixed address family only for tunnelling servers', () => {
  const e = new Engine();
  e.addService(K);
  expectError(
    e,
    () => e.addDest(K, { addr: 'fd00::1', port: 80, fwd: 'masq' }),
    'EINVAL',
    'Invalid operation.  Possibly wrong module version, address not unicast, ...',
  );
  e.addDest(K, { addr: 'fd00::1', port: 80, fwd: 'tunnel' });
});

test('--set: 0 leaves a value unchanged; state timeouts by name', () => {
  const e = new Engine();
  assert.deepEqual(e.getTimeouts(), { tcp: 900, tcpfin: 120, udp: 300 });
  e.setTimeouts({ tcp: 0, tcpfin: 30, udp: 0 });
  assert.deepEqual(e.getTimeouts(), { tcp: 900, tcpfin: 30, udp: 300 });
  e.setTimeouts({ tcp: 3600, tcpfin: 0, udp: 60 });
  assert.deepEqual(e.getTimeouts(), { tcp: 3600, tcpfin: 30, udp: 60 });
  e.setStateTimeout('tcp', 'syn_recv', 30);
  assert.equal(e.tcpTimeouts[3], 30_000);
  assert.throws(() => e.setStateTimeout('tcp', 'BOGUS', 1), IpvsError);
});

test('new real servers go to the head of the list', () => {
  const e = new Engine();
  e.addService(K);
  e.addDest(K, { addr: '10.0.2.1', port: 80 });
  e.addDest(K, { addr: '10.0.2.2', port: 80 });
  e.addDest(K, { addr: '10.0.2.3', port: 80 });
  assert.deepEqual(
    e.findService(K)!.dests.map((d) => d.toString()),
    ['10.0.2.3:80', '10.0.2.2:80', '10.0.2.1:80'],
  );
});

test('a deleted dest re-added from the trash keeps its counters', () => {
  const e = new Engine();
  e.addService(K);
  const d = e.addDest(K, { addr: '10.0.2.1', port: 80 });
  d.stats.conns = 42;
  d.refcnt = 1; // a conn still references it
  e.delDest(K, '10.0.2.1', 80);
  assert.equal(e.trashDests.length, 1);
  const again = e.addDest(K, { addr: '10.0.2.1', port: 80 });
  assert.equal(again, d);
  assert.equal(again.stats.conns, 42);
});
