/**
 * Control-plane faults found by probing (issue 14 item 7), each against the real
 * control socket: a change whose save failed, wrong-typed and null fields, a client
 * that never reads, an over-long line inside a chunk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { ControlClient, ControlError } from '../../src/control/client.js';
import { startDaemonControl } from '../../src/control/daemon.js';
import { startControlServer } from '../../src/control/server.js';
import { MAX_LINE } from '../../src/control/protocol.js';
import { newModel } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

const SVC = { af: 4 as const, protocol: 6, addr: '10.0.0.1', port: 80 };

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tsvs-faults-'));
}

/** Send raw lines; collect every answer line; resolve on close or after `ms`. */
function raw(path: string): { sock: Socket; lines: string[]; closed: Promise<void> } {
  const sock = createConnection(path);
  const lines: string[] = [];
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  const closed = new Promise<void>((r) => sock.on('close', () => r()));
  sock.on('error', () => undefined);
  return { sock, lines, closed };
}

test(
  'a change whose save failed is answered with the error and the configuration is as before',
  { timeout: 15_000 },
  async () => {
    const dir = tmp();
    const stateDir = join(dir, 'state');
    mkdirSync(stateDir);
    const ctl = await startDaemonControl(new Engine(), {
      path: join(dir, 'c.sock'),
      statePath: join(stateDir, 'config.json'),
      onError: () => undefined,
    });
    const c = await ControlClient.connect(join(dir, 'c.sock'));
    try {
      await c.call({ cmd: 'addService', service: { ...SVC, scheduler: 'rr' } });
      await c.call({ cmd: 'addDest', service: SVC, dest: { addr: '10.0.1.1', port: 80 } });
      const saved = readFileSync(join(stateDir, 'config.json'), 'utf8');
      // the state directory becomes unusable: saving is impossible from now on
      rmSync(stateDir, { recursive: true });
      writeFileSync(stateDir, 'not a directory');
      await assert.rejects(
        c.call({ cmd: 'addDest', service: SVC, dest: { addr: '10.0.1.2', port: 80, weight: 3 } }),
        (e: unknown) => e instanceof ControlError && /cannot save/.test(e.message),
      );
      await assert.rejects(
        c.call({ cmd: 'editService', service: { ...SVC, scheduler: 'wlc' } }),
        /cannot save/,
      );
      // nothing of the refused changes runs
      const s = await c.call({ cmd: 'getService', service: SVC });
      assert.equal(s.scheduler, 'rr');
      assert.deepEqual(
        s.dests.map((d) => d.addr),
        ['10.0.1.1'],
      );
      // once saving works again, changes are accepted and saved
      rmSync(stateDir);
      mkdirSync(stateDir);
      writeFileSync(join(stateDir, 'config.json'), saved);
      await c.call({ cmd: 'addDest', service: SVC, dest: { addr: '10.0.1.3', port: 80 } });
      assert.match(readFileSync(join(stateDir, 'config.json'), 'utf8'), /10\.0\.1\.3/);
    } finally {
      c.close();
      await ctl.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'setTimeouts refuses every non-object and empty timeouts with EINVAL, changing nothing',
  { timeout: 15_000 },
  async () => {
    const dir = tmp();
    const m = newModel();
    const srv = await startControlServer(m, join(dir, 'c.sock'));
    const c = await ControlClient.connect(join(dir, 'c.sock'));
    try {
      const before = await c.call({ cmd: 'getTimeouts' });
      for (const bad of [-1, '80', [], true, {}, null, { tcp: '80' }, { tcpp: 5 }, { tcp: null }]) {
        await assert.rejects(
          c.call({ cmd: 'setTimeouts', timeouts: bad as never }),
          (e: unknown) => e instanceof ControlError && e.errno === 'EINVAL',
          `timeouts ${JSON.stringify(bad)}`,
        );
      }
      assert.deepEqual(await c.call({ cmd: 'getTimeouts' }), before);
      const g = m.generation;
      await c.call({ cmd: 'setTimeouts', timeouts: { tcp: 100 } });
      assert.equal((await c.call({ cmd: 'getTimeouts' })).tcp, 100);
      assert.equal(m.generation, g + 1);
    } finally {
      c.close();
      await srv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('null is never a default: a field sent as null is refused', { timeout: 15_000 }, async () => {
  const dir = tmp();
  const m = newModel();
  const srv = await startControlServer(m, join(dir, 'c.sock'));
  const c = await ControlClient.connect(join(dir, 'c.sock'));
  const einval = (e: unknown): boolean => e instanceof ControlError && e.errno === 'EINVAL';
  try {
    await assert.rejects(c.call({ cmd: 'addService', service: null as never }), einval);
    await assert.rejects(
      c.call({ cmd: 'addService', service: { ...SVC, protocol: null } as never }),
      einval,
    );
    await assert.rejects(
      c.call({ cmd: 'addService', service: { ...SVC, port: null } as never }),
      einval,
    );
    await assert.rejects(
      c.call({ cmd: 'addService', service: { ...SVC, scheduler: null } as never }),
    );
    assert.equal(m.services().length, 0);
    await c.call({ cmd: 'addService', service: SVC });
    for (const field of ['weight', 'fwd', 'uThreshold', 'tunType']) {
      await assert.rejects(
        c.call({
          cmd: 'addDest',
          service: SVC,
          dest: { addr: '10.0.1.1', port: 80, [field]: null } as never,
        }),
        einval,
        field,
      );
    }
    assert.equal(m.services()[0].dests.length, 0);
  } finally {
    c.close();
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'a client that never reads its answers is dropped once they pass the bound',
  { timeout: 15_000 },
  async () => {
    const dir = tmp();
    const m = newModel();
    const errors: string[] = [];
    const srv = await startControlServer(m, join(dir, 'c.sock'), {
      maxUnread: 256 << 10,
      onError: (e) => errors.push(e.message),
    });
    try {
      for (let i = 0; i < 50; i++) m.addService({ ...SVC, port: 1000 + i, scheduler: 'rr' });
      const r = raw(join(dir, 'c.sock'));
      r.sock.pause(); // never reads
      const req = JSON.stringify({ cmd: 'listServices' }) + '\n';
      let dropped = false;
      void r.closed.then(() => (dropped = true));
      // about 10 KB per answer: a few thousand requests are far past the bound
      for (let i = 0; i < 4000 && !dropped; i++) {
        r.sock.write(req);
        if (i % 200 === 0) await new Promise((res) => setImmediate(res));
      }
      await waitFor(() => dropped || r.sock.destroyed, {
        timeout: 5000,
        what: 'the daemon to drop the client',
      });
      assert.ok(
        errors.some((e) => /unread/.test(e)),
        errors.join('\n'),
      );
      // the daemon goes on serving others
      const c = await ControlClient.connect(join(dir, 'c.sock'));
      assert.equal((await c.call({ cmd: 'listServices' })).length, 50);
      c.close();
    } finally {
      await srv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'every request line is held to MAX_LINE, also one that ends inside a chunk',
  { timeout: 15_000 },
  async () => {
    const dir = tmp();
    const m = newModel();
    const srv = await startControlServer(m, join(dir, 'c.sock'));
    try {
      const r = raw(join(dir, 'c.sock'));
      await new Promise((res) => r.sock.once('connect', res));
      const head =
        '{"cmd":"addService","service":{"af":4,"protocol":6,"addr":"10.0.0.1","port":80},"pad":"';
      // most of the line first: the unfinished end is under the limit...
      r.sock.write(head + 'x'.repeat(MAX_LINE - head.length - 100));
      await new Promise((res) => setTimeout(res, 50));
      // ...then the end of the line, past the limit, with its newline in the same chunk
      r.sock.write('x'.repeat(1000) + '"}\n');
      await r.closed;
      assert.equal(r.lines.length, 1, r.lines.join('\n'));
      const a = JSON.parse(r.lines[0]) as { ok: boolean; error: { errno: string } };
      assert.equal(a.ok, false);
      assert.equal(a.error.errno, 'EMSGSIZE');
      assert.equal(m.services().length, 0, 'the over-long request did not run');
    } finally {
      await srv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
