/**
 * Scheduler figures on this machine, printed (never asserted): nanoseconds per
 * scheduling decision for each of the 14 schedulers with 10, 100 and 1,000 real
 * servers, and the mh (Maglev) table rebuild time for M = 4093 and 65521.
 *
 *   node dist/bench/sched.js        (also run by bench/engine.ts)
 *
 * Each decision schedules a packet from one of 1,024 clients to one of 1,024
 * destination addresses (so sh/mh hash varied keys and lblc/lblcr hit a warm cache).
 * Server weights are 1..5 and the connection counters fixed (every server has active
 * conns, so nq finds no idle one), all servers usable, so rr/wrr are in their common
 * case. The scaling column compares N = 1000 with N = 10. The gc column counts
 * garbage collections during 1,000,000 further decisions with N = 100: the hot path
 * is meant to allocate nothing, so it should read 0.
 * Budget: about 10 s in all.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { Dest, Service } from '../src/engine/service.js';
import { BUILTIN_SCHEDULERS } from '../src/engine/sched/index.js';
import { Maglev } from '../src/engine/sched/mh.js';
import type { SchedPacket, SchedulerModule } from '../src/engine/sched/types.js';

const SIZES = [10, 100, 1000];
const KEYS = 1024;
/** Target time per measurement. */
const TARGET_NS = 120e6;

/** What each scheduler costs per decision, by design (spec §10). */
const COMPLEXITY: Record<string, string> = {
  rr: 'O(1) while servers are usable; scans past unusable ones',
  wrr: 'O(1) amortised (max/avg weight); scans past unusable ones',
  lc: 'O(n): scans every server',
  wlc: 'O(n): scans every server',
  sed: 'O(n): scans every server',
  nq: 'O(n): scans until an idle server, else every server',
  fo: 'O(n): scans every server',
  ovf: 'O(n): scans every server',
  twos: 'O(n): sums weights, walks to both draws',
  sh: 'O(1): 256-bucket table',
  dh: 'O(1): 256-bucket table',
  mh: 'O(1): M-slot table, one SipHash-1-3',
  lblc: 'O(1) on a cache hit; O(n) on a miss or replacement',
  lblcr: 'O(set) on a hit; O(n) on a miss or replacement',
};

function ip(n: number): Uint32Array {
  return Uint32Array.of(n >>> 0, 0, 0, 0);
}

function makeService(n: number): Service {
  const svc = new Service(4, 6, ip(0xc0000201), 80, 0);
  for (let i = 0; i < n; i++) {
    const d = new Dest(svc, 4, ip(0x0a000000 + i + 1), 8080);
    d.weight = 1 + (i % 5);
    d.lastWeight = d.weight;
    d.activeconns = 1 + ((i * 7) % 11);
    d.inactconns = (i * 13) % 17;
    d.id = i;
    svc.dests.push(d);
  }
  return svc;
}

function makePackets(): SchedPacket[] {
  const out: SchedPacket[] = [];
  for (let i = 0; i < KEYS; i++) {
    out.push({
      af: 4,
      protocol: 6,
      saddr: ip(Math.imul(i + 1, 0x9e3779b1)),
      sport: 1024 + i,
      daddr: ip(0xcb007100 + (i & 255) + ((i >> 8) << 16)),
      dport: 80,
    });
  }
  return out;
}

/** A deterministic random source (the engine injects one the same way). */
function lcg(): () => number {
  let s = 12345;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296;
  };
}

let sink = 0;

function setup(mod: SchedulerModule, n: number, pkts: SchedPacket[]) {
  const svc = makeService(n);
  const sched = mod.create(svc, {
    random: lcg(),
    settings: { lblc_expiration: 86400, lblcr_expiration: 86400 },
  });
  svc.scheduler = sched;
  return (iters: number): number => {
    const t0 = process.hrtime.bigint();
    let acc = 0;
    for (let i = 0; i < iters; i++) {
      const d = sched.schedule(svc, pkts[i & (KEYS - 1)], 0);
      if (d !== null) acc += d.id;
    }
    sink += acc;
    return Number(process.hrtime.bigint() - t0);
  };
}

function nsPerDecision(mod: SchedulerModule, n: number, pkts: SchedPacket[]): number {
  const run = setup(mod, n, pkts);
  // warm up (fills lblc/lblcr caches, lets the JIT settle), then size the run
  run(4 * KEYS);
  let iters = 4 * KEYS;
  let ns = run(iters);
  while (ns < TARGET_NS / 8) {
    iters *= 4;
    ns = run(iters);
  }
  iters = Math.max(KEYS, Math.round((iters * TARGET_NS) / ns));
  return run(iters) / iters;
}

let gcEvents = 0;

/** GC events during 1,000,000 decisions (after a warm-up), N = 100. */
async function gcDuring(mod: SchedulerModule, pkts: SchedPacket[]): Promise<number> {
  const run = setup(mod, 100, pkts);
  run(200_000);
  await new Promise((r) => setTimeout(r, 20));
  const before = gcEvents;
  run(1_000_000);
  await new Promise((r) => setTimeout(r, 20));
  return gcEvents - before;
}

function mhRebuildMs(tableSize: number, n: number): number {
  const svc = makeService(n);
  const m = new Maglev(svc, { tableSize });
  const times: number[] = [];
  const deadline = process.hrtime.bigint() + 400_000_000n;
  for (let k = 0; k < 50 && (k < 3 || process.hrtime.bigint() < deadline); k++) {
    const t0 = process.hrtime.bigint();
    m.rebuild(svc);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

function fmt(x: number, w: number, digits = 1): string {
  return x.toFixed(digits).padStart(w);
}

export async function benchSchedulers(): Promise<Record<string, unknown>> {
  const pkts = makePackets();
  const obs = new PerformanceObserver((list) => {
    gcEvents += list.getEntries().length;
  });
  obs.observe({ entryTypes: ['gc'] });
  const decisions: Record<string, Record<string, number>> = {};
  const gcs: Record<string, number> = {};
  console.log('scheduler   ns/decision  N=10     N=100    N=1000   1000/10  gc  cost per decision');
  for (const mod of BUILTIN_SCHEDULERS) {
    const row: Record<string, number> = {};
    for (const n of SIZES) row[n] = nsPerDecision(mod, n, pkts);
    decisions[mod.name] = row;
    gcs[mod.name] = await gcDuring(mod, pkts);
    const ratio = row[1000] / row[10];
    const measured = ratio > 4 ? 'NOT O(1), grows with N' : 'flat';
    console.log(
      `${mod.name.padEnd(22)}${fmt(row[10], 7)}  ${fmt(row[100], 7)}  ${fmt(row[1000], 7)}  ${fmt(ratio, 6)}x  ${String(gcs[mod.name]).padStart(2)}  ${measured}: ${COMPLEXITY[mod.name] ?? ''}`,
    );
  }
  obs.disconnect();
  const rebuild: Record<string, Record<string, number>> = {};
  console.log('mh table rebuild (median ms)  N=10     N=100    N=1000');
  for (const M of [4093, 65521]) {
    const row: Record<string, number> = {};
    for (const n of SIZES) row[n] = mhRebuildMs(M, n);
    rebuild[M] = row;
    console.log(
      `  M=${String(M).padEnd(26)}${fmt(row[10], 7, 3)}  ${fmt(row[100], 7, 3)}  ${fmt(row[1000], 7, 3)}`,
    );
  }
  if (sink === -1) console.log(sink); // keep the results alive
  return { sched_ns_per_decision: decisions, sched_gc_per_1m: gcs, mh_rebuild_ms: rebuild };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = Date.now();
  const result = await benchSchedulers();
  console.log(`(${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  console.log(JSON.stringify(result));
}
