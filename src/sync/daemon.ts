/**
 * The sync daemons (`ipvsadm --start-daemon master|backup`, spec §12.1): UDP multicast
 * between directors. A master hooks {@link SyncMaster} into the engine and sends its
 * datagrams to the group (default 224.0.0.81:8848, TTL 1, loop off) out of the given
 * interface; a backup joins the group on that interface and applies every record it
 * receives ({@link applySyncConn}). Only one process per network namespace should run
 * each role (as with the kernel). One socket (the kernel's sync_ports = 1).
 *
 * @module
 */
import { createSocket, type Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import type { Engine } from '../engine/engine.js';
import type { DaemonEntry, SyncState } from '../control/model.js';
import { SyncMaster } from './master.js';
import { applySyncConn, type SyncOutcome } from './backup.js';
import { decodeSync } from './message.js';

/** Counters of one daemon (for logs, the control API and tests). */
export interface SyncCounters {
  datagrams: number;
  conns: number;
  /** Backup: records by outcome; datagrams with problems. */
  outcomes: Record<SyncOutcome, number>;
  problems: number;
}

/** The first address of the interface in that family (multicast source / membership). */
function interfaceAddress(ifn: string, v6: boolean): string | undefined {
  const l = networkInterfaces()[ifn] ?? [];
  const a = l.find((x) => (v6 ? x.family === 'IPv6' : x.family === 'IPv4'));
  return a?.address;
}

class Running {
  readonly counters: SyncCounters = {
    datagrams: 0,
    conns: 0,
    outcomes: { created: 0, updated: 0, replaced: 0, stale: 0, skipped: 0 },
    problems: 0,
  };
  private master: SyncMaster | null = null;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly engine: Engine,
    readonly d: DaemonEntry,
    private readonly sock: Socket,
    private readonly log: (line: string) => void,
  ) {}

  startMaster(): void {
    const { d, sock } = this;
    const v6 = d.mcastGroup.includes(':');
    const m = new SyncMaster(this.engine, {
      syncId: d.syncId,
      maxLen: d.maxLen,
      send: (dgram) => {
        this.counters.datagrams++;
        this.counters.conns = m.sent.conns;
        sock.send(dgram, d.mcastPort, d.mcastGroup, (err) => {
          if (err) this.log(`sync master: send: ${err.message}`);
        });
      },
    });
    sock.bind(0, () => {
      try {
        const src = interfaceAddress(d.mcastIfn, v6);
        if (src) sock.setMulticastInterface(v6 ? `::%${d.mcastIfn}` : src);
        sock.setMulticastTTL(d.mcastTtl);
        sock.setMulticastLoopback(false);
      } catch (e) {
        this.log(`sync master on ${d.mcastIfn}: ${(e as Error).message}`);
      }
    });
    m.attach();
    this.master = m;
    this.timer = setInterval(() => m.tick(Date.now()), 100);
    this.timer.unref?.();
  }

  startBackup(): void {
    const { d, sock, engine } = this;
    const v6 = d.mcastGroup.includes(':');
    sock.on('message', (msg) => {
      const m = decodeSync(new Uint8Array(msg.buffer, msg.byteOffset, msg.length), d.syncId);
      this.counters.datagrams++;
      if (m.problems.length) this.counters.problems++;
      for (const r of m.conns) {
        this.counters.conns++;
        this.counters.outcomes[applySyncConn(engine, r, m.version, Date.now())]++;
      }
    });
    sock.bind(d.mcastPort, () => {
      try {
        sock.addMembership(
          d.mcastGroup,
          v6 ? `::%${d.mcastIfn}` : interfaceAddress(d.mcastIfn, false),
        );
      } catch (e) {
        this.log(`sync backup on ${d.mcastIfn}: join ${d.mcastGroup}: ${(e as Error).message}`);
      }
    });
    engine.syncBackup = true;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.master) this.master.detach();
    else this.engine.syncBackup = false;
    this.sock.close();
  }
}

/**
 * The sync daemons of one director, started and stopped by the control model
 * (`ModelOptions.sync`).
 */
export class SyncDaemons {
  private readonly running = new Map<SyncState, Running>();

  constructor(
    private readonly engine: Engine,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  /** Starts a daemon; throws (the control request fails) when the socket cannot be made. */
  start(d: DaemonEntry): void {
    const v6 = d.mcastGroup.includes(':');
    const sock = createSocket({ type: v6 ? 'udp6' : 'udp4', reuseAddr: true });
    sock.on('error', (e) => this.log(`sync ${d.state}: ${e.message}`));
    const r = new Running(this.engine, d, sock, this.log);
    if (d.state === 'master') r.startMaster();
    else r.startBackup();
    this.running.set(d.state, r);
    this.log(
      `sync ${d.state} started: ${d.mcastGroup}:${d.mcastPort} on ${d.mcastIfn}, syncid ${d.syncId}`,
    );
  }

  stop(state: SyncState): void {
    const r = this.running.get(state);
    if (!r) return;
    r.stop();
    this.running.delete(state);
    this.log(`sync ${state} stopped`);
  }

  /** Counters of a running daemon. */
  counters(state: SyncState): SyncCounters | undefined {
    return this.running.get(state)?.counters;
  }

  /** Every running daemon's counters (for metrics). */
  all(): { role: SyncState; datagrams: number; conns: number }[] {
    return [...this.running].map(([role, r]) => ({
      role,
      datagrams: r.counters.datagrams,
      conns: r.counters.conns,
    }));
  }

  stopAll(): void {
    for (const s of [...this.running.keys()]) this.stop(s);
  }
}
