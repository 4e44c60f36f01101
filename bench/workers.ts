/**
 * The daemon with one data-plane worker against two (`tsvs daemon --workers 2`,
 * docs/dataplane.md "One worker per core"), where the daemon is the bottleneck: new
 * connections from a SYN stream (bench/peers/synflood.c: random source addresses in a
 * routed prefix and random source ports — both workers' shares — through a raw
 * socket) to a NAT service whose real server answers each with a SYN-ACK, which comes
 * back through the director as a NAT reply. Per round and worker count: how many
 * connections the daemon created per second (the merged `conns` counter of the
 * service) and how many packets it forwarded (in + out), at the offered rate given.
 * 1 and 2 workers alternate round by round; medians. Both without the in-kernel fast
 * path (workers do not have it; it does not carry SYNs anyway). Needs root.
 *
 *   node dist/bench/workers.js [--rounds 5] [--seconds 4] [--pps 0]
 *
 * @module
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ControlClient } from '../src/control/client.js';
import type { ServiceEntry } from '../src/control/model.js';
import { labDown, labUp, type LabEnv } from '../src/sys/lab.js';

const TSVS = fileURLToPath(new URL('../src/cli/tsvs.js', import.meta.url));
const FLOODER_SRC = fileURLToPath(new URL('../../bench/peers/synflood.c', import.meta.url));
const SRC_NET = '10.201.128.0/17';
const PREFIX = 'e2ewkb';

const argv = process.argv.slice(2);
function opt(name: string, def: number): number {
  const i = argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(argv[i + 1]) : NaN;
  return Number.isFinite(v) && v >= 0 ? v : def;
}
const ROUNDS = opt('rounds', 5);
const SECONDS = opt('seconds', 4);
const PPS = opt('pps', 0);

function sh(ns: string, cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      'ip',
      ['netns', 'exec', ns, cmd, ...args],
      { encoding: 'utf8', maxBuffer: 16 << 20 },
      (e, out, err) => (e ? reject(new Error(`${cmd}: ${err || e.message}`)) : resolve(out)),
    ),
  );
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface Round {
  cps: number;
  pps: number;
  offered: number;
  cpu: number;
}

async function round(lab: LabEnv, dir: string, flooder: string, workers: number): Promise<Round> {
  const rules = join(dir, 'rules');
  writeFileSync(
    rules,
    `-A -t ${lab.vip4}:80 -s rr\n-a -t ${lab.vip4}:80 -r ${lab.rs[0].ip4}:80 -m\n`,
  );
  const sock = join(dir, `w${workers}.sock`);
  const log: string[] = [];
  const proc: ChildProcess = spawn(
    'ip',
    [
      'netns',
      'exec',
      lab.ns.director,
      process.execPath,
      TSVS,
      'daemon',
      '--config',
      rules,
      '--no-state',
      '--control',
      sock,
      '--name',
      PREFIX,
      '--no-fastpath',
      '--workers',
      String(workers),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => log.push(d));
  try {
    const t0 = Date.now();
    while (!log.join('').includes('daemon running')) {
      if (proc.exitCode !== null || Date.now() - t0 > 20_000)
        throw new Error(`the daemon did not start: ${log.join('')}`);
      await sleep(50);
    }
    await sleep(1000); // next hops resolved
    const c = await ControlClient.connect(sock, 2000);
    const svc = { af: 4 as const, protocol: 6, addr: lab.vip4, port: 80 };
    const get = async (): Promise<ServiceEntry> =>
      (await c.call({ cmd: 'getService', service: svc })) as ServiceEntry;
    const cpu = (): number => {
      // the daemon's own CPU time (all its threads), from /proc/PID/stat, in s
      // (`ip netns exec` execs node: the same process)
      const pid = proc.pid;
      const f = execFileSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' })
        .split(') ')[1]
        .split(' ');
      return (Number(f[11]) + Number(f[12])) / 100;
    };
    const s0 = await get();
    const cpu0 = cpu();
    const start = Date.now();
    const out = await sh(lab.ns.client, flooder, [
      lab.vip4,
      '80',
      String(PPS),
      String(SECONDS),
      SRC_NET,
    ]);
    await sleep(300); // what the queues still held
    const secs = (Date.now() - start) / 1000;
    const s1 = await get();
    const cpu1 = cpu();
    c.close();
    const sent = Number(/(\d+)/.exec(out)?.[1] ?? 0);
    const conns = s1.stats.conns - s0.stats.conns;
    return {
      cps: conns / SECONDS,
      pps: (s1.stats.inpkts - s0.stats.inpkts + s1.stats.outpkts - s0.stats.outpkts) / SECONDS,
      offered: sent / SECONDS,
      cpu: (cpu1 - cpu0) / secs,
    };
  } finally {
    proc.kill('SIGINT');
    await new Promise((r) => (proc.exitCode !== null ? r(0) : proc.once('exit', r)));
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-bench-workers-'));
  const flooder = join(dir, 'synflood');
  execFileSync('cc', ['-O2', '-Wall', '-o', flooder, FLOODER_SRC], { stdio: 'inherit' });
  const lab = labUp({ prefix: PREFIX });
  const server = spawn(
    'ip',
    [
      'netns',
      'exec',
      lab.ns.rs1,
      process.execPath,
      '-e',
      "require('net').createServer(s=>s.destroy()).listen(80,'::')",
    ],
    { stdio: 'ignore' },
  );
  try {
    await sh(lab.ns.director, 'ip', ['route', 'add', SRC_NET, 'via', lab.client4]);
    // SYN cookies for every SYN: no half-open state, so no SYN-ACK retransmissions
    // loading the next rounds
    await sh(lab.ns.rs1, 'sysctl', ['-qw', 'net.ipv4.tcp_syncookies=2']);
    await sleep(500);
    const res: Record<number, Round[]> = { 1: [], 2: [] };
    console.log(
      `bench workers — ${ROUNDS} round(s) of ${SECONDS} s: SYNs from random sources and ports ` +
        `(${PPS ? `${PPS}/s` : 'unpaced'}), NAT to one real server; 2 cores, load ${execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ')}`,
    );
    for (let r = 1; r <= ROUNDS; r++)
      for (const w of [1, 2]) {
        const x = await round(lab, dir, flooder, w);
        await sleep(1000);
        res[w].push(x);
        console.log(
          `  round ${r} workers ${w}: ${Math.round(x.cps)} conn/s  ${Math.round(x.pps)} pkt/s forwarded  ` +
            `(offered ${Math.round(x.offered)} SYN/s; daemon CPU ${x.cpu.toFixed(2)} cores)`,
        );
      }
    const m = (w: number, f: (x: Round) => number): number => median(res[w].map(f));
    console.log(
      `medians: 1 worker ${Math.round(m(1, (x) => x.cps))} conn/s (${m(1, (x) => x.cpu).toFixed(2)} cores), ` +
        `2 workers ${Math.round(m(2, (x) => x.cps))} conn/s (${m(2, (x) => x.cpu).toFixed(2)} cores): ` +
        `${(m(2, (x) => x.cps) / m(1, (x) => x.cps)).toFixed(2)}×; offered ${Math.round(m(1, (x) => x.offered))} / ${Math.round(m(2, (x) => x.offered))} SYN/s`,
    );
  } finally {
    server.kill('SIGKILL');
    labDown({ prefix: PREFIX });
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
