/**
 * The old daemon's side of a hand-over (src/daemon/takeover.ts): `begin` stops its data
 * plane and answers a state the successor can restore; a second `begin` is refused;
 * `done` makes it exit; `abort` (or no confirmation in time) makes it read again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/engine/engine.js';
import { importEngineState } from '../../src/engine/state.js';
import { Handover, Successor } from '../../src/daemon/takeover.js';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { nativeAvailable } from '../../src/dataplane/native.js';
import { copyDescriptor } from '../../src/dataplane/native-fds.js';
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
      park: (keep: boolean) => void calls.push(keep ? 'park-keep' : 'park'),
      release: () => void calls.push('release'),
      resume: () => (calls.push('resume'), Promise.resolve()),
      exit: () => void calls.push('exit'),
      log: () => undefined,
      descriptors: () => [] as { name: string; fd: number }[],
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
  const r = (await h.takeover('begin')) as { state: unknown };
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

test('abort makes the old daemon read again, and a new hand-over can begin', async () => {
  const { calls, s } = side(engine());
  const h = new Handover(s);
  await h.takeover('begin');
  h.takeover('abort');
  assert.deepEqual(calls, ['park', 'resume']);
  await h.takeover('begin');
  assert.deepEqual(calls, ['park', 'resume', 'park']);
  h.takeover('abort');
});

test(
  'the successor copies the descriptors the old daemon keeps open (pidfd_getfd): the same open file',
  { skip: nativeAvailable() ? false : 'the native addon is not built' },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvs-takeover-'));
    const file = join(dir, 'held');
    const fd = openSync(file, 'w');
    const e = engine();
    const sd = side(e);
    const h = new Handover({
      ...sd.s,
      descriptors: () => [{ name: 'nfq-7100', fd }],
    });
    // the control socket's part: one JSON request, one JSON answer
    const sock = join(dir, 'control.sock');
    const srv = createServer((c) => {
      let buf = '';
      c.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const req = JSON.parse(buf.slice(0, nl)) as { id?: number; phase: string };
          buf = buf.slice(nl + 1);
          void Promise.resolve(h.takeover(req.phase)).then((result) =>
            c.write(JSON.stringify({ id: req.id, ok: true, result }) + '\n'),
          );
        }
      });
    }).listen(sock);
    await new Promise((r) => srv.once('listening', r));
    try {
      const succ = await Successor.connect(sock);
      const got = await succ.receive(new Engine(), () => Date.now(), copyDescriptor);
      assert.equal(got.why, undefined);
      assert.equal(got.fds.length, 1);
      assert.equal(got.fds[0].name, 'nfq-7100');
      assert.notEqual(got.fds[0].fd, fd);
      // one open file: what is written through the copy lands at the original's offset
      writeSync(fd, 'old ');
      writeSync(got.fds[0].fd, 'new');
      closeSync(fd);
      closeSync(got.fds[0].fd);
      assert.equal(readFileSync(file, 'utf8'), 'old new');
      assert.deepEqual(sd.calls, ['park-keep']);
      await succ.abort();
      // a successor that cannot copy them (pidfd_getfd refused): the old daemon closes
      // its own, so the new one can bind the queues itself
      const again = await Successor.connect(sock);
      const none = await again.receive(
        new Engine(),
        () => Date.now(),
        () => {
          throw new Error('pidfd_getfd: Operation not permitted (EPERM)');
        },
      );
      assert.deepEqual(none.fds, []);
      assert.match(none.why ?? '', /EPERM/);
      assert.deepEqual(sd.calls, ['park-keep', 'resume', 'park-keep', 'release']);
      await again.abort();
    } finally {
      srv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
