/**
 * The TUN reader of the fast path: packets tc steered into the two TUN devices
 * (steer.ts), read with their virtio-net header, one JS entry per wake-up.
 *
 * Requests take the same decisions as the queue's (drain.ts), without a verdict. NAT
 * replies are sent by the director to the client-side next hop ({@link ReplyRoutes})
 * with the forwarding step the kernel would take (TTL / hop limit − 1). What is left to
 * the kernel — no connection, local delivery, NAT to a next hop not resolved yet, a
 * reply whose next hop is unknown or whose TTL runs out (the kernel sends
 * time-exceeded) — is written into tunIn, which the kernel receives as from an
 * interface (our queue rules skip it); accepted packets go as they came, their
 * virtio-net header still in front.
 *
 * @module
 */
import { PKT_CSUM_OK, PKT_CSUM_PARTIAL, PKT_GSO } from '../engine/engine.js';
import { V_DROP, V_FORWARD, V_REPLY } from '../engine/drop.js';
import { l4PartialFill } from '../wire/checksum.js';
import { decTtl } from '../wire/ip.js';
import { IPV4_DST, IPV4_HLEN, ipv4Ttl, ipv4Version } from '../wire/ipv4.js';
import { IPV6_DST, ipv6HopLimit } from '../wire/ipv6.js';
import { type PacketChannel } from './native.js';
import { META_STRIDE, M_LEN, M_OFF } from './native-meta.js';
import type { ReplyHop, ReplyRoutes } from './replyroute.js';
import {
  L2_HEADROOM,
  VNET_F_DATA_VALID,
  VNET_F_NEEDS_CSUM,
  VNET_HDR_BYTES,
  vnetGsoSize,
  vnetGsoType,
  vnetHdrFlags,
  writeVnetHeader,
} from './vnet.js';
import { BATCH_PKTS, RX_BYTES, Transmit, type L2Tx, type TxState } from './xmit.js';
import type { Fastpath } from './fastpath.js';

/** Engine flags of a packet read from a TUN from its virtio-net header flags and GSO type. */
function vnetFlags(vflags: number, gsoType: number): number {
  return (
    ((vflags & VNET_F_NEEDS_CSUM) !== 0
      ? PKT_CSUM_PARTIAL
      : (vflags & VNET_F_DATA_VALID) !== 0
        ? PKT_CSUM_OK
        : 0) | (gsoType !== 0 ? PKT_GSO : 0)
  );
}

/** Reads the steering TUN devices of one director. */
export class TunReader {
  /** Packets read from the steering devices (requests, replies), for tests and stats. */
  readonly steered = { in: 0, out: 0 };
  /** A NAT reply found no client-side next hop since the last neighbour refresh. */
  replyMiss = false;
  /** The established-flow fast path, told of every conn the engine handled (null: off). */
  fp: Fastpath | null = null;

  constructor(
    private readonly x: Transmit,
    private readonly rr: ReplyRoutes,
  ) {}

  /**
   * Writes a virtio-net header for the IP packet at `buf[o..o+len)` into the 10 bytes
   * in front of it, for handing it back to the kernel through the TUN: the pending
   * checksum (partial) and the super-packet's GSO type and segment size as read.
   */
  private tunHeader(
    buf: Uint8Array,
    o: number,
    len: number,
    partial: boolean,
    gsoType: number,
    gsoSize: number,
  ): boolean {
    const pv = this.x.pv;
    if (pv.parse(buf, o, len) !== 0) return false;
    const h = o - VNET_HDR_BYTES;
    const l4 = (pv.proto === 6 || pv.proto === 17) && pv.frag === 0 && pv.csumOff >= 0;
    if (gsoType !== 0 && !partial) {
      if (!l4) return false;
      l4PartialFill(buf, pv.af, pv.saddrOff, pv.daddrOff, pv.proto, pv.l4off, pv.l4len);
      partial = true;
    }
    const cs = l4 && partial ? pv.l4off - o : 0;
    const co = l4 && partial ? pv.csumOff - pv.l4off : 0;
    const hl = gsoType !== 0 ? pv.l4off - o + pv.tcpDoff : 0;
    writeVnetHeader(buf, h, l4 && partial ? VNET_F_NEEDS_CSUM : 0, gsoType, hl, gsoSize, cs, co);
    return true;
  }

  /**
   * Packets steered into a TUN, one direction (`st`): requests (tunIn's reads) or NAT
   * replies (tunOut's), until it is empty (at most 8 batches per wake-up).
   */
  drain(chan: PacketChannel, st: TxState, maxRounds = 8): number {
    const x = this.x;
    const eng = x.engine;
    const rx = st.rxTun;
    const buf = st.buf;
    const rr = this.rr;
    const fp = this.fp;
    let last = 0;
    for (let rounds = 0; rounds < maxRounds; rounds++) {
      const n = chan.read(rx, BATCH_PKTS);
      last = n;
      if (n <= 0) return last;
      if (st.reply) this.steered.out += n;
      else this.steered.in += n;
      const now = Date.now();
      const m = rx.meta;
      Transmit.begin(st);
      for (let i = 0; i < n; i++) {
        const b = i * META_STRIDE;
        const h = m[b + M_OFF];
        const off = h + VNET_HDR_BYTES;
        const len = m[b + M_LEN] - VNET_HDR_BYTES;
        if (len < IPV4_HLEN) {
          x.count('tun-short');
          continue;
        }
        const gsoType = vnetGsoType(buf, h);
        const gsoSize = vnetGsoSize(buf, h);
        const flags = vnetFlags(vnetHdrFlags(buf, h), gsoType);
        const partial = (flags & PKT_CSUM_PARTIAL) !== 0;
        const next = i + 1 < n ? m[b + META_STRIDE + M_OFF] : RX_BYTES;
        let v: number;
        if (st.reply) {
          v = eng.out(buf, off, len, now, 0, flags, next - off);
        } else {
          const head = off - st.low - L2_HEADROOM;
          v = eng.in(buf, off, len, now, 0, flags, next - off, head > 0 ? head : 0);
        }
        if (fp !== null && v === V_FORWARD) fp.seen(eng.result.conn);
        if (v === V_REPLY && st.reply) {
          x.sendIcmpReply(st);
          Transmit.keep(st, off, len);
        } else if (v === V_FORWARD || v === V_REPLY) {
          const at = x.place(st, off, len);
          if (at < 0) continue;
          const rlen = eng.result.len;
          // the SYN proxy's packets to a real server come out of `out` with a method
          if (!st.reply || eng.result.method >= 0) {
            if (!x.sendRequest(st, v, at, rlen, partial, gsoType !== 0, true)) continue;
            // NAT to a next hop not resolved yet: the kernel routes it, and its
            // forwarding takes the TTL step the engine took
            x.kernelRoutes(buf, at, rlen, false);
          } else {
            const v6 = ipv4Version(buf, at) === 6;
            const hop: ReplyHop | null = rr.lookup(
              v6 ? 6 : 4,
              buf,
              at + (v6 ? IPV6_DST : IPV4_DST),
            );
            const ttl = v6 ? ipv6HopLimit(buf, at) : ipv4Ttl(buf, at);
            if (hop === null) {
              if (rr.usable(v6 ? 6 : 4)) this.replyMiss = true;
            } else if (ttl > 1 && x.pv.parse(buf, at, rlen) === 0) {
              let t = hop.tx as L2Tx | null;
              if (t === null) t = hop.tx = x.l2ForQuiet(hop.dev);
              if (t !== null) {
                // the forwarding step ip_forward would have taken before FORWARD
                decTtl(buf, at, v6 ? 6 : 4);
                x.queueL2(st, t, hop.eth, partial, hop.mtu, rlen);
                continue;
              }
            }
          }
          if (this.tunHeader(buf, at, rlen, partial, gsoType, gsoSize))
            Transmit.toKernel(st, at - VNET_HDR_BYTES, at + rlen);
        } else {
          if (v !== V_DROP) Transmit.toKernel(st, h, off + len);
          Transmit.keep(st, off, len);
        }
      }
      x.flush(st);
      // the conns this batch made eligible (or closed) enter (or leave) the fast path
      if (fp !== null) fp.commit();
      if (!chan.more) return last;
    }
    return last;
  }
}
