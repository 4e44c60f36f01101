/**
 * The command line as an operator meets it: `--version` of both programs, `--help` of
 * every tsvs subcommand (from the one table), the man pages and bash completions as
 * committed being what scripts/man.mjs writes today (and groff finding nothing to
 * warn about), and the completions themselves, run by bash: COMPREPLY for a few
 * cases, tsvsadm's from a real control server.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../src/engine/engine.js';
import { startDaemonControl, type DaemonControl } from '../../src/control/daemon.js';
import { COMMANDS } from '../../src/cli/help-commands.js';
import { generatedFiles } from '../../src/cli/help-render.js';
import { VERSION_LINE } from '../../src/control/ipvsadm/help.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TSVS = join(ROOT, 'dist/src/cli/tsvs.js');
const TSVSADM = join(ROOT, 'dist/src/cli/tsvsadm.js');
const VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

let dir = '';
let sock = '';
let ctl: DaemonControl;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsvs-help-'));
  sock = join(dir, 'control.sock');
  ctl = await startDaemonControl(new Engine(), { path: sock, statePath: null });
  ctl.model.addService({ af: 4, protocol: 6, addr: '10.1.0.1', port: 80, scheduler: 'rr' });
  ctl.model.addService({ af: 4, protocol: 17, addr: '10.1.0.2', port: 53, scheduler: 'rr' });
  ctl.model.addDest(
    { af: 4, protocol: 6, addr: '10.1.0.1', port: 80 },
    { addr: '10.2.0.7', port: 8080, fwd: 'masq', weight: 1 },
  );
  // programs on PATH as an installation has them (the completion calls tsvsadm)
  for (const [name, file] of [
    ['tsvs', TSVS],
    ['tsvsadm', TSVSADM],
  ]) {
    writeFileSync(join(dir, name), `#!/bin/sh\nexec "${process.execPath}" "${file}" "$@"\n`);
    chmodSync(join(dir, name), 0o755);
  }
});

after(async () => {
  await ctl.close();
  rmSync(dir, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ status: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, {
      env: { ...process.env, TSVS_CONTROL: sock },
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

test("--version: tsvs's own for tsvs and tsvsadm; ipvsadm's line for -v and for ipvsadm", async () => {
  assert.deepEqual(await run([TSVS, '--version']), {
    status: 0,
    out: `tsvs ${VERSION}\n`,
    err: '',
  });
  assert.deepEqual(await run([TSVSADM, '--version']), {
    status: 0,
    out: `tsvsadm (tsvs) ${VERSION}\n`,
    err: '',
  });
  const v = await run([TSVSADM, '-v']);
  assert.equal(v.out, `${VERSION_LINE}\n`);
  assert.equal(v.status, 0);
  // installed as ipvsadm, --version is ipvsadm's (scripts parse it)
  const ipvsadm = join(dir, 'ipvsadm');
  symlinkSync(TSVSADM, ipvsadm);
  const i = await run([ipvsadm, '--version']);
  assert.equal(i.out, `${VERSION_LINE}\n`, i.err);
});

test('--help for every subcommand lists each of its options; tsvs help CMD says the same', async () => {
  for (const c of COMMANDS) {
    const r = await run([TSVS, c.name, '--help']);
    assert.equal(r.status, 0, `${c.name}: ${r.err}`);
    assert.ok(r.out.startsWith(`Usage: tsvs ${c.name} `), r.out);
    for (const o of c.options) assert.ok(r.out.includes(`--${o.long}`), `${c.name} --${o.long}`);
    assert.match(r.out, /-h, --help/);
    assert.equal((await run([TSVS, 'help', c.name])).out, r.out);
    assert.equal((await run([TSVS, c.name, '-h'])).out, r.out);
  }
  const top = await run([TSVS, '--help']);
  assert.equal(top.status, 0);
  for (const c of COMMANDS) assert.match(top.out, new RegExp(`^  ${c.name} `, 'm'));
  // nothing: the usage on stderr, status 2; an unknown option or command: 2 and a pointer
  const none = await run([TSVS]);
  assert.equal(none.status, 2);
  assert.match(none.err, /^Usage: tsvs <command>/);
  const bad = await run([TSVS, 'demo', '--bogus']);
  assert.equal(bad.status, 2);
  assert.match(bad.err, /^tsvs demo: Unknown option '--bogus'\nTry 'tsvs demo --help'\.\n$/);
  const unknown = await run([TSVS, 'frobnicate']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.err, /^tsvs: unknown command 'frobnicate'/);
});

test('the committed man pages and completions are what scripts/man.mjs writes today', () => {
  for (const [file, text] of Object.entries(generatedFiles(VERSION)))
    assert.equal(
      readFileSync(join(ROOT, file), 'utf8'),
      text,
      `${file} is out of date: run npm run man`,
    );
  // groff-base comes with man-db on Debian; without it, only the comparison above
  if (spawnSync('groff', ['--version']).status !== 0) return;
  for (const page of ['man/tsvs.8', 'man/tsvsadm.8']) {
    const r = spawnSync('groff', ['-man', '-ww', '-z', join(ROOT, page)], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.equal(r.stderr, '', `groff on ${page}`);
    const text = spawnSync('groff', ['-man', '-Tutf8', join(ROOT, page)], { encoding: 'utf8' });
    assert.match(text.stdout, /NAME/);
  }
  // plain text: no bold or underline by overstriking
  const man = spawnSync('groff', ['-man', '-Tascii', '-P-cbu', join(ROOT, 'man/tsvs.8')], {
    encoding: 'utf8',
  }).stdout;
  for (const c of COMMANDS)
    for (const o of c.options)
      assert.ok(man.includes(`--${o.long}`), `tsvs(8): ${c.name} --${o.long}`);
});

/** COMPREPLY of bash completing `line` (the cursor at its end) with both files loaded. */
function complete(line: string): Promise<string[]> {
  const script = `
source ${JSON.stringify(join(ROOT, 'completion/tsvs'))}
source ${JSON.stringify(join(ROOT, 'completion/tsvsadm'))}
COMP_LINE=${JSON.stringify(line)}
read -ra COMP_WORDS <<< "$COMP_LINE"
[[ $COMP_LINE == *' ' ]] && COMP_WORDS+=('')
COMP_CWORD=$((\${#COMP_WORDS[@]} - 1))
fn=$(complete -p "\${COMP_WORDS[0]##*/}" | sed -E 's/.*-F ([^ ]+).*/\\1/')
"$fn"
printf '%s\\n' "\${COMPREPLY[@]}"
`;
  // not spawnSync: tsvsadm, run by the completion, talks to the server in this process
  return new Promise((resolve, reject) => {
    const p = spawn('bash', ['--norc', '--noprofile', '-c', script], {
      cwd: dir,
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, TSVS_CONTROL: sock },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.on('error', reject);
    p.on('close', (status) => {
      if (status !== 0) reject(new Error(`bash: ${status}: ${err}`));
      else resolve(out.split('\n').filter(Boolean).sort());
    });
  });
}

test('bash completion of tsvs: commands, options, option arguments, operands', async () => {
  assert.deepEqual(await complete('tsvs d'), ['daemon', 'decap', 'demo']);
  assert.deepEqual(await complete('tsvs --v'), ['--version']);
  assert.deepEqual(await complete('tsvs daemon --me'), ['--metrics']);
  assert.deepEqual(await complete('tsvs daemon --no-'), [
    '--no-fastpath',
    '--no-journal',
    '--no-state',
    '--no-steer',
  ]);
  assert.deepEqual(await complete('tsvs proc ip_vs_c'), ['ip_vs_conn', 'ip_vs_conn_sync']);
  assert.deepEqual(await complete('tsvs sysctl net.ipv4.vs.sloppy'), [
    'net.ipv4.vs.sloppy_sctp',
    'net.ipv4.vs.sloppy_tcp',
  ]);
  // a file for --config, and for the capture after it (the option's argument skipped)
  writeFileSync(join(dir, 'rules.conf'), '');
  writeFileSync(join(dir, 'in.pcap'), '');
  assert.deepEqual(await complete('tsvs replay --config ru'), ['rules.conf']);
  assert.deepEqual(await complete('tsvs trace -c rules.conf in'), ['in.pcap']);
  assert.deepEqual(await complete('tsvs demo --requests '), []);
});

test("bash completion of tsvsadm: ipvsadm's options, schedulers, the daemon's services", async () => {
  assert.deepEqual(await complete('tsvsadm --tcp'), ['--tcp-service']);
  assert.deepEqual(await complete('tsvsadm -A -t 10.0.0.1:80 -s w'), ['wlc', 'wrr']);
  assert.deepEqual(await complete('tsvsadm --start-daemon '), ['backup', 'master']);
  assert.deepEqual(await complete('tsvsadm -a -r 1.2.3.4 --tun-type g'), ['gre', 'gue']);
  assert.ok((await complete('tsvsadm --ver')).includes('--version'));
  // the services and real servers of the running daemon, as tsvsadm -S -n lists them
  assert.deepEqual(await complete('tsvsadm -a -t '), ['10.1.0.1:80']);
  assert.deepEqual(await complete('tsvsadm -D -u 10'), ['10.1.0.2:53']);
  assert.deepEqual(await complete('tsvsadm -d -t 10.1.0.1:80 -r '), ['10.2.0.7:8080']);
});
