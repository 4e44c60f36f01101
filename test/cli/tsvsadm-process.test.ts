/**
 * tsvsadm as a real child process against a real control server (started here with an
 * Engine, as the daemon does): stdout, stderr and exit status of the main commands,
 * no daemon, the `ipvsadm` symlink, and `tsvs proc` / `tsvs sysctl` entry points.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../src/engine/engine.js';
import { startDaemonControl, type DaemonControl } from '../../src/control/daemon.js';
import { startControlServer } from '../../src/control/server.js';
import { systemResolver } from '../../src/control/ipvsadm/resolve.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TSVSADM = join(ROOT, 'dist/src/cli/tsvsadm.js');

let dir = '';
let sock = '';
let ctl: DaemonControl;

interface Run {
  status: number | null;
  out: string;
  err: string;
}

function run(
  cmd: string,
  args: string[],
  opts: { stdin?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, {
      env: { ...process.env, TSVS_CONTROL: sock, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.on('error', reject);
    p.on('close', (status) => resolve({ status, out, err }));
    p.stdin.end(opts.stdin ?? '');
  });
}

const tsvsadm = (args: string[], opts?: { stdin?: string; env?: NodeJS.ProcessEnv }) =>
  run(process.execPath, [TSVSADM, ...args], opts);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsvsadm-proc-'));
  sock = join(dir, 'run', 'control.sock');
  ctl = await startDaemonControl(new Engine(), {
    path: sock,
    statePath: join(dir, 'config.json'),
    model: { interfaceExists: () => true },
  });
});

after(async () => {
  await ctl.close();
  rmSync(dir, { recursive: true, force: true });
});

test('add, list, error, save, clear, restore through the socket', async () => {
  assert.deepEqual(await tsvsadm(['-A', '-t', '10.0.0.1:80', '-s', 'rr']), {
    status: 0,
    out: '',
    err: '',
  });
  assert.deepEqual(
    await tsvsadm(['-a', '-t', '10.0.0.1:80', '-r', '10.0.0.2:8080', '-m', '-w', '3']),
    {
      status: 0,
      out: '',
      err: '',
    },
  );
  assert.deepEqual(await tsvsadm(['-A', '-t', '10.0.0.1:80']), {
    status: 255,
    out: '',
    err: 'Service already exists\n',
  });
  assert.deepEqual(await tsvsadm(['-a', '-t', '10.0.0.1:80', '-r', '10.0.0.3', '-w', 'x']), {
    status: 2,
    out: '',
    err: 'illegal weight specified\n',
  });
  const list = await tsvsadm(['-Ln']);
  assert.deepEqual(list, {
    status: 0,
    err: '',
    out:
      'IP Virtual Server version 1.2.1 (size=4096)\n' +
      'Prot LocalAddress:Port Scheduler Flags\n' +
      '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n' +
      'TCP  10.0.0.1:80 rr\n' +
      '  -> 10.0.0.2:8080                Masq    3      0          0         \n',
  });
  const saved = await tsvsadm(['-S', '-n']);
  assert.deepEqual(saved, {
    status: 0,
    err: '',
    out: '-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m -w 3\n',
  });
  assert.deepEqual(await tsvsadm(['-C']), { status: 0, out: '', err: '' });
  assert.equal((await tsvsadm(['-S', '-n'])).out, '');
  assert.deepEqual(await tsvsadm(['-R'], { stdin: saved.out }), { status: 0, out: '', err: '' });
  assert.equal((await tsvsadm(['-S', '-n'])).out, saved.out);
  // the change was saved by the daemon before it answered
  const state = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as {
    config: { services: { dests: { weight: number }[] }[] };
  };
  assert.equal(state.config.services[0].dests[0].weight, 3);
  assert.deepEqual(await tsvsadm(['-L', '-t', '10.0.0.9:80']), {
    status: 1,
    out: '',
    err: 'No such service\n',
  });
  assert.deepEqual(await tsvsadm(['-L', '--timeout']), {
    status: 0,
    out: 'Timeout (tcp tcpfin udp): 900 120 300\n',
    err: '',
  });
  assert.deepEqual(await tsvsadm(['-C']), { status: 0, out: '', err: '' });
});

test('a long restore is pipelined and applied in order', async () => {
  let text = '';
  for (let i = 1; i <= 200; i++)
    text += `-A -u 10.1.0.${i}:53 -s rr\n-a -u 10.1.0.${i}:53 -r 10.2.0.${i} -m\n`;
  text += '-A -u 10.1.0.1:53\n';
  const t0 = Date.now();
  const r = await tsvsadm(['-R'], { stdin: text });
  assert.deepEqual(r, { status: 255, out: '', err: 'Service already exists\n' });
  assert.ok(Date.now() - t0 < 5000);
  assert.equal(ctl.model.services().length, 200);
  assert.ok(ctl.model.services().every((s) => s.dests.length === 1 && s.dests[0].fwd === 'masq'));
  assert.deepEqual(await tsvsadm(['-C']), { status: 0, out: '', err: '' });
});

test('names resolve through the host resolver without -n', async () => {
  await tsvsadm(['-A', '-t', '127.0.0.1:80']);
  const res = systemResolver();
  const host = (await res.hostByAddr(4, '127.0.0.1')) ?? '127.0.0.1';
  const port = res.serviceByPort(80, 'tcp') ?? '80';
  const r = await tsvsadm(['-L']);
  assert.equal(r.status, 0);
  assert.equal(r.out.split('\n')[3], `TCP  ${host}:${port} wlc`);
  assert.equal((await tsvsadm(['-S'])).out, `-A -t ${host}:${port} -s wlc\n`);
  await tsvsadm(['-C']);
});

test('no daemon on the control socket: a clear message and status 2', async () => {
  const r = await tsvsadm(['-L', '-n'], { env: { TSVS_CONTROL: join(dir, 'nothing.sock') } });
  assert.equal(r.status, 2);
  assert.equal(r.out, '');
  assert.equal(
    r.err,
    `Can't initialize ipvs: no control socket (${join(dir, 'nothing.sock')})\n` +
      'Are you sure that the tsvs daemon is running? (TSVS_CONTROL selects its control socket)\n',
  );
});

test('installed as ipvsadm (a symlink) it answers to that name', async () => {
  const bin = join(dir, 'bin');
  const inst = await run(join(ROOT, 'scripts/install-ipvsadm-symlink.sh'), [bin]);
  assert.equal(inst.status, 0, inst.err);
  const ipvsadm = join(bin, 'ipvsadm');
  let r = await run(ipvsadm, ['-t', '1.2.3.4:80']);
  assert.deepEqual(r, {
    status: 255,
    out: '',
    err: `Try \`${ipvsadm} -h' or '${ipvsadm} --help' for more information.\n`,
  });
  // found through PATH, it is "ipvsadm" again
  r = await run('/bin/sh', ['-c', 'ipvsadm -t 1.2.3.4:80'], {
    env: { PATH: `${bin}:${process.env.PATH ?? ''}` },
  });
  assert.equal(r.err, "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n");
  r = await run(ipvsadm, ['-v']);
  assert.deepEqual(r, {
    status: 0,
    out: 'ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n',
    err: '',
  });
  // a real ipvsadm is not replaced without --force
  const again = await run(join(ROOT, 'scripts/install-ipvsadm-symlink.sh'), [bin]);
  assert.equal(again.status, 0);
});

test('tsvs proc and tsvs sysctl entry points talk to the daemon', async () => {
  const entry = (mod: string, fn: string, args: string[]) =>
    run(process.execPath, [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(join(ROOT, 'dist/src/cli', mod))}); process.exitCode = await m.${fn}(${JSON.stringify(args)});`,
    ]);
  await tsvsadm(['-A', '-t', '10.0.0.1:80', '-s', 'rr']);
  let r = await entry('proc.js', 'runProc', ['ip_vs']);
  assert.equal(r.status, 0);
  assert.equal(
    r.out,
    'IP Virtual Server version 1.2.1 (size=4096)\n' +
      'Prot LocalAddress:Port Scheduler Flags\n' +
      '  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n' +
      'TCP  0A000001:0050 rr  \n',
  );
  r = await entry('proc.js', 'runProc', ['ip_vs_nosuch']);
  assert.equal(r.status, 1);
  r = await entry('sysctl.js', 'runSysctl', ['-w', 'net.ipv4.vs.secure_tcp=3']);
  assert.deepEqual(r, { status: 0, out: 'net.ipv4.vs.secure_tcp = 3\n', err: '' });
  r = await entry('sysctl.js', 'runSysctl', ['-n', 'net.ipv4.vs.secure_tcp']);
  assert.deepEqual(r, { status: 0, out: '3\n', err: '' });
  r = await entry('sysctl.js', 'runSysctl', ['net.ipv4.vs.secure_tcp=9', 'net.ipv4.vs.nosuch']);
  assert.deepEqual(r, {
    status: 1,
    out: '',
    err:
      'sysctl: setting key "net.ipv4.vs.secure_tcp": Invalid argument\n' +
      'sysctl: cannot stat /proc/sys/net/ipv4/vs/nosuch: No such file or directory\n',
  });
  r = await entry('sysctl.js', 'runSysctl', ['-a']);
  assert.equal(r.status, 0);
  assert.match(r.out, /^net\.ipv4\.vs\.amemthresh = 1024\n/);
  assert.match(r.out, /^net\.ipv4\.vs\.secure_tcp = 3$/m);
  await tsvsadm(['-C']);
  ctl.model.sysctlSet('secure_tcp', '0');
});

test(
  'the socket is root-only: another user is told to be root (status 2)',
  { skip: process.getuid?.() !== 0 ? 'needs root to run a child as another user' : false },
  async () => {
    const pdir = mkdtempSync(join(tmpdir(), 'tsvsadm-perm-'));
    try {
      chmodSync(pdir, 0o755);
      const path = join(pdir, 'control.sock');
      const srv = await startControlServer(ctl.model, path);
      try {
        const r = await new Promise<Run>((resolve, reject) => {
          const p = spawn(process.execPath, [TSVSADM, '-L', '-n'], {
            uid: 65534,
            gid: 65534,
            env: { ...process.env, TSVS_CONTROL: path },
          });
          let out = '';
          let err = '';
          p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
          p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
          p.on('error', reject);
          p.on('close', (status) => resolve({ status, out, err }));
        });
        assert.deepEqual(r, {
          status: 2,
          out: '',
          err:
            `Can't initialize ipvs: Permission denied (you must be root) (${path})\n` +
            'Are you sure that the tsvs daemon is running? (TSVS_CONTROL selects its control socket)\n',
        });
      } finally {
        await srv.close();
      }
    } finally {
      rmSync(pdir, { recursive: true, force: true });
    }
  },
);
