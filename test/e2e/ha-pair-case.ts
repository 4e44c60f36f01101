/**
 * The keepalived VRRP pair's end-to-end test, for NAT (ha-pair.test.ts) and DR
 * (ha-pair-dr.test.ts), with real keepalived 2.2: the lab and the round are in
 * ./ha-pair-run.ts (bench:e2e's `ha` section runs the same rounds).
 *
 * SIGKILL of the master (tsvs and keepalived, cut off at its switch ports): 100
 * long-lived flows go on through the backup. 20 more flows are opened through it. The
 * master comes back with an empty table: it is not ready (learning) and does not take
 * the addresses back before it has learned the table from the backup's sync; then it
 * does (preempt) and every flow — the 20 it only heard of by sync included — goes on.
 * Printed and asserted: flows lost (0; a flow answered by another real server counts as
 * lost); printed: the times until the flows flow again.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { e2eUnavailable, sh, TSVS } from './harness.js';
import {
  PairLab,
  PAIR_PORT,
  PAIR_VIP,
  keepalivedMissing,
  readyOf,
  type PairMode,
} from './ha-pair-run.js';

/** The pair's test, for one mode, in namespaces `PREFIX-*`. */
export async function pairSuite(mode: PairMode, prefix: string): Promise<void> {
  const skip = e2eUnavailable() ?? (await keepalivedMissing()) ?? false;
  const group = mode === 'nat' ? 'type="GROUP",name="VG_NAT"' : 'type="INSTANCE",name="VI_DR"';
  describe(
    `e2e HA: a keepalived VRRP pair of tsvs directors (${mode.toUpperCase()})`,
    { skip, timeout: 180_000 },
    () => {
      let lab: PairLab;
      before(async () => {
        lab = await PairLab.up(prefix, mode);
      });
      after(async () => {
        await lab?.down();
      });

      test('fail-over on SIGKILL of the master, fail-back once it has learned the table: no flow lost', async () => {
        // readiness as keepalived sees it: the director, and the VIP
        assert.equal((await readyOf(lab.sock[1]))?.ready, true);
        const r0 = await sh(lab.ns.d1, process.execPath, [
          TSVS,
          'status',
          '--ready',
          '--control',
          lab.sock[1],
          `${PAIR_VIP}:${PAIR_PORT}`,
        ]);
        assert.equal(r0.code, 0, r0.stderr);
        assert.equal(r0.stdout.trim(), `ready (${PAIR_VIP}:${PAIR_PORT})`);
        // /metrics: ready, and keepalived's role instead of "unknown"
        const m1 = (await lab.metrics(1)).split('\n');
        assert.ok(m1.includes('tsvs_ready 1'));
        assert.ok(m1.includes(`tsvs_vrrp_state{${group},state="MASTER"} 1`), m1.join('\n'));
        assert.ok(
          (await lab.metrics(2)).split('\n').includes(`tsvs_vrrp_state{${group},state="BACKUP"} 1`),
        );
        // the sync daemons follow the VRRP roles
        assert.deepEqual(await lab.roles(1), ['master']);
        assert.deepEqual(await lab.roles(2), ['backup']);

        const r = await lab.round(100, 20);
        const why = (l: { why: string }[]): string =>
          l.length ? `: ${l.map((f) => f.why).join(', ')}` : '';
        console.log(
          `# fail-over: VRRP MASTER on d2 after ${r.vrrpMs} ms; every flow answered again after ${r.failoverMs} ms; longest wait ${r.failoverWaitMs} ms; lost ${r.failoverLost.length} of ${r.flows}${why(r.failoverLost)}`,
        );
        console.log(
          `# fail-back: d1 restarted, learned its table ${r.learnedMs} ms later, MASTER ${r.masterMs} ms later; longest wait ${r.failbackWaitMs} ms; lost ${r.failbackLost.length} of ${r.failbackFlows}${why(r.failbackLost)}`,
        );
        assert.equal(r.failoverLost.length, 0, 'flows lost in the fail-over');
        assert.ok(
          r.masterMs >= r.learnedMs,
          'd1 took the addresses back before it had learned the table',
        );
        assert.equal(r.failbackLost.length, 0, 'flows lost in the fail-back');
        // d1 holds every flow, those it only heard of by sync included
        assert.ok(r.d1Conns >= 120, `d1 holds ${r.d1Conns} connections`);
        assert.deepEqual(r.roles, { d1: ['master'], d2: ['backup'] });
      });
    },
  );
}
