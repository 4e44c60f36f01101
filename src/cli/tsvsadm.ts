#!/usr/bin/env node
/**
 * `tsvsadm`: ipvsadm-compatible administration of the tsvs daemon (./tsvsadm-run.ts).
 *
 * Scripts call it hundreds of times, so its start-up matters (docs/cli.md): it runs
 * the one-file build dist/bundle/tsvsadm.cjs (scripts/bundle.mjs) — one file to read
 * and compile instead of some twenty ES modules to resolve and link. The bundle
 * itself falls back to the modules when it is older than the last compile; without
 * a bundle, this file loads them. Required, not imported: an ES import of a CommonJS
 * file parses it for its exports first, which costs more than all the rest.
 */
import { createRequire } from 'node:module';

try {
  createRequire(import.meta.url)('../../bundle/tsvsadm.cjs');
} catch (e) {
  const err = e as NodeJS.ErrnoException;
  if (err.code !== 'MODULE_NOT_FOUND' || !err.message.includes('bundle/tsvsadm.cjs')) throw e;
  await import('./tsvsadm-run.js');
}
