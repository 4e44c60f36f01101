/**
 * Upgrade without a gap (issue 14 item 4): `tsvs daemon --takeover` starts a new
 * daemon beside the running one, which hands over its engine state and its data plane
 * over the control socket.
 *
 * 1. The new daemon loads the configuration and resolves next hops while the old one
 *    still forwards, serving its control socket on a temporary path.
 * 2. `takeover bulk` → the old daemon exports its engine's state in slices while it
 *    still forwards (engine/state-export.ts StateExport: the event loop turns between
 *    them, the conns that change meanwhile are noted by the per-connection events) and
 *    answers it, going on noting changes; the new daemon imports it (StateImport.bulk)
 *    while the old one still forwards.
 * 3. `takeover begin` → the old daemon stops reading, keeping its queue and TUN
 *    descriptors open (the SYN device's too), and answers the delta (the conns changed,
 *    added or gone since the bulk, and everything but the conns as of now), its pid,
 *    the numbers of those descriptors and when it stopped reading. While they are open
 *    the kernel holds what the capture takes (a queue up to its length and socket
 *    buffer, a TUN device up to its txqueuelen): nothing is dropped, nothing reaches
 *    the local stack. The new daemon applies the delta over the bulk
 *    (StateImport.delta), copies the descriptors (pidfd_getfd) and reads them: what
 *    arrived during the hand-over is read then, late by the hand-over's length.
 *    Descriptors it cannot copy (no pidfd_getfd) are opened anew, as before: the old
 *    daemon's are closed when it exits, and what they held is dropped. An old daemon
 *    that knows no `bulk` answers `begin` with the whole state (exported in slices,
 *    then parked, then the final delta), imported in one go.
 * 4. `takeover done` → the old daemon exits; the new one moves its control socket to
 *    the usual path. Should the new daemon not confirm (it failed, or went away), the
 *    old one resumes by itself.
 *
 * @module
 */
import { closeSync, renameSync } from 'node:fs';
import { ControlClient } from '../control/client.js';
import { ControlError } from '../control/model.js';
import type { Engine } from '../engine/engine.js';
import { StateImport, type ImportSummary } from '../engine/state.js';
import {
  exportSliced,
  exportStaged,
  stateFromWire,
  stateToWire,
  type StagedExport,
} from './state.js';

/** The old daemon resumes when the successor has not confirmed within this time. */
export const TAKEOVER_CONFIRM_MS = 10_000;

/** What the old daemon does at each step (the daemon's parts). */
export interface HandoverSide {
  engine: Engine;
  /**
   * Stop reading packets, leaving capture in place (Director.park), its descriptors
   * open when `keep` (for the successor to copy), and stop side jobs.
   */
  park(keep: boolean): void;
  /** Close the descriptors kept open (the successor could not copy them). */
  release(): void;
  /** The capture's descriptors the successor copies (Director.descriptors). */
  descriptors(): { name: string; fd: number }[];
  /** Read packets again (the successor failed). */
  resume(): Promise<void>;
  /** The successor runs: exit. */
  exit(): void;
  log(line: string): void;
}

/** The old daemon's side: the `takeover` control command. */
export class Handover {
  private phase: 'running' | 'bulk' | 'staged' | 'handing' | 'done' = 'running';
  private timer: NodeJS.Timeout | undefined;
  /** The bulk handed out, noting changes until `begin` (phase `staged`). */
  private staged: { x: StagedExport; ms: number } | null = null;

  constructor(private readonly side: HandoverSide) {}

  /** Handles `takeover {phase}` (the control command; `bulk`/`begin` answer once exported). */
  takeover(phase: string): unknown {
    switch (phase) {
      case 'bulk':
        if (this.phase !== 'running')
          throw new ControlError('request', 'EBUSY', 'a hand-over is already under way');
        this.phase = 'bulk';
        return this.bulk();
      case 'begin':
      case 'begin-keep': {
        if (this.phase !== 'running' && this.phase !== 'staged')
          throw new ControlError('request', 'EBUSY', 'a hand-over is already under way');
        this.phase = 'handing';
        clearTimeout(this.timer);
        // a successor that copies descriptors says so; an older one opens its own
        return this.begin(phase === 'begin-keep');
      }
      case 'release':
        if (this.phase !== 'handing')
          throw new ControlError('request', 'EINVAL', 'no hand-over under way');
        this.side.release();
        return null;
      case 'done':
        if (this.phase !== 'handing')
          throw new ControlError('request', 'EINVAL', 'no hand-over under way');
        clearTimeout(this.timer);
        this.phase = 'done';
        this.side.log('hand-over: the new daemon runs; exiting');
        setImmediate(() => this.side.exit());
        return null;
      case 'abort':
        this.abort('the new daemon gave up');
        return null;
      default:
        throw new ControlError('request', 'EINVAL', `unknown takeover phase '${phase}'`);
    }
  }

  /** The bulk, exported while forwarding; changes go on being noted (module comment). */
  private async bulk(): Promise<unknown> {
    const t0 = performance.now();
    let x: StagedExport;
    try {
      x = await exportStaged(this.side.engine);
    } catch (e) {
      this.phase = 'running';
      throw e;
    }
    if (this.phase !== 'bulk') {
      // given up meanwhile
      x.close();
      return null;
    }
    const t1 = performance.now();
    const wire = stateToWire(x.bulk);
    const t2 = performance.now();
    this.staged = { x, ms: t2 - t0 };
    this.phase = 'staged';
    this.side.log(
      `hand-over: a new daemon takes over; ${x.bulk.conns.n} conn(s) exported in ${(t1 - t0).toFixed(1)} ms ` +
        `and encoded in ${(t2 - t1).toFixed(1)} ms while forwarding`,
    );
    // a successor that never begins: stop noting changes
    this.timer = setTimeout(() => this.abort('the new daemon did not begin'), TAKEOVER_CONFIRM_MS);
    this.timer.unref?.();
    return { state: wire };
  }

  /** Parks and answers the delta since the bulk, or (no bulk) the whole state. */
  private async begin(keep: boolean): Promise<unknown> {
    const t0 = performance.now();
    let parkedAt = 0;
    let t1 = 0;
    let tp = 0;
    let wire: unknown;
    let n: number;
    const staged = this.staged;
    this.staged = null;
    try {
      if (staged) {
        t1 = performance.now();
        this.side.park(keep);
        parkedAt = Date.now();
        tp = performance.now();
        const d = staged.x.delta();
        n = d.state.conns.n;
        wire = { delta: stateToWire(d) };
      } else {
        const state = await exportSliced(this.side.engine, () => {
          t1 = performance.now();
          this.side.park(keep);
          parkedAt = Date.now();
        });
        n = state.conns.n;
        wire = { state: stateToWire(state) };
      }
    } catch (e) {
      staged?.x.close();
      this.phase = 'running';
      if (parkedAt) {
        this.side.log(`hand-over abandoned (${(e as Error).message}): reading packets again`);
        await this.side.resume();
      }
      throw e;
    }
    const t3 = performance.now();
    this.side.log(
      `hand-over: stopped reading packets${keep ? ' (capture descriptors kept open for it)' : ''}; ` +
        (staged
          ? `parking ${(tp - t1).toFixed(1)} ms, then the delta of ${n} conn(s) taken and encoded in ${(t3 - tp).toFixed(1)} ms`
          : `${n} conn(s) exported in ${(t1 - t0).toFixed(1)} ms while forwarding, ` +
            `final delta and encoding ${(t3 - t1).toFixed(1)} ms after it stopped`),
    );
    this.timer = setTimeout(
      () => this.abort('the new daemon did not confirm'),
      TAKEOVER_CONFIRM_MS,
    );
    this.timer.unref?.();
    return {
      pid: process.pid,
      exportMs: Math.round(t3 - t0 + (staged?.ms ?? 0)),
      parkedAt,
      ...(wire as object),
      fds: keep ? this.side.descriptors() : [],
    };
  }

  private abort(why: string): void {
    if (this.phase === 'bulk' || this.phase === 'staged') {
      // not parked: nothing to resume
      clearTimeout(this.timer);
      this.staged?.x.close();
      this.staged = null;
      this.phase = 'running';
      this.side.log(`hand-over abandoned before it began (${why})`);
      return;
    }
    if (this.phase !== 'handing') return;
    clearTimeout(this.timer);
    this.phase = 'running';
    this.side.log(`hand-over abandoned (${why}): reading packets again`);
    this.side.resume().catch((e: Error) => this.side.log(`resuming: ${e.message}`));
  }
}

/** The new daemon's side of one hand-over. */
export class Successor {
  private constructor(
    private readonly client: ControlClient,
    private readonly path: string,
  ) {}

  /** Connects to the running daemon's control socket. */
  static async connect(path: string): Promise<Successor> {
    return new Successor(await ControlClient.connect(path, 5000), path);
  }

  /**
   * `takeover bulk`, imported into `engine` while the old daemon still forwards, then
   * `takeover begin`: the old daemon stops reading and answers the delta since, applied
   * here (call from the Director's beforeAttach: the engine must not run between the
   * two). An old daemon that knows no `bulk` answers `begin` with the whole state.
   */
  async receive(
    engine: Engine,
    now: () => number,
    copy?: (pid: number, fd: number) => number,
  ): Promise<
    ImportSummary & {
      ms: number;
      fds: { name: string; fd: number }[];
      why?: string;
      /** When the old daemon stopped reading (wall clock, ms). */
      parkedAt: number;
      exportMs: number;
      /** The bulk's transfer and import, before the old daemon stopped (NaN: none). */
      bulkMs: number;
      /** The import after it stopped (the delta, or the whole state). */
      importMs: number;
      /** Conns and templates the delta added or replaced (NaN: no bulk). */
      delta: number;
    }
  > {
    const t0 = Date.now();
    const im = new StateImport(engine);
    let bulkMs = NaN;
    let bulk: ImportSummary | undefined;
    try {
      const b = (await this.client.call({ cmd: 'takeover', phase: 'bulk' })) as { state: unknown };
      const tb = performance.now();
      bulk = im.bulk(stateFromWire(b.state), now());
      bulkMs = Math.round(performance.now() - tb);
    } catch (e) {
      // an old daemon: the whole state comes with begin
      if (
        !(e instanceof ControlError) ||
        !/unknown takeover phase/.test(`${e.message} ${e.detail}`)
      )
        throw e;
    }
    const r = (await this.client.call({
      cmd: 'takeover',
      phase: copy ? 'begin-keep' : 'begin',
    })) as {
      state?: unknown;
      delta?: unknown;
      pid?: unknown;
      fds?: unknown;
      parkedAt?: unknown;
      exportMs?: unknown;
    };
    const ti = performance.now();
    let s: ImportSummary;
    let delta = NaN;
    if (bulk) {
      const d = im.delta(stateFromWire(r.delta), now());
      delta = d.conns + d.templates;
      const all = im.totals();
      s = {
        ...d,
        conns: all.conns,
        templates: all.templates,
        destsGone: d.destsGone + bulk.destsGone,
        schedFresh: [...new Set([...bulk.schedFresh, ...d.schedFresh])],
      };
    } else s = im.bulk(stateFromWire(r.state), now());
    const importMs = Math.round(performance.now() - ti);
    // the old daemon's capture descriptors, copied while it keeps them open
    const fds: { name: string; fd: number }[] = [];
    let why: string | undefined;
    if (copy && typeof r.pid === 'number' && Array.isArray(r.fds))
      for (const e of r.fds as { name?: unknown; fd?: unknown }[]) {
        if (typeof e?.name !== 'string' || typeof e.fd !== 'number') continue;
        try {
          fds.push({ name: e.name, fd: copy(r.pid, e.fd) });
        } catch (err) {
          why = (err as Error).message;
        }
      }
    // not all copied: the old daemon closes its own, so the queues can be bound anew
    if (why !== undefined) {
      for (const f of fds) closeSync(f.fd);
      fds.length = 0;
      await this.client.call({ cmd: 'takeover', phase: 'release' });
    }
    return {
      ...s,
      ms: Date.now() - t0,
      fds,
      why,
      parkedAt: typeof r.parkedAt === 'number' ? r.parkedAt : NaN,
      exportMs: typeof r.exportMs === 'number' ? r.exportMs : NaN,
      bulkMs,
      importMs,
      delta,
    };
  }

  /** Something failed on this side: the old daemon resumes. */
  async abort(): Promise<void> {
    try {
      await this.client.call({ cmd: 'takeover', phase: 'abort' });
    } catch {
      /* it resumes on its own when this connection closes */
    }
    this.client.close();
  }

  /**
   * `takeover done`: the old daemon exits. Once it has closed its control socket, the
   * socket served at `tempPath` is moved to the usual path.
   */
  async confirm(tempPath: string): Promise<void> {
    await this.client.call({ cmd: 'takeover', phase: 'done' });
    // it answered first and exits next: ask until nothing answers (one request at a
    // time, so no request is in flight when its socket goes)
    for (let i = 0; i < 500; i++) {
      try {
        await this.client.call({ cmd: 'info' });
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    renameSync(tempPath, this.path);
  }
}
