/**
 * A keepalived VRRP pair of tsvs directors, NAT (docs/ha.md, examples/ha/): keepalived
 * 2.2 runs VRRP only (`-P`), a `vrrp_sync_group` holds the client VIP and the real
 * servers' gateway, `tsvs vrrp-notify` switches the sync daemons, and `tsvs status
 * --ready` is the group's track_script (not ready: FAULT).
 *
 *   client ── br1 ──┬── d1 (priority 150) ──┬── br2 ── rs1, rs2 (default via 10.211.2.1)
 *   10.211.1.10     └── d2 (priority 100) ──┘
 *   VIP 10.211.1.100 (VI_CLIENT), gateway 10.211.2.1 (VI_SERVERS), sync on br2
 *
 * Steps: 100 long-lived flows through d1; SIGKILL of d1's tsvs and keepalived and its
 * links down (the machine is gone); the flows carry on through d2; 20 more flows are
 * opened through d2; d1 comes back (tsvs and keepalived restarted, an empty table):
 * it must not take the VIP back before it has learned the table from d2's sync, then
 * takes it back (preempt) and every flow carries on. Printed and asserted: flows lost
 * (0), flows answered by another real server (0); printed: the time until the flows
 * flow again after each switch.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ControlClient } from '../../src/control/client.js';
import type { ReadyResult } from '../../src/control/protocol.js';
import { e2eUnavailable, sh, waitFor, TSVS } from './harness.js';
import {
  Flows,
  addNamespace,
  allFlowing,
  inNs,
  ip,
  keepalived,
  plug,
  removeNamespaces,
  run,
  since,
  tsvsDaemon,
  type Proc,
} from './ha-lab.js';
import { echoServerCode } from './ha-flows.js';

const P = 'e2eha';
const NS = {
  sw: `${P}-sw`,
  c: `${P}-c`,
  d1: `${P}-d1`,
  d2: `${P}-d2`,
  r1: `${P}-r1`,
  r2: `${P}-r2`,
};
const VIP = '10.211.1.100';
const PORT = 9000;

async function haveKeepalived(): Promise<string | null> {
  const r = await sh(null, 'keepalived', ['--version']);
  return r.code === 0 || /Keepalived v2/.test(r.stderr) ? null : 'keepalived is not installed';
}

/** keepalived.conf of one director: the examples/ha/nat shape, with fast timers. */
function kaConf(me: 1 | 2, sock: string): string {
  const tsvs = `${process.execPath} ${TSVS}`;
  return `global_defs {
  router_id ${P}-d${me}
  vrrp_version 3
  script_user root
}
vrrp_script tsvs_ready {
  script "${tsvs} status --ready --quiet --control ${sock}"
  interval 1
  timeout 3
  fall 1
  rise 1
  init_fail
}
vrrp_sync_group VG_NAT {
  group {
    VI_CLIENT
    VI_SERVERS
  }
  track_script {
    tsvs_ready
  }
  notify "${tsvs} vrrp-notify --control ${sock}"
}
vrrp_instance VI_CLIENT {
  state BACKUP
  interface eth1
  virtual_router_id 51
  priority ${me === 1 ? 150 : 100}
  advert_int 0.2
  preempt_delay 1
  virtual_ipaddress {
    ${VIP}/24 dev eth1
  }
}
vrrp_instance VI_SERVERS {
  state BACKUP
  interface eth2
  virtual_router_id 52
  priority ${me === 1 ? 150 : 100}
  advert_int 0.2
  preempt_delay 1
  virtual_ipaddress {
    10.211.2.1/24 dev eth2
  }
}
`;
}

async function readyOf(sock: string): Promise<ReadyResult | null> {
  try {
    const c = await ControlClient.connect(sock, 1000);
    try {
      return await c.call({ cmd: 'ready' });
    } finally {
      c.close();
    }
  } catch {
    return null;
  }
}

async function connCount(sock: string): Promise<number> {
  const c = await ControlClient.connect(sock, 2000);
  try {
    return (await c.call({ cmd: 'listConnections' })).filter(
      (x) => x.vport === PORT && x.state === 'ESTABLISHED',
    ).length;
  } finally {
    c.close();
  }
}

/** The time (ms since the epoch) of the first tsvs log line matching `re`, or null. */
function logTime(p: Proc, re: RegExp): number | null {
  for (const l of p.log) {
    if (!re.test(l)) continue;
    const m = /"time":"([^"]+)"/.exec(l);
    if (m) return Date.parse(m[1]);
  }
  return null;
}

describe(
  'e2e HA: a keepalived VRRP pair of tsvs directors (NAT)',
  { skip: e2eUnavailable() ?? (await haveKeepalived()) ?? false, timeout: 180_000 },
  () => {
    const dir = mkdtempSync(join(tmpdir(), `tsvs-${P}-`));
    const sock = { 1: join(dir, 'd1', 'control.sock'), 2: join(dir, 'd2', 'control.sock') };
    const rules = join(dir, 'rules');
    const procs: Proc[] = [];
    let t1: Proc;
    let k1: Proc;
    let t2: Proc;
    const flowsets: Flows[] = [];

    const startTsvs = async (me: 1 | 2): Promise<Proc> => {
      const p = await tsvsDaemon(NS[`d${me}`], sock[me], `${P}${me}`, [
        '-c',
        rules,
        '--sync-interface',
        'eth2',
        '--sync-id',
        '7',
        '--sync-full-pass',
        '2',
      ]);
      procs.push(p);
      return p;
    };
    const startKa = (me: 1 | 2): Proc => {
      const p = keepalived(NS[`d${me}`], join(dir, `d${me}`), 'ka', kaConf(me, sock[me]));
      procs.push(p);
      return p;
    };

    before(async () => {
      await removeNamespaces(Object.values(NS));
      const fwd = ['net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0'];
      await addNamespace(NS.sw);
      for (const br of ['br1', 'br2']) {
        await ip('-n', NS.sw, 'link', 'add', br, 'type', 'bridge');
        await ip('-n', NS.sw, 'link', 'set', br, 'up');
      }
      await addNamespace(NS.c);
      await plug(NS.sw, 'br1', 'ha-c', NS.c, 'eth1', ['10.211.1.10/24']);
      for (const me of [1, 2] as const) {
        const ns = NS[`d${me}`];
        await addNamespace(ns, fwd);
        await plug(NS.sw, 'br1', `ha-d${me}a`, ns, 'eth1', [`10.211.1.${me + 1}/24`]);
        await plug(NS.sw, 'br2', `ha-d${me}b`, ns, 'eth2', [`10.211.2.${me + 1}/24`]);
        await inNs(ns, 'sysctl', '-qw', 'net.ipv4.conf.eth1.rp_filter=0');
        await inNs(ns, 'sysctl', '-qw', 'net.ipv4.conf.eth2.rp_filter=0');
      }
      for (const n of [1, 2] as const) {
        const ns = NS[`r${n}`];
        await addNamespace(ns);
        await plug(NS.sw, 'br2', `ha-r${n}`, ns, 'eth2', [`10.211.2.${10 + n}/24`]);
        await ip('-n', ns, 'route', 'add', 'default', 'via', '10.211.2.1');
        procs.push(run(ns, process.execPath, ['-e', echoServerCode(`rs${n}`, PORT)]));
      }
      writeFileSync(
        rules,
        `-A -t ${VIP}:${PORT} -s rr\n-a -t ${VIP}:${PORT} -r 10.211.2.11:${PORT} -m -w 1\n-a -t ${VIP}:${PORT} -r 10.211.2.12:${PORT} -m -w 1\n`,
      );
      t1 = await startTsvs(1);
      t2 = await startTsvs(2);
      k1 = startKa(1);
      startKa(2);
      await waitFor('d1 to be VRRP MASTER', 30_000, async () => {
        const r = await readyOf(sock[1]);
        return r?.vrrp === 'MASTER';
      });
      await waitFor('d2 to be VRRP BACKUP', 10_000, async () => {
        const r = await readyOf(sock[2]);
        return r?.vrrp === 'BACKUP';
      });
    });

    after(async () => {
      for (const f of flowsets) await f.stop();
      for (const p of procs) await p.kill('SIGKILL');
      await removeNamespaces(Object.values(NS));
      rmSync(dir, { recursive: true, force: true });
    });

    test('fail-over on SIGKILL of the master, fail-back once it has learned the table: no flow lost', async () => {
      // readiness as keepalived sees it: the director, and the VIP
      assert.equal((await readyOf(sock[1]))?.ready, true);
      const r0 = await sh(NS.d1, process.execPath, [
        TSVS,
        'status',
        '--ready',
        '--control',
        sock[1],
        `${VIP}:${PORT}`,
      ]);
      assert.equal(r0.code, 0, r0.stderr);
      // the sync daemons follow the roles
      const roles = async (s: string): Promise<string[]> => {
        const c = await ControlClient.connect(s, 2000);
        try {
          return (await c.call({ cmd: 'getDaemons' })).map((d) => d.state);
        } finally {
          c.close();
        }
      };
      assert.deepEqual(await roles(sock[1]), ['master']);
      assert.deepEqual(await roles(sock[2]), ['backup']);

      const flows = await Flows.open(NS.c, { host: VIP, port: PORT, flows: 100 });
      flowsets.push(flows);
      await allFlowing(flows, '100 flows through d1', 20_000);
      await waitFor('d2 to hold the 100 connections (sync)', 20_000, async () => {
        return (await connCount(sock[2])) >= 100;
      });

      // the master machine is gone: its tsvs and keepalived killed, its links down
      await flows.mark();
      const tKill = Date.now();
      t1.proc.kill('SIGKILL');
      k1.proc.kill('SIGKILL');
      await Promise.all([t1.exited, k1.exited]);
      await ip('-n', NS.d1, 'link', 'set', 'eth1', 'down');
      await ip('-n', NS.d1, 'link', 'set', 'eth2', 'down');
      await waitFor(
        'd2 to be MASTER',
        10_000,
        async () => (await readyOf(sock[2]))?.vrrp === 'MASTER',
      );
      const vrrpMs = since(tKill);
      const after1 = await allFlowing(flows, 'the flows through d2', 30_000);
      const failover = since(tKill);
      const lost1 = after1.filter((f) => f.lost);
      const stall1 = Math.max(...after1.map((f) => f.waitMs));
      console.log(
        `# fail-over: VRRP MASTER on d2 after ${vrrpMs} ms; every flow answered again after ${failover} ms; longest wait ${stall1} ms; lost ${lost1.length} of ${after1.length}${lost1.length ? `: ${lost1.map((f) => f.why).join(', ')}` : ''}`,
      );
      assert.equal(lost1.length, 0, 'flows lost in the fail-over');
      assert.deepEqual(await roles(sock[2]), ['master']);

      // flows that only d2 ever saw: d1 can know them from d2's sync alone
      const late = await Flows.open(NS.c, { host: VIP, port: PORT, flows: 20 });
      flowsets.push(late);
      await allFlowing(late, '20 new flows through d2', 20_000);

      // d1 comes back: empty table (no state kept), stale VRRP records
      await flows.mark();
      await late.mark();
      await ip('-n', NS.d1, 'addr', 'flush', 'dev', 'eth1', 'to', `${VIP}/32`);
      await ip('-n', NS.d1, 'addr', 'flush', 'dev', 'eth2', 'to', '10.211.2.1/32');
      await ip('-n', NS.d1, 'link', 'set', 'eth1', 'up');
      await ip('-n', NS.d1, 'link', 'set', 'eth2', 'up');
      const tBack = Date.now();
      t1 = await startTsvs(1);
      const early = await readyOf(sock[1]);
      assert.equal(early?.ready, false, 'a restarted director is not ready before it learned');
      assert.match(early?.reason ?? '', /learning/);
      k1 = startKa(1);
      await waitFor(
        'd1 to be MASTER again',
        40_000,
        async () => (await readyOf(sock[1]))?.vrrp === 'MASTER',
      );
      const r1 = (await readyOf(sock[1]))!;
      const learned = r1.learning.since! + r1.learning.windowMs;
      const masterAt = logTime(t1, /vrrp: GROUP VG_NAT .*→ MASTER/);
      assert.ok(masterAt !== null, 'the MASTER notification in the log');
      console.log(
        `# fail-back: d1 restarted, learned its table ${learned - tBack} ms later, MASTER ${masterAt - tBack} ms later`,
      );
      assert.ok(masterAt >= learned, 'd1 took the VIP back before it had learned the table');
      const after2 = await allFlowing(flows, 'the flows back through d1', 30_000);
      const after2late = await allFlowing(late, 'the late flows through d1', 30_000);
      const all2 = [...after2, ...after2late];
      const lost2 = all2.filter((f) => f.lost);
      const stall2 = Math.max(...all2.map((f) => f.waitMs));
      console.log(
        `# fail-back: every flow answered again; longest wait ${stall2} ms; lost ${lost2.length} of ${all2.length}${lost2.length ? `: ${lost2.map((f) => f.why).join(', ')}` : ''}`,
      );
      assert.equal(lost2.length, 0, 'flows lost in the fail-back');
      // d1 holds every flow, the 20 it only heard of by sync included
      assert.ok((await connCount(sock[1])) >= 120);
      assert.deepEqual(await roles(sock[1]), ['master']);
      await waitFor('d2 back to sync backup', 10_000, async () => {
        return (await roles(sock[2])).join() === 'backup';
      });
      void t2;
    });
  },
);
