/**
 * The files of examples/ha and examples/fleet are what the programs that read them
 * accept: keepalived's own configuration test (`keepalived -t`, in a namespace that has
 * the interfaces they name, with the tsvs command they call), BIRD's parse (`bird -p`),
 * FRR's dry run (`vtysh -C`) and tsvs's own check (`tsvs check`).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { e2eUnavailable, sh, TSVS } from './harness.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HA = join(ROOT, 'examples', 'ha');
const FLEET = join(ROOT, 'examples', 'fleet');
const NS = 'e2ehaex';

describe(
  'examples/ha and examples/fleet are accepted by keepalived, BIRD, FRR and tsvs',
  {
    skip: e2eUnavailable() ?? false,
  },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvs-e2ehaex-'));
    before(async () => {
      await sh(null, 'ip', ['netns', 'del', NS]);
      assert.equal((await sh(null, 'ip', ['netns', 'add', NS])).code, 0);
      const r = await sh(null, 'ip', [
        '-n',
        NS,
        'link',
        'add',
        'eth1',
        'type',
        'veth',
        'peer',
        'name',
        'eth2',
      ]);
      assert.equal(r.code, 0, r.stderr);
      // the tsvs the scripts call, at a path keepalived's script security accepts
      writeFileSync(join(dir, 'tsvs'), `#!/bin/sh\nexec ${process.execPath} ${TSVS} "$@"\n`);
      chmodSync(join(dir, 'tsvs'), 0o755);
    });
    after(async () => {
      await sh(null, 'ip', ['netns', 'del', NS]);
      rmSync(dir, { recursive: true, force: true });
    });

    for (const kind of ['nat', 'dr'])
      for (const f of readdirSync(join(HA, kind)).filter((n) => n.endsWith('.conf')))
        test(`keepalived -t accepts ${kind}/${f}`, async () => {
          const conf = join(dir, `${kind}-${f}`);
          writeFileSync(
            conf,
            readFileSync(join(HA, kind, f), 'utf8').replaceAll(
              '/usr/local/bin/tsvs',
              join(dir, 'tsvs'),
            ),
          );
          const r = await sh(NS, 'keepalived', ['-t', '-f', conf]);
          assert.equal(r.code, 0, r.stdout + r.stderr);
          assert.doesNotMatch(r.stdout + r.stderr, /Unknown keyword|WARNING|not found/);
        });

    test('tsvs check accepts the rules files', async () => {
      const files = [
        join(HA, 'nat', 'tsvs.rules'),
        join(HA, 'dr', 'tsvs.rules'),
        join(FLEET, 'tsvs.rules'),
        join(FLEET, 'tsvs.json'),
      ];
      const r = await sh(null, process.execPath, [TSVS, 'check', ...files]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    });

    test('bird -p accepts the director configuration', async () => {
      const r = await sh(null, 'bird', ['-p', '-c', join(FLEET, 'bird-director.conf')]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    });

    test("FRR accepts the router configuration (vtysh's dry run of the integrated frr.conf: bgpd's and bfdd's commands)", async () => {
      const r = await sh(null, 'vtysh', ['-C', '-f', join(FLEET, 'frr-router.conf')]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.doesNotMatch(r.stdout + r.stderr, /No such command|Unknown command|error/i);
      // the BFD profile the peer group names is the one defined
      const conf = readFileSync(join(FLEET, 'frr-router.conf'), 'utf8');
      assert.match(conf, /^ profile fleet$/m);
      assert.match(conf, /^ neighbor FLEET bfd profile fleet$/m);
    });
  },
);
