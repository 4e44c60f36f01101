/**
 * BFD_CHECK against a real BFD session (issue 17): FRR's bfdd on each side of a veth
 * pair in two namespaces, the tsvs side asked through its vty socket. The health
 * manager runs here with its real checks over a control model (no data plane needed):
 * a real server is in while its session is up, out when the peer's bfdd stops, back
 * when it returns; a bfd_instance bfdd has no session for keeps its server out; without
 * a BFD source the checker is a configuration error (fail closed).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { ControlModel } from '../../src/control/model.js';
import { parseKeepalived } from '../../src/health/keepalived.js';
import { HealthManager } from '../../src/health/manager.js';
import { e2eUnavailable, sh, waitFor } from './harness.js';

const BFDD = '/usr/lib/frr/bfdd';
const skip =
  e2eUnavailable() ??
  (existsSync(BFDD) ? null : 'FRR is not installed (Debian package frr: bfdd, vtysh)');

const NS_D = 'e2ebfd-d';
const NS_R = 'e2ebfd-r';
const D = '10.252.1.1';
const R = '10.252.1.2';

/** The uid/gid bfdd runs as (it drops root to FRR's user, which must own its directories). */
function frrIds(): { uid: number; gid: number } {
  const id = (flag: string): number =>
    Number(spawnSync('id', [flag, 'frr'], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

describe('e2e BFD_CHECK with FRR bfdd', { skip: skip ?? false, timeout: 60_000 }, () => {
  let dir = '';
  const vty = (side: string): string => join(dir, side);

  /** Starts bfdd in a namespace with a session to `peer` (from `local`). */
  const bfdd = async (side: 'd' | 'r', local: string, peer: string): Promise<void> => {
    const ns = side === 'd' ? NS_D : NS_R;
    const conf = join(dir, `bfdd-${side}.conf`);
    writeFileSync(
      conf,
      `bfd\n peer ${peer} local-address ${local}\n  receive-interval 100\n  transmit-interval 100\n !\n!\n`,
    );
    const r = await sh(ns, BFDD, [
      '-d',
      '-N',
      `e2ebfd${side}`,
      '-f',
      conf,
      '-i',
      join(vty(side), 'bfdd.pid'),
      '--vty_socket',
      vty(side),
      '--bfdctl',
      join(vty(side), 'bfdd.sock'),
      '-u',
      'frr',
      '-g',
      'frr',
      '--log',
      `file:${join(vty(side), 'log')}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    await waitFor(`bfdd ${side}`, 10_000, () =>
      Promise.resolve(existsSync(join(vty(side), 'bfdd.vty'))),
    );
  };
  const stopBfdd = (side: string): void => {
    const f = join(vty(side), 'bfdd.pid');
    if (!existsSync(f)) return;
    try {
      process.kill(Number(readFileSync(f, 'utf8').trim()), 'SIGTERM');
    } catch {
      /* gone */
    }
    rmSync(f, { force: true });
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'e2ebfd-'));
    const { uid, gid } = frrIds();
    chownSync(dir, uid, gid);
    for (const side of ['d', 'r']) {
      mkdirSync(vty(side));
      chownSync(vty(side), uid, gid);
      mkdirSync(`/var/run/frr/e2ebfd${side}`, { recursive: true });
      chownSync(`/var/run/frr/e2ebfd${side}`, uid, gid);
    }
    for (const ns of [NS_D, NS_R]) {
      spawnSync('ip', ['netns', 'del', ns]);
      assert.equal(spawnSync('ip', ['netns', 'add', ns]).status, 0);
      await sh(ns, 'ip', ['link', 'set', 'lo', 'up']);
    }
    const r = spawnSync('ip', [
      'link',
      'add',
      'e2ebfd-vd',
      'netns',
      NS_D,
      'type',
      'veth',
      'peer',
      'name',
      'e2ebfd-vr',
      'netns',
      NS_R,
    ]);
    assert.equal(r.status, 0, String(r.stderr));
    await sh(NS_D, 'ip', ['addr', 'add', `${D}/24`, 'dev', 'e2ebfd-vd']);
    await sh(NS_R, 'ip', ['addr', 'add', `${R}/24`, 'dev', 'e2ebfd-vr']);
    await sh(NS_D, 'ip', ['link', 'set', 'e2ebfd-vd', 'up']);
    await sh(NS_R, 'ip', ['link', 'set', 'e2ebfd-vr', 'up']);
    await bfdd('d', D, R);
    await bfdd('r', R, D);
    process.env.TSVS_BFD_VTY_DIR = vty('d');
  });

  after(() => {
    delete process.env.TSVS_BFD_VTY_DIR;
    stopBfdd('d');
    stopBfdd('r');
    for (const ns of [NS_D, NS_R]) spawnSync('ip', ['netns', 'del', ns]);
    for (const side of ['d', 'r'])
      rmSync(`/var/run/frr/e2ebfd${side}`, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const conf = (): string => `
bfd_instance rs1 {
  neighbor_ip ${R}
  source_ip ${D}
}
bfd_instance nosession {
  neighbor_ip 10.252.1.77
}
virtual_server 10.252.9.1 80 {
  lvs_sched rr
  lvs_method DR
  protocol TCP
  real_server ${R} 80 {
    weight 3
    BFD_CHECK {
      name rs1
    }
  }
  real_server 10.252.1.77 80 {
    BFD_CHECK {
      name nosession
    }
  }
}
`;

  test('in while the session is up, out when the peer stops, back when it returns', async () => {
    const cfg = parseKeepalived(conf());
    assert.deepEqual(cfg.errors, []);
    const model = new ControlModel(new Engine());
    const logs: string[] = [];
    const h = new HealthManager(model, cfg, (l) => logs.push(l));
    const dests = (): string[] =>
      model
        .services()
        .flatMap((s) => s.dests.map((d) => `${d.addr}:${d.port}/${d.weight}`))
        .sort();
    h.start();
    try {
      // both start in (no alpha, as in keepalived); the first checks keep rs1 (its
      // session is up) and take out the server whose bfd_instance bfdd has no session for
      await waitFor('rs1 in, the other out', 15_000, () =>
        Promise.resolve(dests().join() === `${R}:80/3`),
      );
      stopBfdd('r');
      await waitFor('rs1 out after the peer stopped', 10_000, () =>
        Promise.resolve(dests().length === 0),
      );
      assert.ok(
        logs.some((l) => /BFD rs1: the session with 10\.252\.1\.2 is (down|init)/.test(l)),
        logs.join('\n'),
      );
      await bfdd('r', R, D);
      await waitFor('rs1 back', 15_000, () => Promise.resolve(dests().includes(`${R}:80/3`)));
    } finally {
      h.stop();
    }
    assert.ok(
      logs.some((l) => /bfdd has no session with 10\.252\.1\.77/.test(l)),
      logs.join('\n'),
    );
  });

  test('fail closed: no BFD source, or a name no bfd_instance has, is a configuration error', () => {
    process.env.TSVS_BFD_VTY_DIR = join(dir, 'nowhere');
    try {
      const cfg = parseKeepalived(conf());
      assert.equal(cfg.errors.length, 2, cfg.errors.join('\n'));
      assert.match(cfg.errors[0], /BFD_CHECK rs1: no BFD source \(FRR's bfdd is not running/);
      const c = cfg.virtualServers[0].realServers[0].checkers[0];
      assert.match(c.unusable ?? '', /no BFD source/);
    } finally {
      process.env.TSVS_BFD_VTY_DIR = vty('d');
    }
    const cfg = parseKeepalived(conf().replace('name rs1', 'name other'));
    assert.equal(cfg.errors.length, 1, cfg.errors.join('\n'));
    assert.match(cfg.errors[0], /BFD_CHECK - BFD other not configured/);
  });
});
