/**
 * Persistence of the running configuration: saved after every change, restored on
 * start, never half-written.
 *
 * Format (JSON, chosen over the `ipvsadm -S` text because -S loses the real-server
 * thresholds, the sysctl settings and the sync daemons):
 *
 * ```json
 * {
 *   "format": "tsvs-config",
 *   "version": 1,
 *   "config": {
 *     "services": [
 *       { "af": 4, "protocol": 6, "addr": "10.0.0.1", "port": 80, "fwmark": 0,
 *         "scheduler": "wlc", "flags": 0, "timeout": 0, "netmask": 4294967295, "pe": "",
 *         "dests": [ { "addr": "10.0.0.11", "port": 80, "fwd": "masq", "weight": 1,
 *                      "uThreshold": 0, "lThreshold": 0, "tunType": 0, "tunPort": 0,
 *                      "tunFlags": 0 } ] }
 *     ],
 *     "timeouts": { "tcp": 900, "tcpfin": 120, "udp": 300 },
 *     "sysctl": { "secure_tcp": "1" },
 *     "daemons": [ { "state": "master", "mcastIfn": "eth0", "syncId": 0, "maxLen": 1472,
 *                    "mcastGroup": "224.0.0.81", "mcastPort": 8848, "mcastTtl": 1 } ]
 *   }
 * }
 * ```
 *
 * Services are in the kernel's dump order, dests most recent first (as listed by
 * `ConfigSnapshot`); `sysctl` holds only settings that differ from the defaults.
 *
 * Writing is atomic: the text goes to `<file>.tmp`, is fsync'ed, renamed over the file
 * and the directory is fsync'ed. A crash leaves either the old file or the new one,
 * plus perhaps a stale `.tmp`, which the next start removes without reading it.
 */
import { currentNetnsName } from '../sys/netns.js';
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { ConfigSnapshot, ControlModel } from './model.js';
import { reconcile, WHOLE_CONFIG } from './reconcile.js';

export const CONFIG_FORMAT = 'tsvs-config';
export const CONFIG_VERSION = 1;
/** Default configuration file of the daemon. */
export const DEFAULT_STATE_PATH = '/var/lib/tsvs/config.json';

export interface ConfigFile {
  format: typeof CONFIG_FORMAT;
  version: typeof CONFIG_VERSION;
  config: ConfigSnapshot;
}

/** The configuration file path: `$TSVS_STATE`, else /var/lib/tsvs/config.json. */
export function statePath(env: NodeJS.ProcessEnv = process.env): string {
  const p = env.TSVS_STATE;
  if (p !== undefined && p !== '') return p;
  const ns = currentNetnsName();
  return ns ? `/var/lib/tsvs/netns/${ns}/config.json` : DEFAULT_STATE_PATH;
}

function tmpOf(path: string): string {
  return `${path}.tmp`;
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // some file systems cannot fsync a directory; the rename is still atomic
  }
}

/** Write `data` to `path` atomically (temp file, fsync, rename, fsync directory). */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = tmpOf(path);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  fsyncDir(dir);
}

/** Synchronous {@link writeFileAtomic} (for shutdown paths). */
export function writeFileAtomicSync(path: string, data: string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = tmpOf(path);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dir);
}

export function encodeConfig(config: ConfigSnapshot): string {
  const f: ConfigFile = { format: CONFIG_FORMAT, version: CONFIG_VERSION, config };
  return JSON.stringify(f, null, 2) + '\n';
}

/** Parse a configuration file's text; throws on anything but our format. */
export function decodeConfig(text: string): ConfigSnapshot {
  const f = JSON.parse(text) as Partial<ConfigFile>;
  if (f === null || typeof f !== 'object' || f.format !== CONFIG_FORMAT)
    throw new Error('not a tsvs configuration file');
  if (f.version !== CONFIG_VERSION)
    throw new Error(`unsupported configuration version ${String(f.version)}`);
  if (!f.config || typeof f.config !== 'object') throw new Error('configuration missing');
  return f.config;
}

/**
 * Read the saved configuration, removing a temp file a crash may have left. Returns
 * null when there is no file.
 */
export function readConfig(path: string): ConfigSnapshot | null {
  try {
    unlinkSync(tmpOf(path));
  } catch {
    // no leftover
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  return decodeConfig(text);
}

/** A change that was refused because it could not be saved (the model is back as saved). */
export class SaveError extends Error {
  constructor(
    readonly path: string,
    readonly reason: Error,
  ) {
    super(`cannot save the configuration to ${path}: ${reason.message}`);
    this.name = 'SaveError';
  }
}

/**
 * Keeps a model's configuration on disk: {@link load} restores it, {@link start}
 * saves after every change. Saves are coalesced: changes made while a save is being
 * written are written together by the next one.
 *
 * A save that fails takes the model back to the configuration last saved (or found
 * at start), so what runs is what is on disk: the changes it carried, and those
 * waiting for the next save, are refused ({@link commit} rejects with a
 * {@link SaveError}) rather than acknowledged and lost at the next restart.
 */
export class Persister {
  readonly path: string;
  private readonly model: ControlModel;
  private readonly onError: (e: Error) => void;
  private unsubscribe: (() => void) | null = null;
  private writing: Promise<void> | null = null;
  private next: { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } | null =
    null;
  private savedGeneration = -1;
  /** What is on disk (or, before any save, what the model held at start). */
  private saved: ConfigSnapshot | null = null;
  /** Set while the model is being taken back: those changes need no save. */
  private reverting = false;

  constructor(model: ControlModel, path: string, onError: (e: Error) => void = () => {}) {
    this.model = model;
    this.path = path;
    this.onError = onError;
  }

  /**
   * Restore the saved configuration into the model. Returns the items that were
   * refused (each skipped; the rest is applied).
   */
  load(): { loaded: boolean; errors: string[] } {
    const snap = readConfig(this.path);
    if (!snap) return { loaded: false, errors: [] };
    const errors = this.model.applySnapshot(snap);
    this.savedGeneration = this.model.generation;
    this.saved = this.model.snapshot();
    return { loaded: true, errors };
  }

  /** Save after every change of the model from now on. */
  start(): void {
    if (this.unsubscribe) return;
    this.saved ??= this.model.snapshot();
    this.unsubscribe = this.model.onChange(() => {
      if (this.reverting) return;
      this.commit().catch(this.onError);
    });
  }

  /**
   * Resolve once the configuration as it is now is on disk (a save is scheduled if
   * needed).
   */
  commit(): Promise<void> {
    if (this.next) return this.next.promise;
    if (!this.writing && this.savedGeneration === this.model.generation) return Promise.resolve();
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.next = { promise, resolve, reject };
    if (!this.writing) setImmediate(() => this.flushNext());
    return promise;
  }

  private flushNext(): void {
    const job = this.next;
    if (!job || this.writing) return;
    this.next = null;
    const gen = this.model.generation;
    const snap = this.model.snapshot();
    const text = encodeConfig(snap);
    this.writing = writeFileAtomic(this.path, text).then(
      () => {
        this.savedGeneration = gen;
        this.saved = snap;
        job.resolve();
      },
      (e: unknown) => {
        const err = new SaveError(this.path, e instanceof Error ? e : new Error(String(e)));
        // the changes of this save and of the next one are refused: take them back
        const waiting = this.next;
        this.next = null;
        this.revert();
        job.reject(err);
        waiting?.reject(err);
      },
    );
    void this.writing.then(() => {
      this.writing = null;
      if (this.next) this.flushNext();
    });
  }

  /** Take the model back to what was last saved (its changes need no save). */
  private revert(): void {
    if (!this.saved) return;
    this.reverting = true;
    try {
      reconcile(this.model, this.saved, WHOLE_CONFIG);
    } catch (e) {
      this.onError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      this.reverting = false;
    }
    this.savedGeneration = this.model.generation;
  }

  /** Stop watching the model; resolves when pending saves are written. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    while (this.writing || this.next) {
      if (this.next && !this.writing) this.flushNext();
      await this.writing?.catch(() => {});
      await Promise.resolve();
    }
  }
}
