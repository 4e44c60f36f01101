/**
 * The netfilter queue drain loop, one for both directions: one JS entry per wake-up,
 * many packets per batch, a verdict for each.
 *
 * - Requests (engine `in`) are "stolen" (verdict DROP) and transmitted by the director
 *   ({@link Transmit.sendRequest}), or — NAT to a next hop not resolved yet — handed back
 *   rewritten with ACCEPT before routing, so the kernel routes them.
 * - NAT replies (engine `out`) are rewritten in place and handed back with the verdict.
 *
 * @module
 */
import { PKT_CSUM_OK, PKT_CSUM_PARTIAL, PKT_GSO, PKT_TUNNELED } from '../engine/engine.js';
import { V_DROP, V_FORWARD, V_REPLY } from '../engine/drop.js';
import { setVerdict, type PacketChannel } from './native.js';
import {
  META_STRIDE,
  M_LEN,
  M_NFQ_ID,
  M_NFQ_INDEV,
  M_NFQ_INFO_QUEUE,
  M_NFQ_MARK,
  M_NFQ_PROTO_HOOK,
  M_OFF,
  NF_ACCEPT,
  NF_DROP,
  NF_INET_LOCAL_IN,
  NFQ_SKB_CSUMNOTREADY,
  NFQ_SKB_CSUM_NOTVERIFIED,
  NFQ_SKB_GSO,
} from './native-meta.js';
import type { TunnelDevices } from './tunneldev.js';
import { L2_HEADROOM } from './vnet.js';
import { BATCH_PKTS, RX_BYTES, Transmit, type TxState } from './xmit.js';

/** Engine flags of a queued packet from the queue's skb info. */
function nfqFlags(info: number): number {
  return (
    ((info & NFQ_SKB_CSUMNOTREADY) !== 0
      ? PKT_CSUM_PARTIAL
      : (info & NFQ_SKB_CSUM_NOTVERIFIED) !== 0
        ? 0
        : PKT_CSUM_OK) | ((info & NFQ_SKB_GSO) !== 0 ? PKT_GSO : 0)
  );
}

/**
 * Reads queue `qnum` (`chan`) until it is empty (at most 8 batches per wake-up) and
 * answers every packet: `st` says the direction (requests or NAT replies). A packet
 * that came in on a tunnel device `tdev` knows as one (tunneldev.ts) carries
 * PKT_TUNNELED, which `ignore_tunneled` acts on as the kernel's `ipvs_property`.
 */
export function drainQueue(
  x: Transmit,
  st: TxState,
  chan: PacketChannel,
  qnum: number,
  tdev?: TunnelDevices,
): void {
  const eng = x.engine;
  const rx = st.rx;
  const vb = st.verdicts;
  const buf = st.buf;
  const reply = st.reply;
  for (let rounds = 0; rounds < 8; rounds++) {
    const n = chan.read(rx, BATCH_PKTS);
    if (n <= 0) return;
    const now = Date.now();
    const m = rx.meta;
    Transmit.begin(st);
    for (let i = 0; i < n; i++) {
      const b = i * META_STRIDE;
      const off = m[b + M_OFF];
      const len = m[b + M_LEN];
      const id = m[b + M_NFQ_ID];
      let flags = nfqFlags(m[b + M_NFQ_INFO_QUEUE] & 0xffff);
      if (tdev !== undefined && tdev.tunnelled(m[b + M_NFQ_INDEV])) flags |= PKT_TUNNELED;
      const mark = m[b + M_NFQ_MARK] >>> 0;
      // room to grow: up to the next packet (the bytes between are netlink headers
      // already parsed into meta)
      const next = i + 1 < n ? m[b + META_STRIDE + M_OFF] : RX_BYTES;
      if (reply) {
        const v = eng.out(buf, off, len, now, mark, flags, next - off);
        const r = eng.result;
        if (v === V_FORWARD && r.method >= 0) {
          // the SYN proxy's handshake ACK (or held data) for the real server: sent by us
          const at = x.place(st, off, len);
          if (
            at >= 0 &&
            x.sendRequest(st, v, at, r.len, (flags & PKT_CSUM_PARTIAL) !== 0, false, false)
          )
            x.count('sp-raw');
          setVerdict(vb, i, qnum, id, NF_DROP);
        } else if (v === V_FORWARD) {
          // a replaced payload leaves the kernel with CHECKSUM_NONE: the checksum
          // must be complete (for a super-packet, over all of it)
          if ((flags & (PKT_CSUM_PARTIAL | PKT_GSO)) !== 0) x.completeChecksum(r.buf, r.off, r.len);
          setVerdict(vb, i, qnum, id, NF_ACCEPT, r.off, r.len);
        } else if (v === V_REPLY) {
          x.sendIcmpReply(st);
          setVerdict(vb, i, qnum, id, NF_DROP);
        } else {
          setVerdict(vb, i, qnum, id, v === V_DROP ? NF_DROP : NF_ACCEPT);
        }
        continue;
      }
      // taken at INPUT (fwmark services): already routed, so a verdict cannot hand a
      // rewritten packet back for routing
      const routed = m[b + M_NFQ_PROTO_HOOK] >>> 16 === NF_INET_LOCAL_IN;
      const partial = (flags & PKT_CSUM_PARTIAL) !== 0;
      const gso = (flags & PKT_GSO) !== 0;
      // headroom: down to what earlier packets claimed, less the link-layer header
      // written in front of the result
      const head = off - st.low - L2_HEADROOM;
      const v = eng.in(buf, off, len, now, mark, flags, next - off, head > 0 ? head : 0);
      if (v === V_FORWARD || v === V_REPLY) {
        const at = x.place(st, off, len);
        const rlen = eng.result.len;
        if (at >= 0 && x.sendRequest(st, v, at, rlen, partial, gso, !routed)) {
          // NAT without a link-layer next hop: hand the rewritten packet back before
          // routing, so the kernel routes it to the RIP (NAT runs with forwarding on),
          // resolves the neighbour and segments a super-packet
          x.kernelRoutes(buf, at, rlen, partial || gso);
          setVerdict(vb, i, qnum, id, NF_ACCEPT, at, rlen);
        } else {
          setVerdict(vb, i, qnum, id, NF_DROP); // stolen: sent by us (or dropped)
        }
      } else {
        Transmit.keep(st, off, len);
        setVerdict(vb, i, qnum, id, v === V_DROP ? NF_DROP : NF_ACCEPT);
      }
    }
    x.flush(st);
    chan.write(vb, n);
    if (n < BATCH_PKTS) return;
  }
}
