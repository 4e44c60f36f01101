/**
 * The Containerfile, as far as this machine lets a test check it in seconds (a full
 * build needs the node:20 base image and takes minutes; docs/cli.md says how it was
 * built here): every instruction is one buildah knows, everything it copies from the
 * source tree exists, and buildah itself takes the file and its BASE argument up to
 * the first RUN (with an empty base, which needs no registry).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FILE = join(ROOT, 'Containerfile');

/** The instructions, continuation lines joined, comments dropped. */
function instructions(text: string): { op: string; args: string }[] {
  const out: { op: string; args: string }[] = [];
  let cur = '';
  for (const line of text.split('\n')) {
    if (cur === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) continue;
    cur += line.replace(/\\$/, '');
    if (line.endsWith('\\')) continue;
    const m = /^\s*(\S+)\s*(.*)$/.exec(cur);
    assert.ok(m, cur);
    out.push({ op: m[1].toUpperCase(), args: m[2] });
    cur = '';
  }
  assert.equal(cur, '', 'a continuation line at the end');
  return out;
}

const KNOWN = new Set([
  'FROM',
  'RUN',
  'CMD',
  'LABEL',
  'EXPOSE',
  'ENV',
  'ADD',
  'COPY',
  'ENTRYPOINT',
  'VOLUME',
  'USER',
  'WORKDIR',
  'ARG',
  'ONBUILD',
  'STOPSIGNAL',
  'HEALTHCHECK',
  'SHELL',
]);

test('every instruction is known; what it copies from the tree exists; two stages on BASE', () => {
  const ins = instructions(readFileSync(FILE, 'utf8'));
  for (const i of ins) assert.ok(KNOWN.has(i.op), `unknown instruction ${i.op}`);
  const froms = ins.filter((i) => i.op === 'FROM').map((i) => i.args);
  assert.deepEqual(froms, ['${BASE} AS build', '${BASE}']);
  assert.equal(ins[0].op, 'ARG');
  assert.match(ins[0].args, /^BASE=docker\.io\/library\/node:20-bookworm-slim$/);
  for (const c of ins.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
    const words = c.args.split(/\s+/);
    for (const src of words.slice(0, -1)) assert.ok(existsSync(join(ROOT, src)), `COPY ${src}`);
  }
  // what the runtime stage takes from the build stage comes from files the build makes
  const fromBuild = ins
    .filter((i) => i.op === 'COPY' && i.args.startsWith('--from=build'))
    .flatMap((i) => i.args.split(/\s+/).slice(1, -1));
  for (const p of fromBuild)
    assert.match(
      p,
      /^\/src\/(package\.json|node_modules|build\/Release\/tsvs_native\.node|build\/bpf\/fastpath\.o|dist\/src|dist\/bundle|man\/tsvs(adm)?\.8|completion\/tsvs(adm)?)$/,
    );
  for (const p of ['man/tsvs.8', 'man/tsvsadm.8', 'completion/tsvs', 'completion/tsvsadm'])
    assert.ok(fromBuild.includes(`/src/${p}`) && existsSync(join(ROOT, p)), p);
  // the fast path's BPF object: compiled in the build stage (npm run build:bpf, with
  // the packages it needs), loaded at run time by bpftool from where TSVS_BPF_OBJ says
  const stages = readFileSync(FILE, 'utf8').split(/^FROM /m);
  const pkgs = (stage: string): string[] =>
    [...stage.matchAll(/apt-get install -y --no-install-recommends ([^\\&\n]+)/g)].flatMap((m) =>
      m[1].trim().split(/\s+/),
    );
  for (const p of ['clang', 'llvm', 'libbpf-dev']) assert.ok(pkgs(stages[1]).includes(p), p);
  assert.ok(pkgs(stages[2]).includes('bpftool'), 'bpftool at run time');
  const script = (
    JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    }
  ).scripts['build:bpf'];
  assert.match(script, /bpf\/fastpath\.c -o build\/bpf\/fastpath\.o/);
  assert.match(stages[1], /npm run build:bpf/);
  assert.ok(fromBuild.includes('/src/build/bpf/fastpath.o'));
  const env = ins.find((i) => i.op === 'ENV' && i.args.startsWith('TSVS_BPF_OBJ='));
  assert.equal(env?.args, 'TSVS_BPF_OBJ=/usr/lib/tsvs/build/bpf/fastpath.o');
  const entry = ins.find((i) => i.op === 'ENTRYPOINT');
  assert.deepEqual(JSON.parse(entry?.args ?? 'null'), ['/usr/sbin/tsvs', 'daemon']);
});

const haveBuildah = spawnSync('buildah', ['--version']).status === 0;

test(
  'buildah parses it and reaches the first RUN (empty base: no registry needed)',
  { skip: !haveBuildah && 'buildah is not installed' },
  async () => {
    const r = await new Promise<{ status: number | null; out: string }>((resolve, reject) => {
      const p = spawn(
        'buildah',
        [
          'build',
          '--isolation',
          'chroot',
          '--build-arg',
          'BASE=scratch',
          '-f',
          FILE,
          '-t',
          'localhost/tsvs-containerfile-check',
          ROOT,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      p.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
      p.on('error', reject);
      p.on('close', (status) => resolve({ status, out }));
    });
    // scratch has no shell: the first RUN cannot start, after FROM and ARG were taken
    assert.notEqual(r.status, 0);
    assert.match(r.out, /STEP 1\/\d+: FROM scratch AS build/);
    assert.match(r.out, /STEP 2\/\d+: RUN apt-get update/);
    assert.match(r.out, /\/bin\/sh: no such file or directory/);
    assert.doesNotMatch(r.out, /Unknown instruction|parse error|failed to parse/i);
  },
);
