/**
 * The work of `tsvsadm` (./tsvsadm.ts is the entry that loads it, scripts/bundle.mjs
 * makes it one file): ipvsadm-compatible administration of the tsvs daemon over its
 * control socket ($TSVS_CONTROL, default /run/tsvs/control.sock). Installed as `ipvsadm`
 * (scripts/install-ipvsadm-symlink.sh) it behaves as ipvsadm 1.31 does.
 */
import { accessSync, constants } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { ControlClient, controlPath } from '../control/client.js';
import { runIpvsadm } from '../control/ipvsadm/run.js';
import { systemResolver } from '../control/ipvsadm/resolve.js';

/**
 * argv[0] as the user typed it, as far as it can be recovered: the kernel hands a
 * script interpreter the full path, so a command found through PATH is shown by its
 * bare name again when PATH leads to this very file.
 */
function programName(): string {
  const a = process.argv[1] ?? 'ipvsadm';
  if (!isAbsolute(a)) return a;
  const base = basename(a);
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir === '') continue;
    const cand = join(dir, base);
    try {
      accessSync(cand, constants.X_OK);
    } catch {
      continue;
    }
    return cand === a ? base : a;
  }
  return a;
}

function readStdin(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks)));
    process.stdin.on('error', reject);
  });
}

// a reader that goes away (tsvsadm -L | head) ends the program quietly, as SIGPIPE
// ends ipvsadm
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  throw e;
});

/**
 * `tsvsadm --version` names tsvs's own version; under the name ipvsadm (and with -v
 * under any name) ipvsadm's version line stays, for scripts that parse it.
 */
function ownVersion(args: string[], argv0: string): boolean {
  return args.length === 1 && args[0] === '--version' && basename(argv0) !== 'ipvsadm';
}

function main(): Promise<number> {
  const args = process.argv.slice(2);
  const argv0 = programName();
  if (ownVersion(args, argv0))
    return import('../metrics/build.js').then(({ buildInfo }) => {
      process.stdout.write(`tsvsadm (tsvs) ${buildInfo().version}\n`);
      return 0;
    });
  return runIpvsadm(args, {
    argv0,
    resolver: systemResolver(),
    connect: () => ControlClient.connect(controlPath()),
    io: {
      out: (s) => void process.stdout.write(s),
      err: (s) => void process.stderr.write(s),
      readStdin,
    },
  });
}

// no top-level await: the same file also runs as one CommonJS bundle (scripts/bundle.mjs)
main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`tsvsadm: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 2;
  },
);
