/**
 * An existing ipvsadm script runs unchanged with `ipvsadm` resolving to tsvsadm, against
 * the daemon in the lab (found through the per-namespace default control socket), and
 * real traffic flows as configured; a restarted daemon keeps its services and real
 * servers (persisted configuration).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, e2eUnavailable, serversListening, sh, waitFor, TSVS, bg } from './harness.js';

const skip = e2eUnavailable();
const INSTALL = fileURLToPath(
  new URL('../../../scripts/install-ipvsadm-symlink.sh', import.meta.url),
);

const SCRIPT = `#!/bin/sh
# the way people write them for ipvsadm
set -e
VIP=10.201.3.100
RS1=10.201.2.11
RS2=10.201.2.12

# VIP on lo (keepalived or a script usually does this)
ip addr add $VIP/32 dev lo label lo:1 2>/dev/null || true

ipvsadm -C
ipvsadm -A -t $VIP:80 -s rr
ipvsadm -a -t $VIP:80 -r $RS1:8080 -m -w 1
ipvsadm -a -t $VIP:80 -r $RS2:8080 -m -w 1
ipvsadm -A -u $VIP:53 -s wlc
ipvsadm -a -u $VIP:53 -r $RS1:5353 -m
ipvsadm -A -t $VIP:8443 -s wlc -p 600
ipvsadm -a -t $VIP:8443 -r $RS2:8443 -g -w 2
ipvsadm --set 3600 120 300
ipvsadm -L -n
`;

describe(
  'e2e an ipvsadm script against the daemon',
  { skip: skip ?? false, timeout: 120_000 },
  () => {
    let lab: Lab;
    let bin: string;
    let state: string;
    let daemon: ChildProcess | undefined;
    const env = (): NodeJS.ProcessEnv => ({
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      TSVS_CONTROL: '',
      TSVS_STATE: '',
    });

    async function startDaemon(): Promise<void> {
      // no --control: the daemon and every client in this netns agree on the default path
      daemon = spawn(
        'ip',
        [
          'netns',
          'exec',
          lab.ns.director,
          process.execPath,
          TSVS,
          'daemon',
          '--state',
          state,
          '--name',
          'e2escript',
        ],
        {
          stdio: 'ignore',
          env: env(),
        },
      );
      await waitFor(
        'the daemon',
        15_000,
        async () => (await sh(lab.ns.director, 'ipvsadm', ['-L', '-n'], { env: env() })).code === 0,
      );
    }

    /** SIGTERM keeps the state and capture for the next start; SIGINT removes them. */
    async function stopDaemon(signal: 'SIGTERM' | 'SIGINT' = 'SIGTERM'): Promise<void> {
      const d = daemon;
      if (!d || d.exitCode !== null || d.signalCode !== null) return;
      await new Promise((r) => {
        d.once('exit', r);
        d.kill(signal);
      });
    }

    before(async () => {
      lab = Lab.up('e2escript');
      bin = join(lab.dir, 'bin');
      state = join(lab.dir, 'state.json');
      execFileSync('sh', [INSTALL, bin]);
      lab.http(0, 8080);
      lab.http(1, 8080);
      lab.track(
        bg(lab.ns.rs1, 'socat', [
          'UDP4-RECVFROM:5353,reuseaddr,fork,bind=10.201.2.11',
          'SYSTEM:echo dns',
        ]),
      );
      lab.track(
        bg(lab.ns.rs2, 'socat', [
          'UDP4-RECVFROM:5353,reuseaddr,fork,bind=10.201.2.12',
          'SYSTEM:echo dns',
        ]),
      );
      await serversListening(lab, [8080], [5353]);
      // what an earlier run that did not end cleanly left in the default run directory
      rmSync(`/run/tsvs/netns/${lab.ns.director}`, { recursive: true, force: true });
      await startDaemon();
    });

    after(async () => {
      // the default run directory (/run/tsvs/netns/NS) outlives the lab: leave nothing
      // there for the next lab of this name
      await stopDaemon('SIGINT');
      await lab?.down();
    });

    test('the script runs unchanged and traffic flows as configured', async () => {
      const file = join(lab.dir, 'lvs.sh');
      writeFileSync(file, SCRIPT, { mode: 0o755 });
      const r = await sh(lab.ns.director, 'sh', [file], { env: env() });
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        /^TCP {2}10\.201\.3\.100:80 rr\n {2}-> 10\.201\.2\.11:8080 +Masq +1 +0 +0 *\n {2}-> 10\.201\.2\.12:8080 +Masq +1 +0 +0 *$/m,
      );
      assert.match(
        r.stdout,
        /^TCP {2}10\.201\.3\.100:8443 wlc persistent 600\n {2}-> 10\.201\.2\.12:8443 +Route +2 +0 +0/m,
      );
      assert.match(
        r.stdout,
        /^UDP {2}10\.201\.3\.100:53 wlc\n {2}-> 10\.201\.2\.11:5353 +Masq +1 +0 +0/m,
      );
      const seen: string[] = [];
      for (let i = 0; i < 4; i++)
        seen.push(
          (await lab.client('curl', ['-s', '-m', '5', 'http://10.201.3.100/'])).stdout.trim(),
        );
      assert.deepEqual(seen.slice().sort(), ['rs1', 'rs1', 'rs2', 'rs2']);
      const dns = await lab.client('socat', ['-t', '2', '-', 'UDP:10.201.3.100:53'], {
        input: 'q\n',
      });
      assert.equal(dns.stdout.trim(), 'dns');
      const to = await sh(lab.ns.director, 'ipvsadm', ['-L', '--timeout'], { env: env() });
      assert.equal(to.stdout, 'Timeout (tcp tcpfin udp): 3600 120 300\n');
      const stats = await sh(
        lab.ns.director,
        'ipvsadm',
        ['-L', '-n', '--stats', '-t', '10.201.3.100:80'],
        { env: env() },
      );
      assert.match(stats.stdout, /^TCP {2}10\.201\.3\.100:80 +4 +\d+ +\d+ +\d+ +\d+$/m);
      assert.equal((await sh(lab.ns.director, 'ipvsadm', ['-Z'], { env: env() })).code, 0);
      const z = await sh(
        lab.ns.director,
        'ipvsadm',
        ['-L', '-n', '--stats', '-t', '10.201.3.100:80'],
        { env: env() },
      );
      assert.match(z.stdout, /^TCP {2}10\.201\.3\.100:80 +0 +0 +0 +0 +0$/m);
      assert.equal(
        (await sh(lab.ns.director, 'ipvsadm', ['-D', '-u', '10.201.3.100:53'], { env: env() }))
          .code,
        0,
      );
      const bad = await sh(lab.ns.director, 'ipvsadm', ['-D', '-u', '10.201.3.100:53'], {
        env: env(),
      });
      assert.equal(bad.code, 255);
      assert.equal(bad.stderr, 'No such service\n');
    });

    test('a restarted daemon keeps its services and real servers', async () => {
      const before1 = (await sh(lab.ns.director, 'ipvsadm', ['-S', '-n'], { env: env() })).stdout;
      assert.match(before1, /-A -t 10\.201\.3\.100:80 -s rr/);
      await stopDaemon();
      assert.notEqual(
        (await sh(lab.ns.director, 'ipvsadm', ['-L', '-n'], { env: env() })).code,
        0,
        'no daemon now',
      );
      await startDaemon();
      const after1 = (await sh(lab.ns.director, 'ipvsadm', ['-S', '-n'], { env: env() })).stdout;
      assert.equal(after1, before1);
      const to = await sh(lab.ns.director, 'ipvsadm', ['-L', '--timeout'], { env: env() });
      assert.equal(to.stdout, 'Timeout (tcp tcpfin udp): 3600 120 300\n');
      const r = await lab.client('curl', ['-s', '-m', '5', 'http://10.201.3.100/']);
      assert.match(r.stdout, /^rs[12]$/m);
    });
  },
);
