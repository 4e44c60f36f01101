/**
 * The systemd notification protocol as the daemon speaks it, through the real
 * `systemd-notify` to a real Unix datagram socket standing in for the manager.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Notifier } from '../../src/daemon/notify.js';
import { waitFor } from '../helpers/wait.js';
import { fakeNotifySocket, notifySocketUnavailable } from './notify-socket.js';

const skip = notifySocketUnavailable() ?? false;

test('READY=1 with the main pid and a status, RELOADING=1, STOPPING=1', { skip }, async () => {
  const s = await fakeNotifySocket();
  try {
    const errors: string[] = [];
    const n = new Notifier({
      env: { ...process.env, NOTIFY_SOCKET: s.path },
      onError: (e) => errors.push(e.message),
    });
    assert.equal(n.enabled, true);
    await n.ready('running: 2 service(s)');
    const ready = s.messages.find((m) => m.split('\n').includes('READY=1'));
    assert.ok(ready, s.messages.join(' | '));
    assert.ok(ready.split('\n').includes(`MAINPID=${process.pid}`), ready);
    assert.ok(ready.split('\n').includes('STATUS=running: 2 service(s)'), ready);
    await n.reloading();
    await n.reloaded('running; last reload applied 1 change(s)');
    await n.stopping();
    const all = s.messages.flatMap((m) => m.split('\n'));
    const order = all.filter((l) => /^(READY|RELOADING|STOPPING)=1$/.test(l));
    assert.deepEqual(order, ['READY=1', 'RELOADING=1', 'READY=1', 'STOPPING=1']);
    assert.deepEqual(errors, []);
  } finally {
    s.close();
  }
});

test('the watchdog is pinged every half WATCHDOG_USEC, only for our pid', { skip }, async () => {
  const s = await fakeNotifySocket();
  try {
    const n = new Notifier({
      env: { ...process.env, NOTIFY_SOCKET: s.path, WATCHDOG_USEC: '400000' },
    });
    assert.equal(n.watchdogUsec, 400000);
    n.startWatchdog();
    await waitFor(() => s.messages.filter((m) => m.includes('WATCHDOG=1')).length >= 3, {
      timeout: 3000,
      what: 'three watchdog pings',
    });
    n.stopWatchdog();
    const other = new Notifier({
      env: { NOTIFY_SOCKET: s.path, WATCHDOG_USEC: '400000', WATCHDOG_PID: '1' },
    });
    assert.equal(other.watchdogUsec, 0, "another process's watchdog is not ours");
    const none = new Notifier({ env: {} });
    assert.equal(none.enabled, false);
    await none.ready('x'); // nothing to send to, nothing sent
    assert.equal(none.sent, 0);
  } finally {
    s.close();
  }
});
