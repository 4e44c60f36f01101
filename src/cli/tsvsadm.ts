#!/usr/bin/env node
/**
 * `tsvsadm`: ipvsadm-compatible administration of the tsvs daemon over its control
 * socket ($TSVS_CONTROL, default /run/tsvs/control.sock). Installed as `ipvsadm`
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

process.exitCode = await runIpvsadm(process.argv.slice(2), {
  argv0: programName(),
  resolver: systemResolver(),
  connect: () => ControlClient.connect(controlPath()),
  io: {
    out: (s) => void process.stdout.write(s),
    err: (s) => void process.stderr.write(s),
    readStdin,
  },
});
