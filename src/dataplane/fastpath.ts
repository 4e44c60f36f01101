/**
 * The established-flow fast path (issue 18, docs/dataplane.md "Established flows in
 * the kernel"): a tc BPF program (bpf/fastpath.c) in front of the u32 steering filters
 * forwards, without leaving the kernel, the packets of conns the engine decided: TCP
 * in ESTABLISHED with nothing left for user space, and UDP. This module fills and
 * empties its flow map and folds the counts and last-seen times the program keeps (a
 * slot per conn, mapped into the daemon's memory) back into the engine.
 *
 * The engine stays the only decider: a conn enters the map after FP_MIN_PKTS of its
 * packets went through the engine, if NAT or DR, no helper, no sequence adjustment, not
 * a template, ONE_PACKET or without client port, its dest available with a weight,
 * its next hops known, and no defence or backup_only in effect. SYN, FIN, RST and
 * everything unusual reach the engine (a FIN or RST also closes the slot: the program
 * takes no more of the conn's packets); the conn leaves the map at the end of the
 * batch in which the engine saw it leave ESTABLISHED, when it expires or is deleted
 * (the `gone` hook), or when a check (every second, after configuration changes) finds
 * it no longer eligible. Counts are folded every second, before every rate estimation,
 * before a conn leaves and before its timer expires it (re-armed from last-seen).
 * System calls: one BPF_MAP_UPDATE_BATCH per batch of packets for the conns it made
 * eligible, one BPF_MAP_DELETE_BATCH for those it closed; none to read counts.
 *
 * Over 600 lines: one class owns the map's whole life (entry, exit, folding, the checks
 * and the state /metrics reports), since the engine's hooks and the director call into
 * it; the loading (fastpath-load.ts) and the encoding (fastpath-map.ts) are apart.
 *
 * @module
 */
import { loadFastpath, unloadFastpath } from './fastpath-load.js';
import type { Engine } from '../engine/engine.js';
import { TCP_S_ESTABLISHED } from '../engine/engine.js';
import { connNeedsEngine } from '../engine/conn/conn.js';
import {
  CONN_F_DROUTE,
  CONN_F_FWD_MASK,
  CONN_F_MASQ,
  CONN_F_NO_CPORT,
  CONN_F_ONE_PACKET,
  CONN_F_TEMPLATE,
  type AddressFamily,
} from '../engine/constants.js';
import {
  encodeConn,
  encodeKey,
  FP_KEY_BYTES,
  FP_SLOTS,
  FP_VAL_BYTES,
  sameAction,
  slotBytes,
  slotClosed,
  slotLastNs,
  slotPackets,
  slotReset,
  type FlowAction,
} from './fastpath-map.js';
import { bpf } from './native-bpf.js';
import type { ReplyRoutes } from './replyroute.js';
import type { Transmit } from './xmit.js';

/**
 * A conn enters the map once this many of its client packets went through the engine
 * (`in_pkts`): short connections (a request and its answer) never pay the map's system
 * calls and the next-hop lookups, which cost more than the two or three packets they
 * would save (docs/dataplane.md: entering at ESTABLISHED measured 0.82× the new
 * connections per second, even with the batched updates); kept-alive, bulk and UDP
 * flows enter after their first exchanges.
 */
export const FP_MIN_PKTS = 8;

/** {@link Fastpath} marks per conn id. */
const M_NONE = 0;
const M_IN = 1;
const M_REFUSED = 2;
/** To be put in at the end of this batch of packets. */
const M_ADD = 3;
/** In the map, to be taken out at the end of this batch of packets. */
const M_DEL = 4;

/** Counts folded at least this often (ms). */
const FOLD_MS = 1000;

export interface FastpathOptions {
  engine: Engine;
  x: Transmit;
  rr: ReplyRoutes;
  /** Instance and namespace, naming the BPF file system mount. */
  name: string;
  netns: string | undefined;
  log: (line: string) => void;
}

/** Counters of the fast path, for `tsvs` info, metrics and tests. */
export interface FastpathCounts {
  /** Conns put into the map, and taken out. */
  inserted: number;
  removed: number;
  /** Conns in the map now. */
  flows: number;
  /** Packets and bytes the kernel forwarded for them (folded so far). */
  packets: number;
  bytes: number;
  /** Map updates the kernel refused (map full...). */
  errors: number;
}

/**
 * Why it is off (docs/metrics.md): `disabled` (--no-fastpath), `no_steering`, `refused`
 * (not built, loaded or attached), `stopped` (not started, parked or stopped).
 */
export type FastpathOff = 'disabled' | 'no_steering' | 'refused' | 'stopped';

/**
 * Loads the program, owns its flow map and folds its counts (see the module comment).
 * Per packet of a conn the engine handled ({@link seen}): a few array reads, nothing
 * allocated; the map is written once per conn, in one system call per batch.
 */
export class Fastpath {
  /** The program is loaded and its map open. */
  on = false;
  /** The bpffs directory holding the pinned program and map. */
  readonly dir: string;
  readonly counts: FastpathCounts = {
    inserted: 0,
    removed: 0,
    flows: 0,
    packets: 0,
    bytes: 0,
    errors: 0,
  };
  /** While off: why ({@link FastpathOff}) and the detail (the log line's reason). */
  offState: FastpathOff = 'stopped';
  offReason = 'not started';
  private fd = -1;
  private sfd = -1;
  /** The slots array (`tsvs_slots`) as mapped: 32-bit words. */
  private slots = new Uint32Array(0);
  private readonly engine: Engine;
  private readonly x: Transmit;
  private readonly rr: ReplyRoutes;
  private readonly log: (line: string) => void;
  /** Per conn id: M_NONE, M_IN, M_REFUSED (not tried again), M_ADD, M_DEL. */
  private mark = new Uint8Array(0);
  /** Per conn id: counts already folded: in packets, in bytes, out packets, out bytes. */
  private base = new Float64Array(0);
  /** Per conn id: the two values written (request, reply), for change detection. */
  private vals = new Uint8Array(0);
  /** Conn ids in the map. */
  private readonly ids = new Set<number>();
  /** Conn ids to put in (M_ADD) and take out (M_DEL) at the end of the batch. */
  private adds = new Int32Array(64);
  private nAdds = 0;
  private dels = new Int32Array(64);
  private nDels = 0;
  private suspended = '';
  private lastFold = 0;
  // scratch (one per Fastpath, never per packet)
  private readonly key = new Uint8Array(FP_KEY_BYTES * 2);
  private readonly val = new Uint8Array(FP_VAL_BYTES * 2);
  private readonly addr = new Uint8Array(16);
  private readonly act: FlowAction = {
    af: 4,
    flags: 0,
    saddr: new Uint32Array(4),
    soff: 0,
    sport: 0,
    daddr: new Uint32Array(4),
    doff: 0,
    dport: 0,
    ifindex: 0,
    eth: new Uint8Array(12),
    mtu: 0,
  };
  /** Batch staging: keys and values of the entries of one update or delete. */
  private bkeys = new Uint8Array(0);
  private bvals = new Uint8Array(0);
  /** Per staged entry: its conn id. */
  private bown = new Int32Array(0);

  constructor(o: FastpathOptions) {
    this.engine = o.engine;
    this.x = o.x;
    this.rr = o.rr;
    this.log = o.log;
    const tag = `${o.netns ?? 'host'}-${o.name}`.replace(/[^A-Za-z0-9_.-]/g, '_');
    this.dir = `/run/tsvs/bpf-${tag}`;
  }

  /** Path of the pinned program, for `tc filter add … bpf object-pinned`. */
  get progPath(): string {
    return `${this.dir}/prog`;
  }

  /**
   * Builds (when needed) and loads the program into a BPF file system mounted for this
   * instance, opens the flow map and maps the slots. On any failure: one log line, the
   * fast path stays off and the steering carries everything as before. The commands
   * run as child processes, the event loop turning meanwhile: a start reads what the
   * capture held (issue 14, the stall of a hand-over and of a restart).
   */
  async load(): Promise<boolean> {
    this.unload();
    try {
      const l = await loadFastpath(this.dir, this.progPath);
      this.fd = l.fd;
      this.sfd = l.sfd;
      this.slots = l.slots;
    } catch (e) {
      this.log(`fast path off (established flows go through the daemon): ${(e as Error).message}`);
      this.unload();
      this.setOff('refused', (e as Error).message);
      return false;
    }
    this.on = true;
    this.engine.fastpath = this;
    this.lastFold = Date.now();
    return true;
  }

  /**
   * Folds and empties the map, closes it, unmounts the file system (stop and park).
   * `unmount` false leaves the file system for the next start, which replaces it (a
   * hand-over or restart: no command run while the capture waits).
   */
  unload(unmount = true): void {
    if (this.on) this.removeAll();
    this.on = false;
    this.nAdds = this.nDels = 0;
    if (this.engine.fastpath === this) this.engine.fastpath = null;
    if (this.fd >= 0) bpf().close(this.fd);
    if (this.sfd >= 0) bpf().close(this.sfd);
    this.fd = this.sfd = -1;
    // (the mapping goes with its ArrayBuffer)
    this.slots = new Uint32Array(0);
    if (unmount) unloadFastpath(this.dir);
  }

  /** Records why the fast path is off; the operator's `disabled` stands. */
  setOff(state: FastpathOff, reason: string): void {
    if (this.offState === 'disabled') return;
    this.offState = state;
    this.offReason = reason;
  }

  /** For metrics: `active`, `suspended` (reason: the defence) or why it is off. */
  get status(): { state: 'active' | 'suspended' | FastpathOff; reason: string } {
    if (!this.on) return { state: this.offState, reason: this.offReason };
    return this.suspended
      ? { state: 'suspended', reason: this.suspended }
      : { state: 'active', reason: '' };
  }

  /** Conns in the map (for tests and info). */
  get flows(): number {
    return this.ids.size;
  }
  private grow(id: number): void {
    if (id < this.mark.length) return;
    const n = Math.max(1024, this.engine.conns.af.length, id + 1);
    const m = new Uint8Array(n);
    m.set(this.mark);
    this.mark = m;
    const b = new Float64Array(n * 4);
    b.set(this.base);
    this.base = b;
    const v = new Uint8Array(n * FP_VAL_BYTES * 2);
    v.set(this.vals);
    this.vals = v;
  }

  /**
   * After the engine handled a packet of conn `id` read from a steering TUN: an
   * eligible conn is put into the map, one that no longer is (a FIN or RST moved it out
   * of ESTABLISHED) taken out, both at the end of the batch ({@link commit}).
   */
  seen(id: number): void {
    if (!this.on || id < 0) return;
    if (id >= this.mark.length) this.grow(id);
    const m = this.mark[id];
    if (m === M_IN) {
      if (!this.stillOk(id) || slotClosed(this.slots, id)) {
        this.mark[id] = M_DEL;
        this.dels = push(this.dels, this.nDels++, id);
      }
      return;
    }
    if (m === M_ADD) {
      if (!this.stillOk(id)) this.mark[id] = M_NONE; // (skipped by commit)
      return;
    }
    if (m !== M_NONE || this.suspended !== '' || id >= FP_SLOTS) return;
    if (this.engine.conns.inPkts[id] < FP_MIN_PKTS || !this.stillOk(id)) return;
    this.mark[id] = M_ADD;
    this.adds = push(this.adds, this.nAdds++, id);
  }

  /**
   * The end of a batch of packets (after it was sent, so a conn's first packet through
   * the kernel never overtakes the one that made it eligible): takes out the conns
   * that left ESTABLISHED, then puts in those that became eligible, one system call
   * each.
   */
  commit(): void {
    if (this.nDels > 0) this.commitDels();
    if (this.nAdds > 0) this.commitAdds();
  }

  /** The conn may stay in (or enter) the map, next hops aside. */
  private stillOk(id: number): boolean {
    const eng = this.engine;
    const c = eng.conns;
    if (this.suspended !== '') return false;
    const p = c.proto[id];
    if (p === 6 ? c.state[id] !== TCP_S_ESTABLISHED : p !== 17) return false;
    if (!c.armed(id)) return false;
    const f = c.flags[id];
    if (f & (CONN_F_TEMPLATE | CONN_F_ONE_PACKET | CONN_F_NO_CPORT)) return false;
    const fwd = f & CONN_F_FWD_MASK;
    if (fwd !== CONN_F_MASQ && fwd !== CONN_F_DROUTE) return false;
    // helpers, sequence adjustment, the SYN proxy's sequence translation
    if (connNeedsEngine(eng.ipvs, id)) return false;
    const did = c.dest[id];
    const d = did >= 0 ? eng.destById[did] : null;
    return d !== null && d.available && d.weight > 0;
  }

  /**
   * Writes the request value (and for NAT the reply value) of conn `id` into `out`
   * (two values); false when a next hop is not known.
   */
  private encode(id: number, out: Uint8Array): boolean {
    return encodeConn(this.engine, this.x, this.rr, id, out, this.act, this.addr);
  }

  /** NAT: the conn has a reply entry too. */
  private nat(id: number): boolean {
    return (this.engine.conns.flags[id] & CONN_F_FWD_MASK) === CONN_F_MASQ;
  }

  /** The map keys of conn `id` (request, reply) into `k` at `at`. */
  private keys(id: number, k: Uint8Array, at: number): void {
    const c = this.engine.conns;
    const af = c.af[id] as AddressFamily;
    const p = c.proto[id];
    const o = id * 4;
    encodeKey(k, at, af, p, c.caddr, o, c.cport[id], c.vaddr, o, c.vport[id]);
    encodeKey(k, at + FP_KEY_BYTES, af, p, c.daddr, o, c.dport[id], c.caddr, o, c.cport[id]);
  }

  /** Room in the staging buffers for `n` entries. */
  private stage(n: number): void {
    if (this.bown.length >= n) return;
    const cap = Math.max(n, this.bown.length * 2, 128);
    this.bown = new Int32Array(cap);
    this.bkeys = new Uint8Array(cap * FP_KEY_BYTES);
    this.bvals = new Uint8Array(cap * FP_VAL_BYTES);
  }

  /** Puts the conns marked M_ADD in: their slots zeroed, their entries in one batch. */
  private commitAdds(): void {
    const na = this.nAdds;
    this.nAdds = 0;
    this.stage(na * 2);
    const k = this.key;
    const v = this.val;
    let n = 0;
    for (let i = 0; i < na; i++) {
      const id = this.adds[i];
      if (this.mark[id] !== M_ADD) continue;
      // (marked M_IN at once: a duplicate in the list is skipped)
      this.mark[id] = M_IN;
      if (!this.stillOk(id) || !this.encode(id, v)) {
        this.mark[id] = M_NONE;
        continue;
      }
      slotReset(this.slots, id);
      this.base.fill(0, id * 4, id * 4 + 4);
      this.vals.set(v, id * FP_VAL_BYTES * 2);
      this.keys(id, k, 0);
      // the reply entry first: when requests take the fast path, their replies do too
      if (this.nat(id)) {
        this.bkeys.set(k.subarray(FP_KEY_BYTES), n * FP_KEY_BYTES);
        this.bvals.set(v.subarray(FP_VAL_BYTES), n * FP_VAL_BYTES);
        this.bown[n++] = id;
      }
      this.bkeys.set(k.subarray(0, FP_KEY_BYTES), n * FP_KEY_BYTES);
      this.bvals.set(v.subarray(0, FP_VAL_BYTES), n * FP_VAL_BYTES);
      this.bown[n++] = id;
    }
    const nb = bpf();
    let from = 0;
    while (from < n) {
      const done = nb.bpfMapUpdateBatch(
        this.fd,
        this.bkeys.subarray(from * FP_KEY_BYTES),
        this.bvals.subarray(from * FP_VAL_BYTES),
        n - from,
      );
      if (done >= n - from) break;
      // entry `bad` refused (the map is full): its conn stays on the steering path
      const bad = from + done;
      const id = this.bown[bad];
      if (bad > 0 && this.bown[bad - 1] === id)
        nb.bpfMapDelete(this.fd, this.bkeys.subarray((bad - 1) * FP_KEY_BYTES));
      this.mark[id] = M_REFUSED;
      this.counts.errors++;
      // (past its request entry when its reply entry was refused)
      for (from = bad + 1; from < n && this.bown[from] === id;) from++;
    }
    for (let i = 0; i < n; i++) {
      const id = this.bown[i];
      if (this.mark[id] !== M_IN || this.ids.has(id)) continue;
      this.ids.add(id);
      this.counts.inserted++;
    }
    this.counts.flows = this.ids.size;
  }

  /** Takes the conns marked M_DEL out, in one batch, and folds their counts. */
  private commitDels(): void {
    const nd = this.nDels;
    this.nDels = 0;
    this.stage(nd * 2);
    const k = this.key;
    let n = 0;
    for (let i = 0; i < nd; i++) {
      const id = this.dels[i];
      if (this.mark[id] !== M_DEL) continue;
      this.mark[id] = M_NONE;
      this.keys(id, k, 0);
      this.bkeys.set(k.subarray(0, FP_KEY_BYTES), n * FP_KEY_BYTES);
      this.bown[n++] = id;
      if (this.nat(id)) {
        this.bkeys.set(k.subarray(FP_KEY_BYTES), n * FP_KEY_BYTES);
        this.bown[n++] = id;
      }
    }
    this.deleteEntries(n);
    const now = Date.now();
    const ns = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const id = this.bown[i];
      if (!this.ids.delete(id)) continue;
      this.fold(id, now, ns);
      this.counts.removed++;
    }
    this.counts.flows = this.ids.size;
  }

  /** Deletes the `n` staged keys (one system call; a missing key is passed over). */
  private deleteEntries(n: number): void {
    const nb = bpf();
    let from = 0;
    while (from < n) {
      const done = nb.bpfMapDeleteBatch(
        this.fd,
        this.bkeys.subarray(from * FP_KEY_BYTES),
        n - from,
      );
      if (done >= n - from) break;
      from += done + 1;
    }
  }

  /** Takes conn `id` out of the map at once, folding what the kernel counted since. */
  remove(id: number): void {
    if (id >= this.mark.length) return;
    this.mark[id] = M_NONE;
    if (!this.ids.has(id)) return;
    this.stage(2);
    this.keys(id, this.key, 0);
    this.bkeys.set(this.key.subarray(0, this.nat(id) ? FP_KEY_BYTES * 2 : FP_KEY_BYTES));
    this.deleteEntries(this.nat(id) ? 2 : 1);
    this.ids.delete(id);
    this.fold(id, Date.now(), process.hrtime.bigint());
    this.counts.removed++;
    this.counts.flows = this.ids.size;
  }

  /** Takes every conn out (park, stop, a defence engaging). */
  removeAll(): void {
    for (const id of [...this.ids]) this.remove(id);
    for (let i = 0; i < this.nAdds; i++) this.mark[this.adds[i]] = M_NONE;
    this.nAdds = this.nDels = 0;
  }

  /**
   * Adds what the kernel counted for conn `id` (its slot) since the last fold: the
   * engine's statistics, the conn's in_pkts (and the sync master's threshold sends),
   * and re-arms its timer from the last-seen time when that is later than the
   * engine's own arming.
   */
  private fold(id: number, nowMs: number, nowNs: bigint, force = false): void {
    const eng = this.engine;
    const c = eng.conns;
    const w = this.slots;
    const did = c.dest[id];
    const d = did >= 0 ? eng.destById[did] : null;
    const t = eng.totals;
    let moved = false;
    for (let dir = 0; dir < 2; dir++) {
      const p = slotPackets(w, id, dir);
      const dp = p - this.base[id * 4 + dir * 2];
      if (dp <= 0) continue;
      const b = slotBytes(w, id, dir);
      const db = b - this.base[id * 4 + dir * 2 + 1];
      this.base[id * 4 + dir * 2] = p;
      this.base[id * 4 + dir * 2 + 1] = b;
      moved = true;
      this.counts.packets += dp;
      this.counts.bytes += db;
      if (d !== null) {
        const s = d.stats;
        const ss = d.svc.stats;
        if (dir === 0) {
          s.inpkts += dp;
          s.inbytes += db;
          ss.inpkts += dp;
          ss.inbytes += db;
          t.inpkts += dp;
          t.inbytes += db;
        } else {
          s.outpkts += dp;
          s.outbytes += db;
          ss.outpkts += dp;
          ss.outbytes += db;
          t.outpkts += dp;
          t.outbytes += db;
        }
      }
      if (dir === 0) this.inPkts(id, dp);
    }
    if (!moved) return;
    const last = slotLastNs(w, id);
    if (last === 0) return;
    const seenMs = nowMs - Number(nowNs - BigInt(Math.floor(last))) / 1e6;
    const e = Math.min(seenMs, nowMs) + c.timeout[id];
    if (e > c.expires[id] && (force || c.armed(id))) {
      c.expires[id] = e;
      c.wheel.file(id, e, eng.now);
    }
  }

  /** in_pkts grows by `n`; the sync master hears of the last count its threshold picks. */
  private inPkts(id: number, n: number): void {
    const eng = this.engine;
    const c = eng.conns;
    const from = c.inPkts[id];
    const to = from + n;
    c.inPkts[id] = to >>> 0;
    const sm = eng.syncMaster;
    if (sm === null) return;
    const [threshold, period] = eng.settings.sync_threshold;
    let p = -1;
    if (period > 0) {
      // the last count in (from, to] with count % period === threshold
      const q = to - ((((to - threshold) % period) + period) % period);
      if (q > from) p = q;
    } else if (threshold > from && threshold <= to) p = threshold;
    if (eng.settings.sync_refresh_period > 0 && p < 0) p = to;
    if (p >= 0) sm(id, p >>> 0);
  }

  /** The engine's hook: conn `id`'s timer ran out; true when the kernel saw it since. */
  expiring(id: number): boolean {
    if (!this.ids.has(id)) return false;
    this.fold(id, this.engine.now, process.hrtime.bigint(), true);
    const c = this.engine.conns;
    return c.armed(id) && c.expires[id] > this.engine.now;
  }

  /** The engine's hook: conn `id` is about to be freed. */
  gone(id: number): void {
    if (id < this.mark.length && this.mark[id] !== M_NONE) this.remove(id);
  }

  /**
   * The director's tick (before the engine's): suspends the fast path while a
   * defence or backup_only is in effect, folds every second and before a rate
   * estimation, and takes out conns no longer eligible.
   */
  tick(now: number): void {
    if (!this.on) return;
    const ipvs = this.engine.ipvs;
    const why =
      ipvs.dropRate > 0
        ? 'drop_packet'
        : ipvs.dropEntryActive
          ? 'drop_entry'
          : ipvs.secureTable
            ? 'secure_tcp'
            : ipvs.settings.backup_only && ipvs.syncBackup
              ? 'backup_only'
              : '';
    if (why !== this.suspended) {
      this.log(why ? `fast path suspended: ${why} in effect` : 'fast path resumed');
      this.suspended = why;
      if (why) this.removeAll();
    }
    const estimateDue = now - ipvs.lastEstimate >= 2000 - 150;
    if (now - this.lastFold >= FOLD_MS || (estimateDue && now - this.lastFold >= 150))
      this.check(now);
  }

  /**
   * Folds every conn's counts and takes out those no longer eligible or whose next
   * hops changed (every second, and after configuration changes).
   */
  check(now = Date.now()): void {
    if (!this.on) return;
    this.lastFold = now;
    if (this.ids.size === 0) return;
    const ns = process.hrtime.bigint();
    for (const id of this.ids) {
      this.fold(id, now, ns);
      if (
        slotClosed(this.slots, id) ||
        !this.stillOk(id) ||
        !this.encode(id, this.val) ||
        !sameAction(this.val, 0, this.vals, id * FP_VAL_BYTES * 2) ||
        !sameAction(this.val, FP_VAL_BYTES, this.vals, id * FP_VAL_BYTES * 2 + FP_VAL_BYTES)
      )
        this.remove(id);
    }
  }
}

/** `a` with `id` at `i`, grown when full. */
function push(a: Int32Array<ArrayBuffer>, i: number, id: number): Int32Array<ArrayBuffer> {
  if (i >= a.length) {
    const b = new Int32Array(a.length * 2);
    b.set(a);
    a = b;
  }
  a[i] = id;
  return a;
}
