/**
 * Several daemons on one machine, each in its own network namespace, do not collide:
 * default control sockets and state files are per namespace, queues and chains are
 * per namespace, and each balances its own lab.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { Lab, e2eUnavailable, serversListening, sh, waitFor, TSVS, TSVSADM } from './harness.js';

const skip = e2eUnavailable();

describe('e2e two daemons in two namespaces', { skip: skip ?? false, timeout: 120_000 }, () => {
  const labs: Lab[] = [];
  const daemons: ChildProcess[] = [];
  const env = { ...process.env, TSVS_CONTROL: '', TSVS_STATE: '' };
  const adm = (lab: Lab, args: string[]) =>
    sh(lab.ns.director, process.execPath, [TSVSADM, ...args], { env });

  before(async () => {
    for (const p of ['e2emultia', 'e2emultib']) {
      // a previous run's saved configuration would be restored by the daemon
      rmSync(`/var/lib/tsvs/netns/${p}-director`, { recursive: true, force: true });
      const lab = Lab.up(p);
      labs.push(lab);
      lab.http(0, 80);
      lab.http(1, 80);
      await serversListening(lab, [80]);
      // defaults only: no --control, no --state, no --name
      const d = spawn('ip', ['netns', 'exec', lab.ns.director, process.execPath, TSVS, 'daemon'], {
        stdio: 'ignore',
        env,
      });
      daemons.push(d);
      await waitFor(
        `the daemon in ${lab.ns.director}`,
        15_000,
        async () => (await adm(lab, ['-L', '-n'])).code === 0,
      );
    }
  });

  after(async () => {
    for (const d of daemons) {
      if (d.exitCode === null && d.signalCode === null) {
        await new Promise((r) => {
          d.once('exit', r);
          d.kill('SIGTERM');
        });
      }
    }
    for (const lab of labs) {
      await lab.down();
      rmSync(`/var/lib/tsvs/netns/${lab.ns.director}`, { recursive: true, force: true });
    }
  });

  test('each namespace has its own socket, state file, rules and service', async () => {
    for (const lab of labs) {
      assert.ok(existsSync(`/run/tsvs/netns/${lab.ns.director}/control.sock`), 'per-netns socket');
    }
    // different schedulers so the two configurations are told apart
    const [a, b] = labs;
    for (const [lab, sched] of [
      [a, 'rr'],
      [b, 'wlc'],
    ] as [Lab, string][]) {
      assert.equal((await adm(lab, ['-A', '-t', `${lab.env.vip4}:80`, '-s', sched])).code, 0);
      for (const rs of lab.env.rs)
        assert.equal(
          (await adm(lab, ['-a', '-t', `${lab.env.vip4}:80`, '-r', `${rs.ip4}:80`, '-m'])).code,
          0,
        );
    }
    assert.match((await adm(a, ['-L', '-n'])).stdout, /:80 rr/);
    assert.match((await adm(b, ['-L', '-n'])).stdout, /:80 wlc/);
    for (const lab of labs) {
      const r = await lab.client('curl', ['-s', '-m', '5', `http://${lab.env.vip4}/`]);
      assert.match(r.stdout, /^rs[12]$/m);
      const rules = await sh(lab.ns.director, 'iptables-legacy-save', ['-t', 'mangle']);
      assert.match(rules.stdout, new RegExp(`TSVS_${lab.ns.director.replace(/-/g, '_')}_REQ`));
      await waitFor('the saved state', 5_000, async () =>
        existsSync(`/var/lib/tsvs/netns/${lab.ns.director}/config.json`),
      );
    }
  });
});
