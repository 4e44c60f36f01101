/**
 * bench:e2e's `ha` section (issue 15, docs/ha.md, docs/scale-out.md): the keepalived
 * VRRP pair (test/e2e/ha-pair-run.ts) through several rounds of SIGKILL of the master
 * and fail-back, and the ECMP fleet (test/e2e/ha-fleet-run.ts) through several rounds of
 * its three events on one director; per event the times, the flows lost, and the
 * survivors' flows ECMP moved. `--only ha` runs it alone.
 *
 * Figures, never a test. Needs root, keepalived, FRR and BIRD.
 *
 * @module
 */
import { PairLab, keepalivedMissing, type PairRound } from '../test/e2e/ha-pair-run.js';
import {
  FleetLab,
  fleetMissing,
  type FleetEvent,
  type FleetEventKind,
} from '../test/e2e/ha-fleet-run.js';

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : Math.round((s[m - 1] + s[m]) / 2);
}

const range = (xs: number[]): string => `${median(xs)} (${Math.min(...xs)}–${Math.max(...xs)})`;

async function pairSection(rounds: number): Promise<unknown> {
  const missing = await keepalivedMissing();
  if (missing) {
    console.log(`ha pair: skipped (${missing})`);
    return null;
  }
  const lab = await PairLab.up('tsvsbhp');
  const rs: PairRound[] = [];
  try {
    console.log(`ha pair — ${rounds} round(s): SIGKILL of the master, fail-back (100 + 20 flows)`);
    for (let round = 1; round <= rounds; round++) {
      const r = await lab.round(100, 20);
      rs.push(r);
      console.log(
        `  round ${round}  fail-over: MASTER ${r.vrrpMs} ms, flowing ${r.failoverMs} ms, longest wait ${r.failoverWaitMs} ms, lost ${r.failoverLost.length}/${r.flows}` +
          `  fail-back: learned ${r.learnedMs} ms, MASTER ${r.masterMs} ms, longest wait ${r.failbackWaitMs} ms, lost ${r.failbackLost.length}/${r.failbackFlows}`,
      );
    }
  } finally {
    await lab.down();
  }
  const sum = (f: (r: PairRound) => number): number => rs.reduce((a, r) => a + f(r), 0);
  const s = {
    failover_master_ms: median(rs.map((r) => r.vrrpMs)),
    failover_flowing_ms: median(rs.map((r) => r.failoverMs)),
    failover_wait_ms_max: Math.max(...rs.map((r) => r.failoverWaitMs)),
    failover_lost: sum((r) => r.failoverLost.length),
    failover_flows: sum((r) => r.flows),
    failback_learned_ms: median(rs.map((r) => r.learnedMs)),
    failback_master_ms: median(rs.map((r) => r.masterMs)),
    failback_wait_ms_max: Math.max(...rs.map((r) => r.failbackWaitMs)),
    failback_lost: sum((r) => r.failbackLost.length),
    failback_flows: sum((r) => r.failbackFlows),
  };
  console.log(
    '| pair      | MASTER / learned ms, median (min–max) | flowing again ms, median (min–max) | longest wait ms | lost         |',
  );
  console.log(
    '| --------- | ------------------------------------- | ---------------------------------- | --------------- | ------------ |',
  );
  console.log(
    `| fail-over | MASTER ${range(rs.map((r) => r.vrrpMs)).padEnd(30)} | ${range(rs.map((r) => r.failoverMs)).padEnd(34)} | ${String(s.failover_wait_ms_max).padEnd(15)} | ${`${s.failover_lost} of ${s.failover_flows}`.padEnd(12)} |`,
  );
  console.log(
    `| fail-back | learned ${range(rs.map((r) => r.learnedMs)).padEnd(29)} | MASTER ${range(rs.map((r) => r.masterMs)).padEnd(27)} | ${String(s.failback_wait_ms_max).padEnd(15)} | ${`${s.failback_lost} of ${s.failback_flows}`.padEnd(12)} |`,
  );
  return s;
}

async function fleetSection(rounds: number): Promise<unknown> {
  const missing = await fleetMissing();
  if (missing) {
    console.log(`ha fleet: skipped (${missing})`);
    return null;
  }
  const lab = await FleetLab.up('tsvsbhf');
  const kinds: FleetEventKind[] = ['tsvs killed', 'real servers down', 'director killed'];
  const all = new Map<FleetEventKind, FleetEvent[]>(kinds.map((k) => [k, []]));
  try {
    const spread = await lab.open(300);
    console.log(
      `ha fleet — ${rounds} round(s) of ${kinds.join(', ')} on d3; 300 flows (d1 ${spread.get(1) ?? 0}, d2 ${spread.get(2) ?? 0}, d3 ${spread.get(3) ?? 0})`,
    );
    for (let round = 1; round <= rounds; round++)
      for (const k of kinds) {
        const e = await lab.event(k);
        all.get(k)!.push(e);
        console.log(
          `  round ${round} ${k.padEnd(17)} withdrawn ${e.withdrawnMs} ms, flowing ${e.flowingMs} ms, d3's ${e.d3Flows} flows waited ≤ ${e.d3WaitMs} ms (others ${e.otherWaitMs}), lost ${e.lost.length}/${e.flows}, moved ${e.moved}; rejoin: back ${e.backMs} ms, lost ${e.rejoinLost.length}`,
        );
      }
  } finally {
    await lab.down();
  }
  console.log(
    '| fleet event       | withdrawn ms        | flowing again ms    | d3 flows waited ms  | lost     | survivors moved | rejoin: back ms     | lost |',
  );
  console.log(
    '| ----------------- | ------------------- | ------------------- | ------------------- | -------- | --------------- | ------------------- | ---- |',
  );
  const summary: Record<string, unknown> = {};
  for (const k of kinds) {
    const xs = all.get(k)!;
    const lost = xs.reduce((a, e) => a + e.lost.length, 0);
    const flows = xs.reduce((a, e) => a + e.flows, 0);
    const rejoinLost = xs.reduce((a, e) => a + e.rejoinLost.length, 0);
    console.log(
      `| ${k.padEnd(17)} | ${range(xs.map((e) => e.withdrawnMs)).padEnd(19)} | ${range(xs.map((e) => e.flowingMs)).padEnd(19)} | ${range(xs.map((e) => e.d3WaitMs)).padEnd(19)} | ${`${lost}/${flows}`.padEnd(8)} | ${range(xs.map((e) => e.moved)).padEnd(15)} | ${range(xs.map((e) => e.backMs)).padEnd(19)} | ${String(rejoinLost).padEnd(4)} |`,
    );
    summary[k] = {
      withdrawn_ms: median(xs.map((e) => e.withdrawnMs)),
      flowing_ms: median(xs.map((e) => e.flowingMs)),
      d3_wait_ms: median(xs.map((e) => e.d3WaitMs)),
      lost,
      flows,
      moved_median: median(xs.map((e) => e.moved)),
      rejoin_back_ms: median(xs.map((e) => e.backMs)),
      rejoin_lost: rejoinLost,
    };
  }
  return summary;
}

/** Runs the section; returns the JSON summary it printed last. */
export async function haSection(rounds: number): Promise<unknown> {
  const pair = await pairSection(rounds);
  console.log('');
  const fleet = await fleetSection(rounds);
  const summary = { pair, fleet };
  console.log(JSON.stringify({ ha: summary }));
  return summary;
}
