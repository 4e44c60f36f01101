/**
 * keepalived's notifications, with real scripts and a real FIFO: quorum_up at start
 * when the quorum is met (update_quorum_state at init), notify_down/notify_up and the
 * `RS` line on a real server's changes, quorum_down/quorum_up and the `VS` line on the
 * quorum's, and with `omega` the down ones at shutdown — in keepalived's exact line
 * format; a FIFO's reader script gets the FIFO's name as its last argument; script_user
 * and enable_script_security.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  constants,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lab, run, withClock } from './helpers.js';
import { lookupUser, scriptInsecurity } from '../../src/health/notify.js';
import { splitCommand } from '../../src/health/keepalived/values.js';

/** Waits (real time) until `fn` is true or `ms` passed. */
async function until(fn: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fn()) return true;
    await new Promise((r) => setImmediate(r));
  }
  return fn();
}

const lines = (f: string): string[] =>
  existsSync(f)
    ? readFileSync(f, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
    : [];

test('notify scripts and FIFO lines, in keepalived format, through start, failure, recovery and an omega shutdown', () =>
  withClock(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvs-notify-'));
    try {
      const log = join(dir, 'log');
      const fifo = join(dir, 'fifo');
      const sh = (what: string) => `"/bin/sh -c 'echo ${what} >> ${log}'"`;
      const s = lab(`global_defs {
  lvs_notify_fifo ${fifo}
}
virtual_server 10.0.0.1 80 {
  delay_loop 10
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  omega
  quorum_up ${sh('quorum-up')}
  quorum_down ${sh('quorum-down')}
  real_server 10.0.1.1 80 {
    notify_up ${sh('up')}
    notify_down ${sh('down')}
    TCP_CHECK { warmup 0 retry 1 delay_before_retry 1 }
  }
}`);
      s.results.set('10.0.1.1:80', [{ ok: false }, { ok: true }]);
      s.h.start();
      const rd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      const got: string[] = [];
      const drain = () => {
        const b = Buffer.alloc(4096);
        try {
          const n = readSync(rd, b);
          got.push(
            ...b
              .subarray(0, n)
              .toString()
              .split('\n')
              .filter((l) => l !== ''),
          );
        } catch {
          /* EAGAIN: nothing yet */
        }
      };
      assert.ok(await until(() => lines(log).length === 1), 'quorum_up ran at start');
      assert.deepEqual(lines(log), ['quorum-up']);
      await run(200);
      assert.ok(await until(() => lines(log).length === 3));
      await run(10_000);
      assert.ok(await until(() => lines(log).length === 5));
      s.h.shutdown();
      drain();
      assert.ok(await until(() => lines(log).length === 7));
      closeSync(rd);
      const vsL = '[10.0.0.1]:tcp:80';
      const rsL = '[10.0.1.1]:tcp:80';
      assert.deepEqual(got, [
        `VS ${vsL} UP`,
        `RS ${rsL} ${vsL} DOWN`,
        `VS ${vsL} DOWN`,
        `RS ${rsL} ${vsL} UP`,
        `VS ${vsL} UP`,
        `RS ${rsL} ${vsL} DOWN`,
        `VS ${vsL} DOWN`,
      ]);
      // each pair is started together: their order within a pair is the scheduler's
      const l = lines(log);
      assert.deepEqual(l.slice(0, 1), ['quorum-up']);
      assert.deepEqual(l.slice(1, 3).sort(), ['down', 'quorum-down']);
      assert.deepEqual(l.slice(3, 5).sort(), ['quorum-up', 'up']);
      assert.deepEqual(l.slice(5, 7).sort(), ['down', 'quorum-down']);
      assert.ok(!existsSync(fifo), 'the FIFO tsvs created is removed at shutdown');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }));

test('a FIFO reader script is started with the FIFO as its last argument; rs_init_notifies', () =>
  withClock(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvs-notify-'));
    try {
      const out = join(dir, 'out');
      const fifo = join(dir, 'fifo');
      const s = lab(`global_defs {
  notify_fifo ${fifo}
  notify_fifo_script "/bin/sh -c 'cat $0 >> ${out}'"
  rs_init_notifies
}
virtual_server fwmark 3 {
  lvs_sched rr
  lvs_method DR
  real_server 10.0.1.1 {
    TCP_CHECK { warmup 100 connect_port 80 }
  }
}`);
      s.h.start();
      assert.ok(await until(() => lines(out).length === 2), lines(out).join('|'));
      assert.deepEqual(lines(out), ['RS [10.0.1.1]:none:0 FWM 3 UP', 'VS FWM 3 UP']);
      s.h.shutdown();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }));

test('enable_script_security: a script a non-root user may change is not run, and the log says why', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-notify-'));
  try {
    const script = join(dir, 'up.sh');
    writeFileSync(script, '#!/bin/sh\ntrue\n');
    chmodSync(script, 0o777);
    assert.match(scriptInsecurity(script) ?? '', /writable by a non-root user/);
    chmodSync(script, 0o755);
    chmodSync(dir, 0o755);
    // the temporary directory's parents (/tmp is 1777) are writable by others too
    assert.match(scriptInsecurity(script) ?? '', /\/tmp is writable by a non-root user/);
    assert.equal(scriptInsecurity('/bin/true'), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('script command lines split as keepalived does; users and groups looked up', () => {
  assert.deepEqual(splitCommand(`/bin/x.sh a 'b c' d\\ e`), ['/bin/x.sh', 'a', 'b c', 'd e']);
  assert.deepEqual(splitCommand('  '), []);
  assert.deepEqual(lookupUser('root'), { uid: 0, gid: 0 });
  assert.deepEqual(lookupUser('0', '0'), { uid: 0, gid: 0 });
  assert.equal(lookupUser('no-such-user-tsvs'), undefined);
  assert.equal(lookupUser('root', 'no-such-group-tsvs'), undefined);
});
