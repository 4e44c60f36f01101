/**
 * /proc/net/ip_vs prints the persistence timeout in this kernel's jiffies (issue 13,
 * item 7): HZ is read from the kernel's config or measured from its jiffies, not
 * assumed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import {
  hzFromConfig,
  hzFromTimerList,
  kernelHz,
  procIpVs,
  timerListClock,
} from '../../src/control/proc.js';
import { ControlModel } from '../../src/control/model.js';
import { Engine } from '../../src/engine/engine.js';

test('CONFIG_HZ is read from a kernel config text', () => {
  assert.equal(
    hzFromConfig('# CONFIG_HZ_100 is not set\nCONFIG_HZ_1000=y\nCONFIG_HZ=1000\n'),
    1000,
  );
  assert.equal(hzFromConfig('CONFIG_HZ_PERIODIC=y\n'), 0);
});

test('the jiffies rate of two /proc/timer_list samples snaps to a CONFIG_HZ value', () => {
  const a = timerListClock(
    'Timer List Version: v0.9\nnow at 1000000000 nsecs\n\njiffies: 4295000000\n',
  );
  assert.deepEqual(a, { ns: 1e9, jiffies: 4295000000 });
  // 50 ms at 300 Hz: 15 jiffies (give or take the sampling)
  assert.equal(hzFromTimerList(a!, { ns: 1.05e9, jiffies: 4295000015 }), 300);
  assert.equal(hzFromTimerList(a!, { ns: 1.05e9, jiffies: 4295000049 }), 1000);
  assert.equal(hzFromTimerList(a!, { ns: 1.05e9, jiffies: 4295000005 }), 100);
  assert.equal(hzFromTimerList(a!, a!), 0);
});

test("kernelHz is this kernel's CONFIG_HZ", () => {
  const hz = kernelHz();
  assert.ok([100, 250, 300, 1000].includes(hz));
  if (existsSync('/proc/config.gz'))
    assert.equal(hz, hzFromConfig(gunzipSync(readFileSync('/proc/config.gz')).toString('latin1')));
});

test('the persistence timeout is printed as seconds × HZ', () => {
  const m = new ControlModel(new Engine());
  m.addService({ af: 4, protocol: 6, addr: '10.0.0.1', port: 80, flags: 1, timeout: 300 });
  for (const hz of [100, 1000]) {
    const line = procIpVs(m, hz).split('\n')[3];
    assert.match(line, new RegExp(`persistent ${300 * hz} FFFFFFFF`));
  }
  assert.match(procIpVs(m), new RegExp(`persistent ${300 * kernelHz()} `));
});
