/**
 * The engine's run-time state outside the process (issue 14): the codec that carries
 * an {@link EngineState} as JSON (its typed-array columns as base64), the state file a
 * planned stop writes and the next start restores, and the clean stop
 * (`tsvs daemon --stop-clean`).
 *
 * The state file lives in the daemon's run directory (beside the control socket, on
 * /run: it means nothing after a reboot) as one header line — format, version, length
 * and SHA-256 of the body — and the body. A file that is cut short, altered or of
 * another version is refused with a log line saying why and renamed `*.bad`; the
 * daemon then starts with an empty connection table (never crashes over it).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { dropHeldDescriptors, holdDescriptors } from './fdhold.js';
import type { Engine } from '../engine/engine.js';
import {
  exportEngineState,
  importEngineState,
  StateError,
  StateExport,
  type EngineDelta,
  type EngineState,
  type ImportSummary,
} from '../engine/state.js';
import { addConnListener } from '../sync/hook.js';

/** Name of the state file in the run directory. */
export const STATE_FILE = 'engine.state';
const FILE_FORMAT = 'tsvs-state-file';
const FILE_VERSION = 1;

const TYPED: Record<string, new (b: ArrayBuffer) => ArrayBufferView> = {
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
};

/**
 * The state as JSON-able data: every typed array becomes `{ $ta: kind, b64 }` (the
 * machine's byte order: a state is read back on the machine that wrote it).
 */
export function stateToWire(st: EngineState | EngineDelta): unknown {
  return JSON.parse(
    JSON.stringify(st, (_k, v: unknown) => {
      if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
        const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
        return { $ta: v.constructor.name, b64: b.toString('base64') };
      }
      return v;
    }),
  ) as unknown;
}

/** Turns `{ $ta, b64 }` back into typed arrays (anything else is left for validation). */
export function stateFromWire(v: unknown): unknown {
  return revive(v, 0);
}

function revive(v: unknown, depth: number): unknown {
  if (depth > 32 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => revive(x, depth + 1));
  const o = v as Record<string, unknown>;
  if (typeof o.$ta === 'string' && typeof o.b64 === 'string' && Object.keys(o).length === 2) {
    const ctor = TYPED[o.$ta];
    if (!ctor) throw new StateError(`unknown array kind ${o.$ta}`);
    const b = Buffer.from(o.b64, 'base64');
    const per = (ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
    if (b.length % per !== 0) throw new StateError(`a ${o.$ta} of ${b.length} bytes`);
    // a copy into an aligned buffer of its own
    const ab = new ArrayBuffer(b.length);
    new Uint8Array(ab).set(b);
    return new ctor(ab);
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) out[k] = revive(o[k], depth + 1);
  return out;
}

/**
 * The engine's state exported in slices, the event loop turning between them (packets
 * keep being forwarded); the conns that change meanwhile are noted by the same
 * per-connection events the journal and sync hear, and copied again at the end.
 * `beforeFinish` runs right before the final delta (a hand-over parks there): what it
 * returns is the state of that moment.
 */
export async function exportSliced(
  engine: Engine,
  beforeFinish?: () => void,
  stats?: { longestMs: number; finishMs?: number },
): Promise<EngineState> {
  const x = new StateExport(engine);
  const unlisten = addConnListener(engine, (id) => x.touched(id));
  const timed = <T>(fn: () => T): T => {
    const t0 = performance.now();
    const r = fn();
    if (stats) stats.longestMs = Math.max(stats.longestMs, performance.now() - t0);
    return r;
  };
  try {
    while (!timed(() => x.step())) await new Promise<void>((r) => setImmediate(r));
    beforeFinish?.();
    const t0 = performance.now();
    const st = timed(() => x.finish());
    if (stats) stats.finishMs = performance.now() - t0;
    return st;
  } finally {
    unlisten();
  }
}

/** A hand-over's export in two steps (see {@link exportStaged}). */
export interface StagedExport {
  /** The whole state when the slices were done. */
  bulk: EngineState;
  /** What changed since the bulk (call once, with the engine still). */
  delta(): EngineDelta;
  /** Stops noting changes (after delta, or when the hand-over is given up). */
  close(): void;
}

/**
 * The bulk of a hand-over: the engine's state exported in slices while it forwards
 * (as {@link exportSliced}), after which the conns that change go on being noted, so
 * that {@link StagedExport.delta} (once the data plane is parked) costs only them.
 */
export async function exportStaged(engine: Engine): Promise<StagedExport> {
  const x = new StateExport(engine);
  const unlisten = addConnListener(engine, (id) => x.touched(id));
  try {
    while (!x.step()) await new Promise<void>((r) => setImmediate(r));
    const bulk = x.bulk();
    return {
      bulk,
      delta: () => {
        try {
          return x.delta();
        } finally {
          unlisten();
        }
      },
      close: unlisten,
    };
  } catch (e) {
    unlisten();
    throw e;
  }
}

/** Writes `body` (JSON text) atomically with the header line (tmp file, fsync, rename). */
function writeAtomic(path: string, body: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const bytes = Buffer.from(body, 'utf8');
  const header = JSON.stringify({
    format: FILE_FORMAT,
    version: FILE_VERSION,
    bytes: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    written: new Date().toISOString(),
    pid: process.pid,
  });
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, header + '\n');
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Reads a file written by {@link writeAtomic}; throws a StateError saying what is wrong. */
function readChecked(path: string): { body: string; written: number } {
  const buf = readFileSync(path);
  const nl = buf.indexOf(0x0a);
  if (nl < 0) throw new StateError('no header line');
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(buf.subarray(0, nl).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new StateError('the header line is not JSON');
  }
  if (h.format !== FILE_FORMAT) throw new StateError(`not a ${FILE_FORMAT} file`);
  if (h.version !== FILE_VERSION)
    throw new StateError(`file version ${String(h.version)}, this tsvs reads ${FILE_VERSION}`);
  const body = buf.subarray(nl + 1);
  if (body.length !== h.bytes)
    throw new StateError(`cut short: ${body.length} of ${String(h.bytes)} bytes`);
  if (createHash('sha256').update(body).digest('hex') !== h.sha256)
    throw new StateError('the checksum does not match');
  return { body: body.toString('utf8'), written: Date.parse(String(h.written)) };
}

/**
 * Saves the engine's state to `path`; returns the number of conns saved. `journalGen`
 * marks a journal snapshot (daemon/journal.ts).
 */
export function saveEngineState(engine: Engine, path: string, journalGen?: number): number {
  const st = exportEngineState(engine);
  writeEngineState(st, path, journalGen);
  return st.conns.n;
}

/**
 * Writes an exported state to `path` (atomically: a temporary file renamed). The slow
 * part of {@link saveEngineState} (encoding, hashing, writing), which a worker thread
 * can do (daemon/snapshot-worker.ts).
 */
export function writeEngineState(st: EngineState, path: string, journalGen?: number): void {
  const wire = stateToWire(st) as Record<string, unknown>;
  if (journalGen !== undefined) wire.journalGen = journalGen;
  writeAtomic(path, JSON.stringify(wire));
}

/** The state in `path` as data ready for `importEngineState`, or a StateError. */
export function readEngineState(path: string): unknown {
  return readStateFile(path).state;
}

/** {@link readEngineState}, with the time the file was written (ms since the epoch). */
export function readStateFile(path: string): { state: unknown; written: number } {
  const { body, written } = readChecked(path);
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    throw new StateError('the body is not JSON');
  }
  return { state: stateFromWire(v), written };
}

/** One line for the log about a restore. */
export function describeImport(s: ImportSummary): string {
  const parts = [`${s.conns} connection(s), ${s.templates} template(s)`];
  if (s.servicesGone) parts.push(`${s.servicesGone} saved service(s) no longer configured`);
  if (s.destsGone) parts.push(`${s.destsGone} real server(s) no longer configured (in the trash)`);
  for (const f of s.schedFresh) parts.push(`scheduler of ${f}: started fresh`);
  return parts.join('; ');
}

/**
 * Restores the state a planned stop left in `dir` into `engine` (before it takes
 * packets). The file is consumed: removed once in the engine (a later crash recovers
 * from the journal instead), renamed `*.bad` when refused. Returns true when a state
 * was restored.
 */
export function restoreStateFile(
  engine: Engine,
  dir: string,
  now: number,
  log: (l: string) => void,
): boolean {
  const path = join(dir, STATE_FILE);
  if (!existsSync(path)) return false;
  try {
    const t0 = Date.now();
    const { state, written } = readStateFile(path);
    const s = importEngineState(engine, state, now);
    rmSync(path, { force: true });
    log(
      `restored the state of the previous run from ${path} in ${Date.now() - t0} ms, ${Date.now() - written} ms after it was saved: ${describeImport(s)}`,
    );
    return true;
  } catch (e) {
    const why = e instanceof StateError ? e.message : `cannot read it: ${(e as Error).message}`;
    log(`${path}: not restored (${why}); starting with an empty connection table`);
    try {
      renameSync(path, `${path}.bad`);
    } catch {
      /* leave it */
    }
    return false;
  }
}

/** Snapshot and journal file names in the run directory (daemon/journal.ts). */
export const JOURNAL_SNAPSHOT = 'journal.snap';
export const JOURNAL_LOG = 'journal.log';
/** The next generation's journal while its snapshot is being written (journal.ts). */
export const JOURNAL_NEXT = 'journal.next';

/** Deletes the crash journal's files in `dir`. */
export function removeJournal(dir: string): void {
  for (const f of [JOURNAL_SNAPSHOT, JOURNAL_LOG, JOURNAL_NEXT, `${JOURNAL_SNAPSHOT}.tmp`])
    rmSync(join(dir, f), { force: true });
}

/** Removes the state files of a run directory (a clean stop). */
export function removeStateFiles(dir: string): void {
  for (const f of [STATE_FILE, `${STATE_FILE}.tmp`]) rmSync(join(dir, f), { force: true });
}

/** How the daemon stops: keep state and capture, remove everything, or after a hand-over. */
export type StopHow = 'park' | 'clean' | 'handed';

/** The parts {@link shutdown} stops. */
export interface RunParts {
  engine: Engine;
  director: {
    park(keep?: boolean): void;
    stop(): void;
    descriptors(): { name: string; fd: number }[];
    releaseKept(): void;
  };
  /**
   * A planned stop hands the capture's descriptors to a holder process for the next
   * start (daemon/fdhold.ts); false when a service manager stores them (FDSTORE).
   */
  holdDescriptors?: boolean;
  journal: { stop(remove: boolean): void } | null;
  /** The run directory (state file, journal); null: nothing is kept. */
  runDir: string | null;
  /** Health checks, metrics, sync daemons. */
  stopSides(): void;
  log(line: string): void;
}

/**
 * Stops the data plane the way `how` says. `park` (SIGTERM: systemd's stop and
 * restart): stop reading, leave capture in place failing closed, save the engine's
 * state for the next start (the journal stays as the fallback when the save fails).
 * `clean` (SIGINT, `tsvs daemon --stop-clean`): remove rules, filters, devices and
 * every saved state. `handed`: the successor owns the data plane and the run
 * directory now, nothing is touched.
 */
export function shutdown(p: RunParts, how: StopHow): void {
  p.stopSides();
  if (how === 'clean' || p.runDir === null) {
    p.director.stop();
    p.journal?.stop(true);
    if (p.runDir !== null) {
      removeStateFiles(p.runDir);
      dropHeldDescriptors(p.runDir);
    }
    return;
  }
  if (how === 'handed') {
    p.director.park();
    p.journal?.stop(false);
    return;
  }
  // packets are held (not dropped) until the next start reads them (fdhold.ts)
  const hold = p.holdDescriptors === true;
  p.director.park(hold);
  if (hold) {
    try {
      const fds = p.director.descriptors();
      const pid = holdDescriptors(p.runDir, fds);
      p.log(`the capture's ${fds.length} descriptor(s) held for the next start by process ${pid}`);
    } catch (e) {
      p.log(`cannot hold the capture's descriptors: ${(e as Error).message}`);
    }
    p.director.releaseKept();
  }
  const path = join(p.runDir, STATE_FILE);
  try {
    const t0 = Date.now();
    const n = saveEngineState(p.engine, path);
    p.journal?.stop(true);
    p.log(
      `saved the state (${n} connection(s)) to ${path} in ${Date.now() - t0} ms; capture left in place (packets dropped until the next start)`,
    );
  } catch (e) {
    p.journal?.stop(false);
    p.log(`cannot save the state to ${path}: ${(e as Error).message}; the journal is kept`);
  }
}

/** Options of {@link stopClean} (those the daemon was started with). */
export interface StopCleanOptions {
  control: string;
  name: string;
  queueIn?: number;
  queueOut?: number;
  runDir: string | null;
  log: (line: string) => void;
}

/**
 * `tsvs daemon --stop-clean`: asks the running daemon to stop and remove everything it
 * installed and kept; with no daemon running, removes what the last one left (the
 * capture a SIGTERM or a crash leaves in place, the saved state, the journal).
 */
export async function stopClean(o: StopCleanOptions): Promise<number> {
  const { ControlClient } = await import('../control/client.js');
  try {
    const c = await ControlClient.connect(o.control, 2000);
    await c.call({ cmd: 'stop', clean: true });
    // it answers first, then stops: wait until nothing answers any more
    for (let i = 0; i < 200; i++) {
      try {
        await c.call({ cmd: 'info' });
        await new Promise((r) => setTimeout(r, 50));
      } catch {
        o.log('the daemon stopped and removed its rules, devices and state');
        return 0;
      }
    }
    o.log('the daemon did not stop within 10 s');
    return 1;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'ENOENT' && code !== 'ECONNREFUSED') {
      o.log(`${o.control}: ${(e as Error).message}`);
      return 1;
    }
  }
  const { Director } = await import('../dataplane/director.js');
  try {
    Director.preflight();
  } catch (e) {
    o.log((e as Error).message);
    return 1;
  }
  // the descriptors a planned stop left held go first (the devices are deleted next)
  if (o.runDir !== null) dropHeldDescriptors(o.runDir);
  new Director({ name: o.name, queueIn: o.queueIn, queueOut: o.queueOut, log: o.log }).stop();
  if (o.runDir !== null) {
    removeStateFiles(o.runDir);
    removeJournal(o.runDir);
  }
  o.log(
    `no daemon running: removed what instance ${o.name} left (rules, tc filters, devices, saved state)`,
  );
  return 0;
}
