/**
 * Connection synchronisation, master side (spec §12.4): which conns are sent when,
 * and the buffering of records into datagrams (§12.1). The engine calls
 * {@link SyncMaster.onConn} for every INPUT packet of a conn (its `syncMaster` hook);
 * the decision is the kernel's `ip_vs_sync_conn` / `ip_vs_sync_conn_needed`, up the
 * chain of controlling conns (templates, FTP control conns).
 *
 * Nothing here touches the network: finished datagrams go to `send`.
 *
 * @module
 */
import type { Engine } from '../engine/engine.js';
import {
  CONN_F_HASHED,
  CONN_F_ONE_PACKET,
  CONN_F_SEQ_MASK,
  CONN_F_TEMPLATE,
  IPPROTO_SCTP,
  IPPROTO_TCP,
} from '../engine/constants.js';
import {
  TCP_S_CLOSE,
  TCP_S_CLOSE_WAIT,
  TCP_S_ESTABLISHED,
  TCP_S_FIN_WAIT,
  TCP_S_TIME_WAIT,
} from '../engine/proto/tcp.js';
import {
  SCTP_S_CLOSED,
  SCTP_S_ESTABLISHED,
  SCTP_S_SHUTDOWN_ACK_SENT,
  SCTP_S_SHUTDOWN_RECEIVED,
  SCTP_S_SHUTDOWN_SENT,
} from '../engine/proto/sctp.js';
import { SyncEncoder, type SyncConn } from './message.js';
import { setMasterListener } from './hook.js';

/** TCP states a conn is ever sent in (§12.4 step 3). */
const TCP_SYNC_STATES =
  (1 << TCP_S_ESTABLISHED) |
  (1 << TCP_S_FIN_WAIT) |
  (1 << TCP_S_CLOSE) |
  (1 << TCP_S_CLOSE_WAIT) |
  (1 << TCP_S_TIME_WAIT);

/** SCTP states a conn is ever sent in (the kernel's ip_vs_sync_conn_needed). */
const SCTP_SYNC_STATES =
  (1 << SCTP_S_ESTABLISHED) |
  (1 << SCTP_S_SHUTDOWN_SENT) |
  (1 << SCTP_S_SHUTDOWN_RECEIVED) |
  (1 << SCTP_S_SHUTDOWN_ACK_SENT) |
  (1 << SCTP_S_CLOSED);

/** A datagram waiting longer than this is sent even if not full (§12.1). */
export const SYNC_FLUSH_MS = 2000;

export interface SyncMasterOptions {
  syncId: number;
  /** Largest datagram payload (sync_maxlen: default MTU 1500 − IP/UDP headers). */
  maxLen?: number;
  /** Gets every finished datagram. */
  send: (datagram: Uint8Array) => void;
}

export class SyncMaster {
  private enc: SyncEncoder;
  private encVersion: 0 | 1;
  /** When the first record of the current datagram was added (engine ms), or -1. */
  private since = -1;
  /**
   * Records sent, datagrams sent; full passes completed and the records they sent (for
   * logs and tests).
   */
  readonly sent = { conns: 0, datagrams: 0, passes: 0, passConns: 0 };
  /** The next conn id the full pass looks at. */
  private passAt = 0;
  /** Reused records, IPv4 (one-word addresses) and IPv6. */
  private readonly rec4: SyncConn;
  private readonly rec6: SyncConn;

  constructor(
    private readonly engine: Engine,
    private readonly opts: SyncMasterOptions,
  ) {
    this.encVersion = engine.settings.sync_version === 0 ? 0 : 1;
    this.enc = new SyncEncoder(this.encVersion, opts.syncId, opts.maxLen ?? 1500 - 28);
    const rec = (af: 4 | 6): SyncConn => ({
      af,
      protocol: 0,
      flags: 0,
      state: 0,
      cport: 0,
      vport: 0,
      dport: 0,
      fwmark: 0,
      timeout: 0,
      caddr: new Uint32Array(af === 4 ? 1 : 4),
      vaddr: new Uint32Array(af === 4 ? 1 : 4),
      daddr: new Uint32Array(af === 4 ? 1 : 4),
    });
    this.rec4 = rec(4);
    this.rec6 = rec(6);
  }

  /** Hooks this master into its engine (`engine.syncMaster`). */
  attach(): void {
    setMasterListener(this.engine, (id, pkts) => this.onConn(id, pkts));
  }

  /** Unhooks it and sends what is buffered. */
  detach(): void {
    setMasterListener(this.engine, null);
    this.flush();
  }

  /** `ip_vs_sync_conn`: the conn, then its controllers up the chain. */
  onConn(id: number, pkts: number): void {
    const c = this.engine.conns;
    const threshold = this.engine.settings.sync_threshold[0];
    // ONE_PACKET conns are never sent; their controller is considered
    if (c.flags[id] & CONN_F_ONE_PACKET) {
      const ct = c.control[id];
      if (ct < 0) return;
      id = ct;
      pkts = c.flags[ct] & CONN_F_TEMPLATE ? ++c.inPkts[ct] : threshold;
    }
    for (let guard = 0; guard < 16; guard++) {
      if (this.needed(id, pkts)) this.add(id);
      const ct = c.control[id];
      if (ct < 0) return;
      pkts = c.flags[ct] & CONN_F_TEMPLATE ? ++c.inPkts[ct] : threshold;
      id = ct;
    }
  }

  /** Whether the conn or one of its controllers is a persistence template. */
  private inPersistence(id: number): boolean {
    const c = this.engine.conns;
    for (let ct = c.control[id], n = 0; ct >= 0 && n < 16; ct = c.control[ct], n++)
      if (c.flags[ct] & CONN_F_TEMPLATE) return true;
    return false;
  }

  /** `ip_vs_sync_conn_needed` (§12.4 steps 1–6). */
  needed(id: number, pkts: number): boolean {
    const eng = this.engine;
    const c = eng.conns;
    const s = eng.settings;
    const now = eng.now;
    const timeout = c.timeout[id];
    const orig = c.syncEnd[id];
    // the would-be end time in ms modulo 2^32, low 2 bits cleared to count retries
    let n = ((now + timeout) & ~3) >>> 0;
    const flags = c.flags[id];
    if (flags & CONN_F_TEMPLATE) {
      // templates: no state filter
    } else if (s.sync_persist_mode && this.inPersistence(id)) {
      return false;
    } else if (c.proto[id] === IPPROTO_TCP) {
      const st = c.state[id];
      if (!((1 << st) & TCP_SYNC_STATES)) return false;
      // a state change out of ESTABLISHED is sent at once (step 3)
      if (st !== c.oldState[id] && st !== TCP_S_ESTABLISHED) return this.set(id, n);
    } else if (c.proto[id] === IPPROTO_SCTP) {
      const st = c.state[id];
      if (!((1 << st) & SCTP_SYNC_STATES)) return false;
      if (st !== c.oldState[id] && st !== SCTP_S_ESTABLISHED) return this.set(id, n);
    }
    const refresh = s.sync_refresh_period * 1000;
    if (refresh > 0) {
      const diff = (n - orig) | 0; // wrap-around difference
      const minDiff = Math.max(timeout / 2, 10_000);
      if (Math.abs(diff) < Math.min(refresh, minDiff)) {
        const retries = orig & 3;
        if (retries >= s.sync_retries) return false;
        // too soon after the last send: now before (orig − timeout + refresh/8)
        if ((((now >>> 0) - orig + timeout - refresh / 8) | 0) < 0) return false;
        n = (n | (retries + 1)) >>> 0;
      }
    }
    const [threshold, period] = s.sync_threshold;
    if (period > 0) {
      if (!(flags & CONN_F_TEMPLATE) && pkts % period !== threshold) return false;
    } else if (refresh === 0 && pkts !== threshold) {
      return false;
    }
    return this.set(id, n);
  }

  /**
   * Step 6: records the state and the new end time. The kernel sends when its
   * compare-and-swap of the end time succeeds or the state changed; single-threaded,
   * the swap always succeeds, so the conn is sent.
   */
  private set(id: number, n: number): boolean {
    const c = this.engine.conns;
    c.oldState[id] = c.state[id];
    c.syncEnd[id] = n;
    return true;
  }

  /** The conn as a record, into the current datagram (sent first when it is full). */
  private add(id: number): void {
    const eng = this.engine;
    const c = eng.conns;
    const version = eng.settings.sync_version === 0 ? 0 : 1;
    if (version !== this.encVersion) {
      // a datagram holds one format: switching sends what is buffered
      this.flush();
      this.encVersion = version;
      this.enc = new SyncEncoder(version, this.opts.syncId, this.opts.maxLen ?? 1500 - 28);
    }
    const af = c.af[id];
    const r = af === 4 ? this.rec4 : this.rec6;
    r.protocol = c.proto[id];
    r.flags = c.flags[id] & ~CONN_F_HASHED;
    r.state = c.state[id];
    r.cport = c.cport[id];
    r.vport = c.vport[id];
    r.dport = c.dport[id];
    r.fwmark = c.fwmark[id];
    r.timeout = Math.floor(c.timeout[id] / 1000);
    const o = id * 4;
    for (let i = 0; i < r.caddr.length; i++) {
      r.caddr[i] = c.caddr[o + i];
      r.vaddr[i] = c.vaddr[o + i];
      r.daddr[i] = c.daddr[o + i];
    }
    const seq = r.flags & CONN_F_SEQ_MASK ? eng.seqs.get(id) : undefined;
    if (seq) {
      r.inSeq = { initSeq: seq[0], delta: seq[1], previousDelta: seq[2] };
      r.outSeq = { initSeq: seq[3], delta: seq[4], previousDelta: seq[5] };
    } else {
      r.inSeq = r.outSeq = undefined;
      r.flags &= ~CONN_F_SEQ_MASK;
    }
    if (!this.enc.add(r)) {
      if (this.enc.empty) return; // cannot be expressed (v0: IPv6)
      this.flush();
      if (!this.enc.add(r)) return;
    }
    if (this.since < 0) this.since = eng.now;
    this.sent.conns++;
  }

  /**
   * Whether the full pass sends this conn: a hashed conn in a state the kernel ever
   * sends it in (templates always; TCP and SCTP in their sync states; UDP always),
   * never a ONE_PACKET conn, nor one under a template with sync_persist_mode.
   */
  private passable(id: number): boolean {
    const c = this.engine.conns;
    const flags = c.flags[id];
    if (!(flags & CONN_F_HASHED) || flags & CONN_F_ONE_PACKET) return false;
    if (flags & CONN_F_TEMPLATE) return true;
    if (this.engine.settings.sync_persist_mode && this.inPersistence(id)) return false;
    if (c.proto[id] === IPPROTO_TCP) return ((1 << c.state[id]) & TCP_SYNC_STATES) !== 0;
    if (c.proto[id] === IPPROTO_SCTP) return ((1 << c.state[id]) & SCTP_SYNC_STATES) !== 0;
    return true;
  }

  /**
   * One step of the periodic full pass, a tsvs addition (docs/ha.md): the kernel sends
   * a conn only on its own packets, so an idle connection — or one created while a
   * backup was not listening — reaches a (re)started backup late or never. The pass
   * walks the table in id order, `ids` slots per step, and sends every conn the kernel
   * would ever send, as ordinary records (a kernel backup reads them as any update).
   * Returns true when the step finished a pass over the whole table.
   */
  passStep(ids: number): boolean {
    const c = this.engine.conns;
    const cap = c.cap;
    if (this.passAt >= cap) this.passAt = 0;
    const end = Math.min(cap, this.passAt + Math.max(1, ids));
    for (let id = this.passAt; id < end; id++) {
      if (!this.passable(id)) continue;
      this.add(id);
      this.sent.passConns++;
    }
    this.passAt = end;
    if (end < cap) return false;
    this.passAt = 0;
    this.sent.passes++;
    // what the pass gathered goes out now, not 2 s later
    this.flush();
    return true;
  }

  /** Sends the current datagram if it is older than {@link SYNC_FLUSH_MS} (call every ~100 ms). */
  tick(now: number): void {
    if (this.since >= 0 && now - this.since >= SYNC_FLUSH_MS) this.flush();
  }

  /** Sends the current datagram now, if it has records. */
  flush(): void {
    if (this.enc.empty) return;
    const d = this.enc.finish();
    this.since = -1;
    this.sent.datagrams++;
    this.opts.send(d);
  }
}
