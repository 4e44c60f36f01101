/**
 * Readiness (src/daemon/ready.ts, docs/ha.md) over a real control model: each condition
 * makes the director, or one VIP, not ready with its own reason, and a VIP is ready only
 * while every service of it has a real server with weight > 0 that health checks find
 * alive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  evaluateReadiness,
  parseVipTarget,
  runReadyCommand,
  serviceReadiness,
  type HealthStatus,
  type ReadinessSources,
  type VipTarget,
} from '../../src/daemon/ready.js';
import type { LearningState } from '../../src/sync/daemon.js';
import { newModel } from '../control/helpers.js';

function sources(over: Partial<ReadinessSources> = {}) {
  const model = newModel();
  model.addService({ af: 4, protocol: 6, addr: '10.0.0.1', port: 80, scheduler: 'mh' });
  model.addService({ af: 4, protocol: 6, addr: '10.0.0.1', port: 443, scheduler: 'mh' });
  model.addService({ af: 6, protocol: 17, addr: 'fd00::1', port: 53, scheduler: 'rr' });
  const id80 = { af: 4 as const, protocol: 6, addr: '10.0.0.1', port: 80 };
  const id443 = { ...id80, port: 443 };
  model.addDest(id80, { addr: '10.0.1.1', port: 80, weight: 1 });
  model.addDest(id80, { addr: '10.0.1.2', port: 80, weight: 1 });
  model.addDest(id443, { addr: '10.0.1.1', port: 443, weight: 1 });
  const state = { dataPlane: true, configured: true };
  let learning: LearningState = {
    learning: false,
    since: null,
    remainingMs: 0,
    windowMs: 13000,
    datagrams: 0,
    lastDatagram: null,
  };
  let health: HealthStatus | undefined;
  const src: ReadinessSources = {
    model,
    phase: () => state,
    learning: () => learning,
    health: () => health,
    ...over,
  };
  return {
    model,
    src,
    state,
    id80,
    id443,
    setLearning: (l: Partial<LearningState>) => (learning = { ...learning, ...l }),
    setHealth: (h: HealthStatus) => (health = h),
  };
}

function target(t: string): VipTarget {
  const v = parseVipTarget(t);
  assert.equal(typeof v, 'object', String(v));
  return v as VipTarget;
}

test('VIP arguments: ADDR, ADDR:PORT, [V6]:PORT, bare IPv6; junk refused with a message', () => {
  assert.deepEqual(
    { ...target('10.0.0.1:80'), words: undefined },
    { af: 4, port: 80, text: '10.0.0.1:80', words: undefined },
  );
  assert.equal(target('10.0.0.1').port, null);
  assert.equal(target('[fd00::1]:53').port, 53);
  assert.equal(target('fd00::1').af, 6);
  assert.match(String(parseVipTarget('10.0.0.1:99999')), /port out of range/);
  assert.match(String(parseVipTarget('nonsense')), /expected ADDR/);
});

test('ready when running, configured and not learning; each condition its reason', () => {
  const r = sources();
  assert.deepEqual(evaluateReadiness(r.src).reasons, []);
  assert.equal(evaluateReadiness(r.src).reason, 'ready');
  r.state.dataPlane = false;
  assert.match(evaluateReadiness(r.src).reason, /data plane is not running/);
  r.state.dataPlane = true;
  r.state.configured = false;
  assert.match(evaluateReadiness(r.src).reason, /configuration is not loaded/);
  r.state.configured = true;
  r.setLearning({ learning: true, since: 1, remainingMs: 4200 });
  const l = evaluateReadiness(r.src);
  assert.equal(l.ready, false);
  assert.match(l.reason, /learning the connection table from sync \(5 s left of 13 s\)/);
  r.setLearning({ learning: false, remainingMs: 0 });
  const p = sources({
    phase: () => ({ dataPlane: true, configured: true, syncProblem: 'no eth9' }),
  });
  assert.equal(evaluateReadiness(p.src).reason, 'no eth9');
});

test('a VIP is ready while every service of it has an available real server', () => {
  const r = sources();
  assert.equal(evaluateReadiness(r.src, target('10.0.0.1')).ready, true);
  assert.deepEqual(evaluateReadiness(r.src, target('10.0.0.1:80')).services, [
    { service: 'TCP 10.0.0.1:80', available: 2, servers: 2 },
  ]);
  // no such VIP, or no such port
  assert.match(
    evaluateReadiness(r.src, target('10.0.0.2')).reason,
    /no virtual service on 10.0.0.2/,
  );
  assert.equal(evaluateReadiness(r.src, target('10.0.0.1:8080')).ready, false);
  // a service with no real server at all
  assert.match(
    evaluateReadiness(r.src, target('[fd00::1]:53')).reason,
    /UDP \[fd00::1\]:53 has no available real server/,
  );
  // 443's only real server quiesced: the VIP is not ready, port 80 alone still is
  r.model.editDest(r.id443, { addr: '10.0.1.1', port: 443, weight: 0 });
  assert.equal(evaluateReadiness(r.src, target('10.0.0.1')).ready, false);
  assert.equal(evaluateReadiness(r.src, target('10.0.0.1:80')).ready, true);
  // health: one of 80's servers down leaves one; both down, none
  r.setHealth([{ service: 'TCP 10.0.0.1:80', servers: [{ server: '10.0.1.1:80', alive: false }] }]);
  assert.equal(evaluateReadiness(r.src, target('10.0.0.1:80')).services?.[0].available, 1);
  r.setHealth([
    {
      service: 'TCP 10.0.0.1:80',
      servers: [
        { server: '10.0.1.1:80', alive: false },
        { server: '10.0.1.2:80', alive: false },
      ],
    },
  ]);
  assert.equal(evaluateReadiness(r.src, target('10.0.0.1:80')).ready, false);
  // the per-service gauge follows
  const per = serviceReadiness(r.src);
  assert.equal(per.get('TCP 10.0.0.1:80'), false);
  assert.equal(per.get('TCP 10.0.0.1:443'), false);
  r.setHealth([]);
  r.model.editDest(r.id443, { addr: '10.0.1.1', port: 443, weight: 1 });
  assert.equal(serviceReadiness(r.src).get('TCP 10.0.0.1:443'), true);
  // a director that is not ready makes every service not ready
  r.state.dataPlane = false;
  assert.equal(serviceReadiness(r.src).get('TCP 10.0.0.1:80'), false);
});

test('tsvs status --ready: a daemon that does not answer is not ready (exit 1); bad VIP exit 2', async () => {
  let out = '';
  let err = '';
  const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t) };
  assert.equal(await runReadyCommand({ control: '/nonexistent/control.sock' }, io), 1);
  assert.match(err, /^not ready: the daemon does not answer/);
  err = '';
  assert.equal(await runReadyCommand({ control: '/nonexistent/control.sock', vip: 'x:y' }, io), 2);
  assert.match(err, /expected ADDR/);
  assert.equal(await runReadyCommand({ control: '/nonexistent/control.sock', json: true }, io), 1);
  assert.equal(JSON.parse(out).ready, false);
});
