/**
 * The installed tsvsadm (package.json `bin`): the CommonJS launcher
 * src/cli/tsvsadm-bin.cts runs the one-file bundle (scripts/bundle.mjs) through a V8
 * code cache it writes itself, and falls back to the ES modules without a bundle.
 * Run in a temporary tree laid out as dist/ is (src/cli/, bundle/), against a real
 * control server.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Engine } from '../../src/engine/engine.js';
import { startDaemonControl, type DaemonControl } from '../../src/control/daemon.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const LAUNCHER = join(ROOT, 'dist/src/cli/tsvsadm-bin.cjs');

let dir = '';
let sock = '';
let ctl: DaemonControl;
let bin = '';
let bundleFile = '';
let bundleText = '';

/** Runs the launcher (asynchronously: the control server answers from this process). */
function tsvsadm(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ status: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, TSVS_CONTROL: sock, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.on('error', reject);
    p.on('close', (status) => resolve({ status, out, err }));
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsvs-bin-'));
  sock = join(dir, 'control.sock');
  ctl = await startDaemonControl(new Engine({}), { path: sock, statePath: null });
  ctl.model.addService({ af: 4, protocol: 6, addr: '10.7.0.1', port: 80, scheduler: 'wlc' });
  // the tree: dist/src/cli/tsvsadm-bin.cjs and dist/bundle/tsvsadm.cjs
  const tree = join(dir, 'dist');
  mkdirSync(join(tree, 'src/cli'), { recursive: true });
  mkdirSync(join(tree, 'bundle'));
  bin = join(tree, 'src/cli/tsvsadm-bin.cjs');
  copyFileSync(LAUNCHER, bin);
  const { bundle } = (await import(pathToFileURL(join(ROOT, 'scripts/bundle.mjs')).href)) as {
    bundle: (entry: string) => string;
  };
  bundleFile = join(tree, 'bundle/tsvsadm.cjs');
  bundleText = bundle(join(ROOT, 'src/cli/tsvsadm-run.ts'));
  writeFileSync(bundleFile, bundleText);
});

after(async () => {
  await ctl?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('package.json bin: tsvsadm is the CommonJS launcher, built with the bundle in prepare', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
    scripts: Record<string, string>;
  };
  assert.equal(pkg.bin.tsvsadm, 'dist/src/cli/tsvsadm-bin.cjs');
  assert.ok(existsSync(join(ROOT, pkg.bin.tsvsadm)));
  assert.match(pkg.scripts.prepare, /node scripts\/bundle\.mjs/);
  assert.match(readFileSync(LAUNCHER, 'utf8'), /^#!\/usr\/bin\/env node\n/);
});

test('the launcher runs the bundle', async () => {
  const first = await tsvsadm(['-L', '-n']);
  assert.equal(first.status, 0, first.err);
  assert.match(first.out, /^TCP {2}10\.7\.0\.1:80 wlc$/m);
  const second = await tsvsadm(['-A', '-t', '10.7.0.2:80', '-s', 'rr']);
  assert.equal(second.status, 0, second.err);
  assert.deepEqual(
    ctl.model
      .services()
      .map((s) => s.addr)
      .sort(),
    ['10.7.0.1', '10.7.0.2'],
  );
  // errors come out as ipvsadm's, with its status
  const bad = await tsvsadm(['-A', '-t', '10.7.0.3:80', '-s', 'nosuch']);
  assert.equal(bad.status, 255);
  assert.match(bad.err, /Scheduler or persistence engine not found/);
});

test('without the bundle the launcher runs the ES modules', async () => {
  rmSync(bundleFile);
  try {
    // no modules beside the launcher in the temporary tree: the fallback shows itself
    // by looking for them
    const r = await tsvsadm(['--version']);
    assert.notEqual(r.status, 0);
    assert.match(r.err, /tsvsadm-run\.js/);
  } finally {
    writeFileSync(bundleFile, bundleText);
  }
  assert.equal((await tsvsadm(['--version'])).status, 0);
});

test('TSVS_NO_BUNDLE=1: the ES modules (the real tree has them)', async () => {
  // in the temporary tree there are no modules beside the launcher: the fallback shows
  // itself by failing to find them
  const r = await tsvsadm(['--version'], { TSVS_NO_BUNDLE: '1' });
  assert.notEqual(r.status, 0);
  assert.match(r.err, /tsvsadm-run\.js/);
  // the real tree's launcher, without the bundle: its modules are there
  const real = spawnSync(process.execPath, [LAUNCHER, '--version'], {
    env: { ...process.env, TSVS_NO_BUNDLE: '1' },
    encoding: 'utf8',
  });
  assert.equal(real.status, 0, real.stderr);
  assert.match(real.stdout, /^tsvsadm \(tsvs\) \d/);
});
