/**
 * bench:e2e's `hitless` section (issue 14): the real daemon under load (wrk keep-alive
 * with 32 connections, a stream of new connections, 100 idle long-lived connections
 * sending a line every 100 ms, an FTP download in progress — test/e2e/hitless-run.ts)
 * through SIGTERM + restart, `--takeover` and SIGKILL + restart, several rounds; per
 * event the resets, failed requests, longest stall and connections lost. Then the
 * cost of crash recovery: wrk requests per second with the journal on and off
 * (kept-alive and one connection per request), interleaved in the same run. And the
 * journal's snapshot of a 100 000-connection table: the longest the event loop (the
 * packet path) is held, written in the calling thread (as before) and by the worker.
 *
 * `TSVS_HITLESS_EVENTS=takeover,restart` picks the events; `TSVS_HITLESS_JOURNAL=0`
 * skips the journal's throughput cost.
 *
 * Figures, never a test. Needs root.
 *
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HitlessLab, type EventResult, type HitlessEvent } from '../test/e2e/hitless-run.js';
import { buildPacket, SYN } from '../test/helpers/packets.js';
import { Engine } from '../src/engine/engine.js';
import { Journal } from '../src/daemon/journal.js';
import { saveEngineState } from '../src/daemon/state.js';

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs the section; returns the JSON summary it printed last. */
export async function hitlessSection(rounds: number, seconds: number): Promise<unknown> {
  const lab = await HitlessLab.up('tsvsbhit');
  try {
    const events = (process.env.TSVS_HITLESS_EVENTS ?? 'restart,takeover,kill')
      .split(',')
      .filter((e): e is HitlessEvent => ['restart', 'takeover', 'kill'].includes(e));
    const all = new Map<HitlessEvent, EventResult[]>(events.map((e) => [e, []]));
    console.log(`hitless — ${rounds} round(s) of ${events.join(', ')} under load`);
    for (let round = 1; round <= rounds; round++)
      for (const e of events) {
        const r = await lab.event(e);
        all.get(e)!.push(r);
        const d = r.detail as {
          idle: { stallMs: number };
          fresh: { stallMs: number };
          wrk: { maxLatencyMs: number };
        };
        console.log(
          `  round ${round} ${e.padEnd(8)} resets ${r.resets}  failed ${r.failed}  ` +
            `lost ${r.lost}/${r.established}  stall ${r.stallMs} ms ` +
            `(idle lines ${d.idle.stallMs}, new conns ${d.fresh.stallMs}, wrk ${Math.round(d.wrk.maxLatencyMs)})` +
            `  hand-over/restore ${r.gapMs} ms`,
        );
      }
    console.log(
      '| event    | resets | failed | lost (of established) | longest stall ms (median, max) |',
    );
    console.log(
      '| -------- | ------ | ------ | --------------------- | ------------------------------ |',
    );
    const summary: Record<string, unknown> = {};
    for (const e of events) {
      const xs = all.get(e)!;
      const sum = (f: (r: EventResult) => number): number => xs.reduce((a, r) => a + f(r), 0);
      const stalls = xs.map((r) => r.stallMs);
      console.log(
        `| ${e.padEnd(8)} | ${String(sum((r) => r.resets)).padStart(6)} | ${String(sum((r) => r.failed)).padStart(6)} | ` +
          `${`${sum((r) => r.lost)} of ${sum((r) => r.established)}`.padStart(21)} | ` +
          `${`${median(stalls)}, ${Math.max(...stalls)}`.padStart(30)} |`,
      );
      summary[e] = {
        resets: sum((r) => r.resets),
        failed: sum((r) => r.failed),
        lost: sum((r) => r.lost),
        established: sum((r) => r.established),
        stall_ms_median: median(stalls),
        stall_ms_max: Math.max(...stalls),
      };
    }
    summary.snapshot = await snapshotStall(100_000, rounds);
    if (process.env.TSVS_HITLESS_JOURNAL === '0') {
      console.log(JSON.stringify({ hitless: summary }));
      return summary;
    }
    // the journal's cost: the same workloads with it on and off, interleaved
    const cost = {
      on: { rps: [] as number[], cps: [] as number[] },
      off: { rps: [] as number[], cps: [] as number[] },
    };
    for (let round = 1; round <= rounds; round++)
      for (const mode of ['on', 'off'] as const) {
        await lab.restartWith(mode === 'on' ? [] : ['--no-journal']);
        const rps = await lab.wrk(seconds, false);
        const cps = await lab.wrk(seconds, true);
        cost[mode].rps.push(rps);
        cost[mode].cps.push(cps);
        console.log(
          `  round ${round} journal ${mode.padEnd(3)} req/s keep-alive ${rps.toFixed(0)}  new conn/s ${cps.toFixed(0)}`,
        );
      }
    const m = {
      on: { rps: median(cost.on.rps), cps: median(cost.on.cps) },
      off: { rps: median(cost.off.rps), cps: median(cost.off.cps) },
    };
    console.log(
      `crash-recovery journal: req/s ${m.on.rps.toFixed(0)} on / ${m.off.rps.toFixed(0)} off ` +
        `(${((m.on.rps / m.off.rps - 1) * 100).toFixed(1)} %), new conn/s ${m.on.cps.toFixed(0)} on / ` +
        `${m.off.cps.toFixed(0)} off (${((m.on.cps / m.off.cps - 1) * 100).toFixed(1)} %)`,
    );
    summary.journal = m;
    console.log(JSON.stringify({ hitless: summary }));
    return summary;
  } finally {
    await lab.down();
  }
}

/**
 * The longest event-loop stall (what a packet waits) while the journal snapshots a
 * table of `conns` connections: the whole snapshot in the calling thread (the way it
 * was) against the export in the calling thread and the rest in the worker.
 */
export async function snapshotStall(
  conns: number,
  rounds: number,
): Promise<{ syncMs: number; asyncMs: number; holdMs: number }> {
  const e = new Engine();
  const key = { af: 4 as const, protocol: 6, addr: '10.0.3.100', port: 80 };
  e.addService(key, { scheduler: 'rr' });
  e.addDest(key, { addr: '10.0.2.11', port: 80, fwd: 'masq' });
  e.addDest(key, { addr: '10.0.2.12', port: 80, fwd: 'masq' });
  const buf = new Uint8Array(256);
  for (let i = 0; i < conns; i++) {
    const raw = buildPacket({
      src: `10.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
      dst: '10.0.3.100',
      sport: 10000 + (i % 50000),
      dport: 80,
      flags: SYN,
    });
    buf.set(raw, 64);
    e.in(buf, 64, raw.length, 1000);
  }
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-bench-snap-'));
  // the longest gap between 1 ms timer ticks while `fn` runs
  const stall = async (fn: () => Promise<void> | void): Promise<number> => {
    let last = performance.now();
    let worst = 0;
    const t = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last);
      last = now;
    }, 1);
    await new Promise((r) => setTimeout(r, 20));
    worst = 0;
    last = performance.now();
    await fn();
    await new Promise((r) => setTimeout(r, 20));
    clearInterval(t);
    return worst;
  };
  const sync: number[] = [];
  const async_: number[] = [];
  const j = new Journal(e, dir, () => undefined);
  try {
    j.start();
    for (let r = 0; r < rounds; r++) {
      sync.push(await stall(() => void saveEngineState(e, join(dir, 'sync.snap'), r)));
      async_.push(
        await stall(async () => {
          j.compactAsync();
          await j.settled();
        }),
      );
    }
  } finally {
    j.stop(true);
    rmSync(dir, { recursive: true, force: true });
  }
  const out = {
    syncMs: Math.max(...sync),
    asyncMs: Math.max(...async_),
    holdMs: j.snapshotHoldMs,
  };
  console.log(
    `journal snapshot of ${e.conns.count ?? conns} connection(s): longest event-loop stall ` +
      `${out.syncMs.toFixed(1)} ms in the calling thread, ${out.asyncMs.toFixed(1)} ms with the worker ` +
      `(export and hand-off ${out.holdMs.toFixed(1)} ms; ${(out.syncMs / out.asyncMs).toFixed(1)}x), ${rounds} round(s)`,
  );
  return out;
}
