/**
 * The import graph of src/ (docs/architecture.md): no cycles, no arrow from a lower
 * layer to a higher one or sideways between rooms that must not know each other, no
 * `node:` import in src/engine or src/wire, no file over 600 lines without a reason in
 * its header. scripts/layers.mjs does the reading; this runs it with the suite.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/layers.mjs', import.meta.url));

test('src/ has no import cycles, no upward imports and no node: in engine or wire', () => {
  const r = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /no cycles, no upward imports/);
});
