/**
 * A keepalived VRRP pair of tsvs directors (NAT, examples/ha/nat): the master's cable
 * pulled — its client-side interface, which carries VRRP and the VIP, set down while
 * tsvs and keepalived run on — and plugged back. The lab and the round are in
 * ./ha-pair-run.ts ({@link PairLab.linkRound}).
 *
 * keepalived on the master finds its interface down and goes FAULT (the sync group
 * gives up the real servers' gateway as well); the backup takes the addresses over and
 * 100 long-lived flows go on through it, 20 more are opened through it; the old
 * master's sync backup learns them over the real servers' side. Link up: the old master
 * takes the addresses back after preempt_delay and every flow goes on. Printed and
 * asserted: flows lost (0); printed: the times until the flows flow again.
 *
 * The same in DR (examples/ha/dr: one interface carries VRRP, the VIP and the sync):
 * the old master's sync backup, restarted by the FAULT notify while its link is down,
 * joins the sync group once the link is up (Node joins by address, which a down link
 * does not list; the kernel by index) and learns the flows opened through its peer
 * before it takes the addresses back.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { e2eUnavailable } from './harness.js';
import { PairLab, keepalivedMissing } from './ha-pair-run.js';

for (const mode of ['nat', 'dr'] as const)
  describe(
    `e2e HA: a keepalived VRRP pair of tsvs directors (${mode.toUpperCase()}), the master's link down`,
    { skip: e2eUnavailable() ?? (await keepalivedMissing()) ?? false, timeout: 150_000 },
    () => {
      let lab: PairLab;
      before(async () => {
        lab = await PairLab.up(mode === 'nat' ? 'e2ehl-pl' : 'e2ehl-pd', mode);
      });
      after(async () => {
        await lab?.down();
      });

      test('link down on the master: the backup takes over, link up: fail-back after preempt_delay; no flow lost', async () => {
        const r = await lab.linkRound(100, 20);
        const why = (l: { why: string }[]): string =>
          l.length ? `: ${l.map((f) => f.why).join(', ')}` : '';
        console.log(
          `# link down: VRRP MASTER on d2 after ${r.vrrpMs} ms (d1 ${r.d1Role}); every flow answered again after ${r.failoverMs} ms; longest wait ${r.failoverWaitMs} ms; lost ${r.failoverLost.length} of ${r.flows}${why(r.failoverLost)}; d1 held ${r.d1ConnsDown} connections meanwhile`,
        );
        console.log(
          `# link up: d1 MASTER again after ${r.masterMs} ms; longest wait ${r.failbackWaitMs} ms; lost ${r.failbackLost.length} of ${r.failbackFlows}${why(r.failbackLost)}`,
        );
        assert.equal(r.failoverLost.length, 0, 'flows lost when the link went down');
        assert.equal(r.d1Role, 'FAULT', 'keepalived on d1 did not see its link down');
        assert.equal(r.failbackLost.length, 0, 'flows lost in the fail-back');
        assert.equal(r.failbackFlows, 120);
        assert.deepEqual(r.roles, { d1: ['master'], d2: ['backup'] });
      });
    },
  );
