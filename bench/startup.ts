/**
 * Start-up cost of `tsvsadm` against `node -e 0` on the same machine: a script that
 * runs hundreds of tsvsadm calls pays it on every call.
 *
 * A control server (engine and control model, no data plane: no root needed) runs in
 * a child process on a temporary socket with a few services; this process then runs,
 * round after round and interleaved so that load from other users of the machine
 * falls on all alike:
 *   node -e 0
 *   tsvsadm -L -n                     (list)
 *   tsvsadm -A -t 10.9.0.1:PORT       (a change; the next round's PORT differs)
 * and prints each one's median and fastest run and their ratios to `node -e 0`'s, for
 * `tsvsadm` as installed (package.json's `bin`: the CommonJS launcher
 * dist/src/cli/tsvsadm-bin.cjs of the one-file build dist/bundle/tsvsadm.cjs), for the
 * ES module entry dist/src/cli/tsvsadm.js (which requires the same bundle) and for that
 * entry loading its ES modules (TSVS_NO_BUNDLE=1). More ways of starting it
 * are measured side by side with --variant 'NAME=NODE-ARGS' (e.g. a snapshot:
 * --variant 'snapshot=--snapshot-blob tsvsadm.blob -- tsvsadm').
 *
 * Usage: npm run bench:startup [-- --runs N] [--variant NAME=NODE-ARGS]...
 * (on a shared machine under `flock /tmp/tsvs-bench.lock`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const tsvsadm = join(here, '..', 'src', 'cli', 'tsvsadm-bin.cjs');
const esEntry = join(here, '..', 'src', 'cli', 'tsvsadm.js');
const bundle = join(here, '..', 'bundle', 'tsvsadm.cjs');

async function serve(path: string): Promise<void> {
  const { Engine } = await import('../src/engine/engine.js');
  const { startDaemonControl } = await import('../src/control/daemon.js');
  const ctl = await startDaemonControl(new Engine({}), { path, statePath: null });
  for (let i = 0; i < 4; i++) {
    const id = { af: 4 as const, protocol: 6, addr: `10.8.0.${i + 1}`, port: 80 };
    ctl.model.addService({ ...id, scheduler: 'wlc' });
    for (let j = 0; j < 3; j++)
      ctl.model.addDest(id, { addr: `10.8.1.${10 * i + j}`, port: 8080, fwd: 'masq', weight: 1 });
  }
  process.stdout.write('ready\n');
  process.stdin.resume();
  process.stdin.on('end', () => void ctl.close().then(() => process.exit(0)));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Clock ticks per second of /proc's times (`getconf CLK_TCK`). */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/**
 * CPU time (user + system, ms) of this process's waited-for children so far
 * (/proc/self/stat cutime + cstime): the sum is exact, its reading rounded to a tick,
 * so the mean over many runs is good to a tick / runs.
 */
function childCpuMs(): number {
  const st = readFileSync('/proc/self/stat', 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[13]) + Number(f[14])) * 1000) / CLK_TCK;
}

/** CPU time per label, summed over its runs (see {@link childCpuMs}). */
const cpu = new Map<string, number>();

function time(cmd: string, args: string[], env: NodeJS.ProcessEnv, label?: string): number {
  const c0 = childCpuMs();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: status ${r.status}: ${r.stderr}`);
  if (label !== undefined) cpu.set(label, (cpu.get(label) ?? 0) + childCpuMs() - c0);
  return ms;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '60' },
      variant: { type: 'string', multiple: true },
      serve: { type: 'string' },
    },
  });
  if (values.serve) return serve(values.serve);
  const runs = Number(values.runs);
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-startup-'));
  const sock = join(dir, 'control.sock');
  const server = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', sock], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    server.stdout.once('data', () => resolve());
    server.once('exit', (c) => reject(new Error(`control server exited (${c})`)));
  });
  const env: NodeJS.ProcessEnv = { ...process.env, TSVS_CONTROL: sock };
  delete env.TSVS_NO_BUNDLE;
  const modulesEnv = { ...env, TSVS_NO_BUNDLE: '1' };
  // a variant: its name, the node arguments that start tsvsadm, the environment
  const variants: [string, string[], NodeJS.ProcessEnv][] = [
    ['tsvsadm', [tsvsadm], env],
    ['tsvsadm, ES entry', [esEntry], env],
    ['tsvsadm, ES modules', [esEntry], modulesEnv],
  ];
  if (!existsSync(bundle))
    process.stderr.write(`no ${bundle}: run node scripts/bundle.mjs; measuring the modules only\n`);
  for (const v of values.variant ?? []) {
    const eq = v.indexOf('=');
    variants.push([
      v.slice(0, eq),
      v
        .slice(eq + 1)
        .split(' ')
        .filter(Boolean),
      env,
    ]);
  }
  const base: number[] = [];
  const list = new Map<string, number[]>(variants.map(([n]) => [n, []]));
  const add = new Map<string, number[]>(variants.map(([n]) => [n, []]));
  let port = 1000;
  try {
    // warm the file cache first
    time(process.execPath, ['-e', '0'], env);
    for (const [, a, e] of variants) time(process.execPath, [...a, '-L', '-n'], e);
    for (let r = 0; r < runs; r++) {
      base.push(time(process.execPath, ['-e', '0'], env, 'node -e 0'));
      for (const [n, a, e] of variants) {
        list.get(n)!.push(time(process.execPath, [...a, '-L', '-n'], e, `${n} -L -n`));
        const p = String(port++);
        add
          .get(n)!
          .push(
            time(process.execPath, [...a, '-A', '-t', `10.9.0.1:${p}`], e, `${n} -A -t ADDR:PORT`),
          );
        time(process.execPath, [...a, '-D', '-t', `10.9.0.1:${p}`], e);
      }
    }
  } finally {
    server.stdin.end();
    rmSync(dir, { recursive: true, force: true });
  }
  // the median, and the fastest run: on a shared machine the other users' load only
  // ever adds time, so the minimum is the closest to the program's own cost
  // and the mean CPU time, which other users' load hardly changes
  const b = median(base);
  const bMin = Math.min(...base);
  const bCpu = (cpu.get('node -e 0') ?? 0) / runs;
  const row = (what: string, xs: number[]): string => {
    const m = median(xs);
    const lo = Math.min(...xs);
    const c = (cpu.get(what) ?? 0) / runs;
    return (
      `${what.padEnd(36)} ${m.toFixed(1).padStart(7)} ms  ${(m / b).toFixed(2)}×` +
      `   ${lo.toFixed(1).padStart(7)} ms  ${(lo / bMin).toFixed(2)}×` +
      `   ${c.toFixed(1).padStart(7)} ms  ${(c / bCpu).toFixed(2)}×`
    );
  };
  process.stdout.write(
    `start-up, ${runs} interleaved runs (Node ${process.versions.node}, ${process.arch}, ` +
      `load average ${loadavg()[0].toFixed(1)})\n` +
      `${''.padEnd(36)} ${'median'.padStart(10)} ${'ratio'.padStart(6)}   ${'fastest'.padStart(10)} ${'ratio'.padStart(6)}` +
      `   ${'CPU'.padStart(10)} ${'ratio'.padStart(6)}\n` +
      `${row('node -e 0', base)}\n`,
  );
  for (const [n] of variants) {
    process.stdout.write(
      `${row(`${n} -L -n`, list.get(n)!)}\n${row(`${n} -A -t ADDR:PORT`, add.get(n)!)}\n`,
    );
  }
}

await main();
