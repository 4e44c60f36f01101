/**
 * The old daemon's side of a hand-over (src/daemon/takeover.ts): `begin` stops its data
 * plane and answers a state the successor can restore; a second `begin` is refused;
 * `done` makes it exit; `abort` (or no confirmation in time) makes it read again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/engine/engine.js';
import { importEngineState } from '../../src/engine/state.js';
import { Handover } from '../../src/daemon/takeover.js';
import { stateFromWire } from '../../src/daemon/state.js';
import { ACK, PSH, SYN, buildPacket } from '../helpers/packets.js';

function engine(): Engine {
  const e = new Engine();
  e.addService({ af: 4, protocol: 6, addr: '10.0.3.100', port: 80 }, { scheduler: 'rr' });
  e.addDest(
    { af: 4, protocol: 6, addr: '10.0.3.100', port: 80 },
    { addr: '10.0.2.11', port: 80, fwd: 'masq' },
  );
  return e;
}

function side(e: Engine) {
  const calls: string[] = [];
  return {
    calls,
    s: {
      engine: e,
      park: () => void calls.push('park'),
      resume: () => (calls.push('resume'), Promise.resolve()),
      exit: () => void calls.push('exit'),
      log: () => undefined,
    },
  };
}

test('begin hands over a restorable state; done makes the old daemon exit', async () => {
  const e = engine();
  for (const [flags, port] of [
    [SYN, 40000],
    [ACK | PSH, 40000],
    [SYN, 40001],
  ]) {
    const raw = buildPacket({
      src: '10.0.1.2',
      dst: '10.0.3.100',
      sport: port,
      dport: 80,
      flags,
      payload: 'x',
    });
    e.in(raw, 0, raw.length, 1000);
  }
  const { calls, s } = side(e);
  const h = new Handover(s);
  const r = h.takeover('begin') as { state: unknown };
  assert.deepEqual(calls, ['park']);
  // the answer crosses the control socket as JSON
  const n = engine();
  const sum = importEngineState(n, stateFromWire(JSON.parse(JSON.stringify(r.state))), 1001);
  assert.equal(sum.conns, 2);
  assert.deepEqual(
    n.connections().map((c) => [c.cport, c.state]),
    e.connections().map((c) => [c.cport, c.state]),
  );
  assert.throws(() => h.takeover('begin'), /already under way/);
  assert.equal(h.takeover('done'), null);
  await new Promise((res) => setImmediate(res));
  assert.deepEqual(calls, ['park', 'exit']);
  assert.throws(() => h.takeover('done'), /no hand-over/);
  assert.throws(() => h.takeover('sideways'), /unknown takeover phase/);
});

test('abort makes the old daemon read again, and a new hand-over can begin', () => {
  const { calls, s } = side(engine());
  const h = new Handover(s);
  h.takeover('begin');
  h.takeover('abort');
  assert.deepEqual(calls, ['park', 'resume']);
  h.takeover('begin');
  assert.deepEqual(calls, ['park', 'resume', 'park']);
  h.takeover('abort');
});
