/**
 * The FTP application helper (the kernel's `ip_vs_ftp`, spec §9.2) for NAT services.
 *
 * It watches the control connection of an FTP service and creates the data connections
 * before they arrive:
 * - client `PORT` / `EPRT` (active mode): a conn client:port ← VIP:vport−1 → RIP:dport−1,
 *   matched by the out-lookup when the real server connects from port 20;
 * - server `227` / `229` replies to `PASV` / `EPSV` (passive mode): a NO_CPORT conn
 *   client:* → VIP:port → RIP:port, and the reply is rewritten to name the VIP.
 *
 * Difference from the kernel: there is no conntrack to mangle the reply, so the helper
 * rewrites it in place (growing or shrinking the packet) and the engine's generic
 * sequence adjustment (in_seq/out_seq, spec §9.1) keeps seq/ack consistent afterwards.
 * It also refuses what the kernel accepts: a PORT/EPRT address other than the client's,
 * a passive reply naming another host than the real server, numbers out of range. What
 * is accepted exactly is written down in docs/ftp.md.
 *
 * The packet path allocates nothing in steady state: parsing works on the bytes, results
 * go to preallocated fields of the helper.
 */
import { CONN_F_NFCT, CONN_F_NO_CPORT, IPPROTO_TCP } from '../constants.js';
import type { AddressFamily } from '../constants.js';
import type { Engine } from '../engine.js';
import { NO_CONN } from '../conn/table.js';
import { TCP_S_ESTABLISHED, TCP_S_LISTEN } from '../proto/tcp.js';
import type { PacketView } from '../../wire/packet.js';
import { APP_DROP, APP_MANGLED, APP_OK, type AppHelper } from './types.js';
import {
  COMMA,
  CR,
  FtpAddrPort,
  INCOMPLETE,
  LF,
  LPAREN,
  MALFORMED,
  PIPE,
  SPACE,
  W_227,
  W_229,
  W_EPRT,
  W_EPSV,
  W_PASV,
  W_PORT,
  isDigit,
  matchWord,
  parseExt,
  parseSix,
  writeDec,
} from './ftp-text.js';

/** Control-conn modes kept in `engine.appData` (the kernel's `app_data`). */
export const FTP_ACTIVE = 0;
export const FTP_PASV = 1;
export const FTP_EPRT = 2;
export const FTP_EPSV = 3;

/** At most this many ports per helper (IP_VS_APP_MAX_PORTS, spec §0.1). */
export const FTP_MAX_PORTS = 8;

/** Per-helper counters (what happened to control traffic; not per engine). */
export interface FtpCounters {
  /** Passive replies rewritten (including retransmissions). */
  passive: number;
  /** Active-mode data conns set up from PORT/EPRT. */
  active: number;
  /** Commands or replies refused: an address that is not the client's / the real server's. */
  refused: number;
  /** Commands or replies that looked like PORT/EPRT/227/229 but did not parse. */
  malformed: number;
  /** Replies cut by the end of the segment (split across packets): passed unchanged. */
  incomplete: number;
  /** Replies that had to grow beyond the packet buffer: dropped. */
  noRoom: number;
}

/**
 * The FTP helper. One instance may serve several engines: the mode lives in
 * `engine.appData`, the seq records in `engine.seqs`, and the little state of its own is
 * kept per engine.
 */
export class FtpHelper implements AppHelper {
  readonly name = 'ftp';
  readonly protocol = IPPROTO_TCP;
  readonly ports: readonly number[];
  readonly counters: FtpCounters = {
    passive: 0,
    active: 0,
    refused: 0,
    malformed: 0,
    incomplete: 0,
    noRoom: 0,
  };

  // results of the last parse
  private readonly parsed = new FtpAddrPort();
  private start = 0;
  /**
   * Per engine and control conn: the seq (as the client sees it) of the last reply we
   * rewrote. A server retransmission of that reply arrives with the same adjusted seq and
   * must be rewritten the same way, or the client would get the real server's address
   * (and, if the length changed, a stream with a hole or an overlap).
   */
  private readonly lastReply = new WeakMap<Engine, Map<number, number>>();
  // scratch
  private readonly caddr = new Uint32Array(4);
  private readonly vaddr = new Uint32Array(4);
  private readonly daddr = new Uint32Array(4);
  private readonly text = new Uint8Array(32);

  constructor(ports: readonly number[]) {
    this.ports = ports;
  }

  /** The kernel's init: keep conntrack for the control connection. */
  init(eng: Engine, conn: number): void {
    eng.conns.flags[conn] |= CONN_F_NFCT;
  }

  done(eng: Engine, conn: number): void {
    this.lastReply.get(eng)?.delete(conn);
  }

  /** For a saved engine state: the seq of the last reply rewritten on this control conn. */
  saveConn(eng: Engine, conn: number): number | undefined {
    return this.lastReply.get(eng)?.get(conn);
  }

  /** From a saved engine state (see {@link saveConn}). */
  restoreConn(eng: Engine, conn: number, seq: number): void {
    const m = this.lastReply.get(eng);
    if (m) m.set(conn, seq >>> 0);
    else this.lastReply.set(eng, new Map([[conn, seq >>> 0]]));
  }

  /** The counters, for a saved engine state. */
  saveCounters(): Record<string, number> {
    return { ...this.counters };
  }

  /** Counters from a saved engine state (unknown names are ignored). */
  restoreCounters(c: Record<string, number>): void {
    const own = this.counters as unknown as Record<string, number>;
    for (const k of Object.keys(own)) if (typeof c[k] === 'number') own[k] = c[k];
  }

  /** client → server: PASV/EPSV detection, PORT/EPRT (never changes the payload). */
  in(eng: Engine, conn: number, pv: PacketView, _now: number, mark: number): number {
    if (!this.applies(eng, conn, pv)) return APP_OK;
    const b = pv.buf;
    const off = pv.payloadOff;
    const end = off + pv.payloadLen;
    const af = eng.conns.af[conn] as AddressFamily;

    // 1. PASV / EPSV anywhere in the payload
    for (let i = off; i <= end - 6; i++) {
      if (af === 4 && matchWord(b, i, end, W_PASV) && b[i + 4] === CR && b[i + 5] === LF) {
        eng.appData.set(conn, FTP_PASV);
        return APP_OK;
      }
      if (matchWord(b, i, end, W_EPSV)) {
        const c = b[i + 4];
        if (c === CR) {
          eng.appData.set(conn, FTP_EPSV);
          return APP_OK;
        }
        if (c === SPACE) {
          // "EPSV 1" / "EPSV 2" must name the control conn's family; "EPSV ALL" is ignored
          if (i + 7 > end || b[i + 6] !== CR) return APP_OK;
          if (b[i + 5] !== (af === 4 ? 49 : 50)) return APP_OK;
          eng.appData.set(conn, FTP_EPSV);
          return APP_OK;
        }
      }
    }

    // 2. PORT / EPRT at the start of the payload
    let r: number;
    if (af === 4 && matchWord(b, off, end, W_PORT)) {
      // spaces, or the address straight away ("PORTS …" is another word)
      let i = off + 4;
      if (i < end && b[i] !== SPACE && !isDigit(b[i])) return APP_OK;
      while (i < end && b[i] === SPACE) i++;
      r = parseSix(b, i, end, this.parsed);
    } else if (matchWord(b, off, end, W_EPRT)) {
      let i = off + 4;
      if (i < end && b[i] !== SPACE) return APP_OK;
      while (i < end && b[i] === SPACE) i++;
      r = parseExt(b, i, end, af, false, this.parsed);
    } else {
      return APP_OK;
    }
    if (r === INCOMPLETE || r === MALFORMED) {
      this.counters.malformed++;
      return APP_OK;
    }
    // every well-formed PORT/EPRT sets ACTIVE (as the kernel; FTP_EPRT is never kept)
    eng.appData.set(conn, FTP_ACTIVE);
    this.activeConn(eng, conn, mark);
    return APP_OK;
  }

  /** server → client: 227 / 229 replies in PASV / EPSV mode. */
  out(eng: Engine, conn: number, pv: PacketView, _now: number, mark: number): number {
    if (!this.applies(eng, conn, pv)) return APP_OK;
    const c = eng.conns;
    const b = pv.buf;
    const off = pv.payloadOff;
    const end = off + pv.payloadLen;
    const af = c.af[conn] as AddressFamily;
    let mode = eng.appData.get(conn) ?? FTP_ACTIVE;
    const last = this.lastReply.get(eng);
    const retransmit = last !== undefined && last.get(conn) === pv.seq;
    if (retransmit) {
      // the same reply again (lost on the client side): rewrite it the same way
      if (af === 4 && matchWord(b, off, end, W_227)) mode = FTP_PASV;
      else if (matchWord(b, off, end, W_229)) mode = FTP_EPSV;
    }

    let r: number;
    if (mode === FTP_PASV && af === 4) {
      if (!matchWord(b, off, end, W_227)) return APP_OK;
      let i = off + 4;
      // skip to "(" (optional: a digit also starts the address)
      while (i < end && !isDigit(b[i]) && b[i] !== LPAREN) i++;
      while (i < end && b[i] === LPAREN) i++;
      this.start = i;
      r = parseSix(b, i, end, this.parsed);
    } else if (mode === FTP_EPSV) {
      if (!matchWord(b, off, end, W_229)) return APP_OK;
      let i = off + 4;
      while (i < end && b[i] !== LPAREN) i++;
      while (i < end && b[i] === LPAREN) i++;
      this.start = i;
      r = parseExt(b, i, end, af, true, this.parsed);
    } else {
      return APP_OK;
    }
    if (r === INCOMPLETE) {
      this.counters.incomplete++;
      return APP_OK;
    }
    if (r === MALFORMED) {
      this.counters.malformed++;
      return APP_OK;
    }
    const o = conn * 4;
    // the reply must announce the real server itself (EPSV without address does)
    if (this.parsed.hasAddr && !sameAddr(af, this.parsed.addr, c.daddr, o)) {
      this.counters.refused++;
      return APP_OK;
    }
    copy4(c.caddr, o, this.caddr);
    copy4(c.vaddr, o, this.vaddr);
    copy4(c.daddr, o, this.daddr);
    const did = c.dest[conn];
    const dest = did >= 0 ? eng.destById[did] : null;
    if (!dest) return APP_OK;

    // an existing passive conn for (RIP:port → client, cport 0)? its vport is announced
    let id = retransmit
      ? NO_CONN
      : c.outLookup(af, IPPROTO_TCP, this.daddr, 0, this.parsed.port, this.caddr, 0, 0);
    const vport = id !== NO_CONN ? c.vport[id] : this.parsed.port;

    // the new text: PASV "a,b,c,d,p1,p2" with the VIP, EPSV "|||port|"
    const t = this.text;
    let n = 0;
    if (mode === FTP_PASV) {
      const v = this.vaddr[0];
      n = writeDec(t, n, v >>> 24);
      t[n++] = COMMA;
      n = writeDec(t, n, (v >>> 16) & 255);
      t[n++] = COMMA;
      n = writeDec(t, n, (v >>> 8) & 255);
      t[n++] = COMMA;
      n = writeDec(t, n, v & 255);
      t[n++] = COMMA;
      n = writeDec(t, n, vport >>> 8);
      t[n++] = COMMA;
      n = writeDec(t, n, vport & 255);
    } else {
      t[n++] = PIPE;
      t[n++] = PIPE;
      t[n++] = PIPE;
      n = writeDec(t, n, vport);
      t[n++] = PIPE;
    }
    const rv = this.replace(eng, pv, this.start, r, n);
    if (rv === APP_DROP) {
      this.counters.noRoom++;
      return APP_DROP;
    }
    this.counters.passive++;
    if (retransmit) return rv;
    if (last) last.set(conn, pv.seq);
    else this.lastReply.set(eng, new Map([[conn, pv.seq]]));

    if (id === NO_CONN) {
      id = eng.connNew(
        af,
        IPPROTO_TCP,
        this.caddr,
        0,
        0,
        this.vaddr,
        0,
        this.parsed.port,
        this.daddr,
        0,
        this.parsed.port,
        CONN_F_NO_CPORT | CONN_F_NFCT,
        dest,
        mark,
      );
      eng.setControl(id, conn);
    }
    eng.appData.set(conn, FTP_ACTIVE);
    eng.setState(id, TCP_S_LISTEN);
    eng.connPut(id);
    return rv;
  }

  /** Both hooks act only on whole, non-fragmented TCP segments of an ESTABLISHED conn. */
  private applies(eng: Engine, conn: number, pv: PacketView): boolean {
    return (
      pv.proto === IPPROTO_TCP &&
      pv.frag === 0 &&
      pv.payloadLen > 0 &&
      eng.conns.state[conn] === TCP_S_ESTABLISHED
    );
  }

  /** PORT: set up (or refresh) the active data conn RIP:dport−1 → client:port. */
  private activeConn(eng: Engine, conn: number, mark: number): void {
    const c = eng.conns;
    const af = c.af[conn] as AddressFamily;
    const o = conn * 4;
    // tsvs refuses a data path to anyone but the client (the kernel keys it on the
    // announced address, whatever it is)
    if (!sameAddr(af, this.parsed.addr, c.caddr, o) || this.parsed.port === 0) {
      this.counters.refused++;
      return;
    }
    const did = c.dest[conn];
    const dest = did >= 0 ? eng.destById[did] : null;
    if (!dest) return;
    copy4(c.caddr, o, this.caddr);
    copy4(c.vaddr, o, this.vaddr);
    copy4(c.daddr, o, this.daddr);
    const vport = (c.vport[conn] - 1) & 0xffff;
    const dport = (c.dport[conn] - 1) & 0xffff;
    let id = c.inLookup(af, IPPROTO_TCP, this.caddr, 0, this.parsed.port, this.vaddr, 0, vport);
    if (id === NO_CONN) {
      id = eng.connNew(
        af,
        IPPROTO_TCP,
        this.caddr,
        0,
        this.parsed.port,
        this.vaddr,
        0,
        vport,
        this.daddr,
        0,
        dport,
        CONN_F_NFCT,
        dest,
        mark,
      );
      eng.setControl(id, conn);
    }
    this.counters.active++;
    eng.setState(id, TCP_S_LISTEN);
    eng.connPut(id);
  }

  /**
   * Replace payload bytes [start, end) by `this.text[0..n)`, moving the rest of the
   * packet and fixing the IP lengths. APP_OK if nothing changed, APP_MANGLED if the
   * bytes changed, APP_DROP if the packet would outgrow its buffer or 64 KiB.
   */
  private replace(eng: Engine, pv: PacketView, start: number, end: number, n: number): number {
    const b = pv.buf;
    const t = this.text;
    const delta = n - (end - start);
    if (delta === 0) {
      let same = true;
      for (let k = 0; k < n; k++) if (b[start + k] !== t[k]) same = false;
      if (same) return APP_OK;
    }
    const tail = pv.l3off + pv.l3len;
    if (tail + delta > eng.room || tail + delta > b.length || pv.l3len + delta > 65535)
      return APP_DROP;
    if (delta !== 0) b.copyWithin(end + delta, end, tail);
    b.set(t.subarray(0, n), start);
    if (delta !== 0) eng.resizePayload(pv, delta);
    return APP_MANGLED;
  }
}

function sameAddr(af: AddressFamily, a: Uint32Array, w: Uint32Array, o: number): boolean {
  if (a[0] !== w[o]) return false;
  return af === 4 || (a[1] === w[o + 1] && a[2] === w[o + 2] && a[3] === w[o + 3]);
}

function copy4(src: Uint32Array, o: number, dst: Uint32Array): void {
  dst[0] = src[o];
  dst[1] = src[o + 1];
  dst[2] = src[o + 2];
  dst[3] = src[o + 3];
}

/**
 * Create the FTP helper for the given control ports (default 21). At most 8 entries;
 * 0 entries are skipped, as the kernel's `ports` module parameter. Throws a RangeError
 * for anything else (non-integer, out of 0..65535, too many).
 */
export function createFtpHelper(ports: readonly number[] = [21]): FtpHelper {
  if (ports.length > FTP_MAX_PORTS)
    throw new RangeError(`ftp: at most ${FTP_MAX_PORTS} ports, got ${ports.length}`);
  const list: number[] = [];
  for (const p of ports) {
    if (!Number.isInteger(p) || p < 0 || p > 65535) throw new RangeError(`ftp: bad port ${p}`);
    if (p !== 0 && !list.includes(p)) list.push(p);
  }
  return new FtpHelper(list);
}
