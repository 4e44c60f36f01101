/**
 * bench:e2e — the data plane end to end, against its peers, in one run.
 *
 *   npm run bench:e2e [-- --rounds N] [--seconds S] [--only path,path] [--connections C]
 *                       [--workloads bulk,cps,rps,lat] [--alt-env K=V,K=V]
 *                       [--alt-tsvs PATH/dist/src/cli/tsvs.js] [--alt-nice N]
 *
 * In the namespace lab (prefix `tsvsbe2e`, built and removed here) the same client
 * workloads go through seven paths to one real server (rs1), one path at a time,
 * interleaved round by round so the noise of the shared machine spreads over all:
 *
 *   kernel   plain kernel routing, client → RIP (the floor: no NAT at all)
 *   nft      the kernel's own NAT: nftables DNAT VIP → RIP at prerouting (conntrack)
 *   haproxy  HAProxy in TCP mode on the director (one thread)
 *   nginx    nginx stream proxy on the director (one worker)
 *   c-nfq    bench/peers/nfq_nat.c: stateless NAT in C with the netfilter-queue
 *            mechanism (NFQUEUE with GSO, packet socket with the virtio-net header,
 *            batched verdicts) — the floor of tsvs's fallback capture
 *   c-floor  bench/peers/tun_nat.c: stateless NAT in C with tsvs's fast path (tc u32 +
 *            mirred into a TUN with the virtio-net header, packet sockets both ways)
 *            — the floor of this design
 *   tsvs     the real daemon (`tsvs daemon --config`), one NAT service per port
 *
 * Workloads (each for --seconds, default 5):
 *   bulk   iperf3, one TCP stream client → server, Gbit/s (first second omitted)
 *   cps    new connections per second: wrk with `Connection: close` against nginx
 *   rps    requests per second on kept-alive connections: wrk
 *   lat    latency of one request at a time on a kept-alive connection (wrk -t1 -c1
 *          --latency: closed loop, ~10–20 k requests/s, far from any path's limit):
 *          p50 and p99, and the latency each path adds to the direct one (the
 *          `kernel` path: plain routing to the RIP), p − p(kernel) per percentile
 *
 * Prints every measurement, then the medians per path, tsvs's ratio to each peer, and
 * last one JSON line `{ path: { bulk_gbps, cps, rps, p50_us, p99_us } }`.
 *
 * Then the `hitless` section (bench/hitless.ts; `--only hitless` runs it alone):
 * restart, takeover and SIGKILL under load, and the crash journal's cost; and the `ha`
 * section (bench/ha.ts; `--only ha`): the keepalived pair's fail-over and fail-back and
 * the ECMP fleet's events, several rounds. A script that prints
 * figures, never a test. Needs root; installs iperf3, wrk, haproxy, nginx (with its
 * stream module) through apt-get when missing; builds the C peer with the system cc.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labDown, labUp, type LabEnv } from '../src/sys/lab.js';
import { floodSection } from './flood.js';
import { hitlessSection } from './hitless.js';
import { haSection } from './ha.js';

const PREFIX = 'tsvsbe2e';
const TSVS = fileURLToPath(new URL('../src/cli/tsvs.js', import.meta.url));
const PEER_SRC = fileURLToPath(new URL('../../bench/peers/nfq_nat.c', import.meta.url));
const TUN_PEER_SRC = fileURLToPath(new URL('../../bench/peers/tun_nat.c', import.meta.url));
const BULK_PORT = 5201;
const HTTP_PORT = 80;

const argv = process.argv.slice(2);
function opt(name: string, def: number): number {
  const i = argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(argv[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : def;
}
const ROUNDS = opt('rounds', 3);
const SECONDS = opt('seconds', 5);
const CONNS = opt('connections', 50);
const onlyIdx = argv.indexOf('--only');
const ONLY = onlyIdx >= 0 ? argv[onlyIdx + 1].split(',') : undefined;
const wlIdx = argv.indexOf('--workloads');
const altIdx = argv.indexOf('--alt-env');
/** `--alt-env K=V,K=V`: a second tsvs path (`tsvs-alt`) whose daemon runs with that environment (A/B). */
const ALT_ENV: Record<string, string> | undefined =
  altIdx >= 0
    ? Object.fromEntries(
        argv[altIdx + 1]
          .split(',')
          .map(
            (kv) =>
              [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as [string, string],
          ),
      )
    : undefined;
const altBinIdx = argv.indexOf('--alt-tsvs');
/**
 * `--alt-tsvs FILE`: the `tsvs-alt` path runs this build of tsvs (another checkout's
 * `dist/src/cli/tsvs.js`), e.g. the tree before a change, interleaved with this one.
 */
const ALT_TSVS = altBinIdx >= 0 ? argv[altBinIdx + 1] : undefined;
const altNiceIdx = argv.indexOf('--alt-nice');
/** `--alt-nice N`: the `tsvs-alt` daemon runs under `nice -n N` (scheduling priority A/B). */
const ALT_NICE = altNiceIdx >= 0 ? Number(argv[altNiceIdx + 1]) : undefined;
const WORKLOADS = wlIdx >= 0 ? argv[wlIdx + 1].split(',') : ['bulk', 'cps', 'rps', 'lat'];

// ---------------------------------------------------------------- helpers

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

function sh(ns: string | null, cmd: string, args: string[], timeoutMs = 30_000): Promise<Out> {
  const bin = ns ? 'ip' : cmd;
  const a = ns ? ['netns', 'exec', ns, cmd, ...args] : args;
  return new Promise((resolve) => {
    execFile(
      bin,
      a,
      { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function must(ns: string | null, cmd: string, args: string[]): Promise<string> {
  const r = await sh(ns, cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

function bg(
  ns: string,
  cmd: string,
  args: string[],
  log: string[],
  env?: Record<string, string>,
): ChildProcess {
  const c = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: env ? { ...process.env, ...env } : process.env,
  });
  const keep = (d: Buffer): void => {
    for (const l of d.toString().split('\n')) if (l.trim()) log.push(l);
    if (log.length > 200) log.splice(0, log.length - 200);
  };
  c.stdout?.on('data', keep);
  c.stderr?.on('data', keep);
  return c;
}

function stopProc(c: ChildProcess, ms = 10_000): Promise<void> {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve();
    const t = setTimeout(() => c.kill('SIGKILL'), ms);
    c.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    c.kill('SIGTERM');
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, ms: number, fn: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// ---------------------------------------------------------------- set-up

function have(bin: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** nginx's stream module: built in, or the dynamic module to load. */
function nginxStream(): { loadModule: string } {
  const text = execFileSync('sh', ['-c', 'nginx -V 2>&1'], { encoding: 'utf8' });
  if (/--with-stream(?!=dynamic)(\s|$)/.test(text)) return { loadModule: '' };
  for (const p of [
    '/usr/lib/nginx/modules/ngx_stream_module.so',
    '/usr/share/nginx/modules/ngx_stream_module.so',
  ])
    if (existsSync(p)) return { loadModule: `load_module ${p};` };
  throw new Error('nginx has no stream module (install libnginx-mod-stream)');
}

function installMissing(): void {
  const want: [string, string[]][] = [
    ['iperf3', ['iperf3']],
    ['wrk', ['wrk']],
    ['haproxy', ['haproxy']],
    ['nginx', ['nginx-light', 'libnginx-mod-stream']],
    ['nft', ['nftables']],
    ['iptables-legacy', ['iptables']],
    ['cc', ['gcc', 'libc6-dev']],
  ];
  let pkgs = want.filter(([b]) => !have(b)).flatMap(([, p]) => p);
  if (have('nginx')) {
    try {
      nginxStream();
    } catch {
      pkgs.push('libnginx-mod-stream');
    }
  }
  pkgs = [...new Set(pkgs)];
  if (pkgs.length === 0) return;
  console.log(`installing ${pkgs.join(' ')} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['install', '-y', '-qq', ...pkgs], { stdio: 'inherit', env });
  } catch {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', ...pkgs], { stdio: 'inherit', env });
  }
}

// ---------------------------------------------------------------- paths

interface Path {
  name: string;
  what: string;
  /** Address the client talks to. */
  target(): string;
  /** The middlebox's own process, when it has one (its CPU time is reported). */
  pid?(): number | undefined;
  up(): Promise<void>;
  down(): Promise<void>;
}

interface Ctx {
  lab: LabEnv;
  dir: string;
  peerBin: string;
  tunPeerBin: string;
  loadStream: string;
}

function paths(ctx: Ctx): Path[] {
  const { lab, dir } = ctx;
  const dns = lab.ns.director;
  const vip = lab.vip4;
  const rip = lab.rs[0].ip4;
  const ports = [BULK_PORT, HTTP_PORT];
  let proc: ChildProcess | undefined;
  const log: string[] = [];
  const started = async (what: string, check: () => Promise<boolean>): Promise<void> => {
    await waitFor(what, 15_000, async () => {
      if (proc && proc.exitCode !== null) throw new Error(`${what} exited: ${log.join(' | ')}`);
      return check();
    });
  };
  const listening = (port: number) => async (): Promise<boolean> =>
    (await sh(dns, 'ss', ['-Hltn', `sport = :${port}`])).stdout.trim() !== '';
  const stop = async (): Promise<void> => {
    if (proc) await stopProc(proc);
    proc = undefined;
    log.length = 0;
  };
  const nfqRules = (op: '-A' | '-D', qin: number, qout: number): string[][] => [
    [
      '-t',
      'mangle',
      op,
      'PREROUTING',
      '-d',
      vip,
      '-p',
      'tcp',
      '-m',
      'multiport',
      '--dports',
      ports.join(','),
      '-j',
      'NFQUEUE',
      '--queue-num',
      String(qin),
    ],
    [
      '-t',
      'mangle',
      op,
      'FORWARD',
      '-s',
      rip,
      '-p',
      'tcp',
      '-m',
      'multiport',
      '--sports',
      ports.join(','),
      '-j',
      'NFQUEUE',
      '--queue-num',
      String(qout),
    ],
  ];
  const tsvs = (
    name: string,
    what: string,
    env?: Record<string, string>,
    bin: string = TSVS,
    nice?: number,
    extra: string[] = [],
  ): Path => ({
    name,
    what,
    target: () => vip,
    up: async () => {
      const f = join(dir, 'tsvs.rules');
      writeFileSync(
        f,
        ports
          .map((p) => `-A -t ${vip}:${p} -s rr\n-a -t ${vip}:${p} -r ${rip}:${p} -m -w 1\n`)
          .join(''),
      );
      const node =
        nice === undefined ? [process.execPath] : ['nice', '-n', String(nice), process.execPath];
      proc = bg(
        dns,
        node[0],
        [
          ...node.slice(1),
          bin,
          'daemon',
          '--config',
          f,
          '--no-state',
          '--control',
          join(dir, 'tsvs.sock'),
          '--name',
          'bench',
          ...extra,
        ],
        log,
        env,
      );
      await started('the tsvs daemon', async () => log.some((l) => l.includes('daemon running')));
      // the next hop resolves in the background; let it
      await sleep(500);
    },
    down: async () => {
      const faults = log.filter((l) => /fault|error/i.test(l));
      if (faults.length) console.log(`    tsvs log: ${faults.join(' | ')}`);
      await stop();
    },
  });
  const withPid = (ps: Path[]): Path[] => ps.map((p) => ({ ...p, pid: () => proc?.pid }));
  return withPid([
    {
      name: 'kernel',
      what: 'plain kernel routing to the RIP (no NAT)',
      target: () => rip,
      up: async () => undefined,
      down: async () => undefined,
    },
    {
      name: 'nft',
      what: 'nftables DNAT (conntrack)',
      target: () => vip,
      up: async () => {
        const f = join(dir, 'dnat.nft');
        writeFileSync(
          f,
          `table ip tsvsbench {\n  chain pre {\n    type nat hook prerouting priority dstnat;\n` +
            `    ip daddr ${vip} tcp dport { ${ports.join(', ')} } dnat to ${rip}\n  }\n}\n`,
        );
        await must(dns, 'nft', ['-f', f]);
      },
      down: async () => {
        await sh(dns, 'nft', ['delete', 'table', 'ip', 'tsvsbench']);
        await sh(dns, 'conntrack', ['-F']);
      },
    },
    {
      name: 'haproxy',
      what: 'HAProxy, TCP mode, 1 thread',
      target: () => vip,
      up: async () => {
        const f = join(dir, 'haproxy.cfg');
        writeFileSync(
          f,
          [
            'global',
            '  nbthread 1',
            '  maxconn 9000',
            `  pidfile ${join(dir, 'haproxy.pid')}`,
            'defaults',
            '  mode tcp',
            '  timeout connect 5s',
            '  timeout client 60s',
            '  timeout server 60s',
            ...ports.flatMap((p) => [
              `listen p${p}`,
              `  bind ${vip}:${p}`,
              `  server rs1 ${rip}:${p}`,
            ]),
            '',
          ].join('\n'),
        );
        proc = bg(dns, 'haproxy', ['-db', '-f', f], log);
        await started('haproxy', listening(HTTP_PORT));
      },
      down: stop,
    },
    {
      name: 'nginx',
      what: 'nginx stream proxy, 1 worker',
      target: () => vip,
      up: async () => {
        const f = join(dir, 'nginx-stream.conf');
        writeFileSync(
          f,
          [
            ctx.loadStream,
            'worker_processes 1;',
            'worker_rlimit_nofile 131072;',
            'daemon off;',
            `pid ${join(dir, 'nginx-stream.pid')};`,
            `error_log ${join(dir, 'nginx-stream.err')} warn;`,
            'events { worker_connections 65536; }',
            'stream {',
            ...ports.map((p) => `  server { listen ${vip}:${p}; proxy_pass ${rip}:${p}; }`),
            '}',
            '',
          ].join('\n'),
        );
        proc = bg(dns, 'nginx', ['-c', f, '-p', dir], log);
        await started('nginx stream', listening(HTTP_PORT));
      },
      down: stop,
    },
    {
      name: 'c-nfq',
      what: 'C NAT forwarder, netfilter queue (tsvs fallback)',
      target: () => vip,
      up: async () => {
        await sh(dns, 'ping', ['-c', '1', '-W', '1', rip]);
        const n = JSON.parse(await must(dns, 'ip', ['-j', 'neigh', 'show', rip])) as {
          lladdr?: string;
        }[];
        const mac = n.find((x) => x.lladdr)?.lladdr;
        if (!mac) throw new Error(`no MAC for ${rip}`);
        proc = bg(dns, ctx.peerBin, ['7200', '7201', vip, rip, lab.director.serverIf, mac], log);
        await sleep(300);
        if (proc.exitCode !== null) throw new Error(`nfq_nat exited: ${log.join(' | ')}`);
        for (const r of nfqRules('-A', 7200, 7201)) await must(dns, 'iptables-legacy', r);
      },
      down: async () => {
        for (const r of nfqRules('-D', 7200, 7201)) await sh(dns, 'iptables-legacy', r);
        await stop();
      },
    },
    {
      name: 'c-floor',
      what: 'C NAT forwarder, same capture/transmit as tsvs',
      target: () => vip,
      up: async () => {
        const macOf = async (ip: string): Promise<string> => {
          await sh(dns, 'ping', ['-c', '1', '-W', '1', ip]);
          const n = JSON.parse(await must(dns, 'ip', ['-j', 'neigh', 'show', ip])) as {
            lladdr?: string;
          }[];
          const mac = n.find((x) => x.lladdr)?.lladdr;
          if (!mac) throw new Error(`no MAC for ${ip}`);
          return mac;
        };
        const rsMac = await macOf(rip);
        const cliMac = await macOf(lab.client4);
        const d = lab.director;
        proc = bg(
          dns,
          ctx.tunPeerBin,
          ['tsvsbt0', vip, rip, d.serverIf, rsMac, d.clientIf, cliMac],
          log,
        );
        await started('tun_nat', async () => log.some((l) => l.includes('ready')));
        await sh(dns, 'tc', ['qdisc', 'replace', 'dev', 'tsvsbt0', 'root', 'noqueue']);
        for (const i of [d.clientIf, d.serverIf])
          await must(dns, 'tc', ['qdisc', 'add', 'dev', i, 'clsact']);
        const redirect = ['action', 'mirred', 'egress', 'redirect', 'dev', 'tsvsbt0'];
        await must(dns, 'tc', [
          ...['filter', 'add', 'dev', d.clientIf, 'ingress', 'protocol', 'ip', 'u32'],
          ...['match', 'ip', 'dst', `${vip}/32`, 'match', 'ip', 'protocol', '6', '0xff'],
          ...redirect,
        ]);
        await must(dns, 'tc', [
          ...['filter', 'add', 'dev', d.serverIf, 'ingress', 'protocol', 'ip', 'u32'],
          ...['match', 'ip', 'src', `${rip}/32`, 'match', 'ip', 'dst', `${lab.client4}/32`],
          ...['match', 'ip', 'protocol', '6', '0xff'],
          ...redirect,
        ]);
      },
      down: async () => {
        for (const i of [lab.director.clientIf, lab.director.serverIf])
          await sh(dns, 'tc', ['qdisc', 'del', 'dev', i, 'clsact']);
        await stop();
      },
    },
    tsvs('tsvs', 'tsvs daemon, NAT (masq), rr'),
    // one data-plane worker against two (docs/dataplane.md "One worker per core"), both
    // without the in-kernel fast path (workers do not have it): only with --only
    ...(ONLY?.some((o) => o === 'tsvs-w1' || o === 'tsvs-w2')
      ? [
          tsvs('tsvs-w1', 'tsvs daemon, 1 worker, no fast path', undefined, TSVS, undefined, [
            '--no-fastpath',
          ]),
          tsvs('tsvs-w2', 'tsvs daemon, --workers 2 (no fast path)', undefined, TSVS, undefined, [
            '--workers',
            '2',
          ]),
        ]
      : []),
    ...(ALT_ENV || ALT_TSVS || ALT_NICE !== undefined
      ? [
          tsvs(
            'tsvs-alt',
            [
              'tsvs daemon',
              ALT_TSVS ? `from ${ALT_TSVS}` : '',
              ALT_NICE !== undefined ? `nice ${ALT_NICE}` : '',
              ALT_ENV
                ? `env ${Object.entries(ALT_ENV)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(' ')}`
                : '',
            ]
              .filter((x) => x)
              .join(', '),
            ALT_ENV,
            ALT_TSVS,
            ALT_NICE,
          ),
        ]
      : []),
  ]);
}

// ---------------------------------------------------------------- workloads

interface Figures {
  bulk: number;
  cps: number;
  rps: number;
  /** Latency of one request at a time, 50th and 99th percentile, µs. */
  p50: number;
  p99: number;
}

/** utime + stime of a process, in seconds (NaN when unknown). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Runs a wrk workload; prints the middlebox's CPU time per request when it has a process. */
async function timedWrk(ctx: Ctx, p: Path, close: boolean): Promise<number> {
  const pid = p.pid?.();
  const c0 = cpuSeconds(pid);
  const r = await wrk(ctx, p.target(), close);
  const c1 = cpuSeconds(pid);
  // (nginx's pid is its master: no figure)
  if (c1 - c0 > 0 && r > 0)
    console.log(
      `    ${p.name} ${close ? 'cps' : 'rps'}: ${(((c1 - c0) / (r * SECONDS)) * 1e6).toFixed(1)} µs CPU per request (${(c1 - c0).toFixed(2)} s)`,
    );
  return r;
}

async function bulk(ctx: Ctx, target: string): Promise<number> {
  const r = await sh(
    ctx.lab.ns.client,
    'iperf3',
    ['-c', target, '-p', String(BULK_PORT), '-t', String(SECONDS), '-O', '1', '-J'],
    (SECONDS + 20) * 1000,
  );
  try {
    const j = JSON.parse(r.stdout) as {
      end?: { sum_received?: { bits_per_second?: number } };
      error?: string;
    };
    if (j.error) console.log(`    iperf3: ${j.error}`);
    return (j.end?.sum_received?.bits_per_second ?? NaN) / 1e9;
  } catch {
    console.log(`    iperf3 failed: ${r.stderr.trim() || r.stdout.slice(0, 200)}`);
    return NaN;
  }
}

/** A wrk latency (`52.10us`, `1.20ms`, `2.00s`) in µs. */
function wrkMicros(v: string, unit: string): number {
  const x = Number(v);
  return unit === 'us' ? x : unit === 'ms' ? x * 1e3 : unit === 's' ? x * 1e6 : NaN;
}

/**
 * One request at a time on one kept-alive connection (wrk -t1 -c1 --latency) for
 * --seconds: the p50 and p99 of its latency distribution, in µs.
 */
async function latency(ctx: Ctx, target: string): Promise<[p50: number, p99: number]> {
  const args = ['-t', '1', '-c', '1', '-d', `${SECONDS}s`, '--timeout', '2s', '--latency'];
  args.push(`http://${target}:${HTTP_PORT}/`);
  const r = await sh(ctx.lab.ns.client, 'wrk', args, (SECONDS + 20) * 1000);
  const pct = (p: number): number => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(r.stdout);
    return m ? wrkMicros(m[1], m[2]) : NaN;
  };
  const e = r.stdout.match(/Socket errors:[^\n]*|Non-2xx[^\n]*/g);
  if (e) console.log(`    wrk latency: ${e.join('; ')}`);
  const out: [number, number] = [pct(50), pct(99)];
  if (!Number.isFinite(out[0]))
    console.log(`    wrk latency failed: ${r.stderr.trim() || r.stdout.slice(0, 200)}`);
  return out;
}

async function wrk(ctx: Ctx, target: string, close: boolean): Promise<number> {
  const args = ['-t', '1', '-c', String(CONNS), '-d', `${SECONDS}s`, '--timeout', '2s'];
  if (close) args.push('-H', 'Connection: close');
  args.push(`http://${target}:${HTTP_PORT}/`);
  const r = await sh(ctx.lab.ns.client, 'wrk', args, (SECONDS + 20) * 1000);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  const errs = /Socket errors:[^\n]*|Non-2xx[^\n]*/g;
  const e = r.stdout.match(errs);
  if (e) console.log(`    wrk ${close ? 'close' : 'keep-alive'}: ${e.join('; ')}`);
  if (!m) console.log(`    wrk failed: ${r.stderr.trim() || r.stdout.slice(0, 200)}`);
  return m ? Number(m[1]) : NaN;
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  if (process.getuid && process.getuid() !== 0) {
    console.error('bench:e2e needs root (network namespaces, netfilter)');
    return 1;
  }
  const t0 = Date.now();
  installMissing();
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-bench-e2e-'));
  const peerBin = join(dir, 'nfq_nat');
  execFileSync('cc', ['-O2', '-Wall', '-o', peerBin, PEER_SRC], { stdio: 'inherit' });
  const tunPeerBin = join(dir, 'tun_nat');
  execFileSync('cc', ['-O2', '-Wall', '-o', tunPeerBin, TUN_PEER_SRC], { stdio: 'inherit' });
  const { loadModule } = nginxStream();
  let lab: LabEnv | undefined;
  const servers: ChildProcess[] = [];
  const srvLog: string[] = [];
  try {
    lab = labUp({ prefix: PREFIX });
    const ctx: Ctx = { lab, dir, peerBin, tunPeerBin, loadStream: loadModule };
    for (const ns of [lab.ns.client, lab.ns.director, lab.ns.rs1]) {
      await sh(ns, 'sysctl', ['-qw', 'net.ipv4.ip_local_port_range=1024 65000']);
      await sh(ns, 'sysctl', ['-qw', 'net.ipv4.tcp_tw_reuse=1']);
      await sh(ns, 'sysctl', ['-qw', 'net.core.somaxconn=8192']);
      await sh(ns, 'sysctl', ['-qw', 'net.ipv4.tcp_max_syn_backlog=8192']);
    }
    // the real server: iperf3 and nginx (1 worker) answering "ok"
    const rsConf = join(dir, 'rs-nginx.conf');
    writeFileSync(
      rsConf,
      [
        'worker_processes 1;',
        'worker_rlimit_nofile 131072;',
        'daemon off;',
        `pid ${join(dir, 'rs-nginx.pid')};`,
        `error_log ${join(dir, 'rs-nginx.err')} warn;`,
        'events { worker_connections 65536; }',
        'http {',
        '  access_log off;',
        '  keepalive_requests 10000000;',
        '  keepalive_timeout 120s;',
        `  server { listen ${HTTP_PORT} backlog=8192; location / { return 200 "ok\\n"; } }`,
        '}',
        '',
      ].join('\n'),
    );
    servers.push(bg(lab.ns.rs1, 'nginx', ['-c', rsConf, '-p', dir], srvLog));
    servers.push(bg(lab.ns.rs1, 'iperf3', ['-s', '-p', String(BULK_PORT)], srvLog));
    await waitFor('the real server', 10_000, async () => {
      const r = await sh(lab!.ns.rs1, 'ss', ['-Hltn']);
      return r.stdout.includes(`:${HTTP_PORT} `) && r.stdout.includes(`:${BULK_PORT} `);
    });

    const all = paths(ctx).filter((p) => !ONLY || ONLY.includes(p.name));
    const res = new Map<string, Figures[]>(all.map((p) => [p.name, []]));
    console.log(
      `bench:e2e — ${ROUNDS} round(s), ${SECONDS} s per workload, wrk -t1 -c${CONNS}, ` +
        `one real server; machine: ${execFileSync('nproc').toString().trim()} cores, ` +
        `load ${execFileSync('cat', ['/proc/loadavg']).toString().split(' ').slice(0, 3).join(' ')}`,
    );
    for (let round = 1; round <= ROUNDS; round++) {
      for (const p of all) {
        let f: Figures = { bulk: NaN, cps: NaN, rps: NaN, p50: NaN, p99: NaN };
        try {
          await p.up();
          f = {
            bulk: WORKLOADS.includes('bulk') ? await bulk(ctx, p.target()) : NaN,
            cps: WORKLOADS.includes('cps') ? await timedWrk(ctx, p, true) : NaN,
            rps: WORKLOADS.includes('rps') ? await timedWrk(ctx, p, false) : NaN,
            p50: NaN,
            p99: NaN,
          };
          if (WORKLOADS.includes('lat')) [f.p50, f.p99] = await latency(ctx, p.target());
        } catch (e) {
          console.log(`  ${p.name}: ${(e as Error).message}`);
        } finally {
          await p.down();
        }
        res.get(p.name)!.push(f);
        console.log(
          `  round ${round} ${p.name.padEnd(8)} bulk ${f.bulk.toFixed(2).padStart(6)} Gbit/s` +
            `  cps ${f.cps.toFixed(0).padStart(7)}  rps ${f.rps.toFixed(0).padStart(7)}` +
            `  p50 ${f.p50.toFixed(0).padStart(5)} µs  p99 ${f.p99.toFixed(0).padStart(5)} µs`,
        );
        await sleep(500);
      }
    }

    const med = new Map<string, Figures>();
    for (const p of all) {
      const xs = res.get(p.name)!;
      med.set(p.name, {
        bulk: median(xs.map((x) => x.bulk)),
        cps: median(xs.map((x) => x.cps)),
        rps: median(xs.map((x) => x.rps)),
        p50: median(xs.map((x) => x.p50)),
        p99: median(xs.map((x) => x.p99)),
      });
    }
    console.log('');
    console.log(`medians of ${ROUNDS} round(s):`);
    console.log(
      `| path     | what                                            | bulk TCP Gbit/s | new conn/s | req/s keep-alive |`,
    );
    console.log(
      `| -------- | ----------------------------------------------- | --------------- | ---------- | ---------------- |`,
    );
    for (const p of all) {
      const m = med.get(p.name)!;
      console.log(
        `| ${p.name.padEnd(8)} | ${p.what.padEnd(47)} | ${m.bulk.toFixed(2).padStart(15)} | ` +
          `${m.cps.toFixed(0).padStart(10)} | ${m.rps.toFixed(0).padStart(16)} |`,
      );
    }
    if (WORKLOADS.includes('lat')) {
      // added latency: each path against the direct one (plain routing to the RIP),
      // per round (same round, so the same load), then the median over the rounds
      const base = res.get('kernel');
      console.log('');
      console.log(
        'latency of one request at a time (wrk -t1 -c1 --latency), medians over the rounds, µs;',
      );
      console.log("added = this path's percentile − the kernel path's, in the same round");
      console.log('| path     | p50   | p99   | added p50 | added p99 |');
      console.log('| -------- | ----- | ----- | --------- | --------- |');
      for (const p of all) {
        const xs = res.get(p.name)!;
        const m = med.get(p.name)!;
        const added = (k: 'p50' | 'p99'): number =>
          base ? median(xs.map((x, i) => x[k] - (base[i]?.[k] ?? NaN))) : NaN;
        console.log(
          `| ${p.name.padEnd(8)} | ${m.p50.toFixed(0).padStart(5)} | ${m.p99.toFixed(0).padStart(5)} | ` +
            `${added('p50').toFixed(0).padStart(9)} | ${added('p99').toFixed(0).padStart(9)} |`,
        );
      }
    }
    console.log('');
    console.log('spread over the rounds (min–max, and max/min − 1):');
    for (const p of all) {
      const xs = res.get(p.name)!;
      const col = (vs: number[], digits: number): string => {
        const ok = vs.filter((v) => Number.isFinite(v));
        if (!ok.length) return '—';
        const lo = Math.min(...ok);
        const hi = Math.max(...ok);
        return `${lo.toFixed(digits)}–${hi.toFixed(digits)} (${Math.round((hi / lo - 1) * 100)} %)`;
      };
      console.log(
        `  ${p.name.padEnd(8)} bulk ${col(
          xs.map((x) => x.bulk),
          2,
        )}  cps ${col(
          xs.map((x) => x.cps),
          0,
        )}  rps ${col(
          xs.map((x) => x.rps),
          0,
        )}`,
      );
    }
    const t = med.get('tsvs');
    if (t) {
      console.log('');
      for (const p of all) {
        if (p.name === 'tsvs') continue;
        const m = med.get(p.name)!;
        const r = (a: number, b: number): string => (a / b).toFixed(2);
        console.log(
          `tsvs / ${p.name.padEnd(8)} bulk ${r(t.bulk, m.bulk)}  cps ${r(t.cps, m.cps)}  rps ${r(t.rps, m.rps)}`,
        );
      }
    }
    console.log(`(${Math.round((Date.now() - t0) / 1000)} s)`);
    const json: Record<
      string,
      { bulk_gbps: number; cps: number; rps: number; p50_us: number; p99_us: number }
    > = {};
    for (const [k, m] of med)
      json[k] = {
        bulk_gbps: Math.round(m.bulk * 100) / 100,
        cps: Math.round(m.cps),
        rps: Math.round(m.rps),
        p50_us: Math.round(m.p50),
        p99_us: Math.round(m.p99),
      };
    console.log(JSON.stringify(json));
    return 0;
  } finally {
    for (const s of servers) await stopProc(s, 2000);
    if (lab) labDown({ prefix: PREFIX });
    rmSync(dir, { recursive: true, force: true });
  }
}

async function withHitless(): Promise<number> {
  const only =
    ONLY !== undefined &&
    ONLY.every(
      (o) =>
        ['hitless', 'flood', 'tsvs-noproxy', 'tsvs-usersyn', 'ha'].includes(o) ||
        (ONLY.includes('flood') && ['tsvs', 'nft'].includes(o)),
    );
  const code = only ? 0 : await main();
  if (code === 0 && (!ONLY || ONLY.includes('hitless'))) {
    console.log('');
    await hitlessSection(ROUNDS, SECONDS);
  }
  if (code === 0 && (!ONLY || ONLY.includes('flood'))) {
    console.log('');
    await floodSection(Math.min(ROUNDS, 2), SECONDS + 3, ONLY);
  }
  if (code === 0 && (!ONLY || ONLY.includes('ha'))) {
    console.log('');
    await haSection(ROUNDS);
  }
  return code;
}

withHitless().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`bench:e2e: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  },
);
