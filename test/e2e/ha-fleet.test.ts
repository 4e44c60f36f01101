/**
 * A fleet of three tsvs directors in DR mode behind a router doing ECMP
 * (docs/scale-out.md, examples/fleet/), with real FRR on the router and BIRD on the
 * directors: the lab and its events are in ./ha-fleet-run.ts (bench:e2e's `ha` section
 * runs the same events).
 *
 * Events on d3, each followed by d3's rejoining: only its tsvs killed (BIRD left
 * running: the readiness watcher withdraws the route), every real server of its VIP down
 * (not ready for the VIP: withdrawn), the whole director dead (BFD between the router
 * and the directors finds it in 3 × 100 ms; without BFD the BGP hold time, 3 s, and
 * d3's flows wait for the TCP retransmission after it: docs/scale-out.md).
 * Printed and asserted: flows lost (0), flows answered by another real server (0: a
 * flow that changed real server would be answered by another one, or reset); printed:
 * the survivors' flows ECMP moved to another director (a non-resilient nexthop group
 * moves some), how long the route took to go, and the longest wait of d3's flows.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { e2eUnavailable, waitFor } from './harness.js';
import { FleetLab, fleetMissing, type FleetEventKind } from './ha-fleet-run.js';

describe(
  'e2e fleet: three tsvs directors behind ECMP (FRR router, BIRD on the directors)',
  { skip: e2eUnavailable() ?? (await fleetMissing()) ?? false, timeout: 240_000 },
  () => {
    let lab: FleetLab;
    before(async () => {
      lab = await FleetLab.up('e2efl');
    });
    after(async () => {
      await lab?.down();
    });

    test('kill only tsvs, all real servers down, kill the director, rejoin: route withdrawn and back, no flow lost or remapped', async () => {
      const spread = await lab.open(300);
      console.log(
        `# flows per director: ${[1, 2, 3].map((n) => `d${n} ${spread.get(n) ?? 0}`).join(', ')}`,
      );
      assert.ok((spread.get(3) ?? 0) > 0, 'd3 carries flows');
      // BFD runs between the router and each director (a session comes up after its
      // BGP session, through BFD's slow start: a few seconds on a loaded machine)
      for (const n of [1, 2, 3])
        await waitFor(`the router's BFD session with d${n} up`, 30_000, () =>
          lab.bfdUp(`10.212.1.1${n}`),
        );
      const kinds: FleetEventKind[] = ['tsvs killed', 'real servers down', 'director killed'];
      for (const kind of kinds) {
        const e = await lab.event(kind);
        const why = (l: { why: string }[]): string => l.map((f) => f.why).join(', ');
        console.log(
          `# ${kind}: route withdrawn after ${e.withdrawnMs} ms; every flow answered again after ${e.flowingMs} ms; d3's ${e.d3Flows} flows waited at most ${e.d3WaitMs} ms, the others ${e.otherWaitMs} ms; lost ${e.lost.length} of ${e.flows}; flows remapped to another real server ${e.lost.filter((f) => f.why.startsWith('answered by')).length}, survivors' flows moved to another director by ECMP ${e.moved}`,
        );
        if (kind === 'director killed')
          console.log(
            `# ${kind}: what bounds d3's flows' wait — BFD found d3 dead and the route went after ${e.withdrawnMs} ms, then each flow resumed at its next TCP retransmission (0.2, 0.6, 1.4, 3.0, 6.2 s after the loss): ${e.d3WaitMs} ms at most`,
          );
        console.log(
          `# ${kind}, rejoin: route back after ${e.backMs} ms; longest wait ${e.rejoinWaitMs} ms; lost ${e.rejoinLost.length} of ${e.flows}`,
        );
        assert.equal(e.lost.length, 0, `${kind}: flows lost: ${why(e.lost)}`);
        assert.equal(e.rejoinLost.length, 0, `${kind} rejoin: flows lost: ${why(e.rejoinLost)}`);
        assert.ok(e.d3Flows > 0, `${kind}: d3 carried flows before`);
      }
    });
  },
);
