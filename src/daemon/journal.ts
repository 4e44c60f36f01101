/**
 * Crash recovery (issue 14 item 5): a continuously updated copy of the connection
 * table outside the process, so that after SIGKILL (or a crash) and a restart the
 * established connections carry on.
 *
 * Over 600 lines: the journal's writer and its reader share one record layout (the
 * R_* offsets below), which stays in one file.
 *
 * The copy is a snapshot (the engine's whole state, daemon/state.ts's file format)
 * plus a journal of fixed-size records appended after it, in the run directory (on
 * /run: memory, not disk). The records are fed by the same per-connection events the
 * sync master hears (the engine's hook, sync/hook.ts), with a simpler rule than sync's
 * thresholds because the reader is ourselves: a conn is written when its state
 * changes (its first packet included) and again when half of its timeout has passed
 * since it was last written, so the copy's expiry is never earlier than the conn's
 * own last activity; its controller (a persistence template, an FTP control conn)
 * follows by the same rule. Records are buffered and written once per turn of the
 * event loop, so a crash loses at most the events of the turn it interrupted.
 *
 * Cost is bounded: a few records per connection (new, established, closing), and the
 * journal is folded into a new snapshot once it holds {@link COMPACT_FACTOR} times as
 * many records as the snapshot has conns (and at least {@link MIN_COMPACT_BYTES}):
 * amortised, each record costs about 1 + 1/COMPACT_FACTOR writes, and the journal
 * stays a small multiple of the table. A configuration change also takes a new
 * snapshot (records name real servers by id). bench:e2e's `hitless` section measures
 * throughput with the journal on and off.
 *
 * A snapshot does not stop the packet path: the engine's state is exported in slices
 * with the event loop turning between them (engine/state.ts StateExport; conns that
 * change meanwhile are noted by the same per-connection events and copied again at its
 * end), and a worker thread (snapshot-worker.ts) encodes and writes it. Records made
 * during the export go to the current journal only (the snapshot has their changes);
 * from the export's end every record goes to both the current journal and the next
 * generation's (`journal.next`, header already written); once the snapshot is on disk
 * `journal.next` replaces `journal.log`. A crash at any point leaves a snapshot with a
 * journal of its generation holding everything since: the old pair until the new
 * snapshot is renamed into place, then the new snapshot with `journal.next` (read when
 * `journal.log` is of the old generation). Only the first snapshot, at start before
 * packets are read, is written in the calling thread.
 *
 * On start, when no planned-stop state file is there, the snapshot and the journal of
 * the same generation are merged (the last record of a conn id wins) and restored
 * like a state file; a torn last record is ignored; anything else that does not read
 * is logged and the daemon starts with an empty table.
 *
 * @module
 */
import {
  closeSync,
  existsSync,
  ftruncateSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import type { Engine } from '../engine/engine.js';
import { CONN_F_ONE_PACKET } from '../engine/constants.js';
import {
  importEngineState,
  StateError,
  type ConnsState,
  type EngineState,
} from '../engine/state.js';
import type { SnapshotDone, SnapshotJob } from './snapshot-worker.js';
import { addConnListener } from '../sync/hook.js';
import {
  describeImport,
  exportSliced,
  JOURNAL_LOG,
  JOURNAL_NEXT,
  JOURNAL_SNAPSHOT,
  readEngineState,
  removeJournal,
  saveEngineState,
} from './state.js';

export { JOURNAL_LOG, JOURNAL_SNAPSHOT, removeJournal } from './state.js';

/** Bytes per record. */
export const JOURNAL_RECORD = 136;
const MAGIC = 0x74737631; // "tsv1"
const HEADER = 16;
const REC_CONN = 0xc1;
/** The journal is folded into a snapshot no earlier than this size. */
export const MIN_COMPACT_BYTES = 16 << 20;
/** The journal is folded when it holds this many records per conn of the snapshot. */
export const COMPACT_FACTOR = 4;
const BUF_RECORDS = 512;
const UNSEEN = 0xff;

// record layout (little-endian)
const R_TYPE = 0;
const R_AF = 1;
const R_PROTO = 2;
const R_STATE = 3;
const R_FLAGS = 4;
const R_ID = 8;
const R_CONTROL = 12;
const R_DEST = 16;
const R_CPORT = 20;
const R_VPORT = 22;
const R_DPORT = 24;
const R_OLDSTATE = 26;
const R_FWMARK = 28;
const R_TIMEOUT = 32;
const R_EXPIRES = 40;
const R_INPKTS = 48;
const R_SYNCEND = 52;
const R_CADDR = 56;
const R_VADDR = 72;
const R_DADDR = 88;
/** Helper data: bit 0 bound to the helper (then R_APPDATA), bit 1 seq records (R_SEQ). */
const R_APPFLAGS = 104;
const R_APPDATA = 108;
/** The seq-adjust records of an FTP control conn (6 words). */
const R_SEQ = 112;

/** Writes the journal of one engine. */
export class Journal {
  private fd = -1;
  private gen = 0;
  private readonly buf = Buffer.alloc(BUF_RECORDS * JOURNAL_RECORD);
  private readonly view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  private used = 0;
  private flushQueued = false;
  private logBytes = 0;
  private snapConns = 0;
  private jState = new Uint8Array(0);
  private jAt = new Float64Array(0);
  private unlisten: (() => void) | null = null;
  private compactQueued = false;
  /** The next generation's journal while its snapshot is being written. */
  private next: { fd: number; bytes: number; gen: number; conns: number; seq: number } | null =
    null;
  private worker: Worker | null = null;
  private seq = 0;
  /** A snapshot's export (in slices) is under way. */
  private exporting = false;
  /** A snapshot was asked for while one was being written. */
  private again = false;
  /** Records written, snapshots taken (for the log and the bench). */
  readonly counts = { records: 0, snapshots: 0 };
  /**
   * The longest time (ms) a snapshot held the calling thread at once (a slice of the
   * export, its final delta, the hand-off to the worker).
   */
  snapshotHoldMs = 0;

  constructor(
    private readonly engine: Engine,
    private readonly dir: string,
    private readonly log: (line: string) => void,
  ) {}

  /** Takes the first snapshot, opens the journal and starts listening. */
  start(): void {
    // generations are unique across runs: a journal never matches another run's snapshot
    this.gen = Date.now();
    this.compact();
    this.unlisten = addConnListener(this.engine, (id, pkts) => this.onConn(id, pkts));
  }

  /** The configuration changed (records name real servers by id): a new snapshot soon. */
  configChanged(): void {
    this.queueCompact();
  }

  private queueCompact(): void {
    if (this.compactQueued || this.fd < 0) return;
    this.compactQueued = true;
    setImmediate(() => {
      this.compactQueued = false;
      if (this.fd >= 0) this.compactAsync();
    });
  }

  /**
   * A new generation without stopping the packet path (see the module comment):
   * export now, write in the worker, journal to both generations meanwhile.
   */
  compactAsync(): void {
    if (this.fd < 0) return;
    if (this.next || this.exporting) {
      this.again = true;
      return;
    }
    this.exporting = true;
    const stats: { longestMs: number; finishMs?: number } = { longestMs: 0 };
    exportSliced(this.engine, undefined, stats).then(
      (state) => {
        this.exporting = false;
        // the final delta and the hand-off to the worker run in one turn
        const t0 = performance.now();
        if (this.fd >= 0) this.snapshotExported(state);
        const last = (stats.finishMs ?? 0) + performance.now() - t0;
        this.snapshotHoldMs = Math.max(this.snapshotHoldMs, stats.longestMs, last);
      },
      (e: Error) => {
        this.exporting = false;
        this.log(`journal: snapshot: ${e.message}; keeping the previous one`);
      },
    );
  }

  /**
   * The export is complete (its final delta taken in this same turn of the event loop):
   * what was recorded until now belongs to the current generation, what comes next to
   * both (see the module comment).
   */
  private snapshotExported(state: EngineState): void {
    this.flush();
    const gen = this.gen + 1;
    let fd = -1;
    try {
      fd = openSync(join(this.dir, JOURNAL_NEXT), 'w', 0o600);
      writeSync(fd, this.header(gen), 0, HEADER, 0);
      const seq = ++this.seq;
      this.next = { fd, bytes: HEADER, gen, conns: state.conns.n, seq };
      const job: SnapshotJob = { seq, path: join(this.dir, JOURNAL_SNAPSHOT), gen, state };
      // the columns are this export's own copies: moved to the worker, not copied
      const transfer = Object.values(state.conns)
        .filter((v): v is Uint8Array => ArrayBuffer.isView(v))
        .map((v) => v.buffer as ArrayBuffer);
      this.snapshotWorker().postMessage(job, [...new Set(transfer)]);
    } catch (e) {
      if (fd >= 0) closeSync(fd);
      this.next = null;
      this.log(`journal: snapshot: ${(e as Error).message}; crash recovery off`);
      this.stop(false);
    }
  }

  /** Resolves once no snapshot is queued or being written (tests, bench). */
  async settled(): Promise<void> {
    while (this.compactQueued || this.exporting || this.next || this.again)
      await new Promise((r) => setTimeout(r, 5));
  }

  private snapshotWorker(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./snapshot-worker.js', import.meta.url));
    w.unref();
    w.on('message', (m: SnapshotDone) => this.snapshotDone(m));
    w.on('error', (e) => this.snapshotDone({ seq: this.seq, ms: 0, error: e.message }));
    this.worker = w;
    return w;
  }

  /** The worker wrote the snapshot: the next generation becomes the current one. */
  private snapshotDone(m: SnapshotDone): void {
    const nx = this.next;
    if (!nx || nx.seq !== m.seq) return;
    this.flush();
    this.next = null;
    if (m.error) {
      // the old generation is complete: carry on with it
      closeSync(nx.fd);
      rmSync(join(this.dir, JOURNAL_NEXT), { force: true });
      this.log(`journal: snapshot: ${m.error}; keeping the previous one`);
    } else {
      try {
        renameSync(join(this.dir, JOURNAL_NEXT), join(this.dir, JOURNAL_LOG));
      } catch (e) {
        this.log(`journal: ${(e as Error).message}; crash recovery off`);
        closeSync(nx.fd);
        this.stop(false);
        return;
      }
      if (this.fd >= 0) closeSync(this.fd);
      this.fd = nx.fd;
      this.logBytes = nx.bytes;
      this.gen = nx.gen;
      this.snapConns = nx.conns;
      this.counts.snapshots++;
    }
    if (this.again) {
      this.again = false;
      this.queueCompact();
    }
  }

  private header(gen: number): Buffer {
    const h = Buffer.alloc(HEADER);
    h.writeUInt32LE(MAGIC, 0);
    h.writeUInt32LE(JOURNAL_RECORD, 4);
    h.writeDoubleLE(gen, 8);
    return h;
  }

  /** A new generation: snapshot of the whole engine, then an empty journal. */
  private compact(): void {
    this.flush();
    this.gen++;
    try {
      this.snapConns = saveEngineState(this.engine, join(this.dir, JOURNAL_SNAPSHOT), this.gen);
      if (this.fd < 0) this.fd = openSync(join(this.dir, JOURNAL_LOG), 'w', 0o600);
      ftruncateSync(this.fd, 0);
      writeSync(this.fd, this.header(this.gen), 0, HEADER, 0);
      this.logBytes = HEADER;
      this.counts.snapshots++;
    } catch (e) {
      this.log(`journal: ${(e as Error).message}; crash recovery off`);
      this.stop(false);
    }
  }

  private onConn(id: number, pkts: number): void {
    const c = this.engine.conns;
    if (id >= this.jState.length) this.grow(c.cap);
    if (c.flags[id] & CONN_F_ONE_PACKET) {
      const ct = c.control[id];
      if (ct >= 0) this.consider(ct);
      return;
    }
    // a conn's first packet: whatever was written for an earlier conn of this id is stale
    if (pkts === 1) this.jState[id] = UNSEEN;
    this.consider(id);
    const ct = c.control[id];
    if (ct >= 0) this.consider(ct);
  }

  private grow(cap: number): void {
    const s = new Uint8Array(cap).fill(UNSEEN);
    s.set(this.jState);
    const a = new Float64Array(cap);
    a.set(this.jAt);
    this.jState = s;
    this.jAt = a;
  }

  /** Writes the conn when its state changed or half its timeout passed since the last time. */
  private consider(id: number): void {
    const c = this.engine.conns;
    const now = this.engine.now;
    const st = c.state[id];
    if (st === this.jState[id] && now - this.jAt[id] < c.timeout[id] / 2) return;
    this.jState[id] = st;
    this.jAt[id] = now;
    this.record(id, now);
  }

  private record(id: number, now: number): void {
    if (this.fd < 0) return;
    if (this.used === BUF_RECORDS) this.flush();
    const eng = this.engine;
    const c = eng.conns;
    const b = this.buf;
    const v = this.view;
    const o = this.used * JOURNAL_RECORD;
    this.used++;
    b[o + R_TYPE] = REC_CONN;
    b[o + R_AF] = c.af[id];
    b[o + R_PROTO] = c.proto[id];
    b[o + R_STATE] = c.state[id];
    v.setUint32(o + R_FLAGS, c.flags[id], true);
    v.setInt32(o + R_ID, id, true);
    v.setInt32(o + R_CONTROL, c.control[id], true);
    v.setInt32(o + R_DEST, c.dest[id], true);
    v.setUint16(o + R_CPORT, c.cport[id], true);
    v.setUint16(o + R_VPORT, c.vport[id], true);
    v.setUint16(o + R_DPORT, c.dport[id], true);
    b[o + R_OLDSTATE] = c.oldState[id];
    b[o + R_OLDSTATE + 1] = 0;
    v.setUint32(o + R_FWMARK, c.fwmark[id], true);
    v.setUint32(o + R_TIMEOUT, c.timeout[id], true);
    v.setUint32(o + R_TIMEOUT + 4, 0, true);
    // the hook runs before the conn is re-armed: it expires a timeout from now
    v.setFloat64(o + R_EXPIRES, now + c.timeout[id], true);
    v.setUint32(o + R_INPKTS, c.inPkts[id], true);
    v.setUint32(o + R_SYNCEND, c.syncEnd[id], true);
    const a = id * 4;
    for (let i = 0; i < 4; i++) {
      v.setUint32(o + R_CADDR + i * 4, c.caddr[a + i], true);
      v.setUint32(o + R_VADDR + i * 4, c.vaddr[a + i], true);
      v.setUint32(o + R_DADDR + i * 4, c.daddr[a + i], true);
    }
    b[o + R_APPFLAGS] = 0;
    if (eng.appOf.size > 0) {
      const app = eng.appOf.get(id);
      const seq = eng.seqs.get(id);
      if (app) {
        b[o + R_APPFLAGS] |= 1;
        v.setInt32(o + R_APPDATA, eng.appData.get(id) ?? -1, true);
      }
      if (seq) {
        b[o + R_APPFLAGS] |= 2;
        for (let i = 0; i < 6; i++) v.setUint32(o + R_SEQ + i * 4, seq[i], true);
      }
    }
    this.counts.records++;
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes what is buffered (once per turn of the event loop). */
  flush(): void {
    this.flushQueued = false;
    if (this.used === 0 || this.fd < 0) {
      this.used = 0;
      return;
    }
    const n = this.used * JOURNAL_RECORD;
    try {
      writeSync(this.fd, this.buf, 0, n, this.logBytes);
      this.logBytes += n;
      // a snapshot is being written: its generation's journal gets the records too
      if (this.next) {
        writeSync(this.next.fd, this.buf, 0, n, this.next.bytes);
        this.next.bytes += n;
      }
    } catch (e) {
      this.log(`journal: ${(e as Error).message}; crash recovery off`);
      this.stop(false);
      return;
    }
    this.used = 0;
    // fold the journal into a snapshot once it outgrows it (amortised cost per record)
    const records = (this.logBytes - HEADER) / JOURNAL_RECORD;
    if (
      !this.next &&
      this.logBytes >= MIN_COMPACT_BYTES &&
      records > COMPACT_FACTOR * this.snapConns
    )
      this.queueCompact();
  }

  /**
   * Stops listening and closes the journal; `remove` deletes its files (a planned
   * stop, whose state file supersedes them, or a clean stop).
   */
  stop(remove: boolean): void {
    this.unlisten?.();
    this.unlisten = null;
    if (this.fd >= 0) {
      if (!remove) this.flush();
      closeSync(this.fd);
      this.fd = -1;
    }
    // a snapshot still being written: the old generation stays the valid one
    if (this.next) {
      closeSync(this.next.fd);
      this.next = null;
    }
    void this.worker?.terminate();
    this.worker = null;
    if (remove) removeJournal(this.dir);
  }
}

/** Column copy of one record into entry `i` of `cs`. */
function putRecord(cs: ConnsState, i: number, b: Buffer, o: number): void {
  cs.af[i] = b[o + R_AF];
  cs.proto[i] = b[o + R_PROTO];
  cs.state[i] = b[o + R_STATE];
  cs.oldState[i] = b[o + R_OLDSTATE];
  cs.flags[i] = b.readUInt32LE(o + R_FLAGS);
  cs.control[i] = b.readInt32LE(o + R_CONTROL); // an id until resolved
  cs.dest[i] = b.readInt32LE(o + R_DEST);
  cs.cport[i] = b.readUInt16LE(o + R_CPORT);
  cs.vport[i] = b.readUInt16LE(o + R_VPORT);
  cs.dport[i] = b.readUInt16LE(o + R_DPORT);
  cs.fwmark[i] = b.readUInt32LE(o + R_FWMARK);
  cs.timeout[i] = b.readUInt32LE(o + R_TIMEOUT);
  cs.expires[i] = b.readDoubleLE(o + R_EXPIRES);
  cs.inPkts[i] = b.readUInt32LE(o + R_INPKTS);
  cs.syncEnd[i] = b.readUInt32LE(o + R_SYNCEND);
  cs.armed[i] = 1;
  for (let k = 0; k < 4; k++) {
    cs.caddr[i * 4 + k] = b.readUInt32LE(o + R_CADDR + k * 4);
    cs.vaddr[i * 4 + k] = b.readUInt32LE(o + R_VADDR + k * 4);
    cs.daddr[i * 4 + k] = b.readUInt32LE(o + R_DADDR + k * 4);
  }
}

function growConns(cs: ConnsState, n: number): ConnsState {
  const g = <T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(
    a: T,
    per: number,
  ): T => {
    const b = new (a.constructor as new (n: number) => T)(n * per);
    b.set(a.subarray(0, Math.min(a.length, n * per)));
    return b;
  };
  return {
    n,
    af: g(cs.af, 1),
    proto: g(cs.proto, 1),
    state: g(cs.state, 1),
    oldState: g(cs.oldState, 1),
    flags: g(cs.flags, 1),
    caddr: g(cs.caddr, 4),
    vaddr: g(cs.vaddr, 4),
    daddr: g(cs.daddr, 4),
    cport: g(cs.cport, 1),
    vport: g(cs.vport, 1),
    dport: g(cs.dport, 1),
    fwmark: g(cs.fwmark, 1),
    dest: g(cs.dest, 1),
    control: g(cs.control, 1),
    inPkts: g(cs.inPkts, 1),
    syncEnd: g(cs.syncEnd, 1),
    timeout: g(cs.timeout, 1),
    expires: g(cs.expires, 1),
    armed: g(cs.armed, 1),
    ids: g(cs.ids ?? new Int32Array(0), 1),
  };
}

/**
 * The snapshot with the journal's records merged in, as a state for
 * `importEngineState`; throws a StateError when the files do not read.
 */
export function readJournal(dir: string): { state: unknown; records: number } {
  const snap = readEngineState(join(dir, JOURNAL_SNAPSHOT)) as Record<string, unknown>;
  const gen = typeof snap.journalGen === 'number' ? snap.journalGen : -1;
  const cs0 = (snap.conns ?? {}) as ConnsState;
  if (!(cs0.ids instanceof Int32Array) || typeof cs0.n !== 'number')
    throw new StateError('the journal snapshot has no conn ids');
  const read = (f: string): Buffer => {
    try {
      return readFileSync(join(dir, f));
    } catch {
      return Buffer.alloc(0);
    }
  };
  const ofGen = (b: Buffer): boolean =>
    b.length >= HEADER &&
    b.readUInt32LE(0) === MAGIC &&
    b.readUInt32LE(4) === JOURNAL_RECORD &&
    b.readDoubleLE(8) === gen;
  // a crash between a snapshot's rename and its journal's: the snapshot's is the next
  let log = read(JOURNAL_LOG);
  if (!ofGen(log)) {
    const next = read(JOURNAL_NEXT);
    if (ofGen(next)) log = next;
  }
  const sameGen = ofGen(log);
  const count = sameGen ? Math.floor((log.length - HEADER) / JOURNAL_RECORD) : 0;
  // entries by conn id: the snapshot's, then the records' (the last one wins)
  const at = new Map<number, number>();
  for (let i = 0; i < cs0.n; i++) at.set(cs0.ids[i], i);
  let cs = growConns(cs0, cs0.n + count);
  let n = cs0.n;
  // snapshot control links are indices: make them ids like the records'
  for (let i = 0; i < cs0.n; i++) if (cs.control[i] >= 0) cs.control[i] = cs0.ids[cs.control[i]];
  const apps = (Array.isArray(snap.apps) ? snap.apps : []) as {
    conn: number;
    app: string;
    data?: number;
    seq?: number[];
  }[];
  const appById = new Map<number, { app: string; data?: number; seq?: number[] }>();
  for (const a of apps) if (a.conn >= 0 && a.conn < cs0.n) appById.set(cs0.ids[a.conn], a);
  const helper = apps.find((a) => a.app)?.app ?? 'ftp';
  let records = 0;
  for (let r = 0; r < count; r++) {
    const o = HEADER + r * JOURNAL_RECORD;
    if (log[o + R_TYPE] !== REC_CONN) break; // torn or garbage: stop here
    const id = log.readInt32LE(o + R_ID);
    let i = at.get(id);
    if (i === undefined) {
      i = n++;
      at.set(id, i);
    }
    putRecord(cs, i, log, o);
    (cs.ids as Int32Array)[i] = id;
    const af = log[o + R_APPFLAGS];
    if (af) {
      const a: { app: string; data?: number; seq?: number[] } = { app: af & 1 ? helper : '' };
      const d = log.readInt32LE(o + R_APPDATA);
      if (af & 1 && d >= 0) a.data = d;
      if (af & 2) {
        a.seq = [];
        for (let k = 0; k < 6; k++) a.seq.push(log.readUInt32LE(o + R_SEQ + k * 4));
      }
      appById.set(id, a);
    } else appById.delete(id);
    records++;
  }
  cs = growConns(cs, n);
  // control ids back to indices; a controller that is not in the copy is dropped
  for (let i = 0; i < n; i++) {
    const ct = cs.control[i];
    cs.control[i] = ct >= 0 ? (at.get(ct) ?? -1) : -1;
    if (cs.control[i] === i) cs.control[i] = -1;
  }
  // real servers configured after the snapshot are not in it: their conns cannot be kept
  const destIds = new Set<number>();
  for (const s of (snap.services ?? []) as { dests?: { id: number }[] }[])
    for (const d of s.dests ?? []) destIds.add(d.id);
  for (const d of (snap.trash ?? []) as { id: number }[]) destIds.add(d.id);
  for (let i = 0; i < n; i++) if (cs.dest[i] >= 0 && !destIds.has(cs.dest[i])) cs.dest[i] = -1;
  const outApps: { conn: number; app: string; data?: number; seq?: number[] }[] = [];
  for (const [id, a] of appById) {
    const i = at.get(id);
    if (i !== undefined) outApps.push({ ...a, conn: i });
  }
  return { state: { ...snap, conns: cs, apps: outApps }, records };
}

/**
 * Restores the engine from the journal in `dir` (after a crash). Returns true when
 * something was restored; logs why not otherwise.
 */
export function restoreJournal(
  engine: Engine,
  dir: string,
  now: number,
  log: (l: string) => void,
): boolean {
  if (!existsSync(join(dir, JOURNAL_SNAPSHOT))) return false;
  try {
    const { state, records } = readJournal(dir);
    const s = importEngineState(engine, state, now);
    log(
      `recovered the connection table from the journal in ${dir} (${records} record(s) after the snapshot): ${describeImport(s)}`,
    );
    return true;
  } catch (e) {
    const why = e instanceof StateError ? e.message : (e as Error).message;
    log(`journal in ${dir}: not restored (${why}); starting with an empty connection table`);
    return false;
  }
}
