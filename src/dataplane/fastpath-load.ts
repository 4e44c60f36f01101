/**
 * Building and finding the fast path's BPF object (bpf/fastpath.c) and the BPF file
 * system it is pinned in; fastpath.ts loads it.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

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
