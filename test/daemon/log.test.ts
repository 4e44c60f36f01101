/**
 * The daemon's log lines: pino JSON with an ISO time and the level's name, and under
 * journald the syslog priority in front so the journal records it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../src/daemon/log.js';

test('one JSON line per event, ISO time and level name', () => {
  const out: string[] = [];
  const log = createLogger({ write: (t) => out.push(t), journal: false });
  log.info('reload done: 2 change(s)');
  log.error('/etc/tsvs/rules:3: Service not defined');
  assert.equal(out.length, 2);
  for (const l of out) assert.ok(l.endsWith('\n') && !l.slice(0, -1).includes('\n'), l);
  const a = JSON.parse(out[0]) as { level: string; time: string; msg: string };
  assert.equal(a.level, 'info');
  assert.equal(a.msg, 'reload done: 2 change(s)');
  assert.ok(!Number.isNaN(Date.parse(a.time)) && a.time.endsWith('Z'), a.time);
  assert.equal((JSON.parse(out[1]) as { level: string }).level, 'error');
});

test('under journald each line carries its syslog priority', () => {
  const out: string[] = [];
  const log = createLogger({ write: (t) => out.push(t), journal: true });
  log.info('daemon running');
  log.warn('starting with 1 problem(s) ignored');
  log.error('reload refused');
  log.line('queue 7100: read failed: ENOBUFS');
  log.line('tc steering into tsvsi-x/tsvso-x');
  assert.deepEqual(
    out.map((l) => l.slice(0, 3)),
    ['<6>', '<4>', '<3>', '<4>', '<6>'],
  );
  assert.equal((JSON.parse(out[2].slice(3)) as { msg: string }).msg, 'reload refused');
});

test('TSVS_LOG_LEVEL-style threshold: below it nothing is written', () => {
  const out: string[] = [];
  const log = createLogger({ write: (t) => out.push(t), journal: false, level: 'warn' });
  log.info('not shown');
  log.warn('shown');
  assert.equal(out.length, 1);
});
