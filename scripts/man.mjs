#!/usr/bin/env node
/* global process */
/**
 * Writes the man pages man/tsvs.8 and man/tsvsadm.8 and the bash completions
 * completion/tsvs and completion/tsvsadm from the same sources as `--help`
 * (src/cli/help-commands.ts, src/control/ipvsadm/help.ts) through
 * src/cli/help-render.ts. Run after tsc (`npm run man`); test/cli/man.test.ts fails
 * while a committed file differs from what this writes. `--check` only compares.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const render = await import(join(root, 'dist/src/cli/help-render.js'));
const { buildInfo } = await import(join(root, 'dist/src/metrics/build.js'));

const check = process.argv.includes('--check');
let stale = 0;
for (const [file, text] of Object.entries(render.generatedFiles(buildInfo().version))) {
  const path = join(root, file);
  let old = null;
  try {
    old = readFileSync(path, 'utf8');
  } catch {
    // not there yet
  }
  if (old === text) continue;
  if (check) {
    process.stderr.write(`${file} is out of date: run npm run man\n`);
    stale++;
  } else {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    process.stdout.write(`wrote ${file}\n`);
  }
}
process.exitCode = stale ? 1 : 0;
