/**
 * The VRRP role, as keepalived tells it (docs/ha.md). keepalived runs VRRP beside tsvs
 * and owns the addresses; it reports each state change of a `vrrp_instance` or
 * `vrrp_sync_group` to a notify script (`notify "… tsvs vrrp-notify"`: the words
 * `INSTANCE|GROUP NAME STATE PRIORITY` appended) or writes it to a FIFO
 * (`vrrp_notify_fifo`: lines `INSTANCE "NAME" STATE PRIORITY`). tsvs keeps the last
 * state of every instance and group, exports it (metrics, dashboard) and, when it was
 * given a sync interface (`tsvs daemon --sync-interface`), switches the connection
 * sync daemons as keepalived's `lvs_sync_daemon` does: MASTER → the backup daemon
 * stops and the master daemon starts; any other state → the master stops and the
 * backup starts.
 *
 * The notify command also writes the event to a file per instance/group beside the
 * control socket, so a daemon that was down (or restarted) when keepalived changed
 * state reads keepalived's current view at its start.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  constants as fsc,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import type { ControlModel } from '../control/model.js';
import type { DaemonSpec, SyncState } from '../control/daemons.js';

/** The states keepalived reports (DELETED is reported as STOP). */
export const VRRP_STATES = ['MASTER', 'BACKUP', 'FAULT', 'STOP'] as const;
export type VrrpState = (typeof VRRP_STATES)[number];

/** One state change of an instance or a sync group. */
export interface VrrpEvent {
  type: 'INSTANCE' | 'GROUP';
  name: string;
  state: VrrpState;
  /** The instance's priority when keepalived gives it, else null. */
  priority: number | null;
}

/** The last event of an instance or group, and when it came (ms since the epoch). */
export interface VrrpEntry extends VrrpEvent {
  since: number;
}

/** A recorded event, with the keepalived process that reported it (when known). */
export interface VrrpRecord extends VrrpEntry {
  /** keepalived's VRRP process (the notify script's parent) and its start time. */
  reporter: { pid: number; start: string } | null;
}

/** A process's start time (field 22 of /proc/PID/stat), or null when it is gone. */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether the keepalived that recorded this still runs (the record is keepalived's view now). */
export function recordCurrent(r: VrrpRecord): boolean {
  return r.reporter !== null && processStart(r.reporter.pid) === r.reporter.start;
}

function stateOf(word: string): VrrpState | null {
  const w = word.toUpperCase();
  if (w === 'DELETED') return 'STOP';
  return (VRRP_STATES as readonly string[]).includes(w) ? (w as VrrpState) : null;
}

/**
 * The arguments keepalived appends to a `notify` script: `INSTANCE|GROUP NAME STATE
 * [PRIORITY]`. Returns the event, or a message saying what is wrong.
 */
export function parseVrrpNotifyArgs(words: readonly string[]): VrrpEvent | string {
  if (words.length < 3 || words.length > 4)
    return `expected TYPE NAME STATE [PRIORITY] (as keepalived's notify passes them), got ${words.length} word(s)`;
  const type = words[0].toUpperCase();
  if (type !== 'INSTANCE' && type !== 'GROUP')
    return `type '${words[0]}': expected INSTANCE or GROUP`;
  const name = words[1];
  if (!name) return 'empty instance or group name';
  const state = stateOf(words[2]);
  if (!state) return `state '${words[2]}': expected MASTER, BACKUP, FAULT or STOP`;
  let priority: number | null = null;
  if (words.length === 4) {
    if (!/^\d{1,3}$/.test(words[3]) || Number(words[3]) > 255)
      return `priority '${words[3]}': expected 0-255`;
    priority = Number(words[3]);
  }
  return { type, name, state, priority };
}

/**
 * One line of keepalived's `vrrp_notify_fifo`: `INSTANCE "VI_1" MASTER 100`,
 * `GROUP "VG_1" BACKUP`. Lines of other kinds (`VS …`, `RS …` of the checker's FIFO,
 * MASTER_RX_LOWER_PRI) give null.
 */
export function parseVrrpFifoLine(line: string): VrrpEvent | null {
  const m = /^(INSTANCE|GROUP) "([^"]+)" ([A-Z_]+)(?: (\d+))?\s*$/.exec(line.trim());
  if (!m) return null;
  const e = parseVrrpNotifyArgs(m[4] === undefined ? [m[1], m[2], m[3]] : [m[1], m[2], m[3], m[4]]);
  return typeof e === 'string' ? null : e;
}

/** Where the notify command keeps the last event of each instance/group. */
export function vrrpStateDir(controlDir: string): string {
  return join(controlDir, 'vrrp');
}

function fileName(e: Pick<VrrpEvent, 'type' | 'name'>): string {
  return `${e.type.toLowerCase()}.${encodeURIComponent(e.name)}.json`;
}

/** Records an event for a daemon that starts later (written whole, then renamed). */
export function recordVrrpEvent(
  dir: string,
  e: VrrpEvent,
  reporter: VrrpRecord['reporter'],
  now = Date.now(),
): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const f = join(dir, fileName(e));
  const tmp = `${f}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ ...e, since: now, reporter }) + '\n', { mode: 0o644 });
  renameSync(tmp, f);
}

/** The events recorded in `dir` (files that do not parse are skipped). */
export function readVrrpEvents(dir: string): VrrpRecord[] {
  if (!existsSync(dir)) return [];
  const out: VrrpRecord[] = [];
  for (const n of readdirSync(dir)) {
    if (!n.endsWith('.json')) continue;
    try {
      const raw = JSON.parse(readFileSync(join(dir, n), 'utf8')) as Record<string, unknown>;
      const e = parseVrrpNotifyArgs([
        String(raw.type),
        String(raw.name),
        String(raw.state),
        ...(typeof raw.priority === 'number' ? [String(raw.priority)] : []),
      ]);
      const rep = raw.reporter as { pid?: unknown; start?: unknown } | null | undefined;
      const reporter =
        rep && typeof rep.pid === 'number' && typeof rep.start === 'string'
          ? { pid: rep.pid, start: rep.start }
          : null;
      if (typeof e !== 'string' && typeof raw.since === 'number')
        out.push({ ...e, since: raw.since, reporter });
    } catch {
      // a file half written by hand: nothing to learn from it
    }
  }
  return out;
}

/** The sync daemons' settings the VRRP role switches (`--sync-interface` …). */
export interface VrrpSyncSettings extends Omit<DaemonSpec, 'state'> {
  mcastIfn: string;
  /** Only this instance or group drives the sync role (default: every one notified). */
  follow?: string;
}

/** Options of {@link VrrpTracker}. */
export interface VrrpTrackerOptions {
  model: ControlModel;
  /** Switch the sync daemons with the role (absent: only record and export it). */
  sync?: VrrpSyncSettings;
  log: (line: string) => void;
}

/** The last state of every instance and group, and the sync role that follows it. */
export class VrrpTracker {
  private readonly entries = new Map<string, VrrpEntry>();
  /** Why the sync daemon the role calls for is not running, or null. */
  problem: string | null = null;

  constructor(private readonly opts: VrrpTrackerOptions) {}

  /**
   * At the daemon's start: the recorded events of a keepalived that still runs (its
   * view now: only tsvs restarted, and its crash journal holds the table), then the sync
   * role they give. Records of a keepalived that is gone are stale (the box or
   * keepalived restarted, another director may have served meanwhile): a director that
   * knows of no current MASTER rejoins as backup and learns its table.
   */
  start(recorded: readonly VrrpRecord[] = []): void {
    const current = recorded.filter(recordCurrent);
    for (const r of current)
      this.entries.set(`${r.type} ${r.name}`, {
        type: r.type,
        name: r.name,
        state: r.state,
        priority: r.priority,
        since: r.since,
      });
    if (recorded.length)
      this.opts.log(
        `vrrp: recorded states ${recorded.map((e) => `${e.type} ${e.name} ${e.state}${recordCurrent(e) ? '' : ' (stale: its keepalived is gone)'}`).join(', ')}`,
      );
    this.follow();
  }

  /** A state change from keepalived. */
  apply(e: VrrpEvent, now = Date.now()): void {
    const key = `${e.type} ${e.name}`;
    const before = this.entries.get(key);
    this.entries.set(key, { ...e, since: before?.state === e.state ? before.since : now });
    this.opts.log(
      `vrrp: ${e.type} ${e.name} ${before ? `${before.state} → ` : ''}${e.state}${e.priority !== null ? ` (priority ${e.priority})` : ''}`,
    );
    this.follow();
  }

  /** Every instance and group known, groups first. */
  list(): VrrpEntry[] {
    return [...this.entries.values()].sort((a, b) =>
      a.type === b.type ? a.name.localeCompare(b.name) : a.type === 'GROUP' ? -1 : 1,
    );
  }

  /** The entries that decide: the followed one, else the groups, else the instances. */
  private deciding(): VrrpEntry[] {
    const all = this.list();
    const f = this.opts.sync?.follow;
    if (f !== undefined) return all.filter((e) => e.name === f);
    const groups = all.filter((e) => e.type === 'GROUP');
    return groups.length ? groups : all;
  }

  /**
   * The role in one word for the dashboard and logs: the state when every deciding
   * instance/group is in the same one, else each with its name; null when keepalived
   * has told nothing yet.
   */
  role(): string | null {
    const d = this.deciding();
    if (d.length === 0) return null;
    if (d.every((e) => e.state === d[0].state)) return d[0].state;
    return d.map((e) => `${e.name} ${e.state}`).join(', ');
  }

  /** The sync role the VRRP states call for: master while one deciding entry is MASTER. */
  syncRole(): SyncState {
    return this.deciding().some((e) => e.state === 'MASTER') ? 'master' : 'backup';
  }

  /** Starts and stops the sync daemons to match {@link syncRole} (when configured). */
  private follow(): void {
    const s = this.opts.sync;
    if (!s) return;
    const want = this.syncRole();
    const other: SyncState = want === 'master' ? 'backup' : 'master';
    const model = this.opts.model;
    const running = new Set(model.daemons().map((d) => d.state));
    this.problem = null;
    try {
      if (running.has(other)) model.stopDaemon(other);
      if (!running.has(want)) {
        model.startDaemon({
          state: want,
          mcastIfn: s.mcastIfn,
          syncId: s.syncId,
          maxLen: s.maxLen,
          mcastGroup: s.mcastGroup,
          mcastPort: s.mcastPort,
          mcastTtl: s.mcastTtl,
        });
        this.opts.log(
          `vrrp: sync ${want} on ${s.mcastIfn}${other && running.has(other) ? ` (was ${other})` : ''}`,
        );
      }
    } catch (e) {
      this.problem = `the sync ${want} daemon on ${s.mcastIfn} cannot start: ${(e as Error).message}`;
      this.opts.log(`vrrp: ${this.problem}`);
    }
  }
}

/**
 * Reads keepalived's `vrrp_notify_fifo` (created with mode 0600 when missing, and then
 * removed at the end). The FIFO is opened read-write, so that it never reads an end of
 * file when keepalived closes or restarts, and never blocks the open.
 */
export class VrrpFifo {
  private sock: Socket | null = null;
  private created = false;
  private buf = '';

  constructor(
    private readonly path: string,
    private readonly onEvent: (e: VrrpEvent) => void,
    private readonly log: (line: string) => void,
  ) {}

  /** Opens the FIFO; throws when the path exists and is not a FIFO, or cannot be made. */
  start(): void {
    if (!existsSync(this.path)) {
      execFileSync('mkfifo', ['-m', '0600', this.path]);
      this.created = true;
    } else if (!statSync(this.path).isFIFO()) {
      throw new Error(`--vrrp-notify-fifo ${this.path}: exists and is not a FIFO`);
    }
    const fd = openSync(this.path, fsc.O_RDWR | fsc.O_NONBLOCK);
    try {
      this.sock = new Socket({ fd, readable: true, writable: false });
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    this.sock.setEncoding('utf8');
    this.sock.on('data', (d: string) => this.feed(d));
    this.sock.on('error', (e) => this.log(`vrrp fifo ${this.path}: ${e.message}`));
    this.sock.unref();
  }

  private feed(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      const e = parseVrrpFifoLine(line);
      if (e) this.onEvent(e);
      else if (line.trim() && !/^(VS|RS) /.test(line) && !/MASTER_RX_LOWER_PRI/.test(line))
        this.log(`vrrp fifo: not understood: ${line.trim()}`);
    }
    if (this.buf.length > 4096) this.buf = '';
  }

  stop(): void {
    this.sock?.destroy();
    this.sock = null;
    if (this.created) {
      try {
        unlinkSync(this.path);
      } catch {
        // gone already
      }
    }
  }
}

/**
 * `tsvs vrrp-notify TYPE NAME STATE [PRIORITY]`, keepalived's `notify` script: records
 * the event beside the control socket (for a daemon that starts later), then tells the
 * running daemon. Exit 0 once recorded (a daemon that does not answer reads the record
 * at its start), 2 on bad arguments or when it cannot be recorded.
 */
export async function runVrrpNotifyCommand(
  words: readonly string[],
  opts: { control?: string },
  io: { out(t: string): void; err(t: string): void } = {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
  },
): Promise<number> {
  const e = parseVrrpNotifyArgs(words);
  if (typeof e === 'string') {
    io.err(`tsvs vrrp-notify: ${e}\n`);
    return 2;
  }
  const { ControlClient, controlPath } = await import('../control/client.js');
  const { dirname } = await import('node:path');
  const path = opts.control ?? controlPath();
  try {
    const start = processStart(process.ppid);
    recordVrrpEvent(
      vrrpStateDir(dirname(path)),
      e,
      start === null ? null : { pid: process.ppid, start },
    );
  } catch (err) {
    io.err(`tsvs vrrp-notify: cannot record the state: ${(err as Error).message}\n`);
    return 2;
  }
  try {
    const c = await ControlClient.connect(path, 2000);
    try {
      await c.call({ cmd: 'vrrpNotify', ...e });
    } finally {
      c.close();
    }
  } catch (err) {
    io.err(`tsvs vrrp-notify: recorded; the daemon was not told: ${(err as Error).message}\n`);
  }
  return 0;
}
