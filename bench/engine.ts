/**
 * `npm run bench:engine`: engine figures on this machine, printed (never asserted).
 * (a) established-flow NAT packets/s through in + out, (b) new connections/s,
 * (c) bytes per connection with 1,000,000 live connections, (d) a baseline loop that
 * only reads and rewrites the same header bytes, as JavaScript's per-packet floor,
 * (e) (a) and (b) with one and with two worker threads, each running its own engine
 * over its share of the flows (partitioned by the client's port, as a per-core data
 * plane would steer them), started together: the aggregate rate and its ratio to one
 * worker (docs/dataplane.md, "One worker per core").
 * The last line is one JSON object for tracking.
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Engine, type ServiceKey } from '../src/engine/engine.js';
import { V_FORWARD } from '../src/engine/drop.js';
import { buildPacket, ACK, SYN } from '../test/helpers/packets.js';
import { csumReplace16, csumReplace32 } from '../src/wire/checksum.js';

const VIP = '10.0.3.100';
const K: ServiceKey = { af: 4, protocol: 6, addr: VIP, port: 80 };

function setup(capacity = 1024): Engine {
  const e = new Engine({ capacity });
  e.addService(K, { scheduler: 'rr' });
  for (let i = 0; i < 4; i++) e.addDest(K, { addr: `10.0.2.${11 + i}`, port: 8080, fwd: 'masq' });
  return e;
}

function clientAddr(i: number): string {
  return `10.${1 + ((i >>> 16) & 63)}.${(i >>> 8) & 255}.${i & 255}`;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** (a) Established flows: FLOWS conns, then in+out packets round-robin over them. */
function established(): number {
  const FLOWS = 1024;
  const e = setup();
  const ins: Uint8Array[] = [];
  const outs: Uint8Array[] = [];
  for (let i = 0; i < FLOWS; i++) {
    const c = clientAddr(i + 1);
    const sport = 20000 + (i % 40000);
    const syn = buildPacket({ src: c, dst: VIP, sport, dport: 80, flags: SYN });
    e.in(syn, 0, syn.length, 0);
    const rip = e.connInfo(e.result.conn).daddr;
    ins.push(
      buildPacket({ src: c, dst: VIP, sport, dport: 80, flags: ACK, payload: new Uint8Array(64) }),
    );
    outs.push(
      buildPacket({
        src: rip,
        dst: c,
        sport: 8080,
        dport: sport,
        flags: ACK,
        payload: new Uint8Array(64),
      }),
    );
  }
  const len = ins[0].length;
  const buf = new Uint8Array(len);
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const N = 2_000_000;
    const t0 = process.hrtime.bigint();
    let ok = 0;
    for (let i = 0; i < N; i += 2) {
      const f = (i >>> 1) & (FLOWS - 1);
      buf.set(ins[f]);
      if (e.in(buf, 0, len, 1000) === V_FORWARD) ok++;
      buf.set(outs[f]);
      if (e.out(buf, 0, len, 1000) === V_FORWARD) ok++;
    }
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (ok !== N) throw new Error(`only ${ok} of ${N} forwarded`);
    rounds.push(N / dt);
  }
  return median(rounds);
}

/** What one worker of (e) runs. */
interface WorkerJob {
  kind: 'est' | 'new';
  /** This worker's index and the number of workers: its flows have sport % workers === id. */
  id: number;
  workers: number;
  /** Packets (est) or SYNs (new) this worker handles. */
  n: number;
  /** Int32Array over a SharedArrayBuffer: [0] ready count, [1] go flag. */
  sync: SharedArrayBuffer;
}

/**
 * (e), one worker: its own engine (the same configuration as every other worker),
 * its share of the flows — client ports p with p % workers === id, the way a per-core
 * data plane steers requests and NAT replies by the client's port — then, after every
 * worker is ready, `n` packets. Returns the seconds taken.
 */
function workerRun(job: WorkerJob): number {
  const sync = new Int32Array(job.sync);
  const FLOWS = 1024;
  const port = (i: number): number => 20000 + i * job.workers + job.id;
  let run: () => void;
  if (job.kind === 'est') {
    const e = setup();
    const ins: Uint8Array[] = [];
    const outs: Uint8Array[] = [];
    for (let i = 0; i < FLOWS; i++) {
      const c = clientAddr(i + 1);
      const sport = port(i);
      const syn = buildPacket({ src: c, dst: VIP, sport, dport: 80, flags: SYN });
      e.in(syn, 0, syn.length, 0);
      const rip = e.connInfo(e.result.conn).daddr;
      const pl = new Uint8Array(64);
      ins.push(buildPacket({ src: c, dst: VIP, sport, dport: 80, flags: ACK, payload: pl }));
      outs.push(
        buildPacket({ src: rip, dst: c, sport: 8080, dport: sport, flags: ACK, payload: pl }),
      );
    }
    const len = ins[0].length;
    const buf = new Uint8Array(len);
    // warm-up (JIT) before the common start
    for (let i = 0; i < 200_000; i += 2) {
      buf.set(ins[(i >>> 1) & (FLOWS - 1)]);
      e.in(buf, 0, len, 1000);
      buf.set(outs[(i >>> 1) & (FLOWS - 1)]);
      e.out(buf, 0, len, 1000);
    }
    run = () => {
      let ok = 0;
      for (let i = 0; i < job.n; i += 2) {
        const f = (i >>> 1) & (FLOWS - 1);
        buf.set(ins[f]);
        if (e.in(buf, 0, len, 1000) === V_FORWARD) ok++;
        buf.set(outs[f]);
        if (e.out(buf, 0, len, 1000) === V_FORWARD) ok++;
      }
      if (ok !== job.n) throw new Error(`only ${ok} of ${job.n} forwarded`);
    };
  } else {
    const e = setup(1 << 20);
    const tpl = buildPacket({ src: '10.1.0.1', dst: VIP, sport: 1024, dport: 80, flags: SYN });
    const buf = new Uint8Array(tpl.length);
    const syn = (i: number, a: number): number => {
      buf.set(tpl);
      // a distinct client per SYN (address from i, the port from this worker's share)
      const p = 1024 + ((i & 0x3fff) * job.workers + job.id);
      buf[12] = 10 + a;
      buf[13] = (i >>> 16) & 255;
      buf[14] = (i >>> 8) & 255;
      buf[15] = i & 255;
      buf[20] = p >>> 8;
      buf[21] = p & 255;
      return e.in(buf, 0, tpl.length, 1000);
    };
    for (let i = 0; i < 50_000; i++) syn(i, 100);
    run = () => {
      for (let i = 0; i < job.n; i++) if (syn(i, 0) !== V_FORWARD) throw new Error('not forwarded');
    };
  }
  Atomics.add(sync, 0, 1);
  Atomics.notify(sync, 0);
  Atomics.wait(sync, 1, 0);
  const t0 = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** (e): `workers` threads started together; the aggregate rate (all packets ÷ the slowest). */
async function workersRate(kind: 'est' | 'new', workers: number, n: number): Promise<number> {
  const sab = new SharedArrayBuffer(8);
  const sync = new Int32Array(sab);
  const ws: Worker[] = [];
  const done: Promise<number>[] = [];
  for (let id = 0; id < workers; id++) {
    const job: WorkerJob = { kind, id, workers, n, sync: sab };
    const w = new Worker(fileURLToPath(import.meta.url), { workerData: job });
    ws.push(w);
    done.push(
      new Promise((resolve, reject) => {
        w.once('message', (m: number) => resolve(m));
        w.once('error', reject);
      }),
    );
  }
  while (Atomics.load(sync, 0) < workers) await new Promise((r) => setTimeout(r, 5));
  Atomics.store(sync, 1, 1);
  Atomics.notify(sync, 1);
  const secs = await Promise.all(done);
  await Promise.all(ws.map((w) => w.terminate()));
  return (n * workers) / Math.max(...secs);
}

/** (e) both kinds, 1 and 2 workers alternating round by round; medians. */
async function workerFigures(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const kind of ['est', 'new'] as const) {
    const n = kind === 'est' ? 2_000_000 : 300_000;
    const one: number[] = [];
    const two: number[] = [];
    for (let r = 0; r < 5; r++) {
      one.push(await workersRate(kind, 1, n));
      two.push(await workersRate(kind, 2, n));
    }
    out[`${kind}_1`] = median(one);
    out[`${kind}_2`] = median(two);
  }
  return out;
}

/** (d) Baseline: copy the same packet, read the same header fields, rewrite dst + port + checksums. */
function baseline(): number {
  const FLOWS = 1024;
  const ins: Uint8Array[] = [];
  for (let i = 0; i < FLOWS; i++)
    ins.push(
      buildPacket({
        src: clientAddr(i + 1),
        dst: VIP,
        sport: 20000 + i,
        dport: 80,
        flags: ACK,
        payload: new Uint8Array(64),
      }),
    );
  const len = ins[0].length;
  const buf = new Uint8Array(len);
  const rounds: number[] = [];
  let sink = 0;
  for (let r = 0; r < 5; r++) {
    const N = 2_000_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      buf.set(ins[(i >>> 1) & (FLOWS - 1)]);
      const ihl = (buf[0] & 15) * 4;
      const src = ((buf[12] << 24) | (buf[13] << 16) | (buf[14] << 8) | buf[15]) >>> 0;
      const dst = ((buf[16] << 24) | (buf[17] << 16) | (buf[18] << 8) | buf[19]) >>> 0;
      const dport = (buf[ihl + 2] << 8) | buf[ihl + 3];
      const nd = 0x0a00020b;
      let c = (buf[ihl + 16] << 8) | buf[ihl + 17];
      c = csumReplace32(c, dst, nd);
      c = csumReplace16(c, dport, 8080);
      buf[16] = 10;
      buf[17] = 0;
      buf[18] = 2;
      buf[19] = 11;
      buf[ihl + 2] = 8080 >> 8;
      buf[ihl + 3] = 8080 & 255;
      buf[ihl + 16] = c >> 8;
      buf[ihl + 17] = c & 255;
      let h = (buf[10] << 8) | buf[11];
      h = csumReplace32(h, dst, nd);
      buf[10] = h >> 8;
      buf[11] = h & 255;
      sink ^= src;
    }
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    rounds.push(N / dt);
  }
  if (sink === 0.5) console.log(sink);
  return median(rounds);
}

/** (b) New connections: SYNs from distinct clients, each scheduled and moved to SYN_RECV. */
function newConns(): number {
  const rounds: number[] = [];
  for (let r = 0; r < 3; r++) {
    const N = 500_000;
    const e = setup(1 << 20);
    const tpl = buildPacket({ src: '10.1.0.1', dst: VIP, sport: 1024, dport: 80, flags: SYN });
    const buf = new Uint8Array(tpl.length);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      buf.set(tpl);
      // vary client address and port in place (the checksum is not verified on this path)
      buf[13] = (i >>> 16) & 255;
      buf[14] = (i >>> 8) & 255;
      buf[15] = i & 255;
      buf[20] = 4 + ((i >>> 24) & 127);
      if (e.in(buf, 0, tpl.length, 1000) !== V_FORWARD) throw new Error('not forwarded');
    }
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (e.conns.count !== N) throw new Error(`count ${e.conns.count}`);
    rounds.push(N / dt);
  }
  return median(rounds);
}

/** (c) Heap + array-buffer bytes per live conn with 1,000,000 conns. */
function bytesPerConn(): { bytes: number; count: number } {
  const g = globalThis as { gc?: () => void };
  g.gc?.();
  const mem = (): number => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const before = mem();
  const e = setup();
  const N = 1_000_000;
  const tpl = buildPacket({ src: '10.1.0.1', dst: VIP, sport: 1024, dport: 80, flags: SYN });
  const buf = new Uint8Array(tpl.length);
  for (let i = 0; i < N; i++) {
    buf.set(tpl);
    buf[13] = (i >>> 16) & 255;
    buf[14] = (i >>> 8) & 255;
    buf[15] = i & 255;
    e.in(buf, 0, tpl.length, 1000);
  }
  g.gc?.();
  const after = mem();
  return { bytes: (after - before) / e.conns.count, count: e.conns.count };
}

async function main(): Promise<void> {
  console.log(`tsvs engine benchmark — node ${process.version}, ${new Date().toISOString()}`);
  // measured in a child with --expose-gc (the flag slows the packet path in this process)
  const bpc = JSON.parse(
    execFileSync(
      process.execPath,
      ['--expose-gc', fileURLToPath(import.meta.url), '--bytes-per-conn'],
      {
        encoding: 'utf8',
      },
    ),
  ) as { bytes: number; count: number };
  const est = established();
  const nc = newConns();
  const base = baseline();
  console.log(`baseline (read+rewrite same header bytes): ${(base / 1e6).toFixed(2)} Mpps`);
  console.log(
    `(a) established NAT flows, in+out:          ${(est / 1e6).toFixed(2)} Mpps  (${((est / base) * 100).toFixed(0)}% of baseline; target ≥ 5 Mpps)`,
  );
  console.log(
    `(b) new connections (SYN→sched→SYN_RECV):   ${(nc / 1e6).toFixed(2)} M/s   (target ≥ 1 M/s)`,
  );
  console.log(
    `(c) bytes per connection at ${bpc.count} live: ${bpc.bytes.toFixed(0)} B     (target ≤ 200 B)`,
  );
  const wf = await workerFigures();
  const cores = availableParallelism();
  console.log(
    `(e) worker threads (own engine each, flows split by client port; ${cores} cores here, shared):`,
  );
  console.log(
    `    established in+out: 1 worker ${(wf.est_1 / 1e6).toFixed(2)} Mpps, 2 workers ${(wf.est_2 / 1e6).toFixed(2)} Mpps (${(wf.est_2 / wf.est_1).toFixed(2)}×; goal ≥ 1.8×)`,
  );
  console.log(
    `    new connections:    1 worker ${(wf.new_1 / 1e6).toFixed(2)} M/s,  2 workers ${(wf.new_2 / 1e6).toFixed(2)} M/s  (${(wf.new_2 / wf.new_1).toFixed(2)}×)`,
  );
  try {
    const schedPath = './sched.js';
    const mod = (await import(schedPath)) as { benchSchedulers?: () => Promise<unknown> };
    if (mod.benchSchedulers) await mod.benchSchedulers();
  } catch (err) {
    console.log(`scheduler benchmark unavailable: ${(err as Error).message}`);
  }
  console.log(
    JSON.stringify({
      established_pps: Math.round(est),
      new_conns_per_s: Math.round(nc),
      bytes_per_conn: Math.round(bpc.bytes),
      baseline_pps: Math.round(base),
      established_pps_1w: Math.round(wf.est_1),
      established_pps_2w: Math.round(wf.est_2),
      new_conns_per_s_1w: Math.round(wf.new_1),
      new_conns_per_s_2w: Math.round(wf.new_2),
    }),
  );
}

if (!isMainThread) parentPort!.postMessage(workerRun(workerData as WorkerJob));
else if (process.argv.includes('--bytes-per-conn')) console.log(JSON.stringify(bytesPerConn()));
else if (process.argv.includes('--workers')) {
  // (e) alone
  const wf = await workerFigures();
  console.log(
    `established ${(wf.est_2 / wf.est_1).toFixed(2)}×  new ${(wf.new_2 / wf.new_1).toFixed(2)}×  ${JSON.stringify(wf)}`,
  );
} else await main();
