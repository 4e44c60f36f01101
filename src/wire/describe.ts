/**
 * One-line summaries of packets for traces, logs and error messages, in the spirit of
 * tcpdump: "TCP 10.0.0.2:40000 > 10.0.3.100:80 [S] seq=1 len=0". Allocates strings:
 * not for the per-packet path.
 */
import {
  ICMP_DEST_UNREACH,
  ICMP_ECHO,
  ICMP_ECHOREPLY,
  ICMP_HLEN,
  ICMP_PARAMETERPROB,
  ICMP_POINTER,
  ICMP_REDIRECT,
  ICMP_SOURCE_QUENCH,
  ICMP_TIME_EXCEEDED,
  ICMPV6_DEST_UNREACH,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_PARAMPROB,
  ICMPV6_PKT_TOOBIG,
  ICMPV6_TIME_EXCEED,
  icmpEchoId,
  icmpEchoSeq,
  icmpIsError,
  icmpMtu,
  icmpv6IsError,
  icmpv6Mtu,
} from './icmp.js';
import { Frag, PacketView, parseErrorName } from './packet.js';
import { TCP_FLAG_ACK, tcpFlagsString } from './tcp.js';
import { read16, read32 } from './bytes.js';
import { ipv4FragOffset } from './ipv4.js';
import {
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  ipProtoName,
} from './ipproto.js';
import { FRAGHDR_OFFSET, FRAGHDR_OFFSET_MASK } from './ipv6.js';
import { formatIpv4, formatIpv6 } from './addr.js';
import { SCTP_HLEN, sctpChunkName, sctpChunkType, sctpNextChunk } from './sctp.js';

const outer = new PacketView();
const inner = new PacketView();

function addr(pv: PacketView, words: Uint32Array): string {
  return pv.af === 4 ? formatIpv4(words[0]) : formatIpv6(words);
}

function endpoint(pv: PacketView, words: Uint32Array, port: number): string {
  return pv.af === 4 ? `${formatIpv4(words[0])}:${port}` : `[${formatIpv6(words)}]:${port}`;
}

const V4_UNREACH_CODES = [
  'net-unreach',
  'host-unreach',
  'proto-unreach',
  'port-unreach',
  'frag-needed',
  'srcroute-failed',
  'net-unknown',
  'host-unknown',
  'host-isolated',
  'net-prohibited',
  'host-prohibited',
  'net-tos-unreach',
  'host-tos-unreach',
  'filtered',
  'prec-violation',
  'prec-cutoff',
];
const V6_UNREACH_CODES = [
  'no-route',
  'admin-prohibited',
  'beyond-scope',
  'addr-unreach',
  'port-unreach',
  'policy-fail',
  'reject-route',
];

function icmpText(pv: PacketView): string {
  const b = pv.buf;
  const o = pv.l4off;
  const t = pv.icmpType;
  const c = pv.icmpCode;
  if (pv.af === 4) {
    switch (t) {
      case ICMP_ECHO:
      case ICMP_ECHOREPLY:
        return `echo-${t === ICMP_ECHO ? 'request' : 'reply'} id=${icmpEchoId(b, o)} seq=${icmpEchoSeq(b, o)}`;
      case ICMP_DEST_UNREACH: {
        const name = V4_UNREACH_CODES[c] ?? `code=${c}`;
        return `dest-unreach ${name}${c === 4 ? ` mtu=${icmpMtu(b, o)}` : ''}`;
      }
      case ICMP_SOURCE_QUENCH:
        return 'source-quench';
      case ICMP_REDIRECT:
        return `redirect code=${c}`;
      case ICMP_TIME_EXCEEDED:
        return c === 0
          ? 'time-exceeded ttl'
          : c === 1
            ? 'time-exceeded reassembly'
            : `time-exceeded code=${c}`;
      case ICMP_PARAMETERPROB:
        return `param-problem ptr=${b[o + ICMP_POINTER]}`;
      default:
        return `type=${t} code=${c}`;
    }
  }
  switch (t) {
    case ICMPV6_ECHO_REQUEST:
    case ICMPV6_ECHO_REPLY:
      return `echo-${t === ICMPV6_ECHO_REQUEST ? 'request' : 'reply'} id=${icmpEchoId(b, o)} seq=${icmpEchoSeq(b, o)}`;
    case ICMPV6_DEST_UNREACH:
      return `dest-unreach ${V6_UNREACH_CODES[c] ?? `code=${c}`}`;
    case ICMPV6_PKT_TOOBIG:
      return `packet-too-big mtu=${icmpv6Mtu(b, o)}`;
    case ICMPV6_TIME_EXCEED:
      return c === 0
        ? 'time-exceeded hop-limit'
        : c === 1
          ? 'time-exceeded reassembly'
          : `time-exceeded code=${c}`;
    case ICMPV6_PARAMPROB:
      return `param-problem code=${c} ptr=${read32(b, o + ICMP_POINTER)}`;
    default:
      return `type=${t} code=${c}`;
  }
}

/** The kernel's name for TCP/UDP/SCTP; ICMP by family, anything else by number. */
function protoName(pv: PacketView): string {
  switch (pv.proto) {
    case IPPROTO_TCP:
    case IPPROTO_UDP:
    case IPPROTO_SCTP:
      return ipProtoName(pv.proto);
    case IPPROTO_ICMP:
      return pv.af === 4 ? 'ICMP' : 'proto=1';
    case IPPROTO_ICMPV6:
      return pv.af === 6 ? 'ICMP6' : 'proto=58';
    default:
      return `proto=${pv.proto}`;
  }
}

/** The chunk names of an SCTP packet ("SACK,DATA"), the first four; "bad" where the walk stops. */
function sctpChunks(pv: PacketView): string {
  const end = pv.l3off + pv.l3len;
  let at = pv.l4off + SCTP_HLEN;
  const names: string[] = [];
  while (at < end) {
    if (names.length === 4) return names.join(',') + ',…';
    const next = sctpNextChunk(pv.buf, at, end);
    if (next < 0) {
      names.push('bad');
      break;
    }
    names.push(sctpChunkName(sctpChunkType(pv.buf, at, end)));
    at = next;
  }
  return names.length > 0 ? names.join(',') : 'no chunk';
}

/** Summary of a view that parsed (fully or embedded) without error. */
function summary(pv: PacketView, depth: number): string {
  const ip = pv.af === 4 ? 'IP' : 'IP6';
  const name = protoName(pv);
  if (pv.frag === Frag.LATER) {
    const fo =
      pv.af === 4
        ? ipv4FragOffset(pv.buf, pv.l3off)
        : read16(pv.buf, pv.fragOff + FRAGHDR_OFFSET) & FRAGHDR_OFFSET_MASK;
    return `${ip} ${addr(pv, pv.saddr)} > ${addr(pv, pv.daddr)} ${name} frag off=${fo} len=${pv.l4len}`;
  }
  const fragNote = pv.frag === Frag.FIRST ? ' frag first' : '';
  if (pv.hasPorts) {
    const ends = `${endpoint(pv, pv.saddr, pv.sport)} > ${endpoint(pv, pv.daddr, pv.dport)}`;
    if (pv.proto === IPPROTO_TCP && (!pv.embedded || pv.tcpDoff >= 20)) {
      const ack = pv.tcpFlags & TCP_FLAG_ACK ? ` ack=${pv.ack}` : '';
      const len = pv.embedded ? '' : ` len=${pv.payloadLen}`;
      return `TCP ${ends} [${tcpFlagsString(pv.tcpFlags)}] seq=${pv.seq}${ack}${len}${fragNote}`;
    }
    if (pv.embedded) return `${name} ${ends}${fragNote}`;
    if (pv.proto === IPPROTO_SCTP && pv.frag === Frag.NONE)
      return `SCTP ${ends} [${sctpChunks(pv)}] len=${pv.payloadLen}`;
    return `${name} ${ends} len=${pv.payloadLen}${fragNote}`;
  }
  const ends = `${addr(pv, pv.saddr)} > ${addr(pv, pv.daddr)}`;
  if (pv.icmpType >= 0) {
    let s = `${name} ${ends} ${icmpText(pv)}`;
    const isErr = pv.af === 4 ? icmpIsError(pv.icmpType) : icmpv6IsError(pv.icmpType);
    if (isErr && !pv.embedded && depth === 0) {
      const e = inner.parseEmbedded(pv.buf, pv.l4off + ICMP_HLEN, pv.l4len - ICMP_HLEN);
      if (e === 0) s += ` {${summary(inner, 1)}}`;
      else
        s += ` {${inner.saddrOff >= 0 ? `${addr(inner, inner.saddr)} > ${addr(inner, inner.daddr)} ` : ''}quote ${parseErrorName(e)}}`;
    }
    return s + fragNote;
  }
  return `${ip} ${ends} ${name} len=${pv.l4len}${fragNote}`;
}

/**
 * One-line description of the IP packet at `buf[off .. off+len)`, e.g.
 * "TCP 10.0.0.2:40000 > 10.0.3.100:80 [S] seq=1 len=0",
 * "UDP [fd00::2]:57334 > [fd00::1]:53 len=52",
 * "ICMP 10.0.0.1 > 10.0.0.2 dest-unreach port-unreach {UDP 10.0.0.2:42793 > 10.0.0.1:53}",
 * or for malformed input "invalid BAD_IHL len=20" (with addresses when they were read).
 */
export function describe(buf: Uint8Array, off: number, len: number): string {
  const e = outer.parse(buf, off, len);
  if (e === 0) return summary(outer, 0);
  const where =
    outer.saddrOff >= 0
      ? `${outer.af === 4 ? 'IP' : 'IP6'} ${addr(outer, outer.saddr)} > ${addr(outer, outer.daddr)} ${protoName(outer)} `
      : '';
  return `${where}invalid ${parseErrorName(e)} len=${len}`;
}
