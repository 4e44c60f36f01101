/**
 * keepalived's notifications (src/daemon/vrrp.ts, docs/ha.md): the notify script's
 * words and the FIFO's lines as keepalived writes them, the records a restarted daemon
 * reads (current only while the keepalived that wrote them runs), and the sync daemons
 * following the role as keepalived's lvs_sync_daemon does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { waitFor } from '../helpers/wait.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  VrrpFifo,
  VrrpTracker,
  parseVrrpFifoLine,
  parseVrrpNotifyArgs,
  processStart,
  readVrrpEvents,
  recordCurrent,
  recordVrrpEvent,
} from '../../src/daemon/vrrp.js';
import { newModel } from '../control/helpers.js';

test('notify words: TYPE NAME STATE [PRIORITY]; anything else a precise message', () => {
  assert.deepEqual(parseVrrpNotifyArgs(['GROUP', 'VG_1', 'MASTER', '150']), {
    type: 'GROUP',
    name: 'VG_1',
    state: 'MASTER',
    priority: 150,
  });
  assert.deepEqual(parseVrrpNotifyArgs(['INSTANCE', 'VI_1', 'backup']), {
    type: 'INSTANCE',
    name: 'VI_1',
    state: 'BACKUP',
    priority: null,
  });
  assert.equal(
    (parseVrrpNotifyArgs(['INSTANCE', 'VI_1', 'DELETED']) as { state: string }).state,
    'STOP',
  );
  assert.match(String(parseVrrpNotifyArgs(['INSTANCE', 'VI_1'])), /expected TYPE NAME STATE/);
  assert.match(String(parseVrrpNotifyArgs(['HOST', 'x', 'MASTER'])), /expected INSTANCE or GROUP/);
  assert.match(String(parseVrrpNotifyArgs(['GROUP', 'x', 'LEADER'])), /expected MASTER, BACKUP/);
  assert.match(String(parseVrrpNotifyArgs(['GROUP', 'x', 'MASTER', '300'])), /0-255/);
});

test('FIFO lines as keepalived writes them; checker lines and unknown states are not VRRP', () => {
  assert.deepEqual(parseVrrpFifoLine('INSTANCE "VI_1" MASTER 100\n'), {
    type: 'INSTANCE',
    name: 'VI_1',
    state: 'MASTER',
    priority: 100,
  });
  assert.equal(parseVrrpFifoLine('GROUP "VG 1" FAULT')?.name, 'VG 1');
  assert.equal(parseVrrpFifoLine('VS [10.0.0.1]:tcp:80 UP'), null);
  assert.equal(parseVrrpFifoLine('INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100'), null);
});

test('records: current while the keepalived that wrote them runs, stale once it is gone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-vrrp-'));
  try {
    const me = { pid: process.pid, start: processStart(process.pid)! };
    assert.ok(me.start);
    recordVrrpEvent(dir, { type: 'GROUP', name: 'VG/1', state: 'MASTER', priority: 150 }, me, 5);
    recordVrrpEvent(
      dir,
      { type: 'INSTANCE', name: 'VI_1', state: 'BACKUP', priority: 100 },
      { pid: me.pid, start: '1' },
      6,
    );
    recordVrrpEvent(
      dir,
      { type: 'INSTANCE', name: 'VI_2', state: 'FAULT', priority: null },
      null,
      7,
    );
    const recs = readVrrpEvents(dir).sort((a, b) => a.since - b.since);
    assert.deepEqual(
      recs.map((r) => [r.type, r.name, r.state, r.since, recordCurrent(r)]),
      [
        ['GROUP', 'VG/1', 'MASTER', 5, true],
        ['INSTANCE', 'VI_1', 'BACKUP', 6, false], // same pid, another start: not that process
        ['INSTANCE', 'VI_2', 'FAULT', 7, false],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the sync daemons follow the role: backup at start, master on MASTER, backup again on BACKUP', () => {
  const model = newModel();
  const lines: string[] = [];
  const t = new VrrpTracker({
    model,
    sync: { mcastIfn: 'eth1', syncId: 9 },
    log: (l) => lines.push(l),
  });
  const roles = (): string[] => model.daemons().map((d) => `${d.state}/${d.mcastIfn}/${d.syncId}`);
  // a restored master daemon (saved configuration) does not survive a start without a current MASTER
  model.startDaemon({ state: 'master', mcastIfn: 'eth1', syncId: 9 });
  t.start([]);
  assert.deepEqual(roles(), ['backup/eth1/9']);
  assert.equal(t.role(), null);
  t.apply({ type: 'INSTANCE', name: 'VI_1', state: 'MASTER', priority: 150 });
  t.apply({ type: 'GROUP', name: 'VG', state: 'MASTER', priority: 150 });
  assert.deepEqual(roles(), ['master/eth1/9']);
  assert.equal(t.role(), 'MASTER');
  t.apply({ type: 'GROUP', name: 'VG', state: 'FAULT', priority: 150 });
  assert.deepEqual(roles(), ['backup/eth1/9']);
  assert.equal(t.role(), 'FAULT', 'the group decides, not its instances');
  // a current record of MASTER (this process stands for keepalived) resumes master
  const model2 = newModel();
  const t2 = new VrrpTracker({ model: model2, sync: { mcastIfn: 'eth1' }, log: () => undefined });
  const me = { pid: process.pid, start: processStart(process.pid)! };
  t2.start([{ type: 'GROUP', name: 'VG', state: 'MASTER', priority: 150, since: 1, reporter: me }]);
  assert.deepEqual(
    model2.daemons().map((d) => d.state),
    ['master'],
  );
  // a stale record is shown nowhere and starts as backup
  const model3 = newModel();
  const t3 = new VrrpTracker({ model: model3, sync: { mcastIfn: 'eth1' }, log: () => undefined });
  t3.start([
    { type: 'GROUP', name: 'VG', state: 'MASTER', priority: 150, since: 1, reporter: null },
  ]);
  assert.deepEqual(
    model3.daemons().map((d) => d.state),
    ['backup'],
  );
  assert.equal(t3.role(), null);
  // an interface that does not exist: the problem is kept for readiness
  const t4 = new VrrpTracker({
    model: newModel(),
    sync: { mcastIfn: 'nosuch0' },
    log: () => undefined,
  });
  t4.start([]);
  assert.match(t4.problem ?? '', /the sync backup daemon on nosuch0 cannot start/);
  // without sync settings the role is only recorded
  const model5 = newModel();
  const t5 = new VrrpTracker({ model: model5, log: () => undefined });
  t5.start([]);
  t5.apply({ type: 'INSTANCE', name: 'VI_1', state: 'MASTER', priority: 1 });
  assert.equal(t5.role(), 'MASTER');
  assert.deepEqual(model5.daemons(), []);
  assert.ok(lines.some((l) => /GROUP VG MASTER → FAULT/.test(l)));
});

test("keepalived's notify FIFO: made when missing, read line by line, a writer's close is no end", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-vrrp-fifo-'));
  const path = join(dir, 'vrrp.fifo');
  const got: string[] = [];
  const logs: string[] = [];
  const f = new VrrpFifo(
    path,
    (e) => got.push(`${e.type} ${e.name} ${e.state}`),
    (l) => logs.push(l),
  );
  try {
    f.start();
    assert.ok(statSync(path).isFIFO());
    // keepalived opens, writes and (at a restart) closes; then writes again
    for (const text of [
      'INSTANCE "VI_1" BACKUP 100\nGROUP "VG_1" BACKUP 0\n',
      'VS [10.0.0.1]:tcp:80 UP\nINSTANCE "VI_1" MAS',
      'TER 100\nnonsense here\n',
    ]) {
      const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
      writeSync(fd, text);
      closeSync(fd);
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitFor(() => got.length === 3, { what: 'three events from the FIFO' });
    assert.deepEqual(got, ['INSTANCE VI_1 BACKUP', 'GROUP VG_1 BACKUP', 'INSTANCE VI_1 MASTER']);
    assert.deepEqual(logs, ['vrrp fifo: not understood: nonsense here']);
  } finally {
    f.stop();
    assert.equal(existsSync(path), false, 'the FIFO it made is removed');
    rmSync(dir, { recursive: true, force: true });
  }
  // a path that is not a FIFO is refused
  const file = join(tmpdir(), `tsvs-vrrp-notfifo-${process.pid}`);
  writeFileSync(file, '');
  try {
    assert.throws(
      () =>
        new VrrpFifo(
          file,
          () => undefined,
          () => undefined,
        ).start(),
      /not a FIFO/,
    );
  } finally {
    rmSync(file, { force: true });
  }
});
