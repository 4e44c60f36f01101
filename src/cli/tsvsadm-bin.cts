#!/usr/bin/env node
/**
 * The installed `tsvsadm` (package.json `bin`): a CommonJS launcher of the one-file
 * build dist/bundle/tsvsadm.cjs that `prepare` makes (scripts/bundle.mjs). CommonJS so
 * that Node starts it without its ES module loader (docs/cli.md, "Start-up time of
 * tsvsadm"). The bundle runs the compiled ES modules itself when it is older than the
 * last `tsc` run or TSVS_NO_BUNDLE=1; without a bundle (a tree compiled by `tsc` only)
 * this launcher runs them, as src/cli/tsvsadm.ts does.
 */
try {
  // a plain require: the bundle may be absent, which an import statement cannot catch
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('../../bundle/tsvsadm.cjs');
} catch (e) {
  const err = e as NodeJS.ErrnoException;
  if (err.code !== 'MODULE_NOT_FOUND' || !err.message.includes('bundle/tsvsadm.cjs')) throw e;
  import('./tsvsadm-run.js').catch((e2: unknown) => {
    process.stderr.write(`${String((e2 as Error)?.stack ?? e2)}\n`);
    process.exitCode = 2;
  });
}
