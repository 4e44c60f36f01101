/**
 * The config-file front end: a file of ipvsadm rules applied to a model, with the
 * problems reported by line, behaving as ipvsadm-restore does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restoreRules } from '../../../src/control/ipvsadm/restore.js';
import { golden, newModel, referenceFixture, testResolver } from '../helpers.js';

test('a saved table applies back unchanged, comments and "ipvsadm" words allowed', async () => {
  const m = newModel();
  const text = '# saved by ipvsadm-save\n' + golden('save-n.txt').replace(/^/gm, 'ipvsadm ');
  assert.deepEqual(await restoreRules(m, text, testResolver()), []);
  const ref = referenceFixture();
  assert.deepEqual(
    m.services().map((s) => `${s.addr}:${s.port}/${s.fwmark}/${s.scheduler}/${s.dests.length}`),
    ref.services().map((s) => `${s.addr}:${s.port}/${s.fwmark}/${s.scheduler}/${s.dests.length}`),
  );
});

test('problems are reported by line; a validation error stops the file', async () => {
  const m = newModel();
  const problems = await restoreRules(
    m,
    [
      '-A -t 10.0.0.1:80 -s rr',
      '-A -t 10.0.0.1:80',
      '-a -t 10.0.0.1:80 -r 10.0.0.2 --bogus',
      '-a -t 10.0.0.1:80 -r 10.0.0.3 -m',
      '-R',
      '-A -t 10.0.0.2:80',
    ].join('\n'),
    testResolver(),
  );
  assert.deepEqual(problems, [
    'line 2: Service already exists',
    'line 3: --bogus: unknown option',
    "line 5: Try `ipvsadm -h' or 'ipvsadm --help' for more information.",
    'line 5: the lines after it were not applied',
  ]);
  assert.deepEqual(
    m.services().map((s) => `${s.addr}:${s.port} ${s.dests.map((d) => d.addr).join(',')}`),
    ['10.0.0.1:80 10.0.0.3'],
  );
});
