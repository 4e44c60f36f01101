/**
 * The SYN proxy for DR and tunnel services (synproxy.ts): their real servers answer
 * clients directly, so no sequence numbers can be translated, and the proxy proves
 * the client's address instead. Its SYN-ACK acknowledges a cookie instead of the
 * client's SYN; the client's TCP must refuse it with an RST whose sequence number is
 * that cookie (RFC 9293 §3.10.7.3), and stays in SYN-SENT; a valid RST marks the
 * address as proved (synproxy-state.ts), and the client's SYN, sent again after its
 * retransmission timeout (1 s on Linux), is scheduled as without the proxy.
 */
import { cookieCount } from './synproxy-cookie.js';
import { replyBuilt, ourMss, writeSegment } from './synproxy-segment.js';
import { SpCounter } from './synproxy-state.js';
import { DropReason } from './drop.js';
import type { Ipvs } from './ipvs.js';
import { Why } from './verdict.js';
import { drop } from './xmit/result.js';
import { TCP_FLAG_ACK, TCP_FLAG_SYN } from '../wire/tcp.js';
import type { PacketView } from '../wire/packet.js';

/** SYN → a SYN-ACK whose acknowledgment the client must refuse with an RST. */
export function authSynAck(ipvs: Ipvs, pv: PacketView): number {
  const af = pv.af;
  let cookie = ipvs.sp.keys.make(
    af,
    pv.saddr,
    pv.daddr,
    pv.sport,
    pv.dport,
    0,
    cookieCount(ipvs.now),
    0,
  );
  // an acceptable acknowledgment would complete the client's handshake: never send it
  if (cookie === ((pv.seq + 1) | 0)) cookie = (cookie + 1) | 0;
  const n = writeSegment(
    ipvs,
    ipvs.scratch,
    af,
    pv.daddr,
    0,
    pv.saddr,
    0,
    pv.dport,
    pv.sport,
    cookie,
    cookie,
    TCP_FLAG_SYN | TCP_FLAG_ACK,
    0,
    64,
    ourMss(ipvs, af),
    false,
    false,
    0,
    0,
    -1,
    true,
  );
  ipvs.sp.counters[SpCounter.AUTH_SENT]++;
  return replyBuilt(ipvs, n, af, pv.saddr, Why.SYNPROXY_AUTH);
}

/** The client's RST to that SYN-ACK: its sequence number is the cookie. */
export function authRst(ipvs: Ipvs, pv: PacketView): number {
  if (pv.tcpFlags & TCP_FLAG_ACK) return -1;
  const sp = ipvs.sp;
  const af = pv.af;
  const now = ipvs.now;
  const d = sp.keys.check(
    pv.seq | 0,
    af,
    pv.saddr,
    pv.daddr,
    pv.sport,
    pv.dport,
    0,
    cookieCount(now),
  );
  if (d !== 0) return -1;
  sp.authAdd(af, pv.saddr, now);
  sp.counters[SpCounter.AUTH_PASSED]++;
  return drop(ipvs, DropReason.SYNPROXY_AUTH);
}
