/**
 * `PacketView`: one reusable, allocation-free parse of an IPv4/IPv6 packet down to its
 * L4 header. The engine keeps one instance (two with the ICMP-embedded one) and calls
 * `parse` for every packet; the result is plain numeric fields on the instance.
 *
 * Parsing is checked once here so that the rest of the packet path can use the unchecked
 * accessors of ipv4.ts, tcp.ts … on the offsets it sets. It never throws: malformed
 * input yields a non-zero {@link ParseError} code (a drop reason for the engine).
 */
import { read16, read32i, write16, write32 } from './bytes.js';
import { csumReplace16, csumReplace32, l4ChecksumFill, l4ChecksumOk } from './checksum.js';
import {
  ICMP_ECHO,
  ICMP_ECHOREPLY,
  ICMP_TIMESTAMP,
  ICMP_TIMESTAMPREPLY,
  ICMPV6_PKT_TOOBIG,
  ICMP_HLEN,
} from './icmp.js';
import {
  IPV4_CHECKSUM,
  IPV4_DST,
  IPV4_FLAG_MF,
  IPV4_FRAG,
  IPV4_FRAG_OFFSET_MASK,
  IPV4_HLEN,
  IPV4_PROTO,
  IPV4_SRC,
  IPV4_TOTAL_LENGTH,
  IPV4_TTL,
} from './ipv4.js';
import {
  FRAGHDR_LEN,
  FRAGHDR_MF,
  FRAGHDR_OFFSET,
  FRAGHDR_OFFSET_MASK,
  IPV6_DST,
  IPV6_HLEN,
  IPV6_HOP_LIMIT,
  IPV6_NEXT_HEADER,
  IPV6_PAYLOAD_LENGTH,
  IPV6_SRC,
  NEXTHDR_AUTH,
  NEXTHDR_DEST,
  NEXTHDR_FRAGMENT,
  NEXTHDR_HOP,
  NEXTHDR_ROUTING,
  ipv6ExtHeaderLength,
} from './ipv6.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP } from './ipproto.js';
import { TCP_CHECKSUM, TCP_DOFF, TCP_FLAGS, TCP_HLEN, TCP_SEQ, TCP_ACK } from './tcp.js';
import { UDP_CHECKSUM, UDP_HLEN, UDP_LENGTH } from './udp.js';
import { SCTP_HLEN } from './sctp.js';
/** Bytes of L4 header an ICMP error must quote (RFC 792): enough for the ports. */
const PORTS_LEN = 4;

/** Why `parse` rejected a packet. 0 is success; every other value has a name. */
export const ParseError = {
  OK: 0,
  /** `off`/`len` are not non-negative integers inside `buf`. */
  BAD_BOUNDS: 1,
  /** Fewer bytes than the fixed IP header (or, embedded, than the header incl. options). */
  TRUNCATED_L3: 2,
  /** IP version nibble is neither 4 nor 6. */
  BAD_VERSION: 3,
  /** IPv4 IHL below 5 words. */
  BAD_IHL: 4,
  /** IPv4 total length below the IHL or beyond the bytes given; IPv6 payload beyond them. */
  BAD_TOTAL_LENGTH: 5,
  /** IPv6 extension header malformed, misplaced, repeated (fragment) or running past the end. */
  BAD_EXT_HEADER: 6,
  /** The L4 header (TCP 20, UDP 8, ICMP 8, SCTP 12 bytes; embedded: 4 port bytes) is cut. */
  TRUNCATED_L4: 7,
  /** TCP data offset below 20 bytes or beyond the segment. */
  BAD_TCP_DOFF: 8,
} as const;
export type ParseErrorCode = (typeof ParseError)[keyof typeof ParseError];

const PARSE_ERROR_NAMES: readonly string[] = [
  'OK',
  'BAD_BOUNDS',
  'TRUNCATED_L3',
  'BAD_VERSION',
  'BAD_IHL',
  'BAD_TOTAL_LENGTH',
  'BAD_EXT_HEADER',
  'TRUNCATED_L4',
  'BAD_TCP_DOFF',
];

/** Name of a {@link ParseError} code ("TRUNCATED_L4"); "UNKNOWN(n)" for other numbers. */
export function parseErrorName(code: number): string {
  return PARSE_ERROR_NAMES[code] ?? `UNKNOWN(${code})`;
}

/** `PacketView.frag` values. */
export const Frag = {
  /** Not a fragment (an IPv6 atomic fragment, offset 0 without M, counts as none). */
  NONE: 0,
  /** Offset 0 with more-fragments set: the L4 header is present and parsed. */
  FIRST: 1,
  /** Offset > 0: no L4 header; `proto` is the fragmented protocol, ports are absent. */
  LATER: 2,
} as const;

const EMPTY = new Uint8Array(0);

/**
 * A parsed packet. Fields are valid after `parse`/`parseEmbedded` returned 0; after an
 * error they hold what was read before the problem (addresses are set as soon as the
 * fixed IP header is present, `saddrOff` ≥ 0 says so).
 */
export class PacketView {
  /** The buffer last parsed. */
  buf: Uint8Array = EMPTY;
  /** Result of the last parse (a {@link ParseError} code). */
  err = 0;
  /** True when the last parse was `parseEmbedded`. */
  embedded = false;
  af: 4 | 6 = 4;
  /** Offset of the IP header. */
  l3off = 0;
  /**
   * IP packet length: IPv4 total length, IPv6 40 + payload length; never beyond the
   * bytes given (embedded: the bytes present when the quote is shorter).
   */
  l3len = 0;
  /** The length the IP header claims (differs from `l3len` only for an embedded quote). */
  ipLen = 0;
  /** IPv4 header bytes including options; IPv6 40. */
  ihl = 0;
  /** Final protocol after the IPv6 extension-header walk (IPv4: the header's). */
  proto = 0;
  l4off = 0;
  /** `l3off + l3len - l4off`. */
  l4len = 0;
  /** {@link Frag} NONE / FIRST / LATER. */
  frag = 0;
  /** IPv6: offset of the fragment header, -1 if none (always -1 for IPv4). */
  fragOff = -1;
  /** Addresses as 32-bit words in host order; unused words zero. */
  readonly saddr = new Uint32Array(4);
  readonly daddr = new Uint32Array(4);
  /** Byte offsets of the addresses in `buf` (-1 before they are read). */
  saddrOff = -1;
  daddrOff = -1;
  /** TTL / hop limit. */
  ttl = 0;
  /** True when `sport`/`dport` were read (TCP, UDP, SCTP, not a later fragment). */
  hasPorts = false;
  sport = 0;
  dport = 0;
  /** Offset of the L4 Internet-checksum field (TCP, UDP, ICMP, ICMPv6), -1 if none. */
  csumOff = -1;
  tcpFlags = 0;
  /** TCP header bytes (data offset × 4). */
  tcpDoff = 0;
  seq = 0;
  ack = 0;
  /** Offset and length of the L4 payload (after the L4 header when known, else at l4off). */
  payloadOff = 0;
  payloadLen = 0;
  icmpType = -1;
  icmpCode = -1;

  /**
   * Parse the IP packet at `buf[off .. off+len)`. Returns 0 or a {@link ParseError}
   * code; never throws. Bytes after the IP length are ignored (link padding).
   */
  parse(buf: Uint8Array, off: number, len: number): number {
    return (this.err = this.run(buf, off, len, false));
  }

  /**
   * Parse the IP header quoted inside an ICMP error (`off`/`len`: the bytes after the
   * 8-byte ICMP header). The quote is usually truncated: only the whole IP header
   * (with options / extension headers) is required, plus for TCP, UDP and SCTP the
   * 4 port bytes. Fields beyond the quote (TCP flags, checksum offset …) are left at
   * their defaults; `ipLen` is the length the quoted header claims. Returns
   * TRUNCATED_L3 when the IP header itself is cut, TRUNCATED_L4 when the ports are.
   */
  parseEmbedded(buf: Uint8Array, off: number, len: number): number {
    return (this.err = this.run(buf, off, len, true));
  }

  /** Verify the L4 checksum of the parsed packet (see `l4ChecksumOk`). */
  l4ChecksumOk(): boolean {
    return l4ChecksumOk(
      this.buf,
      this.af,
      this.saddrOff,
      this.daddrOff,
      this.proto,
      this.l4off,
      this.l4len,
    );
  }

  /** Recompute and store the L4 checksum of the parsed packet (see `l4ChecksumFill`). */
  l4ChecksumFill(): number {
    return l4ChecksumFill(
      this.buf,
      this.af,
      this.saddrOff,
      this.daddrOff,
      this.proto,
      this.l4off,
      this.l4len,
    );
  }

  /**
   * Rewrite the TCP sequence number (sequence adjustment after a helper resized the
   * payload, spec §9.1). With `fixCsum` (default) the TCP checksum is patched
   * incrementally so that a later address/port-only update stays correct; pass false
   * when the field holds a partial (offload) sum, which does not cover the header.
   * No-op unless a full TCP header was parsed.
   */
  setSeq(v: number, fixCsum = true): void {
    if (this.proto !== IPPROTO_TCP || this.tcpDoff < TCP_HLEN || this.embedded) return;
    v >>>= 0;
    this.setTcpWord(TCP_SEQ, this.seq | 0, v | 0, fixCsum);
    this.seq = v;
  }

  /** Rewrite the TCP acknowledgment number; as {@link setSeq}. */
  setAck(v: number, fixCsum = true): void {
    if (this.proto !== IPPROTO_TCP || this.tcpDoff < TCP_HLEN || this.embedded) return;
    v >>>= 0;
    this.setTcpWord(TCP_ACK, this.ack | 0, v | 0, fixCsum);
    this.ack = v;
  }

  /** `old`/`v` as int32 so no number is boxed on the way (the checksum math is bitwise). */
  private setTcpWord(field: number, old: number, v: number, fixCsum: boolean): void {
    const b = this.buf;
    write32(b, this.l4off + field, v);
    if (fixCsum && this.csumOff >= 0) {
      write16(b, this.csumOff, csumReplace32(read16(b, this.csumOff), old, v));
    }
  }

  /**
   * Record that a helper grew (`delta` > 0) or shrank the L4 payload in place: updates
   * the IP length field (IPv4 total length, with the header checksum patched; IPv6
   * payload length), the UDP length field for UDP, and `l3len`/`l4len`/`payloadLen`.
   * The caller has already moved the bytes and owns the room in `buf`; the L4 checksum
   * is not touched (a resized payload needs a full recomputation, spec §6.2).
   */
  resize(delta: number): void {
    if (delta === 0 || this.saddrOff < 0) return;
    const b = this.buf;
    const o = this.l3off;
    this.l3len += delta;
    this.l4len += delta;
    this.payloadLen += delta;
    this.ipLen += delta;
    if (this.af === 4) {
      const old = read16(b, o + IPV4_TOTAL_LENGTH);
      const nv = (old + delta) & 0xffff;
      write16(b, o + IPV4_TOTAL_LENGTH, nv);
      write16(b, o + IPV4_CHECKSUM, csumReplace16(read16(b, o + IPV4_CHECKSUM), old, nv));
    } else {
      write16(b, o + IPV6_PAYLOAD_LENGTH, (read16(b, o + IPV6_PAYLOAD_LENGTH) + delta) & 0xffff);
    }
    if (this.proto === IPPROTO_UDP && this.hasPorts && this.frag === Frag.NONE) {
      write16(b, this.l4off + UDP_LENGTH, (read16(b, this.l4off + UDP_LENGTH) + delta) & 0xffff);
    }
  }

  private reset(buf: Uint8Array, embedded: boolean): void {
    this.buf = buf;
    this.embedded = embedded;
    this.af = 4;
    this.l3off = 0;
    this.l3len = 0;
    this.ipLen = 0;
    this.ihl = 0;
    this.proto = 0;
    this.l4off = 0;
    this.l4len = 0;
    this.frag = Frag.NONE;
    this.fragOff = -1;
    const s = this.saddr;
    const d = this.daddr;
    s[0] = s[1] = s[2] = s[3] = 0;
    d[0] = d[1] = d[2] = d[3] = 0;
    this.saddrOff = -1;
    this.daddrOff = -1;
    this.ttl = 0;
    this.hasPorts = false;
    this.sport = 0;
    this.dport = 0;
    this.csumOff = -1;
    this.tcpFlags = 0;
    this.tcpDoff = 0;
    this.seq = 0;
    this.ack = 0;
    this.payloadOff = 0;
    this.payloadLen = 0;
    this.icmpType = -1;
    this.icmpCode = -1;
  }

  private run(buf: Uint8Array, off: number, len: number, embedded: boolean): number {
    this.reset(buf, embedded);
    // `x >>> 0 === x` accepts exactly the integers 0..2^32-1 (no NaN, fractions, negatives).
    if (off >>> 0 !== off || len >>> 0 !== len || off + len > buf.length) {
      return ParseError.BAD_BOUNDS;
    }
    this.l3off = off;
    if (len < 1) return ParseError.TRUNCATED_L3;
    const version = buf[off] >>> 4;
    let e: number;
    if (version === 4) e = this.ipv4(buf, off, len, embedded);
    else if (version === 6) e = this.ipv6(buf, off, len, embedded);
    else return ParseError.BAD_VERSION;
    if (e !== ParseError.OK) return e;
    this.l4len = off + this.l3len - this.l4off;
    this.payloadOff = this.l4off;
    this.payloadLen = this.l4len;
    if (this.frag === Frag.LATER) return ParseError.OK;
    return embedded ? this.l4Embedded(buf) : this.l4(buf);
  }

  private ipv4(buf: Uint8Array, off: number, len: number, embedded: boolean): number {
    if (len < IPV4_HLEN) return ParseError.TRUNCATED_L3;
    this.af = 4;
    this.saddrOff = off + IPV4_SRC;
    this.daddrOff = off + IPV4_DST;
    this.saddr[0] = read32i(buf, off + IPV4_SRC);
    this.daddr[0] = read32i(buf, off + IPV4_DST);
    this.ttl = buf[off + IPV4_TTL];
    this.proto = buf[off + IPV4_PROTO];
    const ihl = (buf[off] & 0x0f) << 2;
    this.ihl = ihl;
    if (ihl < IPV4_HLEN) return ParseError.BAD_IHL;
    const tot = read16(buf, off + IPV4_TOTAL_LENGTH);
    this.ipLen = tot;
    if (embedded) {
      if (ihl > len) return ParseError.TRUNCATED_L3;
      if (tot < ihl) return ParseError.BAD_TOTAL_LENGTH;
      this.l3len = tot < len ? tot : len;
    } else {
      if (tot > len || tot < ihl) return ParseError.BAD_TOTAL_LENGTH;
      this.l3len = tot;
    }
    const ff = read16(buf, off + IPV4_FRAG);
    if ((ff & IPV4_FRAG_OFFSET_MASK) !== 0) this.frag = Frag.LATER;
    else if ((ff & IPV4_FLAG_MF) !== 0) this.frag = Frag.FIRST;
    this.l4off = off + ihl;
    return ParseError.OK;
  }

  private ipv6(buf: Uint8Array, off: number, len: number, embedded: boolean): number {
    if (len < IPV6_HLEN) return ParseError.TRUNCATED_L3;
    this.af = 6;
    this.ihl = IPV6_HLEN;
    this.saddrOff = off + IPV6_SRC;
    this.daddrOff = off + IPV6_DST;
    const s = this.saddr;
    const d = this.daddr;
    s[0] = read32i(buf, off + IPV6_SRC);
    s[1] = read32i(buf, off + IPV6_SRC + 4);
    s[2] = read32i(buf, off + IPV6_SRC + 8);
    s[3] = read32i(buf, off + IPV6_SRC + 12);
    d[0] = read32i(buf, off + IPV6_DST);
    d[1] = read32i(buf, off + IPV6_DST + 4);
    d[2] = read32i(buf, off + IPV6_DST + 8);
    d[3] = read32i(buf, off + IPV6_DST + 12);
    this.ttl = buf[off + IPV6_HOP_LIMIT];
    const total = IPV6_HLEN + read16(buf, off + IPV6_PAYLOAD_LENGTH);
    this.ipLen = total;
    if (total <= len) this.l3len = total;
    else if (embedded) this.l3len = len;
    else return ParseError.BAD_TOTAL_LENGTH;
    // A cut extension header is a malformed packet, but in a quote it is just a short quote.
    const cut = embedded ? ParseError.TRUNCATED_L3 : ParseError.BAD_EXT_HEADER;
    const end = off + this.l3len;
    let nh = buf[off + IPV6_NEXT_HEADER];
    let p = off + IPV6_HLEN;
    // Every iteration advances p by ≥ 8 bytes within [off, end): the walk terminates.
    for (;;) {
      if (
        nh !== NEXTHDR_HOP &&
        nh !== NEXTHDR_ROUTING &&
        nh !== NEXTHDR_FRAGMENT &&
        nh !== NEXTHDR_AUTH &&
        nh !== NEXTHDR_DEST
      ) {
        break;
      }
      // RFC 8200 §4.3: hop-by-hop options only immediately after the fixed header.
      if (nh === NEXTHDR_HOP && p !== off + IPV6_HLEN) {
        this.proto = nh;
        this.l4off = p;
        return ParseError.BAD_EXT_HEADER;
      }
      if (p + 2 > end) {
        this.proto = nh;
        this.l4off = p;
        return cut;
      }
      const hl = ipv6ExtHeaderLength(buf, p, nh);
      if (p + hl > end) {
        this.proto = nh;
        this.l4off = p;
        return cut;
      }
      if (nh === NEXTHDR_FRAGMENT) {
        if (this.fragOff >= 0) {
          this.proto = nh;
          this.l4off = p;
          return ParseError.BAD_EXT_HEADER;
        }
        this.fragOff = p;
        const fw = read16(buf, p + FRAGHDR_OFFSET);
        nh = buf[p];
        p += FRAGHDR_LEN;
        if ((fw & FRAGHDR_OFFSET_MASK) !== 0) {
          // Later fragment: what follows is payload of the fragmented packet, not headers.
          this.frag = Frag.LATER;
          break;
        }
        if ((fw & FRAGHDR_MF) !== 0) this.frag = Frag.FIRST;
        continue;
      }
      nh = buf[p];
      p += hl;
    }
    this.proto = nh;
    this.l4off = p;
    return ParseError.OK;
  }

  private l4(buf: Uint8Array): number {
    const o = this.l4off;
    const n = this.l4len;
    switch (this.proto) {
      case IPPROTO_TCP: {
        if (n < TCP_HLEN) return ParseError.TRUNCATED_L4;
        this.ports(buf, o);
        const doff = (buf[o + TCP_DOFF] >>> 4) << 2;
        this.tcpDoff = doff;
        if (doff < TCP_HLEN || doff > n) return ParseError.BAD_TCP_DOFF;
        this.seq = read32i(buf, o + TCP_SEQ) >>> 0;
        this.ack = read32i(buf, o + TCP_ACK) >>> 0;
        this.tcpFlags = buf[o + TCP_FLAGS];
        this.csumOff = o + TCP_CHECKSUM;
        this.payloadOff = o + doff;
        this.payloadLen = n - doff;
        return ParseError.OK;
      }
      case IPPROTO_UDP:
        if (n < UDP_HLEN) return ParseError.TRUNCATED_L4;
        this.ports(buf, o);
        this.csumOff = o + UDP_CHECKSUM;
        this.payloadOff = o + UDP_HLEN;
        this.payloadLen = n - UDP_HLEN;
        return ParseError.OK;
      case IPPROTO_SCTP:
        if (n < SCTP_HLEN) return ParseError.TRUNCATED_L4;
        this.ports(buf, o);
        this.payloadOff = o + SCTP_HLEN;
        this.payloadLen = n - SCTP_HLEN;
        return ParseError.OK;
      case IPPROTO_ICMP:
      case IPPROTO_ICMPV6:
        // ICMP over IPv6 or ICMPv6 over IPv4 is just an unknown protocol.
        if ((this.proto === IPPROTO_ICMP) !== (this.af === 4)) return ParseError.OK;
        if (n < ICMP_HLEN) return ParseError.TRUNCATED_L4;
        this.icmpType = buf[o];
        this.icmpCode = buf[o + 1];
        this.csumOff = o + 2;
        this.payloadOff = o + ICMP_HLEN;
        this.payloadLen = n - ICMP_HLEN;
        return ParseError.OK;
      default:
        return ParseError.OK;
    }
  }

  private l4Embedded(buf: Uint8Array): number {
    const o = this.l4off;
    const n = this.l4len;
    switch (this.proto) {
      case IPPROTO_TCP:
        if (n < PORTS_LEN) return ParseError.TRUNCATED_L4;
        this.ports(buf, o);
        if (n >= TCP_SEQ + 4) this.seq = read32i(buf, o + TCP_SEQ) >>> 0;
        if (n >= TCP_ACK + 4) this.ack = read32i(buf, o + TCP_ACK) >>> 0;
        if (n > TCP_FLAGS) {
          this.tcpDoff = (buf[o + TCP_DOFF] >>> 4) << 2;
          this.tcpFlags = buf[o + TCP_FLAGS];
        }
        if (n >= TCP_CHECKSUM + 2) this.csumOff = o + TCP_CHECKSUM;
        if (this.tcpDoff >= TCP_HLEN && this.tcpDoff <= n) {
          this.payloadOff = o + this.tcpDoff;
          this.payloadLen = n - this.tcpDoff;
        } else {
          this.payloadOff = o + n;
          this.payloadLen = 0;
        }
        return ParseError.OK;
      case IPPROTO_UDP:
        if (n < PORTS_LEN) return ParseError.TRUNCATED_L4;
        this.ports(buf, o);
        if (n >= UDP_HLEN) {
          this.csumOff = o + UDP_CHECKSUM;
          this.payloadOff = o + UDP_HLEN;
          this.payloadLen = n - UDP_HLEN;
        } else {
          this.payloadOff = o + n;
          this.payloadLen = 0;
        }
        return ParseError.OK;
      case IPPROTO_SCTP:
        if (n < PORTS_LEN) return ParseError.TRUNCATED_L4;
        this.ports(buf, o);
        this.payloadOff = o + (n >= SCTP_HLEN ? SCTP_HLEN : n);
        this.payloadLen = o + n - this.payloadOff;
        return ParseError.OK;
      case IPPROTO_ICMP:
      case IPPROTO_ICMPV6:
        if ((this.proto === IPPROTO_ICMP) !== (this.af === 4)) return ParseError.OK;
        if (n >= 2) {
          this.icmpType = buf[o];
          this.icmpCode = buf[o + 1];
        }
        if (n >= 4) this.csumOff = o + 2;
        return ParseError.OK;
      default:
        return ParseError.OK;
    }
  }

  private ports(buf: Uint8Array, o: number): void {
    this.hasPorts = true;
    this.sport = read16(buf, o);
    this.dport = read16(buf, o + 2);
  }
}

/** ICMPv4 query/informational types (RFC 1812 §4.3.2.7: errors may be sent about these). */
function icmpIsInformational(type: number): boolean {
  return (
    type === ICMP_ECHOREPLY ||
    type === ICMP_ECHO ||
    type === ICMP_TIMESTAMP ||
    type === ICMP_TIMESTAMPREPLY ||
    (type >= 15 && type <= 18)
  );
}

/**
 * May an ICMP error be sent about the packet parsed in `pv` (RFC 1812 §4.3.2.7, RFC
 * 4443 §2.4(e))? No when the packet is itself an ICMP error (or an ICMP message whose
 * type could not be read), an IPv4 non-first fragment, addressed to a multicast or
 * broadcast address (IPv6: except packet too big, `errType` 2), or from an address that
 * does not name a single host (unspecified, multicast, IPv4 limited broadcast).
 * Subnet-directed broadcasts are not known here. Expects `pv.saddrOff` ≥ 0.
 */
export function icmpErrorAllowed(pv: PacketView, errType: number): boolean {
  if (pv.saddrOff < 0) return false;
  const s = pv.saddr;
  const d = pv.daddr;
  if (pv.af === 4) {
    if (pv.frag === Frag.LATER) return false;
    const src = s[0];
    const dst = d[0];
    if (src === 0 || src === 0xffffffff || src >>> 28 === 0xe) return false;
    if (dst === 0xffffffff || dst >>> 28 === 0xe) return false;
    if (pv.proto === IPPROTO_ICMP && !icmpIsInformational(pv.icmpType)) return false;
    return true;
  }
  if ((s[0] | s[1] | s[2] | s[3]) === 0 || s[0] >>> 24 === 0xff) return false;
  if (d[0] >>> 24 === 0xff && errType !== ICMPV6_PKT_TOOBIG) return false;
  if (pv.proto === IPPROTO_ICMPV6 && pv.frag !== Frag.LATER && pv.icmpType < 128) return false;
  return true;
}
