/**
 * The systemd unit of the repository, checked by `systemd-analyze verify` (no running
 * systemd needed). verify wants the programs of Exec lines to exist, so the test's copy
 * runs this checkout's CLI instead of the installed /usr/local/bin/tsvs; every other
 * line is the unit as shipped. An unknown or misspelt directive is only a warning to
 * verify, so the test also demands that it says nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const UNIT = fileURLToPath(new URL('../../../systemd/tsvs.service', import.meta.url));
const CLI = fileURLToPath(new URL('../../src/cli/tsvs.js', import.meta.url));

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function directives(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const x = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (x) m.set(x[1], [...(m.get(x[1]) ?? []), x[2]]);
  }
  return m;
}

test(
  'systemd-analyze verify accepts the unit without a warning',
  { skip: has('systemd-analyze') ? false : 'systemd-analyze is not installed' },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvs-unit-'));
    try {
      const text = readFileSync(UNIT, 'utf8').replaceAll(
        '/usr/local/bin/tsvs',
        `${process.execPath} ${CLI}`,
      );
      const copy = join(dir, 'tsvs.service');
      writeFileSync(copy, text);
      const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr.trim(), '', 'no warning');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('the unit: notify with a watchdog, reload by SIGHUP, only the network capabilities', () => {
  const d = directives(readFileSync(UNIT, 'utf8'));
  assert.deepEqual(d.get('Type'), ['notify']);
  assert.deepEqual(d.get('NotifyAccess'), ['all']);
  assert.ok(d.get('WatchdogSec'));
  assert.deepEqual(d.get('ExecReload'), ['/bin/kill -HUP $MAINPID']);
  assert.deepEqual(d.get('CapabilityBoundingSet'), ['CAP_NET_ADMIN CAP_NET_RAW']);
  assert.deepEqual(d.get('NoNewPrivileges'), ['yes']);
  assert.deepEqual(d.get('ProtectSystem'), ['strict']);
  assert.ok(d.get('ExecStartPre')?.[0].includes('--check'), 'a bad file fails the start early');
});
