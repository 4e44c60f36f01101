/**
 * bench:e2e's `flood` section (issue 19, docs/synproxy.md): a SYN flood from forged
 * sources at the highest rate one sending thread reaches in the lab
 * (bench/peers/synflood.c unpaced), against a NAT service on port 80 while legitimate
 * clients open new HTTP connections at a steady rate and one long-lived connection
 * exchanges a line every 50 ms (test/e2e/synproxy-load.ts), through:
 *
 * - **tsvs**: the daemon with the service behind its SYN proxy (`--synproxy`), the SYNs
 *   answered in the kernel (bpf/syncookie.c: they never reach the daemon);
 * - **tsvs-usersyn**: the same with the kernel's part off (`TSVS_SYNCOOKIE=0`): every
 *   SYN goes to the daemon through its own queue;
 * - **tsvs-noproxy**: the same daemon without it (the kernel's IPVS behaviour), with
 *   `conn_max` bounding its table;
 * - **nft**: the kernel's own answer, nftables `synproxy` in front of DNAT to the same
 *   real server (SYNs untracked at raw prerouting, the synproxy statement in the input
 *   chain for invalid/untracked packets, DNAT at prerouting and output).
 *
 * Per path: the flood's rate, legitimate success and latency (p50/p99), the long-lived
 * connection's lost lines and longest stall, the connection table (tsvs's entries;
 * conntrack's for nft) during the flood, the daemon's CPU during the flood (user +
 * system time of its process, % of one core) and memory before, during and after, and
 * for tsvs the share of SYN-ACKs sent in the kernel. Figures, never a test. Needs root.
 *
 * @module
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ControlClient } from '../src/control/client.js';
import { labDown, labUp, type LabEnv } from '../src/sys/lab.js';

const TSVS = fileURLToPath(new URL('../src/cli/tsvs.js', import.meta.url));
const FLOODER_SRC = fileURLToPath(new URL('../../bench/peers/synflood.c', import.meta.url));
const LOAD = fileURLToPath(new URL('../test/e2e/synproxy-load.js', import.meta.url));
const FLOOD_NET = '10.201.128.0/17';
const LEGIT_RATE = 50;

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

function sh(ns: string, cmd: string, args: string[], timeoutMs = 60_000): Promise<Out> {
  return new Promise((resolve) => {
    execFile(
      'ip',
      ['netns', 'exec', ns, cmd, ...args],
      { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function rssMb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

interface FloodResult {
  path: string;
  floodPps: number;
  ok: number;
  sent: number;
  p50: number;
  p99: number;
  echoLost: number;
  stallMs: number;
  table: number;
  rss: [number, number, number];
  /** The daemon's CPU during the flood, % of one core (NaN: no daemon). */
  cpu: number;
  /** SYN-ACKs sent in the kernel / all SYN-ACKs with a cookie (NaN: not tsvs). */
  kernelShare: number;
}

/** user + system CPU seconds of process `pid` so far. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

interface FloodPath {
  name: string;
  up(): Promise<void>;
  down(): Promise<void>;
  /** The connection table's size now. */
  table(): Promise<number>;
  /** Cookies sent in the kernel and in all (tsvs). */
  cookies(): Promise<[number, number]>;
  pid(): number | undefined;
}

function paths(lab: LabEnv, dir: string): FloodPath[] {
  const dns = lab.ns.director;
  const vip = lab.vip4;
  const rip = lab.rs[0].ip4;
  let proc: ChildProcess | undefined;
  let client: ControlClient | undefined;
  const sock = join(dir, 'flood.sock');
  const tsvs = (name: string, proxy: boolean, kernel = true): FloodPath => ({
    name,
    up: async () => {
      const f = join(dir, `${name}.rules`);
      const flag = proxy ? ' --synproxy' : '';
      writeFileSync(
        f,
        [80, 7]
          .map((p) => `-A -t ${vip}:${p} -s rr${flag}\n-a -t ${vip}:${p} -r ${rip}:${p} -m\n`)
          .join(''),
      );
      const log: string[] = [];
      proc = spawn(
        'ip',
        [
          'netns',
          'exec',
          dns,
          process.execPath,
          TSVS,
          'daemon',
          '--config',
          f,
          '--no-state',
          '--control',
          sock,
          '--name',
          'bflood',
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, TSVS_SYNCOOKIE: kernel ? '1' : '0' },
        },
      );
      proc.stdout?.setEncoding('utf8').on('data', (d: string) => log.push(d));
      proc.stderr?.setEncoding('utf8').on('data', (d: string) => log.push(d));
      for (let i = 0; i < 150 && !log.join('').includes('daemon running'); i++) await sleep(100);
      if (!proxy) {
        // the kernel's IPVS has no limit; bound ours so that the host survives the run
        client = await ControlClient.connect(sock, 2000);
        await client.call({ cmd: 'sysctlSet', name: 'net.ipv4.vs.conn_max', value: '500000' });
      } else client = await ControlClient.connect(sock, 2000);
      await sleep(500);
    },
    down: async () => {
      client?.close();
      client = undefined;
      if (proc && proc.exitCode === null) {
        const p = proc;
        await new Promise<void>((r) => {
          const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
          p.once('exit', () => (clearTimeout(t), r()));
          p.kill('SIGTERM');
        });
      }
      proc = undefined;
    },
    table: async () => {
      if (!client) return NaN;
      const text = (await client.call({ cmd: 'proc', name: 'ip_vs_defense' })) as string;
      return Number(/^conn_entries (\d+)/m.exec(text)?.[1]);
    },
    cookies: async () => {
      if (!client) return [NaN, NaN];
      const text = (await client.call({ cmd: 'proc', name: 'ip_vs_defense' })) as string;
      const fig = (k: string): number => Number(new RegExp(`^${k} (\\d+)`, 'm').exec(text)?.[1]);
      const failed = fig('synproxy_cookies_failed');
      const errors = fig('synproxy_kernel_errors');
      if (failed > 0) console.log(`    ${name}: ${failed} ACKs with a bad cookie`);
      if (errors > 0) console.log(`    ${name}: ${errors} SYNs dropped by a failed BPF helper`);
      const unanswered = fig('synproxy_server_syn') - fig('synproxy_server_done');
      if (unanswered > 0)
        console.log(
          `    ${name}: ${unanswered} proxied handshakes the real server never completed`,
        );
      return [fig('synproxy_cookies_sent_kernel'), fig('synproxy_cookies_sent')];
    },
    pid: () => proc?.pid,
  });
  return [
    tsvs('tsvs', true),
    tsvs('tsvs-usersyn', true, false),
    tsvs('tsvs-noproxy', false),
    {
      name: 'nft',
      up: async () => {
        const f = join(dir, 'synproxy.nft');
        const m = `ip daddr ${vip} tcp dport { 80, 7 }`;
        writeFileSync(
          f,
          [
            'table ip tsvsbflood {',
            '  chain raw {',
            '    type filter hook prerouting priority raw;',
            `    ${m} tcp flags & (syn | ack | rst | fin) == syn notrack`,
            '  }',
            '  chain input {',
            '    type filter hook input priority filter;',
            `    ${m} ct state { invalid, untracked } synproxy mss 1460 wscale 7 timestamp sack-perm`,
            `    ${m} ct state invalid drop`,
            '  }',
            '  chain out {',
            '    type nat hook output priority -100;',
            `    ${m} dnat to ${rip}`,
            '  }',
            '  chain pre {',
            '    type nat hook prerouting priority -100;',
            `    ${m} dnat to ${rip}`,
            '  }',
            '}',
            '',
          ].join('\n'),
        );
        await sh(dns, 'sysctl', ['-qw', 'net.netfilter.nf_conntrack_tcp_loose=0']);
        const r = await sh(dns, 'nft', ['-f', f]);
        if (r.code !== 0) throw new Error(`nft: ${r.stderr.trim()}`);
      },
      down: async () => {
        await sh(dns, 'nft', ['delete', 'table', 'ip', 'tsvsbflood']);
        await sh(dns, 'sysctl', ['-qw', 'net.netfilter.nf_conntrack_tcp_loose=1']);
        await sh(dns, 'conntrack', ['-F']);
      },
      table: async () => {
        // conntrack(8) may be missing: the kernel's own count then
        const r = await sh(dns, 'cat', ['/proc/sys/net/netfilter/nf_conntrack_count']);
        const v = r.stdout.trim();
        return v === '' ? NaN : Number(v);
      },
      cookies: () => Promise.resolve([NaN, NaN] as [number, number]),
      pid: () => undefined,
    },
  ];
}

async function runOne(
  lab: LabEnv,
  flooder: string,
  p: FloodPath,
  seconds: number,
): Promise<FloodResult> {
  await p.up();
  try {
    const rss0 = rssMb(p.pid());
    const load = sh(lab.ns.client, process.execPath, [
      LOAD,
      lab.vip4,
      '80',
      '7',
      String(LEGIT_RATE),
      String(seconds + 4),
    ]);
    await sleep(2000);
    const flood = sh(lab.ns.client, flooder, [lab.vip4, '80', '0', String(seconds), FLOOD_NET]);
    const c0 = cpuSeconds(p.pid());
    const t0 = Date.now();
    await sleep((seconds * 1000) / 2);
    const table = await p.table();
    const rss1 = rssMb(p.pid());
    const f = await flood;
    const cpu = (100 * (cpuSeconds(p.pid()) - c0)) / ((Date.now() - t0) / 1000);
    const [kc, ac] = await p.cookies();
    const l = await load;
    await sleep(3000);
    const rss2 = rssMb(p.pid());
    const sent = Number(f.stdout.trim().split(' ')[0]);
    let r = {
      sent: 0,
      ok: 0,
      latencies: [] as number[],
      echoSent: 0,
      echoBack: 0,
      echoLongestStallMs: NaN,
      failed: [] as string[],
    };
    try {
      r = JSON.parse(l.stdout) as typeof r;
    } catch {
      console.log(`    ${p.name}: load failed: ${l.stderr.trim().slice(0, 200)}`);
    }
    if (r.failed.length) {
      // why legitimate connections failed (the load keeps the first 20 reasons)
      const why = new Map<string, number>();
      for (const f of r.failed) why.set(f, (why.get(f) ?? 0) + 1);
      console.log(`    ${p.name} failures: ${[...why].map(([w, n]) => `${w} ×${n}`).join('; ')}`);
    }
    const lat = r.latencies.sort((a, b) => a - b);
    const q = (x: number): number => lat[Math.floor((lat.length - 1) * x)] ?? NaN;
    return {
      path: p.name,
      floodPps: sent / seconds,
      ok: r.ok,
      sent: r.sent,
      p50: q(0.5),
      p99: q(0.99),
      echoLost: r.echoSent - r.echoBack,
      stallMs: r.echoLongestStallMs,
      table,
      rss: [rss0, rss1, rss2],
      cpu,
      kernelShare: kc / ac,
    };
  } finally {
    await p.down();
  }
}

/** Runs the section; returns the JSON summary it printed last. */
export async function floodSection(
  rounds: number,
  seconds: number,
  only?: readonly string[],
): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-bench-flood-'));
  const flooder = join(dir, 'synflood');
  execFileSync('cc', ['-O2', '-Wall', '-o', flooder, FLOODER_SRC], { stdio: 'inherit' });
  const lab = labUp({ prefix: 'tsvsbflood' });
  const servers: ChildProcess[] = [];
  try {
    const http = `require('http').createServer((q,s)=>{s.setHeader('connection','close');s.end('rs1\\n')}).listen(80,'::')`;
    const echo = "require('net').createServer(s=>s.pipe(s)).listen(7,'::')";
    for (const code of [http, echo])
      servers.push(
        spawn('ip', ['netns', 'exec', lab.ns.rs1, process.execPath, '-e', code], {
          stdio: 'ignore',
        }),
      );
    await sh(lab.ns.director, 'ip', ['route', 'add', FLOOD_NET, 'via', lab.client4]);
    for (const ns of [lab.ns.client, lab.ns.rs1])
      await sh(ns, 'sysctl', ['-qw', 'net.ipv4.tcp_max_syn_backlog=8192']);
    await sleep(1000);
    // `--only flood,nft`: only the flood paths named, when any is
    let all = paths(lab, dir);
    if (only && all.some((p) => only.includes(p.name)))
      all = all.filter((p) => only.includes(p.name));
    const res = new Map<string, FloodResult[]>(all.map((p) => [p.name, []]));
    console.log(
      `flood — ${rounds} round(s): forged SYNs unpaced for ${seconds} s, ${LEGIT_RATE} legitimate ` +
        `connections/s, one long-lived connection (a line every 50 ms)`,
    );
    for (let round = 1; round <= rounds; round++)
      for (const p of all) {
        let r: FloodResult;
        try {
          r = await runOne(lab, flooder, p, seconds);
        } catch (e) {
          console.log(`  ${p.name}: ${(e as Error).message}`);
          continue;
        }
        res.get(p.name)!.push(r);
        console.log(
          `  round ${round} ${p.name.padEnd(12)} flood ${Math.round(r.floodPps)} SYN/s  legit ${r.ok}/${r.sent} ` +
            `(${((100 * r.ok) / Math.max(1, r.sent)).toFixed(1)} %) p50 ${r.p50.toFixed(1)} ms p99 ${r.p99.toFixed(1)} ms  ` +
            `long-lived lost ${r.echoLost}, stall ${Math.round(r.stallMs)} ms  table ${r.table}  ` +
            `RSS ${r.rss.map((x) => x.toFixed(0)).join(' → ')} MB  daemon CPU ${Number.isFinite(r.cpu) ? `${r.cpu.toFixed(0)} %` : '—'}` +
            (Number.isFinite(r.kernelShare)
              ? `  SYN-ACKs in the kernel ${(100 * r.kernelShare).toFixed(1)} %`
              : ''),
        );
        await sleep(1000);
      }
    console.log(
      '| path         | flood SYN/s | legitimate ok | p50 ms | p99 ms | long-lived lost / stall ms | table (during) | RSS MB before → during → after | daemon CPU % |',
    );
    console.log(
      '| ------------ | ----------- | ------------- | ------ | ------ | -------------------------- | -------------- | ------------------------------ | ----------- |',
    );
    const summary: Record<string, unknown> = {};
    for (const p of all) {
      const xs = res.get(p.name)!;
      if (!xs.length) continue;
      const sum = (f: (r: FloodResult) => number): number => xs.reduce((a, r) => a + f(r), 0);
      const ok = sum((r) => r.ok);
      const sent = sum((r) => r.sent);
      const mean = (f: (r: FloodResult) => number): number => sum(f) / xs.length;
      const rss = [0, 1, 2].map((i) => mean((r) => r.rss[i]));
      console.log(
        `| ${p.name.padEnd(12)} | ${Math.round(mean((r) => r.floodPps))
          .toString()
          .padStart(11)} | ` +
          `${`${((100 * ok) / Math.max(1, sent)).toFixed(1)} %`.padStart(13)} | ${mean((r) => r.p50)
            .toFixed(1)
            .padStart(6)} | ` +
          `${mean((r) => r.p99)
            .toFixed(1)
            .padStart(
              6,
            )} | ${`${sum((r) => r.echoLost)} / ${Math.round(Math.max(...xs.map((r) => r.stallMs)))}`.padStart(26)} | ` +
          `${Math.round(mean((r) => r.table))
            .toString()
            .padStart(14)} | ${rss
            .map((x) => (Number.isFinite(x) ? x.toFixed(0) : '—'))
            .join(' → ')
            .padStart(
              30,
            )} | ${(Number.isFinite(mean((r) => r.cpu)) ? mean((r) => r.cpu).toFixed(0) : '—').padStart(11)} |`,
      );
      summary[p.name] = {
        flood_pps: Math.round(mean((r) => r.floodPps)),
        legit_ok_pct: Math.round((1000 * ok) / Math.max(1, sent)) / 10,
        p50_ms: Math.round(mean((r) => r.p50) * 10) / 10,
        p99_ms: Math.round(mean((r) => r.p99) * 10) / 10,
        long_lived_lost: sum((r) => r.echoLost),
        table: Math.round(mean((r) => r.table)),
        rss_mb: rss.map((x) => Math.round(x)),
        daemon_cpu_pct: Math.round(mean((r) => r.cpu)),
      };
    }
    console.log(JSON.stringify({ flood: summary }));
    return summary;
  } finally {
    for (const s of servers) if (s.exitCode === null) s.kill('SIGKILL');
    labDown({ prefix: 'tsvsbflood' });
    rmSync(dir, { recursive: true, force: true });
  }
}
