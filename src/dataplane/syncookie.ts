/**
 * SYN cookies in the kernel (issue 19, docs/synproxy.md "Cookies in the kernel"): a tc
 * BPF program (bpf/syncookie.c) in front of the steering answers the SYNs of services
 * under the NAT SYN proxy with the SYN-ACK the engine would send, cookie and options
 * encoded exactly as the engine's (src/engine/synproxy-cookie.ts), so a flood's SYNs
 * never reach user space. The client's ACK goes to the engine as before and is
 * checked there: the engine's state logic does not change.
 *
 * This module builds and loads the program, keeps its maps in step with the engine
 * (the cookie keys, the engine's clock as an offset from CLOCK_MONOTONIC, the MTU,
 * which services are answered) and folds the program's counters into the SYN proxy's
 * (`cookies-sent` counts both paths; `cookies-sent-kernel` the kernel's part). When
 * the kernel refuses the program the SYNs take today's path (the SYN-only TUN device
 * to the engine); the reason is logged and shown in the metrics.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bpffsMounted } from './fastpath-load.js';
import { bpf } from './native-bpf.js';
import type { Engine } from '../engine/engine.js';
import { IPPROTO_TCP } from '../engine/constants.js';
import { SpCounter } from '../engine/synproxy-state.js';
import { synproxyCookieInKernel } from '../engine/synproxy.js';
import {
  encodeConf,
  encodeSvcKey,
  SC_CONF_BYTES,
  SC_ERRORS,
  SC_KEY_BYTES,
  SC_NCOUNT,
  SC_SENT,
} from './syncookie-map.js';

/** The BPF C source, relative to this module (dist/src/dataplane/syncookie.js). */
export const SYNCOOKIE_SOURCE = fileURLToPath(new URL('../../../bpf/syncookie.c', import.meta.url));

/**
 * The program's clock is set this far behind the engine's (ms): the kernel's minute
 * counter must never be ahead of the engine's, which would refuse the cookie (one
 * behind is accepted), and CLOCK_MONOTONIC ms vs Date.now() round by up to 1 ms.
 */
const CLOCK_LAG_MS = 2;
/** Maps refreshed and counters folded at least this often (ms). */
const TICK_MS = 1000;

/** The kernel's include directory for the multiarch asm/ headers clang needs. */
function multiarchInclude(): string {
  const arch =
    process.arch === 'arm64' ? 'aarch64' : process.arch === 'x64' ? 'x86_64' : process.arch;
  return `/usr/include/${arch}-linux-gnu`;
}

/**
 * The compiled program: `TSVS_SYNCOOKIE_OBJ` when set, else bpf/syncookie.c compiled
 * with clang into the cache directory (`TSVS_BPF_CACHE`, default /var/cache/tsvs)
 * under a name derived from the source. Throws with the reason.
 */
export function syncookieObject(): string {
  const given = process.env.TSVS_SYNCOOKIE_OBJ;
  if (given) {
    if (!existsSync(given)) throw new Error(`TSVS_SYNCOOKIE_OBJ ${given} does not exist`);
    return given;
  }
  const src = readFileSync(SYNCOOKIE_SOURCE);
  const args = ['-O2', '-g', '-target', 'bpf', `-I${multiarchInclude()}`, '-c'];
  const h = createHash('sha256').update(src).update(args.join(' ')).digest('hex').slice(0, 16);
  const dir = process.env.TSVS_BPF_CACHE ?? '/var/cache/tsvs';
  const obj = `${dir}/syncookie-${h}.o`;
  if (existsSync(obj)) return obj;
  mkdirSync(dir, { recursive: true });
  const tmp = `${obj}.${process.pid}.tmp`;
  try {
    execFileSync('clang', [...args, SYNCOOKIE_SOURCE, '-o', tmp], { stdio: 'pipe' });
    execFileSync('mv', ['-f', tmp, obj]);
  } catch (e) {
    rmSync(tmp, { force: true });
    const err = e as { code?: string; stderr?: Buffer; message: string };
    if (err.code === 'ENOENT')
      throw new Error('clang not found (Debian: clang llvm libbpf-dev) to build bpf/syncookie.c');
    throw new Error(
      `clang bpf/syncookie.c: ${(err.stderr?.toString() || err.message).trim().split('\n')[0]}`,
    );
  }
  return obj;
}

/**
 * The reason in bpftool's output: the verifier's complaint (the last line of its log
 * before the instruction count), else libbpf's "load failed" line with its errno.
 */
export function refusal(out: string): string {
  const lines = out.split('\n').map((l) => l.trim());
  const end = lines.indexOf('-- END PROG LOAD LOG --');
  if (end > 0) {
    for (let i = end - 1; i >= 0 && !lines[i].includes('BEGIN PROG LOAD LOG'); i--) {
      const l = lines[i];
      if (l === '' || /^processed \d+ insns|^\d+: |^;/.test(l)) continue;
      return l;
    }
  }
  const failed = lines.find((l) => /load failed: /.test(l));
  if (failed) return failed.replace(/^libbpf: (prog '[^']*': )?/, '');
  return lines.filter((l) => l !== '' && !/^(Warning|If it used)/.test(l)).pop() ?? out.trim();
}

/** Number of possible CPUs (the per-CPU map's value count). */
function possibleCpus(): number {
  try {
    const s = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
    let n = 0;
    for (const r of s.split(',')) {
      const [a, b] = r.split('-').map(Number);
      n += b === undefined ? 1 : b - a + 1;
    }
    return n > 0 ? n : 1;
  } catch {
    return 1;
  }
}

/** The engine's clock (Date.now(), ms) less CLOCK_MONOTONIC in ms (uv_hrtime's clock). */
export function monotonicOffsetMs(): number {
  return Date.now() - Number(process.hrtime.bigint() / 1_000_000n);
}

export interface SynCookiesOptions {
  engine: Engine;
  /** Instance and namespace, naming the BPF file system mount. */
  name: string;
  netns: string | undefined;
  log: (line: string) => void;
}

/** What the kernel path does, for metrics and `tsvs` info. */
export interface SynCookiesState {
  /** The program is loaded (the filter is attached while a service is answered). */
  loaded: boolean;
  /** Services whose SYNs the kernel answers now. */
  services: number;
  /** Why the kernel path is off ('' while it is loaded, or never wanted). */
  reason: string;
}

/** Loads the program, keeps its maps in step with the engine, folds its counters. */
export class SynCookies {
  /** The program is loaded and its maps open. */
  on = false;
  /** Why it is off (logged once), '' when on or not wanted. */
  reason = '';
  /** Services answered in the kernel at the last {@link sync}. */
  services = 0;
  readonly dir: string;
  private readonly engine: Engine;
  private readonly log: (line: string) => void;
  private confFd = -1;
  private svcFd = -1;
  private countFd = -1;
  private readonly ncpu = possibleCpus();
  private readonly conf = new Uint8Array(SC_CONF_BYTES);
  private readonly keys = new Int32Array(4);
  private readonly zero = new Uint8Array(4);
  private readonly cvals: Uint8Array;
  private readonly cfound = new Uint8Array(SC_NCOUNT);
  private readonly ckeys = new Uint8Array(4 * SC_NCOUNT);
  /** Kernel counts already folded: sent, errors. */
  private readonly folded = new Float64Array(SC_NCOUNT);
  /** Service keys written, and their values (hex of the key → value). */
  private written = new Map<string, number>();
  private lastTick = 0;
  private lastOn = false;

  constructor(o: SynCookiesOptions) {
    this.engine = o.engine;
    this.log = o.log;
    const tag = `${o.netns ?? 'host'}-${o.name}`.replace(/[^A-Za-z0-9_.-]/g, '_');
    this.dir = `/run/tsvs/bpfsc-${tag}`;
    this.cvals = new Uint8Array(8 * this.ncpu * SC_NCOUNT);
    for (let i = 0; i < SC_NCOUNT; i++) new DataView(this.ckeys.buffer).setUint32(i * 4, i, true);
  }

  /** Path of the pinned program, for `tc filter add … bpf object-pinned`. */
  get progPath(): string {
    return `${this.dir}/prog`;
  }

  /** The program should be attached: loaded and answering at least one service. */
  get wanted(): boolean {
    return this.on && this.services > 0;
  }

  get state(): SynCookiesState {
    return { loaded: this.on, services: this.on ? this.services : 0, reason: this.reason };
  }

  /**
   * Builds (when needed) and loads the program into a BPF file system mounted for this
   * instance, opens its maps and fills them. On failure: one log line, the reason kept
   * for the metrics, and the SYNs take the engine's path. The commands run as child
   * processes, the event loop turning meanwhile (a start reads what the capture held).
   */
  async load(): Promise<boolean> {
    this.unload();
    const run = promisify(execFile);
    try {
      const obj = syncookieObject();
      mkdirSync(this.dir, { recursive: true });
      while (bpffsMounted(this.dir)) await run('umount', [this.dir]);
      await run('mount', ['-t', 'bpf', 'bpf', this.dir]);
      try {
        await run('bpftool', [
          'prog',
          'load',
          obj,
          this.progPath,
          'type',
          'classifier',
          'pinmaps',
          this.dir,
        ]);
      } catch (e) {
        const err = e as { code?: string; stderr?: string; message: string };
        if (err.code === 'ENOENT') throw new Error('bpftool not found (Debian: bpftool)');
        throw new Error(`the kernel refused the program: ${refusal(err.stderr || err.message)}`);
      }
      const b = bpf();
      this.confFd = b.bpfObjGet(`${this.dir}/tsvs_sc_conf`);
      this.svcFd = b.bpfObjGet(`${this.dir}/tsvs_sc_svcs`);
      this.countFd = b.bpfObjGet(`${this.dir}/tsvs_sc_counts`);
    } catch (e) {
      this.off(`SYN cookies in the kernel off (SYNs go to the daemon): ${(e as Error).message}`);
      return false;
    }
    this.on = true;
    this.reason = '';
    this.folded.fill(0);
    this.written.clear();
    this.sync();
    return true;
  }

  /** Turns the kernel path off with `why` (logged, kept for the metrics). */
  off(why: string): void {
    this.log(why);
    this.unload();
    this.reason = why.replace(/^[^:]*: /, '');
  }

  /** Folds the last counts, closes the maps, unmounts the file system. */
  unload(): void {
    if (this.on) {
      try {
        this.fold();
        // the program may stay attached until the next start replaces the filters: it
        // answers nothing meanwhile (a new daemon has new keys)
        this.writeConf(false);
      } catch {
        /* the maps are going away */
      }
    }
    this.on = false;
    this.services = 0;
    const b = this.confFd >= 0 || this.svcFd >= 0 || this.countFd >= 0 ? bpf() : null;
    for (const fd of [this.confFd, this.svcFd, this.countFd]) if (fd >= 0) b?.close(fd);
    this.confFd = this.svcFd = this.countFd = -1;
    try {
      while (bpffsMounted(this.dir)) execFileSync('umount', [this.dir], { stdio: 'pipe' });
      if (existsSync(this.dir)) rmSync(this.dir, { recursive: true, force: true });
    } catch {
      /* left for the next start */
    }
  }

  /**
   * Writes the configuration (keys, clock, MTU, the switch) and the services into the
   * maps; returns whether the set of answered services changed from none to some or
   * back (the filter is then attached or removed by the steering).
   */
  sync(): boolean {
    if (!this.on) return false;
    const e = this.engine;
    const ipvs = e.ipvs;
    const b = bpf();
    // fwmark services are matched after tc ingress (marks set by the operator's rules)
    // and before the VIP's: while one exists, every SYN goes to the engine; so with
    // backup_only on a sync backup (the engine forwards nothing)
    const services = e.services;
    const fwmark = services.some((s) => s.fwmark !== 0);
    const passive = ipvs.settings.backup_only !== 0 && ipvs.syncBackup;
    const want = new Map<string, number>();
    const k = new Uint8Array(SC_KEY_BYTES);
    const keyOf = new Map<string, Uint8Array>();
    let n = 0;
    if (!fwmark && !passive)
      for (const s of services) {
        if (s.protocol !== IPPROTO_TCP) continue;
        encodeSvcKey(k, s.af, s.addr, s.port, IPPROTO_TCP);
        const hex = Buffer.from(k).toString('hex');
        const v = synproxyCookieInKernel(ipvs, s) ? 1 : 0;
        n += v;
        want.set(hex, v);
        keyOf.set(hex, Uint8Array.from(k));
      }
    const val = new Uint8Array(4);
    for (const [hex, v] of want) {
      if (this.written.get(hex) === v) continue;
      new DataView(val.buffer).setUint32(0, v, true);
      b.bpfMapUpdate(this.svcFd, keyOf.get(hex)!, val);
    }
    for (const hex of this.written.keys())
      if (!want.has(hex)) b.bpfMapDelete(this.svcFd, Uint8Array.from(Buffer.from(hex, 'hex')));
    this.written = want;
    this.writeConf(n > 0);
    const before = this.services > 0;
    this.services = n;
    return before !== n > 0;
  }

  private writeConf(on: boolean): void {
    this.engine.ipvs.sp.keys.copyTo(this.keys);
    encodeConf(this.conf, this.keys, monotonicOffsetMs() - CLOCK_LAG_MS, this.engine.ipvs.mtu, on);
    bpf().bpfMapUpdate(this.confFd, this.zero, this.conf);
    this.lastOn = on;
  }

  /**
   * Every second (the director's tick): the clock offset again (the wall clock may have
   * been stepped), the services (settings such as `synproxy` or `backup_only` may have
   * changed), and the counters folded. Returns whether the filter should change.
   */
  tick(now: number): boolean {
    if (!this.on || now - this.lastTick < TICK_MS) return false;
    this.lastTick = now;
    let changed = false;
    try {
      changed = this.sync();
      if (!changed && this.lastOn !== this.services > 0) this.writeConf(this.services > 0);
      this.fold();
    } catch (e) {
      this.off(`SYN cookies in the kernel off (SYNs go to the daemon): ${(e as Error).message}`);
      return true;
    }
    return changed;
  }

  /** Adds the program's new counts to the SYN proxy's counters. */
  fold(): void {
    if (this.countFd < 0) return;
    const vs = 8 * this.ncpu;
    bpf().bpfMapLookup(this.countFd, this.ckeys, 4, this.cvals, vs, SC_NCOUNT, this.cfound, 0);
    const dv = new DataView(this.cvals.buffer);
    const c = this.engine.ipvs.sp.counters;
    for (let i = 0; i < SC_NCOUNT; i++) {
      if (!this.cfound[i]) continue;
      let sum = 0;
      for (let cpu = 0; cpu < this.ncpu; cpu++)
        sum += Number(dv.getBigUint64(i * vs + cpu * 8, true));
      const d = sum - this.folded[i];
      if (d <= 0) continue;
      this.folded[i] = sum;
      if (i === SC_SENT) {
        c[SpCounter.COOKIES_SENT] += d;
        c[SpCounter.COOKIES_SENT_KERNEL] += d;
      } else if (i === SC_ERRORS) {
        c[SpCounter.KERNEL_ERRORS] += d;
      }
    }
  }
}
