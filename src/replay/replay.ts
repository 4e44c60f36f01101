/**
 * Replay of a capture through the engine, the way Katran's simulator runs packets
 * through the real forwarding code: every IP packet of the capture is handed to the
 * engine at its capture time (the clock is advanced first, so connection and template
 * timers fire when they would have), on the `in` or the `out` path as
 * {@link DirectionClassifier} decides, and what the director would have sent —
 * the rewritten or encapsulated packet, or the ICMP error it built — is written out
 * with the same timestamp.
 *
 * The loop allocates nothing per packet of its own: the packet is copied into one
 * working buffer with headroom (so a tunnel can encapsulate in place and the capture
 * buffer stays untouched), classified with read-only lookups and given to the engine.
 * `tsvs trace` hooks a {@link ReplayObserver} into the same loop.
 */
import { type Engine, PKT_CSUM_PARTIAL, TUNNEL_HEADROOM } from '../engine/engine.js';
import { DROP_REASON_COUNT, V_ACCEPT, V_FORWARD, V_LOCAL, V_REPLY } from '../engine/drop.js';
import { WHEEL_TICK_MS } from '../engine/conn/table.js';
import {
  type CaptureItem,
  type CaptureRecord,
  type CaptureSkipped,
  isSupportedLinkType,
  type PcapWriter,
} from '../pcap/pcap.js';
import { PacketView } from '../wire/packet.js';
import { fold16, pseudoSum } from '../wire/checksum.js';
import { read16 } from '../wire/bytes.js';
import { DIR_IN, DirectionClassifier, type MarkRule } from './direction.js';

/** Room in front of each packet: the engine encapsulates in place when there is enough. */
const HEADROOM = Math.max(64, TUNNEL_HEADROOM);
const WORK_SIZE = 65536;
/** Upper bound on drain rounds (each lets deferred templates step on by 60 s). */
const MAX_DRAIN_ROUNDS = 100_000;
const VERDICTS = 5;

/** Hooks for `tsvs trace`; the plain replay runs without one. */
export interface ReplayObserver {
  /** The clock is about to move to `now` (ms): expiries reported next happen on the timer. */
  clock(now: number): void;
  /**
   * The packet at `buf[off .. off+len)` goes to the engine on path `dir`, chosen by
   * rule `rule`, with firewall mark `mark`.
   */
  before(
    rec: CaptureRecord,
    dir: number,
    rule: number,
    mark: number,
    buf: Uint8Array,
    off: number,
    len: number,
  ): void;
  /** The engine returned `verdict`; `engine.result` holds the rest. */
  after(rec: CaptureRecord, dir: number, verdict: number): void;
  /**
   * A frame without an IP packet (ARP ...), or of a link type tsvs cannot read
   * (`damage`; the reader reports the link type itself as a problem once).
   */
  skipped(rec: CaptureSkipped, damage: boolean): void;
  /** Damage in the file, or a packet the capture cut short (not replayed). */
  problem(packetNumber: number, message: string): void;
  /** The clock is about to be run on after the last packet (`--drain`). */
  draining?(): void;
}

/** Counts of one replay, for the summary. */
export class ReplayStats {
  /** Records read (packets and skipped frames). */
  records = 0;
  /** IP packets given to the engine, by path. */
  in = 0;
  out = 0;
  /** Frames without an IP packet (ARP, LLDP ...). */
  nonIp = 0;
  /** Frames of a link type tsvs cannot read. */
  unknownLinkType = 0;
  /** IP packets the capture holds only part of (snap length): not replayed. */
  truncated = 0;
  /** Damage reported by the capture reader. */
  fileProblems = 0;
  /** The reader gave up (unreadable file, bad header, truncated file ...). */
  fatal = false;
  /** Packets whose time went backwards: replayed at the previous time. */
  timeBackwards = 0;
  /**
   * Packets captured with a partial (TX offload) L4 checksum, given to the engine as
   * CHECKSUM_PARTIAL and completed on output, as the sender's NIC would have.
   */
  partialChecksums = 0;
  readonly verdicts = new Float64Array(VERDICTS);
  readonly drops = new Float64Array(DROP_REASON_COUNT);
  /** Packets written to the output capture. */
  written = 0;
  /** Capture times (ms) of the first and last IP packet; NaN before any. */
  firstMs = NaN;
  lastMs = NaN;
  /** Problem messages, in order (numbers included). */
  readonly problems: string[] = [];

  /** Anything wrong with the capture (exit status 1). */
  get damaged(): boolean {
    return this.fatal || this.fileProblems > 0 || this.truncated > 0 || this.unknownLinkType > 0;
  }
}

export interface ReplayOptions {
  /** Firewall-mark rules (stand-ins for iptables mangle rules of fwmark services). */
  marks?: readonly MarkRule[];
  /** Where the packets the director sends go; null: nowhere. */
  writer?: PcapWriter | null;
  /** Also write packets passed unchanged (ACCEPT, LOCAL). */
  writeAccepted?: boolean;
  observer?: ReplayObserver | null;
}

/** Runs captures through one engine. */
export class Replayer {
  readonly stats = new ReplayStats();
  readonly classifier: DirectionClassifier;
  private work = new Uint8Array(HEADROOM + WORK_SIZE);
  private readonly writer: PcapWriter | null;
  private readonly writeAccepted: boolean;
  private readonly observer: ReplayObserver | null;
  private readonly ov = new PacketView();
  private readonly iv = new PacketView();
  /** The replay clock (ms): never goes backwards. */
  clock = -Infinity;

  constructor(
    readonly engine: Engine,
    opts: ReplayOptions = {},
  ) {
    this.classifier = new DirectionClassifier(engine, opts.marks ?? []);
    this.writer = opts.writer ?? null;
    this.writeAccepted = opts.writeAccepted ?? false;
    this.observer = opts.observer ?? null;
  }

  /** Replays every item of a capture (see `readCapture`). */
  run(items: Iterable<CaptureItem>): void {
    for (const item of items) this.item(item);
  }

  /** One item of a capture. */
  item(item: CaptureItem): void {
    const st = this.stats;
    switch (item.kind) {
      case 'packet':
        st.records++;
        if (item.truncated) {
          st.truncated++;
          this.problem(
            item.packetNumber,
            `the capture holds ${item.packet.length} bytes of the IP packet, cut by the snap ` +
              `length (${item.capturedLength} of ${item.originalLength} bytes captured): not replayed`,
          );
          return;
        }
        this.packet(item);
        return;
      case 'skipped': {
        st.records++;
        const damage = !isSupportedLinkType(item.linkType);
        // the reader reports an unknown link type once, as a problem, when it meets it
        if (damage) st.unknownLinkType++;
        else st.nonIp++;
        this.observer?.skipped(item, damage);
        return;
      }
      case 'problem':
        st.fileProblems++;
        if (item.fatal) st.fatal = true;
        this.problem(item.packetNumber, item.message);
        return;
    }
  }

  private problem(n: number, message: string): void {
    this.stats.problems.push(`packet ${n}: ${message}`);
    this.observer?.problem(n, message);
  }

  /** Moves the clock to `now` (never backwards) and runs the engine's timers. */
  advance(now: number): void {
    if (now <= this.clock) return;
    this.clock = now;
    this.observer?.clock(now);
    this.engine.tick(now);
  }

  private packet(rec: CaptureRecord): void {
    const st = this.stats;
    const e = this.engine;
    const len = rec.packet.length;
    if (len + HEADROOM > this.work.length) this.work = new Uint8Array(HEADROOM + len);
    const work = this.work;
    work.set(rec.packet, HEADROOM);
    let now = rec.hasTimestamp ? rec.tsMs : this.clock;
    if (now < this.clock) {
      if (rec.hasTimestamp) st.timeBackwards++;
      now = this.clock;
    }
    if (now === -Infinity) now = 0;
    this.advance(now);
    if (Number.isNaN(st.firstMs)) st.firstMs = now;
    st.lastMs = now;
    const cl = this.classifier;
    const dir = cl.classify(work, HEADROOM, len);
    const mark = cl.mark;
    const pktFlags = partialChecksum(cl.view) ? PKT_CSUM_PARTIAL : 0;
    if (pktFlags !== 0) st.partialChecksums++;
    const obs = this.observer;
    if (obs !== null) obs.before(rec, dir, cl.rule, mark, work, HEADROOM, len);
    let v: number;
    if (dir === DIR_IN) {
      st.in++;
      v = e.in(work, HEADROOM, len, now, mark, pktFlags);
    } else {
      st.out++;
      v = e.out(work, HEADROOM, len, now, mark, pktFlags);
    }
    if (pktFlags !== 0 && v === V_FORWARD) this.completeChecksum();
    st.verdicts[v]++;
    const r = e.result;
    if (v !== V_FORWARD && v !== V_REPLY && v !== V_ACCEPT && v !== V_LOCAL) st.drops[r.reason]++;
    const w = this.writer;
    if (
      w !== null &&
      (v === V_FORWARD ||
        v === V_REPLY ||
        (this.writeAccepted && (v === V_ACCEPT || v === V_LOCAL)))
    ) {
      if (w.write(rec.tsNs, r.buf, r.off, r.len)) st.written++;
    }
    if (obs !== null) obs.after(rec, dir, v);
  }

  /**
   * Completes the partial L4 checksum of the packet in `engine.result` (inside an
   * IPIP / IPv6-in-IPv4 tunnel too), as the sender's NIC would have.
   */
  private completeChecksum(): void {
    const r = this.engine.result;
    const o = this.ov;
    if (o.parse(r.buf, r.off, r.len) !== 0) return;
    if (o.proto === IPPROTO_IPIP || o.proto === IPPROTO_IPV6) {
      const i = this.iv;
      if (o.frag !== 0 || i.parse(r.buf, o.l4off, o.l4len) !== 0) return;
      if (i.frag === 0) i.l4ChecksumFill();
      return;
    }
    if (o.frag === 0) o.l4ChecksumFill();
  }

  /**
   * Runs the clock on after the last packet until every connection and template has
   * expired, stepping from one expiry time to the next so that deferred templates
   * (60 s steps, spec §4.6) and chains expire at their own times.
   */
  drain(): void {
    const c = this.engine.conns;
    this.observer?.draining?.();
    for (let round = 0; round < MAX_DRAIN_ROUNDS && c.count > 0; round++) {
      const times: number[] = [];
      for (const id of c.ids()) if (c.armed(id)) times.push(c.expires[id]);
      if (times.length === 0) return;
      times.sort((a, b) => a - b);
      let last = -Infinity;
      for (const t of times) {
        // the wheel looks at a conn in the first tick at or after its expiry
        const at = Math.ceil(t / WHEEL_TICK_MS) * WHEEL_TICK_MS;
        if (at === last) continue;
        last = at;
        this.advance(at > this.clock ? at : this.clock + WHEEL_TICK_MS);
        if (c.count === 0) return;
      }
    }
  }
}

const IPPROTO_IPIP = 4;
const IPPROTO_IPV6 = 41;

/**
 * True when the TCP/UDP checksum field holds only the pseudo-header sum: a packet
 * captured on the host that sent it, before the NIC (or veth) filled in the checksum
 * (TX offload). The cheap comparison comes first; the full check only confirms it.
 */
function partialChecksum(pv: PacketView): boolean {
  if (pv.err !== 0 || pv.csumOff < 0 || pv.frag !== 0 || (pv.proto !== 6 && pv.proto !== 17))
    return false;
  const field = read16(pv.buf, pv.csumOff);
  if (field === 0) return false;
  const addrLen = pv.af === 6 ? 16 : 4;
  const partial = fold16(pseudoSum(pv.buf, pv.saddrOff, pv.daddrOff, addrLen, pv.proto, pv.l4len));
  return field === partial && !pv.l4ChecksumOk();
}

/** Verdict names, indexed by verdict. */
export { VERDICT_NAMES, DROP_REASON_NAMES } from '../engine/drop.js';
