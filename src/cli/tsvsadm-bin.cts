#!/usr/bin/env node
/**
 * The installed `tsvsadm` (package.json `bin`): a CommonJS launcher of the one-file
 * build dist/bundle/tsvsadm.cjs that `prepare` makes (scripts/bundle.mjs). CommonJS so
 * that Node starts it without its ES module loader, and it compiles the bundle with a
 * V8 code cache (dist/bundle/tsvsadm.cjs.v8cache, written by the first run that can,
 * again when V8 rejects it: another Node, a changed bundle), which saves compiling the
 * bundle's functions on every call (docs/cli.md, "Start-up time of tsvsadm").
 *
 * Without a bundle, or with one older than the last `tsc` run (dist/.tsbuildinfo), or
 * with TSVS_NO_BUNDLE=1, it runs the ES modules, as src/cli/tsvsadm.ts does.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

const dist = join(__dirname, '..', '..');
const bundle = join(dist, 'bundle', 'tsvsadm.cjs');

let bundleMtime = 0;

/** The bundle's text, or null when the modules must run instead. */
function bundleText(): string | null {
  if (process.env.TSVS_NO_BUNDLE === '1') return null;
  const b = statSync(bundle, { throwIfNoEntry: false });
  if (b === undefined) return null;
  const t = statSync(join(dist, '.tsbuildinfo'), { throwIfNoEntry: false });
  if (t !== undefined && t.mtimeMs > b.mtimeMs) return null;
  bundleMtime = b.mtimeMs;
  return readFileSync(bundle, 'utf8');
}

/**
 * The code cache, if it was made from this bundle: V8 checks the Node version and
 * flags but of the source only its length, so a cache older than the bundle is not
 * used (scripts/bundle.mjs also removes it).
 */
function cacheData(file: string): Buffer | undefined {
  const c = statSync(file, { throwIfNoEntry: false });
  if (c === undefined || c.mtimeMs < bundleMtime) return undefined;
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

const text = bundleText();
if (text === null) {
  import('./tsvsadm-run.js').catch((e: unknown) => {
    process.stderr.write(`${String((e as Error)?.stack ?? e)}\n`);
    process.exitCode = 2;
  });
} else {
  const cacheFile = `${bundle}.v8cache`;
  const cachedData = cacheData(cacheFile);
  // the CommonJS wrapper, as Node's loader would put around the file
  const script = new Script(
    `(function (exports, require, module, __filename, __dirname) {${text.replace(/^#!.*/, '')}\n})`,
    { filename: bundle, cachedData },
  );
  if (cachedData === undefined || script.cachedDataRejected === true)
    // after the command ran: the cache then holds the functions it compiled
    process.once('exit', () => {
      try {
        writeFileSync(cacheFile, script.createCachedData());
      } catch {
        /* not ours to write (an installation read-only to this user): compile each time */
      }
    });
  const mod = { exports: {} };
  (
    script.runInThisContext() as (
      exports: object,
      req: NodeJS.Require,
      module: object,
      filename: string,
      dirname: string,
    ) => void
  ).call(mod.exports, mod.exports, require, mod, bundle, dirname(bundle));
}
