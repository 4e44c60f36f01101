/**
 * Building and loading the fast path's BPF object (bpf/fastpath.c) into a BPF file
 * system of its own, opening its flow map and mapping its slots; fastpath.ts fills
 * and reads them.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FP_SLOT_BYTES, FP_SLOTS } from './fastpath-map.js';
import { bpf } from './native-bpf.js';

/** The BPF C source, relative to this module (dist/src/dataplane/fastpath.js). */
export const FASTPATH_SOURCE = fileURLToPath(new URL('../../../bpf/fastpath.c', import.meta.url));

/** The kernel's include directory for the multiarch asm/ headers clang needs. */
function multiarchInclude(): string {
  const arch =
    process.arch === 'arm64' ? 'aarch64' : process.arch === 'x64' ? 'x86_64' : process.arch;
  return `/usr/include/${arch}-linux-gnu`;
}

/**
 * The compiled program: `TSVS_BPF_OBJ` when set, else bpf/fastpath.c compiled with
 * clang into a cache directory (`TSVS_BPF_CACHE`, default /var/cache/tsvs) under a
 * name derived from the source, so a rebuilt source is compiled again. Throws with
 * the reason (no clang, compile error).
 */
export function fastpathObject(): string {
  const given = process.env.TSVS_BPF_OBJ;
  if (given) {
    if (!existsSync(given)) throw new Error(`TSVS_BPF_OBJ ${given} does not exist`);
    return given;
  }
  const src = readFileSync(FASTPATH_SOURCE);
  const args = ['-O2', '-g', '-target', 'bpf', `-I${multiarchInclude()}`, '-c'];
  const h = createHash('sha256').update(src).update(args.join(' ')).digest('hex').slice(0, 16);
  const dir = process.env.TSVS_BPF_CACHE ?? '/var/cache/tsvs';
  const obj = `${dir}/fastpath-${h}.o`;
  if (existsSync(obj)) return obj;
  mkdirSync(dir, { recursive: true });
  const tmp = `${obj}.${process.pid}.tmp`;
  try {
    execFileSync('clang', [...args, FASTPATH_SOURCE, '-o', tmp], { stdio: 'pipe' });
    execFileSync('mv', ['-f', tmp, obj]);
  } catch (e) {
    rmSync(tmp, { force: true });
    const err = e as { code?: string; stderr?: Buffer; message: string };
    if (err.code === 'ENOENT')
      throw new Error('clang not found (Debian: clang llvm libbpf-dev) to build bpf/fastpath.c');
    throw new Error(
      `clang bpf/fastpath.c: ${(err.stderr?.toString() || err.message).trim().split('\n')[0]}`,
    );
  }
  return obj;
}

/** Is `dir` a mount point of a BPF file system (in this process's mount namespace)? */
export function bpffsMounted(dir: string): boolean {
  try {
    return readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .some((l) => {
        const f = l.split(' ');
        return f[1] === dir && f[2] === 'bpf';
      });
  } catch {
    return false;
  }
}

/** What {@link loadFastpath} opened: the flow map, the slots map and their mapping. */
export interface LoadedFastpath {
  fd: number;
  sfd: number;
  /** The slots array as mapped (32-bit words). */
  slots: Uint32Array<ArrayBuffer>;
}

/**
 * Builds (when needed) and loads the program into a BPF file system mounted at `dir`
 * (a fresh one: what an earlier run pinned is dropped, its filters replaced by the
 * steering with the new program's), pins it at `progPath`, opens the flow map and
 * maps the slots. Rejects with the reason. The commands run as child processes, the
 * event loop turning meanwhile.
 */
export async function loadFastpath(dir: string, progPath: string): Promise<LoadedFastpath> {
  const run = promisify(execFile);
  const obj = fastpathObject();
  mkdirSync(dir, { recursive: true });
  while (bpffsMounted(dir)) await run('umount', [dir]);
  await run('mount', ['-t', 'bpf', 'bpf', dir]);
  try {
    await run('bpftool', ['prog', 'load', obj, progPath, 'type', 'classifier', 'pinmaps', dir]);
  } catch (e) {
    const err = e as { code?: string; stderr?: string; message: string };
    if (err.code === 'ENOENT') throw new Error('bpftool not found (Debian: bpftool)');
    const lines = (err.stderr || err.message).trim().split('\n');
    throw new Error(`the kernel refused the program: ${lines[lines.length - 1]}`);
  }
  const nb = bpf();
  const fd = nb.bpfObjGet(`${dir}/tsvs_flows`);
  let sfd = -1;
  try {
    sfd = nb.bpfObjGet(`${dir}/tsvs_slots`);
    return { fd, sfd, slots: new Uint32Array(nb.bpfMapMmap(sfd, FP_SLOT_BYTES * FP_SLOTS)) };
  } catch (e) {
    nb.close(fd);
    if (sfd >= 0) nb.close(sfd);
    throw e;
  }
}

/** Unmounts and removes the BPF file system at `dir` (best effort). */
export function unloadFastpath(dir: string): void {
  try {
    while (bpffsMounted(dir)) execFileSync('umount', [dir], { stdio: 'pipe' });
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  } catch {
    /* left for the next start */
  }
}
