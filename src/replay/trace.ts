/**
 * `tsvs trace`: what the engine decided for every packet of a capture, one line per
 * packet — time, path, 5-tuple, the connection matched or created (with scheduler and
 * real server), state before → after, the idle timeout armed, the rewrite, the verdict
 * or the drop reason — plus a line per connection or template expiry.
 *
 * Everything is gathered from outside the engine's hot path: a read-only conn-table
 * lookup before the call, `engine.result` and the conn's state and timeout after it,
 * and the engine's `onExpire` observer for expiries. This costs allocations per
 * packet, which is fine for a trace and is why the plain replay runs without it.
 */
import type { Engine } from '../engine/engine.js';
import { NO_CONN } from '../engine/conn/table.js';
import {
  CONN_F_BYPASS,
  CONN_F_DROUTE,
  CONN_F_ONE_PACKET,
  CONN_F_TUNNEL,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_SCTP,
  TEMPLATE_ASSURED,
  type AddressFamily,
} from '../engine/constants.js';
import {
  DROP_REASON_NAMES,
  V_ACCEPT,
  V_DROP,
  V_FORWARD,
  V_LOCAL,
  V_REPLY,
  VERDICT_NAMES,
} from '../engine/drop.js';
import { formatAddr, formatAddrPort } from '../engine/addr.js';
import { type CaptureRecord, type CaptureSkipped, nsToMs } from '../pcap/pcap.js';
import { describe } from '../wire/describe.js';
import { SCTP_HLEN, sctpChunkType } from '../wire/sctp.js';
import { sctpEvent } from '../engine/proto/sctp.js';
import { PacketView } from '../wire/packet.js';
import { ICMP_HLEN } from '../wire/icmp.js';
import { DIR_IN, RULE_NAMES } from './direction.js';
import {
  EXPLAINERS,
  METHOD_NAMES,
  epText,
  epTextLoose,
  explainText,
  initialState,
  protoOf,
  protoText,
  seconds,
  whyNotText,
  type Before,
  type ConnSnap,
  type ExpirySnap,
  type Outcome,
} from './explain.js';
import type { ReplayObserver } from './replay.js';

/** `--explain` covers this many packets of each connection (and every state change). */
export const EXPLAIN_FIRST_PACKETS = 3;

const TUN_TYPE_NAMES = ['IPIP', 'GUE', 'GRE'];

export interface TracerOptions {
  /** One JSON object per line instead of text. */
  json?: boolean;
  /** Add the spec's reasoning for the first packets of each connection. */
  explain?: boolean;
}

/** "12.000345" from a nanosecond difference. */
function secondsNs(d: bigint): string {
  const neg = d < 0n;
  const a = neg ? -d : d;
  const s = a / 1_000_000_000n;
  const us = (a % 1_000_000_000n) / 1000n;
  return `${neg ? '-' : ''}${s}.${us.toString().padStart(6, '0')}`;
}

function secondsMs(d: number): string {
  const r = Math.round(d * 1000) / 1e6;
  return r.toFixed(6);
}

/** Formats trace lines for the packets a {@link Replayer} runs; see the module comment. */
export class Tracer implements ReplayObserver {
  private readonly json: boolean;
  private readonly explain: boolean;
  private readonly pv = new PacketView();
  private readonly qv = new PacketView();
  private readonly ov = new PacketView();
  private t0Ns: bigint | null = null;
  private t0Ms = 0;
  /** Conns and templates the trace has seen and not seen expire. */
  private readonly known = new Set<number>();
  private readonly explained = new Map<number, number>();
  private phase: 'timer' | 'packet' = 'timer';
  private timerExpiries: ExpirySnap[] = [];
  private callExpiries = new Map<number, ExpirySnap>();
  private callExpiryOrder: ExpirySnap[] = [];
  private cur: Before | null = null;
  /** Lines written (packets, expiries, problems). */
  lines = 0;

  constructor(
    private readonly engine: Engine,
    private readonly write: (line: string) => void,
    opts: TracerOptions = {},
  ) {
    this.json = opts.json ?? false;
    this.explain = opts.explain ?? false;
    engine.onExpire = (id) => this.expiring(id);
  }

  /** Stops observing the engine. */
  detach(): void {
    this.engine.onExpire = null;
  }

  private emit(line: string): void {
    this.lines++;
    this.write(line + '\n');
  }

  private setT0(tsNs: bigint): void {
    if (this.t0Ns === null) {
      this.t0Ns = tsNs;
      this.t0Ms = nsToMs(tsNs);
    }
  }

  private relNs(tsNs: bigint): string {
    return secondsNs(tsNs - (this.t0Ns ?? tsNs));
  }

  private relMs(ms: number): string {
    return secondsMs(ms - this.t0Ms);
  }

  // ---- expiries -------------------------------------------------------------------

  private snap(id: number): ConnSnap {
    const c = this.engine.conns;
    return {
      info: this.engine.connInfo(id),
      timeoutMs: c.timeout[id],
      dueMs: c.expires[id],
      stateNum: c.state[id],
      destId: c.dest[id],
    };
  }

  private expiring(id: number): void {
    const s: ExpirySnap = { ...this.snap(id), deferred: this.engine.conns.nControl[id] > 0 };
    if (!s.deferred) this.known.delete(id);
    if (this.phase === 'packet') {
      this.callExpiries.set(id, s);
      this.callExpiryOrder.push(s);
    } else {
      this.timerExpiries.push(s);
    }
  }

  private flushTimerExpiries(): void {
    if (this.timerExpiries.length === 0) return;
    const list = this.timerExpiries.sort((a, b) => a.dueMs - b.dueMs || a.info.id - b.info.id);
    this.timerExpiries = [];
    for (const s of list) this.expiryLine(s, s.dueMs, null);
  }

  private expiryLine(s: ExpirySnap, atMs: number, during: number | null): void {
    const i = s.info;
    const kind = i.template ? 'template' : 'conn';
    const client = epText(i.af, i.caddr, i.cport);
    const virt =
      i.protocol === 0 && i.template ? `fwmark ${i.vaddr}` : epText(i.af, i.vaddr, i.vport);
    const real = i.daddr === '' ? '-' : epTextLoose(i);
    if (this.json) {
      this.emit(
        JSON.stringify({
          type: 'expire',
          t: Number(this.relMs(atMs)),
          during,
          conn: i.id,
          template: i.template,
          proto: protoText(i.protocol),
          client,
          virtual: virt,
          real,
          state: i.state,
          idle: seconds(s.timeoutMs),
          deferred: s.deferred,
          controls: i.nControl,
        }),
      );
      return;
    }
    let line = `${this.relMs(atMs)} expire ${kind} ${i.id} ${protoText(i.protocol)} ${client} → ${virt} → ${real} ${i.state}`;
    if (s.deferred) {
      line += ` controls ${i.nControl} conn${i.nControl === 1 ? '' : 's'}: kept 60s more`;
    } else if (s.info.flags & CONN_F_ONE_PACKET) {
      line += ' one-packet conn released';
    } else {
      line += ` idle ${seconds(s.timeoutMs)}s`;
    }
    if (during !== null) line += ` (during #${during})`;
    this.emit(line);
    if (this.explain) {
      const why = s.deferred
        ? `a ${kind} that still controls connections is not freed: its timer is re-armed for 60 s (§4.6)`
        : during !== null
          ? (s.info.flags & CONN_F_ONE_PACKET) !== 0
            ? 'one-packet scheduling: the conn is freed as soon as its packet is sent (§3, §4.6)'
            : 'expired at once by the packet (connection reuse §2.11 or real server gone §2.12)'
          : i.template
            ? `no packet created a connection for ${seconds(s.timeoutMs)} s and it controls none: freed (§4.5, §4.6)`
            : `no packet for ${seconds(s.timeoutMs)} s (the ${i.state} timeout): freed (§4.6)`;
      this.emit(`    ${why}`);
    }
  }

  // ---- ReplayObserver -------------------------------------------------------------

  clock(_now: number): void {
    this.flushTimerExpiries();
    this.phase = 'timer';
  }

  draining(): void {
    this.flushTimerExpiries();
    this.phase = 'timer';
  }

  skipped(rec: CaptureSkipped, _damage: boolean): void {
    this.flushTimerExpiries();
    if (rec.hasTimestamp) this.setT0(rec.tsNs);
    if (this.json) {
      this.emit(JSON.stringify({ type: 'skipped', n: rec.packetNumber, reason: rec.reason }));
      return;
    }
    this.emit(`${this.relNs(rec.tsNs)} #${rec.packetNumber} skipped: ${rec.reason}`);
  }

  problem(packetNumber: number, message: string): void {
    this.flushTimerExpiries();
    if (this.json) {
      this.emit(JSON.stringify({ type: 'problem', n: packetNumber, message }));
      return;
    }
    this.emit(`#${packetNumber} problem: ${message}`);
  }

  before(
    rec: CaptureRecord,
    dir: number,
    rule: number,
    mark: number,
    buf: Uint8Array,
    off: number,
    len: number,
  ): void {
    this.flushTimerExpiries();
    this.phase = 'packet';
    this.callExpiries = new Map();
    this.callExpiryOrder = [];
    if (rec.hasTimestamp) this.setT0(rec.tsNs);
    const pv = this.pv;
    const parsed = pv.parse(buf, off, len) === 0;
    const af = pv.af as AddressFamily;
    const b: Before = {
      n: rec.packetNumber,
      tsNs: rec.tsNs,
      dir,
      rule,
      mark,
      text: '',
      parsed,
      af,
      proto: pv.proto,
      tcpFlags: pv.tcpFlags,
      src: '',
      dst: '',
      quoteSrc: '',
      quoteDst: '',
      sport: pv.sport,
      dport: pv.dport,
      daddr: pv.daddr.slice(),
      id: NO_CONN,
      conn: null,
      templateAssured: false,
      pp: parsed ? protoOf(pv.proto) : null,
      newConn: false,
      chunk: -1,
      event: -1,
    };
    const pp = b.pp;
    if (pp !== null && pv.hasPorts) {
      b.newConn = pp.isNewConn(pv);
      b.src = formatAddrPort(af, pv.saddr, pv.sport);
      b.dst = formatAddrPort(af, pv.daddr, pv.dport);
      if (pv.proto === IPPROTO_SCTP && pv.frag === 0) {
        b.chunk = sctpChunkType(buf, pv.l4off + SCTP_HLEN, pv.l3off + pv.l3len);
        b.event = sctpEvent(pv);
      }
      b.text = EXPLAINERS[pp.name].packet(b, pv.payloadLen);
      b.id = this.lookup(dir, af, pv.proto, pv.saddr, pv.sport, pv.daddr, pv.dport);
    } else {
      b.text = describe(buf, off, len);
      if (parsed) {
        b.src = formatAddr(af, pv.saddr);
        b.dst = formatAddr(af, pv.daddr);
      }
      if (parsed && (pv.proto === IPPROTO_ICMP || pv.proto === IPPROTO_ICMPV6) && pv.frag === 0) {
        const q = this.qv;
        const start = pv.l4off + ICMP_HLEN;
        const end = pv.l3off + pv.l3len;
        if (start < end && q.parseEmbedded(buf, start, end - start) === 0 && q.hasPorts) {
          const qaf = q.af as AddressFamily;
          b.quoteSrc = formatAddrPort(qaf, q.saddr, q.sport);
          b.quoteDst = formatAddrPort(qaf, q.daddr, q.dport);
          // the quote runs the other way: its destination is the client (in) / its source (out)
          b.id =
            dir === DIR_IN
              ? this.engine.conns.inLookup(qaf, q.proto, q.daddr, 0, q.dport, q.saddr, 0, q.sport)
              : this.engine.conns.outLookup(qaf, q.proto, q.daddr, 0, q.dport, q.saddr, 0, q.sport);
        }
      }
    }
    if (b.id !== NO_CONN) {
      b.conn = this.snap(b.id);
      const ct = this.engine.conns.control[b.id];
      b.templateAssured = ct >= 0 && (this.engine.conns.state[ct] & TEMPLATE_ASSURED) !== 0;
    }
    this.cur = b;
  }

  private lookup(
    dir: number,
    af: AddressFamily,
    proto: number,
    saddr: Uint32Array,
    sport: number,
    daddr: Uint32Array,
    dport: number,
  ): number {
    const c = this.engine.conns;
    if (dir !== DIR_IN) return c.outLookup(af, proto, saddr, 0, sport, daddr, 0, dport);
    let id = c.inLookup(af, proto, saddr, 0, sport, daddr, 0, dport);
    if (id === NO_CONN && c.noCportCount > 0)
      id = c.inLookup(af, proto, saddr, 0, 0, daddr, 0, dport);
    return id;
  }

  after(_rec: CaptureRecord, dir: number, v: number): void {
    const b = this.cur;
    if (b === null) return;
    this.cur = null;
    const o = this.outcome(b, v);
    const e = this.engine;
    const did = o.aft !== null ? o.aft.destId : -1;
    const dest = did >= 0 ? e.destById[did] : null;
    const svc = dest ? dest.svc : null;
    const method = o.aft === null ? -1 : o.aft.info.flags & 7;
    const rewrite = this.rewriteText(b, dir, v, method);
    const reasonName = o.reason > 0 ? DROP_REASON_NAMES[o.reason] : '';
    const explain =
      this.explain && this.wantExplain(o, v) ? explainText(this.engine, b, dir, v, o) : '';
    const aft = o.aft;

    if (this.json) {
      const j: Record<string, unknown> = {
        type: 'packet',
        n: b.n,
        t: Number(this.relNs(b.tsNs)),
        dir: dir === DIR_IN ? 'in' : 'out',
        rule: RULE_NAMES[b.rule],
        packet: b.text,
        src: b.src,
        dst: b.dst,
      };
      if (b.mark !== 0) j.mark = b.mark;
      j.conn = o.id === NO_CONN ? null : o.id;
      j.new = o.isNew;
      if (o.isNew && svc && dest) {
        j.service = svc.toString();
        j.scheduler = svc.schedName;
        j.realServer = dest.toString();
        j.method = METHOD_NAMES[dest.fwd] ?? String(dest.fwd);
      } else if (aft !== null) {
        j.realServer = epTextLoose(aft.info);
      }
      if (o.tmplSnap !== null) {
        j.template = {
          id: o.tmplId,
          new: o.tmplNew,
          timeout: seconds(o.tmplSnap.timeoutMs),
          state: o.tmplSnap.info.state,
        };
      }
      if (aft !== null) {
        j.state = [o.stateBefore, aft.info.state];
        j.timeout = seconds(aft.timeoutMs);
      }
      if (rewrite !== '') j.rewrite = rewrite;
      j.verdict = VERDICT_NAMES[v];
      if (reasonName !== '') j.reason = reasonName;
      if (o.whyNot !== '') j.note = o.whyNot;
      if (explain !== '') j.explain = explain;
      this.emit(JSON.stringify(j));
    } else {
      const parts: string[] = [
        `${this.relNs(b.tsNs)} #${b.n} ${dir === DIR_IN ? 'in ' : 'out'} ${b.text}`,
      ];
      if (b.mark !== 0) parts.push(`mark ${b.mark}`);
      if (o.id === NO_CONN) {
        parts.push(
          o.whyNot !== '' ? `no conn (${o.whyNot.replace(/ \(§[^)]*\)$/, '')})` : 'no conn',
        );
      } else if (o.isNew && svc && dest) {
        let s = `conn ${o.id} new: ${svc.toString()} ${svc.schedName} → ${dest.toString()} ${METHOD_NAMES[dest.fwd]}`;
        if (o.tmplSnap !== null) {
          s += o.tmplNew
            ? `, template ${o.tmplId} new ${seconds(o.tmplSnap.timeoutMs)}s`
            : `, template ${o.tmplId}`;
        }
        parts.push(s);
      } else if (o.isNew) {
        parts.push(`conn ${o.id} new${method === CONN_F_BYPASS ? ': bypass' : ''}`);
      } else {
        parts.push(`conn ${o.id}`);
      }
      if (aft !== null)
        parts.push(`${o.stateBefore} → ${aft.info.state} ${seconds(aft.timeoutMs)}s`);
      if (rewrite !== '') parts.push(rewrite);
      parts.push(reasonName !== '' ? `${VERDICT_NAMES[v]} ${reasonName}` : VERDICT_NAMES[v]);
      this.emit(parts.join('  '));
      if (explain !== '') this.emit(`    ${explain}`);
    }
    for (const s of this.callExpiryOrder) this.expiryLine(s, nsToMs(b.tsNs), b.n);
    this.callExpiries = new Map();
    this.callExpiryOrder = [];
    this.phase = 'timer';
  }

  /** Reads the engine after the call: which conn, new or not, template, reasons. */
  private outcome(b: Before, v: number): Outcome {
    const e = this.engine;
    const r = e.result;
    const expired = (id: number): boolean => {
      const x = this.callExpiries.get(id);
      return x !== undefined && !x.deferred;
    };
    // the id of a conn freed during the call may already serve a new conn; live conns
    // (templates included) always have their timer armed when the engine returns
    const freed = (id: number): boolean => expired(id) && !e.conns.armed(id);
    const reused = b.id !== NO_CONN && expired(b.id);
    let id = r.conn;
    // a DROP of a packet on a conn (real server gone) leaves result.conn unset
    if (id === NO_CONN && b.id !== NO_CONN && !reused) id = b.id;
    const isNew = id !== NO_CONN && (id !== b.id || reused);
    const aft: ConnSnap | null =
      id === NO_CONN ? null : freed(id) ? this.callExpiries.get(id)! : this.snap(id);
    // the engine says which reason a DROP or a REPLY was counted under
    const reason = v === V_DROP || v === V_REPLY ? r.reason : 0;
    let tmplId = -1;
    let tmplNew = false;
    let tmplSnap: ConnSnap | null = null;
    if (aft !== null && aft.info.control >= 0) {
      tmplId = aft.info.control;
      tmplNew = !this.known.has(tmplId);
      tmplSnap = this.snap(tmplId);
    }
    if (id !== NO_CONN && !freed(id)) this.known.add(id);
    if (tmplId >= 0) this.known.add(tmplId);
    const old = b.conn !== null && !reused ? b.conn : null;
    return {
      id,
      isNew,
      reused,
      aft,
      stateBefore: old !== null ? old.info.state : aft !== null ? initialState(aft.info) : '',
      stateNumBefore: old !== null ? old.stateNum : 0,
      tmplId,
      tmplNew,
      tmplSnap,
      reason,
      why: r.why,
      whyNot: id === NO_CONN && v === V_ACCEPT ? whyNotText(r.why, b) : '',
    };
  }

  /** Writes what is still pending (expiries of the last tick). */
  finish(): void {
    this.flushTimerExpiries();
  }

  // ---- pieces ---------------------------------------------------------------------

  private wantExplain(o: Outcome, v: number): boolean {
    if (o.id === NO_CONN || v === V_DROP || v === V_REPLY) return true;
    const n = o.isNew ? 1 : (this.explained.get(o.id) ?? 0) + 1;
    this.explained.set(o.id, n);
    return n <= EXPLAIN_FIRST_PACKETS || (o.aft !== null && o.aft.info.state !== o.stateBefore);
  }

  private rewriteText(b: Before, dir: number, v: number, method: number): string {
    const r = this.engine.result;
    if (v === V_LOCAL) return 'local delivery';
    if (v === V_REPLY) return `reply ${describe(r.buf, r.off, r.len)}`;
    if (v !== V_FORWARD) return '';
    const hop = formatAddr(r.af, r.nextHop);
    if (dir === DIR_IN && method === CONN_F_TUNNEL) {
      const o = this.ov;
      o.parse(r.buf, r.off, r.len);
      const d = this.engine.destById[this.engine.conns.dest[r.conn]];
      const t = d ? (TUN_TYPE_NAMES[d.tunType] ?? `type ${d.tunType}`) : 'IPIP';
      return `${t} ${formatAddr(o.af as AddressFamily, o.saddr)} > ${formatAddr(o.af as AddressFamily, o.daddr)}`;
    }
    if (dir === DIR_IN && method === CONN_F_DROUTE) return `DR to ${hop}`;
    if (dir === DIR_IN && method === CONN_F_BYPASS) return `bypass to ${hop}`;
    const o = this.ov;
    if (o.parse(r.buf, r.off, r.len) !== 0) return '';
    const oaf = o.af as AddressFamily;
    const ports = o.hasPorts && protoOf(o.proto) !== null;
    const src = ports ? formatAddrPort(oaf, o.saddr, o.sport) : formatAddr(oaf, o.saddr);
    const dst = ports ? formatAddrPort(oaf, o.daddr, o.dport) : formatAddr(oaf, o.daddr);
    const out: string[] = [];
    if (dst !== b.dst) out.push(`DNAT → ${dst}`);
    if (src !== b.src) out.push(`SNAT → ${src}`);
    if (out.length === 0) return '';
    return out.join(' ');
  }
}
