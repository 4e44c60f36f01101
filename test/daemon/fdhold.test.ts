/**
 * The capture's descriptors held across a restart without a service manager
 * (src/daemon/fdhold.ts): a holder process keeps them open, the next start copies
 * them (the same open files) and ends it; a holder that is gone, or a file naming
 * another process, gives nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyDescriptor } from '../../src/dataplane/native-fds.js';
import { nativeAvailable } from '../../src/dataplane/native.js';
import {
  dropHeldDescriptors,
  HOLD_FILE,
  holdDescriptors,
  takeHeldDescriptors,
} from '../../src/daemon/fdhold.js';

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`);

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
  // an ended child of ours is a zombie until reaped: not running counts as gone
  if (!alive(pid)) return true;
  return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

test(
  'a holder keeps the descriptors after their owner closed them; the next start takes the same files',
  { skip: nativeAvailable() ? false : 'the native addon is not built' },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvs-fdhold-'));
    try {
      const files = ['a', 'b'].map((n) => join(dir, n));
      const fds = files.map((f) => openSync(f, 'w'));
      const pid = holdDescriptors(
        dir,
        fds.map((fd, i) => ({ name: `tun-${i}`, fd })),
      );
      // the stopping daemon writes, then closes its own copies and exits
      writeSync(fds[0], 'old ');
      for (const fd of fds) closeSync(fd);
      assert.ok(alive(pid));
      const log: string[] = [];
      const got = takeHeldDescriptors(dir, copyDescriptor, closeSync, (l) => log.push(l));
      assert.deepEqual(
        got.map((f) => f.name),
        ['tun-0', 'tun-1'],
        log.join('\n'),
      );
      // one open file: what is written through the copy lands at the original's offset
      writeSync(got[0].fd, 'new');
      for (const f of got) closeSync(f.fd);
      assert.equal(readFileSync(files[0], 'utf8'), 'old new');
      assert.equal(existsSync(join(dir, HOLD_FILE)), false, 'the description is consumed');
      assert.ok(await gone(pid), 'the holder was ended');
      // nothing held any more: nothing taken
      assert.deepEqual(
        takeHeldDescriptors(dir, copyDescriptor, closeSync, () => undefined),
        [],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('a description naming another process (a reused pid) or a gone one gives nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-fdhold-'));
  try {
    // this test's own pid with a start time that is not its own
    writeFileSync(
      join(dir, HOLD_FILE),
      JSON.stringify({ pid: process.pid, start: '1', fds: [{ name: 'nfq-1', fd: 0 }] }),
    );
    const log: string[] = [];
    const copy = (): number => {
      throw new Error('must not be asked');
    };
    assert.deepEqual(
      takeHeldDescriptors(dir, copy, closeSync, (l) => log.push(l)),
      [],
    );
    assert.match(log.join('\n'), /no descriptor holder/);
    assert.equal(existsSync(join(dir, HOLD_FILE)), false);
    // a clean stop ends a real holder and takes nothing
    const fd = openSync(join(dir, 'x'), 'w');
    const pid = holdDescriptors(dir, [{ name: 'tun-x', fd }]);
    closeSync(fd);
    dropHeldDescriptors(dir);
    assert.ok(await gone(pid));
    assert.equal(existsSync(join(dir, HOLD_FILE)), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
