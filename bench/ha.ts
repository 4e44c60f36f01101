/**
 * bench:e2e's `ha` section (issue 15, docs/ha.md, docs/scale-out.md): the keepalived
 * VRRP pair (test/e2e/ha-pair-run.ts), NAT and DR, through several rounds of SIGKILL of
 * the master and fail-back, and (NAT) of the master's link down and up; the ECMP fleet
 * (test/e2e/ha-fleet-run.ts, BFD) through several rounds of its three events on one
 * director, and a dead director without BFD (the BGP hold time) to compare; per event
 * the times, the flows lost, and the survivors' flows ECMP moved. `--only ha` runs it alone.
 *
 * Figures, never a test. Needs root, keepalived, FRR and BIRD.
 *
 * @module
 */
import {
  PairLab,
  keepalivedMissing,
  type LinkRound,
  type PairMode,
  type PairRound,
} from '../test/e2e/ha-pair-run.js';
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

async function pairSection(rounds: number, mode: PairMode): Promise<unknown> {
  const lab = await PairLab.up(mode === 'nat' ? 'tsvsbhp' : 'tsvsbhd', mode);
  const rs: PairRound[] = [];
  try {
    console.log(
      `ha pair (${mode.toUpperCase()}) — ${rounds} round(s): SIGKILL of the master, fail-back (100 + 20 flows)`,
    );
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
    `| ${`pair ${mode.toUpperCase()}`.padEnd(9)} | MASTER / learned ms, median (min–max) | flowing again ms, median (min–max) | longest wait ms | lost         |`,
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

/** The NAT pair, the master's link down and up (ha-pair-link.test.ts's round). */
async function linkSection(rounds: number): Promise<unknown> {
  const lab = await PairLab.up('tsvsbhl', 'nat');
  const rs: LinkRound[] = [];
  try {
    console.log(
      `ha pair (NAT) — ${rounds} round(s): the master's link down, then up (100 + 20 flows)`,
    );
    for (let round = 1; round <= rounds; round++) {
      const r = await lab.linkRound(100, 20);
      rs.push(r);
      console.log(
        `  round ${round}  link down: MASTER ${r.vrrpMs} ms (d1 ${r.d1Role}), flowing ${r.failoverMs} ms, longest wait ${r.failoverWaitMs} ms, lost ${r.failoverLost.length}/${r.flows}` +
          `  link up: MASTER ${r.masterMs} ms, longest wait ${r.failbackWaitMs} ms, lost ${r.failbackLost.length}/${r.failbackFlows}`,
      );
    }
  } finally {
    await lab.down();
  }
  const sum = (f: (r: LinkRound) => number): number => rs.reduce((a, r) => a + f(r), 0);
  const s = {
    down_master_ms: median(rs.map((r) => r.vrrpMs)),
    down_flowing_ms: median(rs.map((r) => r.failoverMs)),
    down_wait_ms_max: Math.max(...rs.map((r) => r.failoverWaitMs)),
    down_lost: sum((r) => r.failoverLost.length),
    down_flows: sum((r) => r.flows),
    up_master_ms: median(rs.map((r) => r.masterMs)),
    up_wait_ms_max: Math.max(...rs.map((r) => r.failbackWaitMs)),
    up_lost: sum((r) => r.failbackLost.length),
    up_flows: sum((r) => r.failbackFlows),
  };
  console.log(
    '| link (NAT) | MASTER ms, median (min–max) | flowing again ms, median (min–max) | longest wait ms | lost         |',
  );
  console.log(
    '| ---------- | --------------------------- | ---------------------------------- | --------------- | ------------ |',
  );
  console.log(
    `| down       | ${range(rs.map((r) => r.vrrpMs)).padEnd(27)} | ${range(rs.map((r) => r.failoverMs)).padEnd(34)} | ${String(s.down_wait_ms_max).padEnd(15)} | ${`${s.down_lost} of ${s.down_flows}`.padEnd(12)} |`,
  );
  console.log(
    `| up         | ${range(rs.map((r) => r.masterMs)).padEnd(27)} | ${'—'.padEnd(34)} | ${String(s.up_wait_ms_max).padEnd(15)} | ${`${s.up_lost} of ${s.up_flows}`.padEnd(12)} |`,
  );
  return s;
}

/**
 * A dead director without BFD (the BGP hold time, 3 s, finds it), against the fleet
 * section's BFD figures: what bounds the wait of its flows (docs/scale-out.md).
 */
async function holdTimeSection(rounds: number): Promise<unknown> {
  const lab = await FleetLab.up('tsvsbhh', { bfd: false });
  const xs: FleetEvent[] = [];
  try {
    await lab.open(300);
    console.log(`ha fleet without BFD — ${rounds} round(s) of director killed on d3`);
    for (let round = 1; round <= rounds; round++) {
      const e = await lab.event('director killed');
      xs.push(e);
      console.log(
        `  round ${round} withdrawn ${e.withdrawnMs} ms, flowing ${e.flowingMs} ms, d3's ${e.d3Flows} flows waited ≤ ${e.d3WaitMs} ms (others ${e.otherWaitMs}), lost ${e.lost.length}/${e.flows}`,
      );
    }
  } finally {
    await lab.down();
  }
  return {
    withdrawn_ms: median(xs.map((e) => e.withdrawnMs)),
    flowing_ms: median(xs.map((e) => e.flowingMs)),
    d3_wait_ms: median(xs.map((e) => e.d3WaitMs)),
    others_wait_ms_max: Math.max(...xs.map((e) => e.otherWaitMs)),
    lost: xs.reduce((a, e) => a + e.lost.length, 0),
  };
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
      `ha fleet (BFD) — ${rounds} round(s) of ${kinds.join(', ')} on d3; 300 flows (d1 ${spread.get(1) ?? 0}, d2 ${spread.get(2) ?? 0}, d3 ${spread.get(3) ?? 0})`,
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
    '| fleet event       | withdrawn ms        | flowing again ms    | d3 flows waited ms  | others waited ms    | lost     | survivors moved | rejoin: back ms     | lost |',
  );
  console.log(
    '| ----------------- | ------------------- | ------------------- | ------------------- | ------------------- | -------- | --------------- | ------------------- | ---- |',
  );
  const summary: Record<string, unknown> = {};
  for (const k of kinds) {
    const xs = all.get(k)!;
    const lost = xs.reduce((a, e) => a + e.lost.length, 0);
    const flows = xs.reduce((a, e) => a + e.flows, 0);
    const rejoinLost = xs.reduce((a, e) => a + e.rejoinLost.length, 0);
    console.log(
      `| ${k.padEnd(17)} | ${range(xs.map((e) => e.withdrawnMs)).padEnd(19)} | ${range(xs.map((e) => e.flowingMs)).padEnd(19)} | ${range(xs.map((e) => e.d3WaitMs)).padEnd(19)} | ${range(xs.map((e) => e.otherWaitMs)).padEnd(19)} | ${`${lost}/${flows}`.padEnd(8)} | ${range(xs.map((e) => e.moved)).padEnd(15)} | ${range(xs.map((e) => e.backMs)).padEnd(19)} | ${String(rejoinLost).padEnd(4)} |`,
    );
    summary[k] = {
      withdrawn_ms: median(xs.map((e) => e.withdrawnMs)),
      flowing_ms: median(xs.map((e) => e.flowingMs)),
      d3_wait_ms: median(xs.map((e) => e.d3WaitMs)),
      others_wait_ms_max: Math.max(...xs.map((e) => e.otherWaitMs)),
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
  const missing = await keepalivedMissing();
  let pair: unknown = null;
  let pairDr: unknown = null;
  let link: unknown = null;
  if (missing) console.log(`ha pair: skipped (${missing})`);
  else {
    pair = await pairSection(rounds, 'nat');
    console.log('');
    pairDr = await pairSection(rounds, 'dr');
    console.log('');
    link = await linkSection(rounds);
    console.log('');
  }
  const fleet = await fleetSection(rounds);
  console.log('');
  const fleetNoBfd = (await fleetMissing()) ? null : await holdTimeSection(rounds);
  const summary = { pair, pair_dr: pairDr, pair_link_down: link, fleet, fleet_no_bfd: fleetNoBfd };
  console.log(JSON.stringify({ ha: summary }));
  return summary;
}
