/**
 * The established-flow fast path (issue 18, docs/dataplane.md "Established flows in
 * the kernel"): a tc BPF program (bpf/fastpath.c) in front of the u32 steering
 * filters forwards, without leaving the kernel, the packets of TCP conns the engine
 * has decided and that are ESTABLISHED with nothing left for user space. This module
 * builds and loads the program, fills and empties its flow map, and folds the
 * packet/byte counts and last-seen times the program records back into the engine.
 *
 * The engine stays the only decider: a conn enters the map only after a packet of it
 * went through the engine (requests and NAT replies read from the steering TUNs) and
 * only when it is ESTABLISHED TCP, NAT or DR, with no application helper, no sequence
 * adjustment, not a template, ONE_PACKET or without client port, its dest available
 * with a weight above 0, its next hops known (the real server's MAC and, for NAT, the
 * client side's), and no defence (drop_packet, drop_entry, secure_tcp) or backup_only
 * in effect. SYN, FIN, RST and everything unusual are not taken by the program and
 * reach the engine; the conn leaves the map as soon as the engine sees it leave
 * ESTABLISHED, or it expires or is deleted (the engine's `gone` hook), or a check
 * (after every configuration change, and every second) finds it no longer eligible:
 * dest removed or quiesced, next hop changed, a defence engaged.
 *
 * Faithfulness: counts are folded every second, before every rate estimation, before
 * a conn leaves the map and before its timer expires it: a conn seen in the kernel
 * since it was last armed is re-armed from its last-seen time instead of expiring.
 *
 * @module
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { bpffsMounted, fastpathObject } from './fastpath-load.js';
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
  encodeKey,
  encodeValue,
  FP_KEY_BYTES,
  FP_REWRITE_DST,
  FP_REWRITE_SRC,
  FP_VAL_BYTES,
  sameAction,
  valueBytes,
  valueLastNs,
  valuePackets,
  type FlowAction,
} from './fastpath-map.js';
import { bpf } from './native-bpf.js';
import type { ReplyRoutes } from './replyroute.js';
import type { L2Tx, Transmit } from './xmit.js';

/**
 * A conn enters the map once this many of its client packets went through the engine
 * (`in_pkts`): short connections (a request and its answer) never pay the map's system
 * calls, which cost more than they save there (docs/dataplane.md, measured); kept-alive
 * and bulk flows enter after their first exchanges.
 */
export const FP_MIN_PKTS = 8;

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
 * allocated; the map is written once per conn and direction.
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
  private readonly engine: Engine;
  private readonly x: Transmit;
  private readonly rr: ReplyRoutes;
  private readonly log: (line: string) => void;
  /** Per conn id: 1 in the map, 2 refused by the kernel (not tried again), 0 neither. */
  private mark = new Uint8Array(0);
  /** Per conn id: counts already folded: in packets, in bytes, out packets, out bytes. */
  private base = new Float64Array(0);
  /** Per conn id: the two values written (request, reply), for change detection. */
  private vals = new Uint8Array(0);
  /** Conn ids in the map. */
  private readonly ids = new Set<number>();
  private suspended = '';
  private lastFold = 0;
  // scratch (one per Fastpath, never per packet)
  private readonly key = new Uint8Array(FP_KEY_BYTES * 2);
  private readonly val = new Uint8Array(FP_VAL_BYTES * 2);
  private readonly found = new Uint8Array(2);
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
  private fkeys = new Uint8Array(0);
  private fvals = new Uint8Array(0);
  private ffound = new Uint8Array(0);
  private fids = new Int32Array(0);

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
   * instance, and opens the map. On any failure: one log line, the fast path stays off
   * and the steering carries everything as before. The commands run as child processes,
   * the event loop turning meanwhile: a start reads what the capture held (issue 14, the
   * stall of a hand-over and of a restart).
   */
  async load(): Promise<boolean> {
    this.unload();
    const run = promisify(execFile);
    try {
      const obj = fastpathObject();
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
        const lines = (err.stderr || err.message).trim().split('\n');
        throw new Error(`the kernel refused the program: ${lines[lines.length - 1]}`);
      }
      this.fd = bpf().bpfObjGet(`${this.dir}/tsvs_flows`);
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
    if (this.engine.fastpath === this) this.engine.fastpath = null;
    if (this.fd >= 0) bpf().close(this.fd);
    this.fd = -1;
    if (!unmount) return;
    try {
      while (bpffsMounted(this.dir)) execFileSync('umount', [this.dir], { stdio: 'pipe' });
      if (existsSync(this.dir)) rmSync(this.dir, { recursive: true, force: true });
    } catch {
      /* left for the next start */
    }
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
   * After the engine handled a packet of conn `id` read from a steering TUN: puts an
   * eligible conn into the map, takes out one that no longer is (a FIN or RST moved it
   * out of ESTABLISHED).
   */
  seen(id: number): void {
    if (!this.on || id < 0) return;
    if (id >= this.mark.length) this.grow(id);
    const m = this.mark[id];
    if (m === 1) {
      if (!this.stillOk(id)) this.remove(id);
      return;
    }
    if (m !== 0 || this.suspended !== '') return;
    const c = this.engine.conns;
    if (c.proto[id] !== 6 || c.state[id] !== TCP_S_ESTABLISHED) return;
    if (c.inPkts[id] < FP_MIN_PKTS || !this.stillOk(id)) return;
    if (!this.encode(id, this.val)) return;
    this.insert(id);
  }

  /** The conn may stay in (or enter) the map, next hops aside. */
  private stillOk(id: number): boolean {
    const eng = this.engine;
    const c = eng.conns;
    if (this.suspended !== '') return false;
    if (c.proto[id] !== 6 || c.state[id] !== TCP_S_ESTABLISHED || !c.armed(id)) return false;
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
    const c = this.engine.conns;
    const a = this.act;
    const af = c.af[id] as AddressFamily;
    const hop = this.x.hopByDest.get(c.dest[id]);
    if (hop === undefined || !hop.ready || hop.tx === null || hop.local) return false;
    const nat = (c.flags[id] & CONN_F_FWD_MASK) === CONN_F_MASQ;
    const o = id * 4;
    a.af = af;
    a.flags = nat ? FP_REWRITE_DST : 0;
    a.daddr = c.daddr;
    a.doff = o;
    a.dport = c.dport[id];
    a.ifindex = hop.tx.ifindex;
    a.eth.set(hop.eth.subarray(0, 12));
    a.mtu = hop.mtu;
    encodeValue(out, 0, a);
    if (!nat) {
      out.fill(0, FP_VAL_BYTES, FP_VAL_BYTES * 2);
      return true;
    }
    // the client side's next hop, as replies sent by the director take it
    const b = this.addr;
    for (let i = 0; i < (af === 4 ? 1 : 4); i++) {
      const w = c.caddr[o + i] >>> 0;
      b[i * 4] = w >>> 24;
      b[i * 4 + 1] = (w >>> 16) & 0xff;
      b[i * 4 + 2] = (w >>> 8) & 0xff;
      b[i * 4 + 3] = w & 0xff;
    }
    const rh = this.rr.lookup(af === 4 ? 4 : 6, b, 0);
    if (rh === null) return false;
    let t = rh.tx as L2Tx | null;
    if (t === null) t = rh.tx = this.x.l2ForQuiet(rh.dev);
    if (t === null) return false;
    a.flags = FP_REWRITE_SRC;
    a.saddr = c.vaddr;
    a.soff = o;
    a.sport = c.vport[id];
    a.ifindex = t.ifindex;
    a.eth.set(rh.eth.subarray(0, 12));
    a.mtu = rh.mtu;
    encodeValue(out, FP_VAL_BYTES, a);
    return true;
  }

  /** The map keys of conn `id` (request, reply) into `k` at `at`. */
  private keys(id: number, k: Uint8Array, at: number): void {
    const c = this.engine.conns;
    const af = c.af[id] as AddressFamily;
    const o = id * 4;
    encodeKey(k, at, af, 6, c.caddr, o, c.cport[id], c.vaddr, o, c.vport[id]);
    encodeKey(k, at + FP_KEY_BYTES, af, 6, c.daddr, o, c.dport[id], c.caddr, o, c.cport[id]);
  }

  private insert(id: number): void {
    const nat = (this.engine.conns.flags[id] & CONN_F_FWD_MASK) === CONN_F_MASQ;
    const k = this.key;
    const v = this.val;
    this.keys(id, k, 0);
    const nb = bpf();
    try {
      if (nat) nb.bpfMapUpdate(this.fd, k.subarray(FP_KEY_BYTES), v.subarray(FP_VAL_BYTES));
      nb.bpfMapUpdate(this.fd, k.subarray(0, FP_KEY_BYTES), v.subarray(0, FP_VAL_BYTES));
    } catch {
      this.counts.errors++;
      this.mark[id] = 2;
      nb.bpfMapDelete(this.fd, k.subarray(FP_KEY_BYTES));
      return;
    }
    this.mark[id] = 1;
    this.base.fill(0, id * 4, id * 4 + 4);
    this.vals.set(v, id * FP_VAL_BYTES * 2);
    this.ids.add(id);
    this.counts.inserted++;
    this.counts.flows = this.ids.size;
  }

  /** Takes conn `id` out of the map, folding what the kernel counted since. */
  remove(id: number): void {
    if (id >= this.mark.length || this.mark[id] !== 1) {
      if (id < this.mark.length) this.mark[id] = 0;
      return;
    }
    this.keys(id, this.key, 0);
    bpf().bpfMapLookup(this.fd, this.key, FP_KEY_BYTES, this.val, FP_VAL_BYTES, 2, this.found, 1);
    this.fold(id, this.val, 0, this.found, 0, Date.now(), process.hrtime.bigint());
    this.mark[id] = 0;
    this.ids.delete(id);
    this.counts.removed++;
    this.counts.flows = this.ids.size;
  }

  /** Takes every conn out (park, stop, a defence engaging). */
  removeAll(): void {
    for (const id of [...this.ids]) this.remove(id);
  }

  /**
   * Adds what the kernel counted for conn `id` (values at `v[at..]`, request then
   * reply, present where `found`) since the last fold: the engine's statistics, the
   * conn's in_pkts (and the sync master's threshold sends), and re-arms its timer from
   * the last-seen time when that is later than the engine's own arming.
   */
  private fold(
    id: number,
    v: Uint8Array,
    at: number,
    found: Uint8Array,
    fat: number,
    nowMs: number,
    nowNs: bigint,
    force = false,
  ): void {
    const eng = this.engine;
    const c = eng.conns;
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
    const did = c.dest[id];
    const d = did >= 0 ? eng.destById[did] : null;
    const t = eng.totals;
    let last = 0;
    for (let dir = 0; dir < 2; dir++) {
      if (!found[fat + dir]) continue;
      const vo = at + dir * FP_VAL_BYTES;
      const p = valuePackets(dv, vo);
      const b = valueBytes(dv, vo);
      const dp = p - this.base[id * 4 + dir * 2];
      const db = b - this.base[id * 4 + dir * 2 + 1];
      if (dp <= 0) continue;
      this.base[id * 4 + dir * 2] = p;
      this.base[id * 4 + dir * 2 + 1] = b;
      const ns = valueLastNs(dv, vo);
      if (ns > last) last = ns;
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
    if (id >= this.mark.length || this.mark[id] !== 1) return false;
    this.keys(id, this.key, 0);
    bpf().bpfMapLookup(this.fd, this.key, FP_KEY_BYTES, this.val, FP_VAL_BYTES, 2, this.found, 0);
    this.fold(id, this.val, 0, this.found, 0, this.engine.now, process.hrtime.bigint(), true);
    const c = this.engine.conns;
    return c.armed(id) && c.expires[id] > this.engine.now;
  }

  /** The engine's hook: conn `id` is about to be freed. */
  gone(id: number): void {
    if (id < this.mark.length && this.mark[id] !== 0) this.remove(id);
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
    const n = this.ids.size;
    if (n === 0) return;
    if (this.fids.length < n) {
      const cap = Math.max(n, this.fids.length * 2, 256);
      this.fids = new Int32Array(cap);
      this.fkeys = new Uint8Array(cap * FP_KEY_BYTES * 2);
      this.fvals = new Uint8Array(cap * FP_VAL_BYTES * 2);
      this.ffound = new Uint8Array(cap * 2);
    }
    let i = 0;
    for (const id of this.ids) {
      this.fids[i] = id;
      this.keys(id, this.fkeys, i * FP_KEY_BYTES * 2);
      i++;
    }
    bpf().bpfMapLookup(
      this.fd,
      this.fkeys,
      FP_KEY_BYTES,
      this.fvals,
      FP_VAL_BYTES,
      n * 2,
      this.ffound,
      0,
    );
    const ns = process.hrtime.bigint();
    for (let j = 0; j < n; j++) {
      const id = this.fids[j];
      this.fold(id, this.fvals, j * FP_VAL_BYTES * 2, this.ffound, j * 2, now, ns);
      if (
        !this.stillOk(id) ||
        !this.encode(id, this.val) ||
        !sameAction(this.val, 0, this.vals, id * FP_VAL_BYTES * 2) ||
        !sameAction(this.val, FP_VAL_BYTES, this.vals, id * FP_VAL_BYTES * 2 + FP_VAL_BYTES)
      )
        this.remove(id);
    }
  }
}
