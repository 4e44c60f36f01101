/**
 * `tsvs demo`: the lab demo (README's "main job"). Brings the lab up, starts the real
 * daemon in the director namespace with a built-in configuration (an HTTP service on
 * the VIP balanced rr over two real servers, NAT), sends real requests from the
 * client, prints which server answered each and the connection table, then tears
 * everything down.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { labDown, labUp, type LabEnv } from '../sys/lab.js';

const pexec = promisify(execFile);
const TSVS = fileURLToPath(new URL('./tsvs.js', import.meta.url));
const TSVSADM = fileURLToPath(new URL('./tsvsadm.js', import.meta.url));

/** A tiny HTTP server for a real server namespace: answers with its own name. */
export function startHttpServer(ns: string, name: string, port: number): ChildProcess {
  const code = `require('http').createServer((q,s)=>{s.setHeader('connection','close');s.end(${JSON.stringify(name)}+'\\n')}).listen(${port},'::')`;
  return spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { stdio: 'ignore' });
}

/** Wait until `fn` resolves true, polling every 100 ms, or throw after `ms`. */
export async function waitFor(what: string, ms: number, fn: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function demoConfig(lab: LabEnv, port = 80): string {
  const vip = `${lab.vip4}:80`;
  return [
    `-A -t ${vip} -s rr`,
    `-a -t ${vip} -r ${lab.rs[0].ip4}:${port} -m -w 1`,
    `-a -t ${vip} -r ${lab.rs[1].ip4}:${port} -m -w 1`,
    '',
  ].join('\n');
}

export async function runDemo(opts: { requests?: number; prefix?: string } = {}): Promise<number> {
  if (process.getuid && process.getuid() !== 0) {
    process.stderr.write('tsvs demo: must run as root (it builds network namespaces)\n');
    return 1;
  }
  const prefix = opts.prefix ?? 'tsvsdemo';
  const n = opts.requests ?? 6;
  const out = (s: string): boolean => process.stdout.write(s + '\n');
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-demo-'));
  const sock = join(dir, 'control.sock');
  const env = { ...process.env, TSVS_CONTROL: sock };
  const children: ChildProcess[] = [];
  let lab: LabEnv | undefined;
  let status = 0;
  try {
    out(`== building the lab (namespaces ${prefix}-client, -director, -rs1, -rs2)`);
    lab = labUp({ prefix });
    out(
      `   client ${lab.client4}  →  VIP ${lab.vip4}:80 on the director  →  ${lab.rs[0].ip4}, ${lab.rs[1].ip4}`,
    );
    children.push(startHttpServer(lab.ns.rs1, 'rs1', 80), startHttpServer(lab.ns.rs2, 'rs2', 80));
    const cfg = join(dir, 'tsvs.rules');
    writeFileSync(cfg, demoConfig(lab));
    out('== starting the daemon with this configuration (ipvsadm rules):');
    for (const l of demoConfig(lab).trim().split('\n')) out(`   ${l}`);
    const daemon = spawn(
      'ip',
      [
        'netns',
        'exec',
        lab.ns.director,
        process.execPath,
        TSVS,
        'daemon',
        '--config',
        cfg,
        '--control',
        sock,
        '--no-state',
      ],
      { stdio: ['ignore', 'inherit', 'inherit'], env },
    );
    children.push(daemon);
    const ns = lab.ns;
    // ready: its data plane runs and carries the configuration (control answers earlier)
    await waitFor('the daemon', 15_000, async () => {
      await pexec(process.execPath, [TSVS, 'status', '--ready', '--control', sock], { env });
      return true;
    });
    await waitFor('the real servers', 10_000, async () => {
      await pexec('ip', ['netns', 'exec', ns.rs1, 'bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/80']);
      await pexec('ip', ['netns', 'exec', ns.rs2, 'bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/80']);
      return true;
    });
    out(`== ${n} HTTP requests from the client to http://${lab.vip4}/`);
    for (let i = 1; i <= n; i++) {
      try {
        const r = await pexec('ip', [
          'netns',
          'exec',
          ns.client,
          'curl',
          '-s',
          '-m',
          '5',
          `http://${lab.vip4}/`,
        ]);
        out(`   request ${i}: answered by ${r.stdout.trim()}`);
      } catch (e) {
        out(`   request ${i}: FAILED (${(e as Error).message.split('\n')[0]})`);
        status = 1;
      }
    }
    out('== tsvsadm -L -n');
    out((await pexec(process.execPath, [TSVSADM, '-L', '-n'], { env })).stdout.trimEnd());
    out('== tsvsadm -L -c -n  (the engine connection table)');
    out((await pexec(process.execPath, [TSVSADM, '-L', '-c', '-n'], { env })).stdout.trimEnd());
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
  } catch (e) {
    process.stderr.write(`tsvs demo: ${(e as Error).message}\n`);
    status = 1;
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    if (lab) {
      out('== tearing the lab down');
      labDown({ prefix });
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return status;
}
