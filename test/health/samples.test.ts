/**
 * keepalived's own LVS sample configurations (test/fixtures/keepalived/samples, copies of
 * keepalived 2.2.7's doc/samples) each load, and what tsvs programs at start is what
 * keepalived programs for the same file: the `*.expected` files were written from
 * keepalived's source (see the fixtures' README), not from tsvs. A sample whose checker
 * this build cannot run is skipped, naming the checker: tsvs keeps such real servers
 * out of rotation (fail closed), where keepalived would have them in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { Engine } from '../../src/engine/engine.js';
import { ControlModel } from '../../src/control/model.js';
import { formatSave, type Names } from '../../src/control/ipvsadm/format.js';
import { parseKeepalived } from '../../src/health/keepalived.js';
import { HealthManager } from '../../src/health/manager.js';

const dir = new URL('../../../test/fixtures/keepalived/samples/', import.meta.url);
const numeric: Names = { numeric: true, host: (_af, a) => a, service: () => null };

/** `ipvsadm -S -n` of the model, as sorted lines. */
export function saveLines(model: ControlModel): string[] {
  return formatSave(model.services(), numeric)
    .split('\n')
    .filter((l) => l !== '')
    .sort();
}

const samples = readdirSync(dir).filter(
  (f) => f.startsWith('keepalived.conf.') && !f.endsWith('.expected'),
);

test('every sample with a virtual_server is there', () => {
  assert.equal(samples.length, 16);
});

for (const name of samples) {
  test(`${name}: loads, and tsvs programs what keepalived would`, (t) => {
    const cfg = parseKeepalived(readFileSync(new URL(name, dir), 'utf8'));
    assert.deepEqual(cfg.errors, [], name);
    assert.ok(cfg.virtualServers.length > 0, name);
    const unusable = cfg.virtualServers.flatMap((v) =>
      v.realServers.flatMap((r) => [
        ...r.unusableCheckers.map((u) => u.type),
        ...r.checkers.filter((c) => c.unusable).map((c) => c.type),
      ]),
    );
    const model = new ControlModel(new Engine());
    const logs: string[] = [];
    const h = new HealthManager(
      model,
      cfg,
      (l) => logs.push(l),
      async () => ({ ok: true }),
    );
    h.start();
    h.stop();
    let expected = readFileSync(new URL(`${name}.expected`, dir), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .sort();
    if (unusable.length) {
      // fail closed: the real servers whose checker cannot run are kept out, and say so
      const out = cfg.virtualServers.flatMap((v) =>
        v.realServers
          .filter((r) => r.unusableCheckers.length || r.checkers.some((c) => c.unusable))
          .map((r) => `${r.addr.includes(':') ? `[${r.addr}]` : r.addr}:${r.port}`),
      );
      expected = expected.filter((l) => !out.some((a) => l.includes(` -r ${a} `)));
      assert.ok(
        logs.some((l) => l.includes('kept out of rotation')),
        logs.join('\n'),
      );
    }
    assert.deepEqual(saveLines(model), expected, logs.join('\n'));
    if (unusable.length)
      t.skip(
        `${[...new Set(unusable)].join(', ')} cannot run in this build: its real servers are out, as checked`,
      );
  });
}
