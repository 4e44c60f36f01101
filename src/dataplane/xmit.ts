/**
 * The director's transmit side (the kernel's ip_vs_xmit.c, done from user space): the
 * per-direction batch buffers and what a batch queued to send, the packet sockets with
 * the virtio-net header (one per egress interface), the raw IP sockets, and the steps
 * that turn an engine result into a send — placing it where a link-layer header fits,
 * framing it for a packet socket, queueing it for a raw socket or for the kernel.
 *
 * Per packet nothing here allocates: every batch, meta array and buffer is made once.
 *
 * @module
 */
import type { Engine } from '../engine/engine.js';
import {
  CONN_F_DROUTE,
  CONN_F_MASQ,
  CONN_F_TUNNEL,
  type AddressFamily,
} from '../engine/constants.js';
import { V_FORWARD } from '../engine/drop.js';
import { PacketView } from '../wire/packet.js';
import { l4ChecksumFill } from '../wire/checksum.js';
import { IPPROTO_SCTP } from '../wire/ipproto.js';
import { sctpChecksumFill } from '../wire/sctp.js';
import { ipv4Ttl, ipv4UpdateChecksum, ipv4Version, setIpv4Ttl } from '../wire/ipv4.js';
import { ipv6HopLimit, setIpv6HopLimit } from '../wire/ipv6.js';
import { loadNative, openPacketSocket, type Batch, type PacketChannel } from './native.js';
import { META_STRIDE, M_ERR, M_LEN, M_OFF, M_RAW_ADDR } from './native-meta.js';
import { L2_HEADROOM, writeL2Header } from './vnet.js';
import type { RouteInfo } from './nexthop.js';

/** Receive area per direction: each queue read reserves a whole 64 KB slot. */
export const RX_BYTES = 16 * 1024 * 1024;
/** Spill area per direction, behind the receive area (see {@link TxState}). */
export const SPILL_BYTES = 1024 * 1024;
/** Packets per read and per write. */
export const BATCH_PKTS = 256;

/** One packet socket (per egress interface) and the frames queued for it in a batch. */
export interface L2Tx {
  ifindex: number;
  dev: string;
  chan: PacketChannel;
  /** Frames to send, offsets into the request buffer. */
  batch: Batch;
  n: number;
  /** Frames to send from the reply buffer (NAT replies sent to the client side). */
  batchOut: Batch;
  nOut: number;
}

/** Where NAT/DR packets for one real server address go at layer 2. */
export interface L2Hop {
  af: AddressFamily;
  /** The real server's address (normalised text). */
  rip: string;
  /** Route to it; null until looked up. */
  route: RouteInfo | null;
  /** Neighbour whose MAC the frame is sent to: the gateway or the RIP itself. */
  neighbour: string;
  /** Egress MTU (route metric or the device's). */
  mtu: number;
  /** The RIP is one of this host's addresses (the engine delivers locally). */
  local: boolean;
  /** Destination then source MAC (12 bytes); valid when `ready`. */
  eth: Uint8Array;
  ready: boolean;
  tx: L2Tx | null;
  /** Some dest uses it for DR (no kernel fallback). */
  dr: boolean;
}

/**
 * One direction (requests, or NAT replies) while a batch is handled: the buffer the
 * batch was read into (its front) and engine output moved out of the way (its spill
 * area), the reads and verdicts of its queues and TUN device, and the sends queued so
 * far.
 */
export interface TxState {
  buf: Uint8Array;
  /** NAT replies (engine `out`) rather than requests. */
  reply: boolean;
  /** Reads from this direction's netfilter queues, and their verdicts. */
  rx: Batch;
  verdicts: Batch;
  /** Reads from this direction's steering TUN. */
  rxTun: Batch;
  /** Next free byte of the spill area. */
  spill: number;
  /** End of the bytes claimed by earlier packets of the batch. */
  low: number;
  /** Sends queued for the raw IPv4 / IPv6 sockets, and packets for the kernel (tunIn). */
  n4: number;
  n6: number;
  nk: number;
  tx4: Batch;
  tx6: Batch;
  k: Batch;
}

/** A batch descriptor over `buf` with room for {@link BATCH_PKTS} packets. */
function batchOver(buf: Uint8Array): Batch {
  return { buf, meta: new Int32Array(BATCH_PKTS * META_STRIDE), capacity: BATCH_PKTS };
}

function txState(buf: Uint8Array, reply: boolean): TxState {
  const front = buf.subarray(0, RX_BYTES);
  return {
    buf,
    reply,
    rx: batchOver(front),
    verdicts: batchOver(buf),
    // (the shim leaves TUN_READ_GAP bytes in front of each packet read from a TUN)
    rxTun: batchOver(front),
    spill: RX_BYTES,
    low: 0,
    n4: 0,
    n6: 0,
    nk: 0,
    tx4: batchOver(buf),
    tx6: batchOver(buf),
    k: batchOver(buf),
  };
}

/** Sockets, buffers and the per-packet transmit steps of one director. */
export class Transmit {
  /** Per-direction state: requests (engine `in`) and NAT replies (engine `out`). */
  readonly txIn: TxState;
  readonly txOut: TxState;
  /** Packet sockets with the virtio-net header, one per egress interface. */
  readonly l2tx: L2Tx[] = [];
  /** Link-layer next hops by dest id (NAT and DR real servers; filled by NextHops). */
  readonly hopByDest = new Map<number, L2Hop>();
  /** Raw IP sockets (opened by the director's start). */
  raw4: PacketChannel | null = null;
  raw6: PacketChannel | null = null;
  /** The steering device packets for the kernel are written into (null: none). */
  tunIn: PacketChannel | null = null;
  /** Packets the director could not transmit, by errno text. */
  readonly txErrors = new Map<string, number>();
  /** Re-parses engine output for link-layer framing and checksum completion. */
  readonly pv = new PacketView();

  // one buffer per direction (its queues are drained one after the other): reads fill
  // the front, the spill area holds engine output that did not fit in place (tunnel
  // headers, ICMP replies) and frames moved to make room for the link-layer header
  private readonly bufIn = new Uint8Array(RX_BYTES + SPILL_BYTES);
  private readonly bufOut = new Uint8Array(RX_BYTES + SPILL_BYTES);

  constructor(
    readonly engine: Engine,
    private readonly inNs: <T>(fn: () => T) => T,
    private readonly log: (line: string) => void,
  ) {
    this.txIn = txState(this.bufIn, false);
    this.txOut = txState(this.bufOut, true);
  }

  /** Closes every socket this owns (the raw sockets and the packet sockets). */
  close(): void {
    this.raw4?.close();
    this.raw6?.close();
    this.raw4 = this.raw6 = null;
    for (const t of this.l2tx) t.chan.close();
    this.l2tx.length = 0;
    this.hopByDest.clear();
  }

  /** The packet socket for an egress interface (opened on first use). */
  l2For(dev: string): L2Tx {
    const ifindex = this.inNs(() => loadNative().ifIndex(dev));
    let t = this.l2tx.find((x) => x.ifindex === ifindex);
    if (!t) {
      const chan = this.inNs(() =>
        openPacketSocket({ ifindex, protocol: 0, vnetHdr: true, ifname: dev }),
      );
      chan.setBuffers(0, 8 * 1024 * 1024);
      t = {
        ifindex,
        dev,
        chan,
        batch: batchOver(this.bufIn),
        n: 0,
        batchOut: batchOver(this.bufOut),
        nOut: 0,
      };
      this.l2tx.push(t);
    }
    return t;
  }

  /** {@link l2For}, or null (counted) when the interface cannot be opened. */
  l2ForQuiet(dev: string): L2Tx | null {
    try {
      return this.l2For(dev);
    } catch (e) {
      this.count(`l2 ${dev}: ${(e as Error).message}`);
      return null;
    }
  }

  /**
   * Completes the L4 checksum of the IP packet at `buf[off..off+len)` (TCP/UDP; SCTP's
   * CRC32c, which no virtio-net header can hand to a device).
   */
  completeChecksum(buf: Uint8Array, off: number, len: number): void {
    const pv = this.pv;
    if (pv.parse(buf, off, len) !== 0 || pv.frag !== 0) return;
    if (pv.proto === IPPROTO_SCTP) return sctpChecksumFill(buf, pv.l4off, pv.l4len);
    if (pv.csumOff < 0 || (pv.proto !== 6 && pv.proto !== 17)) return;
    l4ChecksumFill(buf, pv.af, pv.saddrOff, pv.daddrOff, pv.proto, pv.l4off, pv.l4len);
  }

  /** A partial SCTP packet (DR keeps it as it came) gets its CRC32c here. */
  private completeSctp(buf: Uint8Array, off: number, len: number): void {
    const v = buf[off] >>> 4;
    if ((v === 4 ? buf[off + 9] : v === 6 ? buf[off + 6] : -1) === IPPROTO_SCTP)
      this.completeChecksum(buf, off, len);
  }

  /**
   * Prepares an engine-rewritten request for the kernel's own forwarding: undoes the
   * engine's TTL / hop-limit decrement (ip_forward takes it) and, when the checksum was
   * partial or the packet is a GSO super-packet, completes the L4 checksum (a replaced
   * payload loses the kernel's checksum state).
   */
  kernelRoutes(buf: Uint8Array, o: number, len: number, full: boolean): void {
    if (ipv4Version(buf, o) === 4) {
      const ttl = ipv4Ttl(buf, o);
      if (ttl < 255) {
        setIpv4Ttl(buf, o, ttl + 1);
        ipv4UpdateChecksum(buf, o);
      }
    } else {
      const hops = ipv6HopLimit(buf, o);
      if (hops < 255) setIpv6HopLimit(buf, o, hops + 1);
    }
    if (full) this.completeChecksum(buf, o, len);
  }

  /** Starts a batch in one direction's buffer. */
  static begin(st: TxState): void {
    st.spill = RX_BYTES;
    st.low = 0;
    st.n4 = 0;
    st.n6 = 0;
    st.nk = 0;
  }

  /**
   * Where the engine's output for the packet read at `st.buf[off..off+len)` can be
   * framed: in place when there are {@link L2_HEADROOM} free bytes in front of it (above
   * what earlier packets of the batch claimed), else copied to the spill area. Returns
   * the offset of the IP packet, or -1 when the spill area is full (counted).
   */
  place(st: TxState, off: number, len: number): number {
    const r = this.engine.result;
    const buf = st.buf;
    const o = r.off;
    const rlen = r.len;
    if (r.buf === buf && o - st.low >= L2_HEADROOM) {
      st.low = o + rlen > off + len ? o + rlen : off + len;
      return o;
    }
    if (off + len > st.low) st.low = off + len;
    const at = st.spill + L2_HEADROOM;
    if (at + rlen > buf.length) {
      this.count('spill-full');
      return -1;
    }
    if (r.buf === buf) buf.copyWithin(at, o, o + rlen);
    else buf.set(r.buf.subarray(o, o + rlen), at);
    st.spill = (at + rlen + 7) & ~7;
    return at;
  }

  /** The packet at `st.buf[off..off+len)` stays where it is (nothing framed in front). */
  static keep(st: TxState, off: number, len: number): void {
    if (off + len > st.low) st.low = off + len;
  }

  /** Queues the IP packet at `st.buf[at..at+len)` for a raw IP socket to `r.nextHop`. */
  queueRaw(st: TxState, at: number, len: number): void {
    const r = this.engine.result;
    const v4 = r.af === 4 && ipv4Version(st.buf, at) === 4;
    const tm = (v4 ? st.tx4 : st.tx6).meta;
    const t = (v4 ? st.n4++ : st.n6++) * META_STRIDE;
    tm[t + M_OFF] = at;
    tm[t + M_LEN] = len;
    for (let k = 0; k < (v4 ? 1 : 4); k++) tm[t + M_RAW_ADDR + k] = r.nextHop[k] | 0;
    tm[t + M_ERR] = 0;
  }

  /** Frames the parsed packet (`this.pv`) for `eth` and queues it on `t`. */
  queueL2(st: TxState, t: L2Tx, eth: Uint8Array, partial: boolean, mtu: number, len: number): void {
    const f = writeL2Header(this.pv, eth, partial, mtu);
    const b = st.reply ? t.batchOut : t.batch;
    const k = (st.reply ? t.nOut++ : t.n++) * META_STRIDE;
    b.meta[k + M_OFF] = f;
    b.meta[k + M_LEN] = len + L2_HEADROOM;
    b.meta[k + M_ERR] = 0;
  }

  /**
   * Transmits an engine result for a request (V_FORWARD or V_REPLY) placed at
   * `st.buf[at..at+len)`: NAT and DR to the real server's MAC through its packet
   * socket, tunnel/bypass/ICMP through the raw sockets. Returns true when it is NAT to
   * a next hop not resolved yet (or a local RIP) and the kernel should route it, which
   * only the caller can arrange (`kernelOk`); without that it goes to the raw socket.
   */
  sendRequest(
    st: TxState,
    v: number,
    at: number,
    len: number,
    partial: boolean,
    gso: boolean,
    kernelOk: boolean,
  ): boolean {
    const r = this.engine.result;
    const method = r.method;
    if (v === V_FORWARD && (method === CONN_F_MASQ || method === CONN_F_DROUTE)) {
      const hop = this.hopByDest.get(r.dest);
      if (hop !== undefined && hop.ready && hop.tx !== null) {
        if (partial) this.completeSctp(st.buf, at, len);
        if (this.pv.parse(st.buf, at, len) === 0)
          this.queueL2(st, hop.tx, hop.eth, partial, hop.mtu, len);
        return false;
      }
      // DR: nothing else can carry it (the VIP would route back to us)
      if (method === CONN_F_DROUTE) {
        this.count('dr-unresolved');
        return false;
      }
      if (kernelOk) return true;
    } else if (v === V_FORWARD && method === CONN_F_TUNNEL && (partial || gso)) {
      // a TCP service whose capture predates its tunnel dest: cannot be described
      this.count('tunnel-gso');
      return false;
    }
    if (partial && v === V_FORWARD) this.completeChecksum(st.buf, at, len);
    this.queueRaw(st, at, len);
    return false;
  }

  /** Copies an engine-built ICMP error (V_REPLY of `out`) to the spill area for a raw socket. */
  sendIcmpReply(st: TxState): void {
    const r = this.engine.result;
    if (st.spill + r.len > st.buf.length) {
      this.count('spill-full');
      return;
    }
    st.buf.set(r.buf.subarray(r.off, r.off + r.len), st.spill);
    this.queueRaw(st, st.spill, r.len);
    st.spill += (r.len + 7) & ~7;
  }

  /** Queues `st.buf[from..to)` (virtio-net header + IP packet) for the kernel through tunIn. */
  static toKernel(st: TxState, from: number, to: number): void {
    const t = st.nk++ * META_STRIDE;
    st.k.meta[t + M_OFF] = from;
    st.k.meta[t + M_LEN] = to - from;
    st.k.meta[t + M_ERR] = 0;
  }

  /** Sends what a batch queued: raw sockets, packet sockets, packets for the kernel. */
  flush(st: TxState): void {
    if (st.n4 && this.raw4) this.send(this.raw4, st.tx4, st.n4);
    if (st.n6 && this.raw6) this.send(this.raw6, st.tx6, st.n6);
    const l2 = this.l2tx;
    for (let k = 0; k < l2.length; k++) {
      const t = l2[k];
      if (st.reply) {
        if (t.nOut > 0) this.send(t.chan, t.batchOut, t.nOut);
        t.nOut = 0;
      } else {
        if (t.n > 0) this.send(t.chan, t.batch, t.n);
        t.n = 0;
      }
    }
    if (st.nk && this.tunIn) this.send(this.tunIn, st.k, st.nk);
  }

  private send(chan: PacketChannel, batch: Batch, count: number): void {
    let done = 0;
    try {
      done = chan.write(batch, count);
    } catch (e) {
      this.count((e as Error).message);
      return;
    }
    if (done < count) this.count('tx-would-block', count - done);
    for (let i = 0; i < done; i++) {
      const err = batch.meta[i * META_STRIDE + M_ERR];
      if (err !== 0) this.count(`tx-errno-${err}`);
    }
  }

  /** Counts a transmit fault (logged the first time it is seen). */
  count(what: string, n = 1): void {
    const before = this.txErrors.get(what) ?? 0;
    this.txErrors.set(what, before + n);
    if (before === 0) this.log(`transmit fault: ${what}`);
  }
}
