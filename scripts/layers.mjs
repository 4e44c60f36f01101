#!/usr/bin/env node
/* global console, process */
// The import graph of src/: prints every import cycle, every arrow from a lower
// layer to a higher one (or sideways between rooms that must not know each other),
// every `node:` import in src/engine and src/wire, and every file over 600 lines
// that does not say in its header why it needs to be. Exit 1 when any is found.
//
//   node scripts/layers.mjs [--quiet]
//
// Layers, low to high (DESIGN.md): wire ← pcap, sys ← engine ← dataplane, control ←
// sync, health, metrics, replay ← daemon ← cli. A room imports itself and lower
// ranks only; rooms of one rank do not import each other.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

const RANK = {
  wire: 0,
  pcap: 1,
  sys: 1,
  engine: 2,
  dataplane: 3,
  control: 3,
  sync: 4,
  health: 4,
  metrics: 4,
  web: 4,
  replay: 4,
  daemon: 5,
  cli: 6,
  '.': 7, // src/index.ts: the package's entry, may re-export anything
};
/** Rooms that must not import node: modules (pure, deterministic). */
const PURE = new Set(['wire', 'engine']);
const MAX_LINES = 600;

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

function roomOf(file) {
  const rel = relative(src, file);
  const i = rel.indexOf('/');
  return i < 0 ? '.' : rel.slice(0, i);
}

const files = walk(src);
const problems = [];
const graph = new Map();
const IMPORT_RE =
  /(?:^|\s)(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

for (const f of files) {
  const text = readFileSync(f, 'utf8');
  const rel = relative(root, f);
  const room = roomOf(f);
  const deps = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2];
    if (spec.startsWith('node:')) {
      if (PURE.has(room)) problems.push(`${rel}: imports ${spec} (src/${room} must not use node:)`);
      continue;
    }
    if (!spec.startsWith('.')) continue;
    const target = resolve(dirname(f), spec.replace(/\.js$/, '.ts'));
    deps.push(target);
    const troom = roomOf(target);
    if (troom === room) continue;
    if (!(room in RANK) || !(troom in RANK)) {
      problems.push(
        `${rel}: room ${room in RANK ? troom : room} has no layer (scripts/layers.mjs)`,
      );
      continue;
    }
    if (RANK[troom] >= RANK[room])
      problems.push(
        `${rel}: ${room} imports ${relative(root, target)} (${troom} is not below ${room})`,
      );
  }
  graph.set(f, deps);
  const lines = text.split('\n').length;
  if (lines > MAX_LINES && !/^\s*\*?\s*(?:Over|Longer than) 600 lines/im.test(text.slice(0, 3000)))
    problems.push(`${rel}: ${lines} lines (over ${MAX_LINES}; say why in the header or split it)`);
}

// cycles: depth-first search, reporting each cycle once by its smallest member
const state = new Map();
const stack = [];
const seen = new Set();
function dfs(f) {
  state.set(f, 1);
  stack.push(f);
  for (const d of graph.get(f) ?? []) {
    if (!graph.has(d)) continue;
    const s = state.get(d);
    if (s === 1) {
      const cyc = stack.slice(stack.indexOf(d)).map((x) => relative(root, x));
      const key = [...cyc].sort().join(' ');
      if (!seen.has(key)) {
        seen.add(key);
        problems.push(`cycle: ${[...cyc, cyc[0]].join(' → ')}`);
      }
    } else if (s === undefined) dfs(d);
  }
  stack.pop();
  state.set(f, 2);
}
for (const f of files) if (!state.has(f)) dfs(f);

if (problems.length > 0) {
  for (const p of problems) console.log(p);
  console.log(`${problems.length} problem(s) in the import graph of src/`);
  process.exit(1);
}
if (!process.argv.includes('--quiet'))
  console.log(`src/: ${files.length} files, no cycles, no upward imports`);
