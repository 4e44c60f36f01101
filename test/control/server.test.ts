/**
 * The control socket: file mode, parent directory, request/response framing, errors,
 * pipelining, stale and live sockets, TSVS_CONTROL, and the daemon entry point
 * (an acknowledged change is already saved).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import {
  ControlClient,
  ControlError,
  ControlUnavailableError,
  controlPath,
  DEFAULT_CONTROL_PATH,
} from '../../src/control/client.js';
import { startControlServer } from '../../src/control/server.js';
import { startDaemonControl } from '../../src/control/daemon.js';
import { readConfig } from '../../src/control/persist.js';
import { newModel } from './helpers.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tsvs-ctl-'));
}

/** Send raw lines, collect `n` response lines. */
function raw(path: string, text: string, n: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      const lines = buf.split('\n').filter((l) => l !== '');
      if (lines.length >= n) {
        s.destroy();
        resolve(lines);
      }
    });
    s.on('error', reject);
    s.write(text);
  });
}

test('controlPath: TSVS_CONTROL overrides /run/tsvs/control.sock', () => {
  assert.equal(DEFAULT_CONTROL_PATH, '/run/tsvs/control.sock');
  assert.equal(controlPath({}), '/run/tsvs/control.sock');
  assert.equal(controlPath({ TSVS_CONTROL: '' }), '/run/tsvs/control.sock');
  assert.equal(controlPath({ TSVS_CONTROL: '/tmp/x.sock' }), '/tmp/x.sock');
});

test('the socket is created with mode 0600 in a created parent directory, removed on close', async () => {
  const dir = tmp();
  try {
    const path = join(dir, 'run', 'tsvs', 'control.sock');
    const srv = await startControlServer(newModel(), path);
    const st = statSync(path);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    await srv.close();
    assert.equal(existsSync(path), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('requests and errors over the socket, pipelined and answered in order', async () => {
  const dir = tmp();
  const path = join(dir, 'c.sock');
  const m = newModel();
  const srv = await startControlServer(m, path);
  try {
    const c = await ControlClient.connect(path);
    const svc = { af: 4 as const, protocol: 6, addr: '10.0.0.1', port: 80 };
    const results = await Promise.all([
      c.call({ cmd: 'addService', service: { ...svc, scheduler: 'rr' } }),
      c.call({ cmd: 'addDest', service: svc, dest: { addr: '10.0.0.2', port: 80, fwd: 'masq' } }),
      c.call({ cmd: 'getService', service: svc }),
    ]);
    assert.equal(results[0], null);
    assert.equal(results[2].dests[0].addr, '10.0.0.2');
    await assert.rejects(c.call({ cmd: 'addService', service: svc }), (e: unknown) => {
      assert.ok(e instanceof ControlError);
      assert.deepEqual(
        [e.errno, e.op, e.message],
        ['EEXIST', 'add service', 'Service already exists'],
      );
      return true;
    });
    assert.deepEqual(await c.call({ cmd: 'getTimeouts' }), { tcp: 900, tcpfin: 120, udp: 300 });
    assert.match(await c.call({ cmd: 'proc', name: 'ip_vs' }), /^TCP {2}0A000001:0050 rr {2}\n/m);
    c.close();
    // raw protocol: ids echoed, bad JSON answered, the connection goes on
    const lines = await raw(
      path,
      '{"id":"a","cmd":"info"}\nnot json\n{"cmd":"nosuch"}\n{"id":7,"cmd":"flush"}\n',
      4,
    );
    const r = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(r[0], {
      id: 'a',
      ok: true,
      result: { versionCode: 66049, version: '1.2.1', connTabSize: 4096 },
    });
    assert.equal(r[1].ok, false);
    assert.equal((r[1].error as { errno: string }).errno, 'EINVAL');
    assert.match((r[2].error as { detail: string }).detail, /unknown command 'nosuch'/);
    assert.deepEqual(r[3], { id: 7, ok: true, result: null });
    // a client that shuts down its side after the last request still gets the answers,
    // the last line may lack its newline
    const half = await new Promise<string>((resolve, reject) => {
      const s = createConnection(path);
      let buf = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => (buf += d));
      s.on('end', () => resolve(buf));
      s.on('error', reject);
      s.end('{"id":1,"cmd":"getTimeouts"}\n{"id":2,"cmd":"getDaemons"}');
    });
    assert.equal(
      half,
      '{"id":1,"ok":true,"result":{"tcp":900,"tcpfin":120,"udp":300}}\n{"id":2,"ok":true,"result":[]}\n',
    );
    assert.deepEqual(m.services(), []);
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a stale socket file is replaced; a live one is not taken over', async () => {
  const dir = tmp();
  const path = join(dir, 'c.sock');
  try {
    // a daemon killed with SIGKILL leaves its socket file behind
    const child = spawn(
      process.execPath,
      [
        '-e',
        `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((r) => child.stdout!.once('data', () => r()));
    child.kill('SIGKILL');
    await new Promise<void>((r) => child.once('exit', () => r()));
    assert.ok(statSync(path).isSocket());
    const srv = await startControlServer(newModel(), path);
    await assert.rejects(
      startControlServer(newModel(), path),
      (e: NodeJS.ErrnoException) => e.code === 'EADDRINUSE',
    );
    const c = await ControlClient.connect(path);
    assert.equal((await c.call({ cmd: 'info' })).version, '1.2.1');
    c.close();
    await srv.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no daemon: the client says so with the errno', async () => {
  const dir = tmp();
  try {
    await assert.rejects(ControlClient.connect(join(dir, 'none.sock')), (e: unknown) => {
      assert.ok(e instanceof ControlUnavailableError);
      assert.equal(e.code, 'ENOENT');
      assert.match(e.message, /no control socket/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('startDaemonControl: restores the saved configuration and answers only once a change is saved', async () => {
  const dir = tmp();
  const path = join(dir, 'run', 'control.sock');
  const state = join(dir, 'lib', 'config.json');
  try {
    let ctl = await startDaemonControl(new Engine(), { path, statePath: state });
    let c = await ControlClient.connect(path);
    await c.call({
      cmd: 'addService',
      service: { af: 4, protocol: 17, addr: '10.0.0.1', port: 53, scheduler: 'sh' },
    });
    // acknowledged: it is on disk already
    assert.equal(readConfig(state)!.services[0].scheduler, 'sh');
    await c.call({ cmd: 'sysctlSet', name: 'net.ipv4.vs.expire_nodest_conn', value: '1' });
    c.close();
    await ctl.close();
    ctl = await startDaemonControl(new Engine(), { path, statePath: state });
    assert.deepEqual(ctl.loadErrors, []);
    c = await ControlClient.connect(path);
    const svcs = await c.call({ cmd: 'listServices' });
    assert.deepEqual(
      svcs.map((s) => `${s.addr}:${s.port}/${s.scheduler}`),
      ['10.0.0.1:53/sh'],
    );
    assert.deepEqual(await c.call({ cmd: 'sysctlGet', name: 'expire_nodest_conn' }), [
      { name: 'net.ipv4.vs.expire_nodest_conn', value: '1' },
    ]);
    c.close();
    await ctl.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
