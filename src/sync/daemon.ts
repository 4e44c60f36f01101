/**
 * The sync daemons (`ipvsadm --start-daemon master|backup`, spec §12.1): UDP multicast
 * between directors. A master hooks {@link SyncMaster} into the engine and sends its
 * datagrams to the group (default 224.0.0.81:8848, TTL 1, loop off) out of the given
 * interface; a backup joins the group on that interface and applies every record it
 * receives ({@link applySyncConn}). Only one process per network namespace should run
 * each role (as with the kernel). One socket (the kernel's sync_ports = 1).
 *
 * The backup's socket is bound as the kernel's `make_receive_sock` binds it: to the
 * group's address and port (not the wildcard), so a unicast datagram sent to one of
 * the director's own addresses is never received, and joined to the group on the sync
 * interface only. The kernel also ties the socket to the interface
 * (`sk_bound_dev_if`); Node cannot (no SO_BINDTODEVICE, no IP_PKTINFO), so a datagram
 * whose source is not on the sync interface's link (its subnets, and fe80::/10) is
 * dropped and counted as `refused`: sync travels one hop (TTL 1) from a master on that
 * link, and with rp_filter a source of that link cannot arrive through another
 * interface.
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
import { parseAddr } from '../engine/addr.js';

/** Counters of one daemon (for logs, the control API and tests). */
export interface SyncCounters {
  datagrams: number;
  conns: number;
  /** Backup: records by outcome; datagrams with problems. */
  outcomes: Record<SyncOutcome, number>;
  problems: number;
  /** Backup: datagrams dropped for coming from outside the sync interface's link. */
  refused: number;
}

/** The first address of the interface in that family (multicast source / membership). */
function interfaceAddress(ifn: string, v6: boolean): string | undefined {
  const l = networkInterfaces()[ifn] ?? [];
  const a = l.find((x) => (v6 ? x.family === 'IPv6' : x.family === 'IPv4'));
  return a?.address;
}

/** A network of an interface: family, address words and prefix length. */
export interface LinkNet {
  af: 4 | 6;
  words: Uint32Array;
  prefix: number;
}

/** The networks of an interface in one family. */
function interfaceNets(ifn: string, v6: boolean): LinkNet[] {
  const out: LinkNet[] = [];
  for (const a of networkInterfaces()[ifn] ?? []) {
    if ((a.family === 'IPv6') !== v6 || !a.cidr) continue;
    const p = parseAddr(a.address.replace(/%.*$/, ''));
    if (p) out.push({ af: p.af, words: p.words, prefix: Number(a.cidr.split('/')[1]) });
  }
  return out;
}

/**
 * Whether `source` (a datagram's sender) is on one of `nets` (or IPv6 link-local):
 * what the backup accepts, standing in for the kernel's binding to the interface.
 */
export function onLink(source: string, nets: readonly LinkNet[]): boolean {
  const p = parseAddr(source.replace(/%.*$/, ''));
  if (!p) return false;
  if (p.af === 6 && p.words[0] >>> 22 === 0x3fa) return true; // fe80::/10
  const n4 = p.af === 4 ? 1 : 4;
  for (const n of nets) {
    if (n.af !== p.af) continue;
    let same = true;
    for (let i = 0, left = n.prefix; i < n4 && left > 0 && same; i++, left -= 32) {
      const bits = Math.min(32, left);
      const mask = bits === 32 ? 0xffffffff : ~(0xffffffff >>> bits) >>> 0;
      if (((p.words[i] ^ n.words[i]) & mask) >>> 0 !== 0) same = false;
    }
    if (same) return true;
  }
  return false;
}

/** The master's timer: flushes old datagrams and steps the full pass. */
const TICK_MS = 100;

/** Default period of the master's full pass (`tsvs daemon --sync-full-pass`). */
export const DEFAULT_FULL_PASS_MS = 10_000;

/**
 * How long a backup learns after {@link DEFAULT_FULL_PASS_MS}-style passes: one whole
 * pass, the 2 s a datagram may wait before it is sent, and a second of margin.
 */
export function learnWindowMs(fullPassMs: number): number {
  return fullPassMs + 3000;
}

/** Options of {@link SyncDaemons}. */
export interface SyncDaemonsOptions {
  /**
   * Period of a master's full pass over its table (0: none, as the kernel); default
   * {@link DEFAULT_FULL_PASS_MS}.
   */
  fullPassMs?: number;
  /** How long a director learns once its first backup daemon started; default {@link learnWindowMs}. */
  learnMs?: number;
}

/** Whether the director is still learning its table from sync (docs/ha.md). */
export interface LearningState {
  /** True from the first backup daemon's start until the window has passed. */
  learning: boolean;
  /** When the first backup daemon of this run started (ms since the epoch), or null. */
  since: number | null;
  /** Milliseconds of the window left (0 when not learning). */
  remainingMs: number;
  /** The window (ms). */
  windowMs: number;
  /** Datagrams the backup received so far; when the last arrived (ms), or null. */
  datagrams: number;
  lastDatagram: number | null;
}

class Running {
  readonly counters: SyncCounters = {
    datagrams: 0,
    conns: 0,
    outcomes: { created: 0, updated: 0, replaced: 0, stale: 0, skipped: 0 },
    problems: 0,
    refused: 0,
  };
  private master: SyncMaster | null = null;
  /** Backup: when the last datagram from the group arrived (ms), or 0. */
  lastDatagram = 0;
  private timer: NodeJS.Timeout | undefined;
  /** A join or interface choice waiting for the sync interface (see onInterface). */
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Backup: called when the group was joined only after a wait (the link was down). */
  onLateJoin: (() => void) | null = null;
  private boundNow!: () => void;
  /** Resolves once the socket is bound and configured (joined), or failed to be. */
  readonly bound = new Promise<void>((resolve) => (this.boundNow = resolve));

  constructor(
    private readonly engine: Engine,
    readonly d: DaemonEntry,
    private readonly sock: Socket,
    private readonly log: (line: string) => void,
    private readonly fullPassMs: number,
  ) {}

  /** Full passes the master completed. */
  get passes(): number {
    return this.master?.sent.passes ?? 0;
  }

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
        sock.setMulticastTTL(d.mcastTtl);
        sock.setMulticastLoopback(false);
      } catch (e) {
        this.log(`sync master on ${d.mcastIfn}: ${(e as Error).message}`);
      }
      // the sending interface, once it has an address (it may be down now)
      this.onInterface('send on', (src) =>
        sock.setMulticastInterface(v6 ? `::%${d.mcastIfn}` : src),
      );
      this.boundNow();
    });
    m.attach();
    this.master = m;
    const pass = this.fullPassMs;
    this.timer = setInterval(() => {
      // the full pass: the whole table every fullPassMs, a slice per tick
      if (pass > 0) m.passStep(Math.ceil((this.engine.conns.cap * TICK_MS) / pass));
      m.tick(Date.now());
    }, TICK_MS);
    this.timer.unref?.();
  }

  startBackup(): void {
    const { d, sock, engine } = this;
    const v6 = d.mcastGroup.includes(':');
    let nets = interfaceNets(d.mcastIfn, v6);
    let netsAt = Date.now();
    sock.on('message', (msg, rinfo) => {
      if (!onLink(rinfo.address, nets)) {
        // the interface's addresses may have changed (or come with the link): read
        // them again, at most once a second
        const now = Date.now();
        if (now - netsAt < 1000 || !onLink(rinfo.address, (nets = interfaceNets(d.mcastIfn, v6)))) {
          if (now - netsAt >= 1000) netsAt = now;
          this.counters.refused++;
          return;
        }
        netsAt = now;
      }
      const m = decodeSync(new Uint8Array(msg.buffer, msg.byteOffset, msg.length), d.syncId);
      this.counters.datagrams++;
      this.lastDatagram = Date.now();
      if (m.problems.length) this.counters.problems++;
      for (const r of m.conns) {
        this.counters.conns++;
        this.counters.outcomes[applySyncConn(engine, r, m.version, Date.now())]++;
      }
    });
    // the group's address, as make_receive_sock binds (a link-scope IPv6 group needs
    // the interface as its scope)
    const group =
      v6 && /^ff.2:/i.test(d.mcastGroup) ? `${d.mcastGroup}%${d.mcastIfn}` : d.mcastGroup;
    sock.bind({ port: d.mcastPort, address: group }, () => {
      // the kernel joins by the interface's index, whatever its state; Node joins by
      // its address, which a down link does not list: join once it does (the
      // membership then outlives the link going down and up)
      this.onInterface(`join ${d.mcastGroup} on`, (addr, late) => {
        sock.addMembership(d.mcastGroup, v6 ? `::%${d.mcastIfn}` : addr);
        nets = interfaceNets(d.mcastIfn, v6);
        if (late) this.onLateJoin?.();
      });
      this.boundNow();
    });
    engine.syncBackup = true;
  }

  /** The bind is over (it failed: the error is logged). */
  settle(): void {
    this.boundNow();
  }

  /**
   * Runs `use` with the sync interface's address as soon as it has one (IPv6: as soon
   * as it has any, `use` gets '' and names the interface by scope), retrying every
   * second while the interface is down, has no address or `use` throws — logged once;
   * `late` tells `use` that it did not work at once.
   */
  private onInterface(what: string, use: (address: string, late: boolean) => void): void {
    const { d } = this;
    const v6 = d.mcastGroup.includes(':');
    let told = false;
    const attempt = (): void => {
      this.retry = undefined;
      const addr = v6 ? '' : interfaceAddress(d.mcastIfn, false);
      let err = addr === undefined ? 'no IPv4 address (down?)' : '';
      if (!err) {
        try {
          use(addr as string, told);
          if (told) this.log(`sync: ${what} ${d.mcastIfn}: done`);
          return;
        } catch (e) {
          err = (e as Error).message;
        }
      }
      if (!told) this.log(`sync: ${what} ${d.mcastIfn}: ${err}; trying again every second`);
      told = true;
      if (!this.stopped) {
        this.retry = setTimeout(attempt, 1000);
        this.retry.unref?.();
      }
    };
    attempt();
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.boundNow();
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
  /** When the first backup daemon of this run started, or null. */
  private learnFrom: number | null = null;
  private backupDatagrams = 0;
  private backupLast = 0;
  readonly fullPassMs: number;
  readonly learnMs: number;

  constructor(
    private readonly engine: Engine,
    private readonly log: (line: string) => void = () => undefined,
    opts: SyncDaemonsOptions = {},
  ) {
    this.fullPassMs = opts.fullPassMs ?? DEFAULT_FULL_PASS_MS;
    this.learnMs = opts.learnMs ?? learnWindowMs(this.fullPassMs);
  }

  /**
   * The learning state at `now`: a director learns from the moment its first backup
   * daemon starts until {@link learnMs} later — by then a master running tsvs has sent
   * its whole table at least once (its full pass), whatever the connections did. A
   * backup that could join the sync group only later (its interface was down: a cable
   * pulled, keepalived's FAULT) starts the window again when it joins.
   */
  learning(now = Date.now()): LearningState {
    const b = this.running.get('backup');
    const datagrams = this.backupDatagrams + (b?.counters.datagrams ?? 0);
    const last = Math.max(this.backupLast, b?.lastDatagram ?? 0);
    const remaining =
      this.learnFrom === null ? 0 : Math.max(0, this.learnFrom + this.learnMs - now);
    return {
      learning: remaining > 0,
      since: this.learnFrom,
      remainingMs: remaining,
      windowMs: this.learnMs,
      datagrams,
      lastDatagram: last > 0 ? last : null,
    };
  }

  /** Starts a daemon; throws (the control request fails) when the socket cannot be made. */
  start(d: DaemonEntry): void {
    const v6 = d.mcastGroup.includes(':');
    const sock = createSocket({ type: v6 ? 'udp6' : 'udp4', reuseAddr: true });
    sock.on('error', (e) => this.log(`sync ${d.state}: ${e.message}`));
    const r = new Running(this.engine, d, sock, this.log, this.fullPassMs);
    sock.once('error', () => r.settle());
    if (d.state === 'master') r.startMaster();
    else {
      // deaf until then: what the master sent meanwhile was missed, learn again
      r.onLateJoin = () => {
        this.learnFrom = Date.now();
        this.log(`sync backup: joined ${d.mcastGroup} late; learning the table again`);
      };
      r.startBackup();
      if (this.learnFrom === null) this.learnFrom = Date.now();
    }
    this.running.set(d.state, r);
    this.log(
      `sync ${d.state} started: ${d.mcastGroup}:${d.mcastPort} on ${d.mcastIfn}, syncid ${d.syncId}`,
    );
  }

  /**
   * Resolves once every daemon's socket is bound and joined: what a `--start-daemon`
   * answer waits for, so that when it returns the daemon receives (or sends).
   */
  settled(): Promise<void> {
    return Promise.all([...this.running.values()].map((r) => r.bound)).then(() => undefined);
  }

  stop(state: SyncState): void {
    const r = this.running.get(state);
    if (!r) return;
    if (state === 'backup') {
      this.backupDatagrams += r.counters.datagrams;
      this.backupLast = Math.max(this.backupLast, r.lastDatagram);
    }
    r.stop();
    this.running.delete(state);
    this.log(`sync ${state} stopped`);
  }

  /** Counters of a running daemon. */
  counters(state: SyncState): SyncCounters | undefined {
    return this.running.get(state)?.counters;
  }

  /** Every running daemon's counters (for metrics). */
  all(): { role: SyncState; datagrams: number; conns: number; passes: number }[] {
    return [...this.running].map(([role, r]) => ({
      role,
      datagrams: r.counters.datagrams,
      conns: r.counters.conns,
      passes: r.passes,
    }));
  }

  stopAll(): void {
    for (const s of [...this.running.keys()]) this.stop(s);
  }
}
