/**
 * Persistence: every change saved atomically, restored on start, and a crash in the
 * middle of a save (a temp file left behind) never loses or corrupts the saved file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Persister,
  decodeConfig,
  encodeConfig,
  readConfig,
  writeFileAtomic,
} from '../../src/control/persist.js';
import { newModel, referenceFixture } from './helpers.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tsvs-persist-'));
}

test('a change is saved; a restart restores the configuration', async () => {
  const dir = tmp();
  try {
    const file = join(dir, 'state', 'config.json');
    const m = newModel();
    const p = new Persister(m, file);
    assert.deepEqual(p.load(), { loaded: false, errors: [] });
    p.start();
    referenceFixture(m);
    m.setTimeouts({ tcp: 60, tcpfin: 0, udp: 0 });
    m.sysctlSet('net.ipv4.vs.conn_reuse_mode', '0');
    m.startDaemon({ state: 'backup', mcastIfn: 'eth1', syncId: 9 });
    await p.commit();
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const restarted = newModel();
    const p2 = new Persister(restarted, file);
    assert.deepEqual(p2.load(), { loaded: true, errors: [] });
    assert.deepEqual(restarted.snapshot(), m.snapshot());
    // thresholds survive, unlike with ipvsadm -S
    const d = restarted
      .service({ af: 4, protocol: 6, addr: '192.168.10.100', port: 80 })
      .dests.find((x) => x.port === 8080)!;
    assert.deepEqual([d.uThreshold, d.lThreshold], [200, 150]);
    await p.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a crash mid-write leaves the previous file intact and the temp file is discarded', async () => {
  const dir = tmp();
  try {
    const file = join(dir, 'config.json');
    const m = newModel();
    m.addService({ af: 4, protocol: 6, addr: '10.0.0.1', port: 80, scheduler: 'rr' });
    await writeFileAtomic(file, encodeConfig(m.snapshot()));
    const good = readFileSync(file, 'utf8');
    // the daemon "dies" while writing the next version: half a file in the temp name
    const next = encodeConfig({ ...m.snapshot(), services: [] });
    writeFileSync(`${file}.tmp`, next.slice(0, next.length >> 1));
    assert.equal(readFileSync(file, 'utf8'), good);
    const restarted = newModel();
    assert.deepEqual(new Persister(restarted, file).load(), { loaded: true, errors: [] });
    assert.equal(restarted.services().length, 1);
    assert.equal(restarted.services()[0].scheduler, 'rr');
    assert.equal(existsSync(`${file}.tmp`), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('saves are coalesced: many changes, each commit resolves once its state is on disk', async () => {
  const dir = tmp();
  try {
    const file = join(dir, 'config.json');
    const m = newModel();
    const p = new Persister(m, file);
    p.start();
    const waits: Promise<void>[] = [];
    for (let i = 1; i <= 50; i++) {
      m.addService({ af: 4, protocol: 6, addr: `10.0.1.${i}`, port: 80 });
      waits.push(p.commit());
    }
    await Promise.all(waits);
    assert.equal(readConfig(file)!.services.length, 50);
    m.delService({ af: 4, protocol: 6, addr: '10.0.1.1', port: 80 });
    await p.commit();
    assert.equal(readConfig(file)!.services.length, 49);
    await p.stop();
    // nothing to do: resolves at once
    await p.commit();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file that is not ours is refused rather than half applied', () => {
  const dir = tmp();
  try {
    const file = join(dir, 'config.json');
    writeFileSync(file, '{"format":"other"}');
    assert.throws(() => new Persister(newModel(), file).load(), /not a tsvs configuration/);
    writeFileSync(file, '{"format":"tsvs-config","version":2,"config":{}}');
    assert.throws(() => readConfig(file), /unsupported configuration version 2/);
    assert.throws(() => decodeConfig('{'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('items the engine refuses on restore are reported and skipped', () => {
  const dir = tmp();
  try {
    const file = join(dir, 'config.json');
    const m = newModel();
    m.addService({ af: 4, protocol: 6, addr: '10.0.0.1', port: 80 });
    const snap = m.snapshot();
    snap.services.push({ ...snap.services[0], addr: '10.0.0.2', scheduler: 'nosuch' });
    writeFileSync(file, encodeConfig(snap));
    const restarted = newModel();
    const r = new Persister(restarted, file).load();
    assert.equal(r.loaded, true);
    assert.deepEqual(r.errors, [
      'service TCP 10.0.0.2:80: Scheduler or persistence engine not found (scheduler nosuch)',
    ]);
    assert.equal(restarted.services().length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
