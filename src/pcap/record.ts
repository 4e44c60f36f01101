/**
 * What the capture readers hand out, and the link-layer step they share: finding the
 * IP packet inside a captured frame. Both the classic pcap reader and the pcapng reader
 * build their items here, so a frame decodes the same whichever file it came from.
 */

/** Link-layer header types (the LINKTYPE_* numbers of tcpdump.org) that tsvs reads. */
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

/**
 * Old files store the BSD DLT_RAW value (12, or 14 on OpenBSD) instead of
 * LINKTYPE_RAW; readers such as Wireshark treat both as raw IP, and so does tsvs.
 */
const LINKTYPE_RAW_BSD_12 = 12;
const LINKTYPE_RAW_BSD_14 = 14;

/** True when the readers can find IP packets in frames of this link type. */
export function isSupportedLinkType(linkType: number): boolean {
  switch (linkType) {
    case LINKTYPE_NULL:
    case LINKTYPE_ETHERNET:
    case LINKTYPE_RAW:
    case LINKTYPE_RAW_BSD_12:
    case LINKTYPE_RAW_BSD_14:
    case LINKTYPE_LOOP:
    case LINKTYPE_LINUX_SLL:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
    case LINKTYPE_LINUX_SLL2:
      return true;
    default:
      return false;
  }
}

/** Where a frame came from: shared by packets and skipped frames. */
export interface CaptureFrameInfo {
  /**
   * 1-based position among the file's records: Wireshark's frame number. Wireshark
   * also numbers pcapng custom and systemd-journal blocks, which yield nothing here,
   * so numbers can skip there.
   */
  readonly packetNumber: number;
  /** Capture time in nanoseconds since the Unix epoch. */
  readonly tsNs: bigint;
  /** The same time in milliseconds (fractional, about 0.25 µs precise in this century). */
  readonly tsMs: number;
  /**
   * False for a pcapng Simple Packet Block, which carries no time: its `tsNs` is then
   * the previous record's (0 when there is none), so a replay keeps the order.
   */
  readonly hasTimestamp: boolean;
  /** The captured bytes, link-layer header included: a view of the file buffer. */
  readonly frame: Uint8Array;
  /** Bytes present in the file for this frame (`frame.length`). */
  readonly capturedLength: number;
  /** Bytes the frame had on the wire. */
  readonly originalLength: number;
  /** LINKTYPE_* of the interface the frame was captured on. */
  readonly linkType: number;
  /** pcapng interface id within its section; 0 for classic pcap. */
  readonly interfaceIndex: number;
  /** 0-based pcapng section; 0 for classic pcap. */
  readonly section: number;
  /** Byte offset of the record (or block) in the file, for error reports. */
  readonly fileOffset: number;
}

/** An IP packet read from a capture. */
export interface CaptureRecord extends CaptureFrameInfo {
  readonly kind: 'packet';
  /** 4 or 6, from the link layer's protocol field or, for raw IP, the version nibble. */
  readonly ipVersion: 4 | 6;
  /**
   * The IP packet (IP header onwards) as a view of the file buffer, no copy. It ends
   * where the IP header's length says, so Ethernet padding and a trailing FCS are not
   * part of it; when the capture holds less than that, it ends at the captured bytes.
   */
  readonly packet: Uint8Array;
  /**
   * True when the capture holds less of the IP packet than was sent: the snap length
   * cut the frame, or the IP header announces more bytes than were captured.
   */
  readonly truncated: boolean;
}

/** A frame that holds no IP packet (ARP, LLDP, ...) or one of a link type tsvs cannot read. */
export interface CaptureSkipped extends CaptureFrameInfo {
  readonly kind: 'skipped';
  /** Why it was skipped, e.g. "ethertype 0x0806 (ARP)". */
  readonly reason: string;
}

/**
 * Something wrong with the file. `packetNumber` is the number of the packet record at
 * fault or, when the fault is in a header or another kind of block, the number the
 * next packet record gets. Reading goes on after a problem unless `fatal` is set, in
 * which case it was the last item.
 */
export interface CaptureProblem {
  readonly kind: 'problem';
  readonly packetNumber: number;
  readonly fileOffset: number;
  readonly message: string;
  readonly fatal: boolean;
}

/** One item of a capture, in file order. */
export type CaptureItem = CaptureRecord | CaptureSkipped | CaptureProblem;

export function problem(
  packetNumber: number,
  fileOffset: number,
  message: string,
  fatal = false,
): CaptureProblem {
  return { kind: 'problem', packetNumber, fileOffset, message, fatal };
}

/** Nanoseconds to milliseconds without losing precision to a 2^53 overflow. */
export function nsToMs(tsNs: bigint): number {
  return Number(tsNs / 1_000_000n) + Number(tsNs % 1_000_000n) / 1e6;
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100; // 802.1Q
const ETHERTYPE_QINQ = 0x88a8; // 802.1ad service tag
const ETHERTYPE_QINQ_OLD = 0x9100; // pre-standard double tagging
const ETHERTYPE_MIN = 0x0600; // below this the field is an 802.3 length
const MAX_VLAN_TAGS = 8;

const ETHERNET_HEADER_LEN = 14;
const ETHERNET_TYPE = 12;
const SLL_HEADER_LEN = 16;
const SLL_PROTOCOL = 14;
const SLL2_HEADER_LEN = 20;
const SLL2_PROTOCOL = 0;
const NULL_HEADER_LEN = 4;

const ETHERTYPE_NAMES: Readonly<Record<number, string>> = {
  0x0806: 'ARP',
  0x8035: 'RARP',
  0x88cc: 'LLDP',
  0x8863: 'PPPoE discovery',
  0x8864: 'PPPoE session',
  0x8847: 'MPLS',
  0x8848: 'MPLS multicast',
  0x888e: 'EAPOL',
  0x88f7: 'PTP',
  0x0842: 'Wake-on-LAN',
};

// BSD loopback address families: AF_INET is 2 everywhere, AF_INET6 differs by OS
// (24 NetBSD/OpenBSD, 28 FreeBSD, 30 Darwin); these are the values files carry.
const AF_INET = 2;
const AF_INET6_VALUES: readonly number[] = [24, 28, 30];

type Located =
  | { readonly ok: true; readonly offset: number; readonly version: 4 | 6 }
  | { readonly ok: false; readonly reason: string };

function hex4(v: number): string {
  return '0x' + v.toString(16).padStart(4, '0');
}

function be16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

function be32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Follows an ethertype through any VLAN tags to the IP header. */
function fromEthertype(b: Uint8Array, typeOff: number, end: number): Located {
  let typeAt = typeOff;
  for (let tags = 0; ; tags++) {
    if (typeAt + 2 > end) return { ok: false, reason: 'link-layer header cut by the snap length' };
    const type = be16(b, typeAt);
    if (type === ETHERTYPE_IPV4) return { ok: true, offset: typeAt + 2, version: 4 };
    if (type === ETHERTYPE_IPV6) return { ok: true, offset: typeAt + 2, version: 6 };
    if (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ || type === ETHERTYPE_QINQ_OLD) {
      if (tags === MAX_VLAN_TAGS) return { ok: false, reason: 'more than 8 VLAN tags' };
      typeAt += 4; // 2 bytes of TCI, then the next ethertype
      continue;
    }
    if (type < ETHERTYPE_MIN) return { ok: false, reason: `802.3 length field ${type} (LLC)` };
    const name = ETHERTYPE_NAMES[type];
    return { ok: false, reason: `ethertype ${hex4(type)}${name ? ` (${name})` : ''}` };
  }
}

function fromNibble(b: Uint8Array, start: number, end: number): Located {
  if (start >= end) return { ok: false, reason: 'empty frame' };
  const v = b[start] >> 4;
  if (v === 4 || v === 6) return { ok: true, offset: start, version: v };
  return { ok: false, reason: `IP version ${v}` };
}

function fromBsdFamily(family: number, start: number): Located {
  if (family === AF_INET) return { ok: true, offset: start + NULL_HEADER_LEN, version: 4 };
  if (AF_INET6_VALUES.includes(family)) {
    return { ok: true, offset: start + NULL_HEADER_LEN, version: 6 };
  }
  return { ok: false, reason: `loopback address family ${family}` };
}

/** Finds the IP header in a frame of the given link type. */
function locateIp(linkType: number, b: Uint8Array, start: number, end: number): Located {
  const cut: Located = { ok: false, reason: 'link-layer header cut by the snap length' };
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      if (end - start < ETHERNET_HEADER_LEN) return cut;
      return fromEthertype(b, start + ETHERNET_TYPE, end);
    case LINKTYPE_LINUX_SLL:
      if (end - start < SLL_HEADER_LEN) return cut;
      return fromEthertype(b, start + SLL_PROTOCOL, end);
    case LINKTYPE_LINUX_SLL2: {
      if (end - start < SLL2_HEADER_LEN) return cut;
      // The protocol leads the SLL2 header; the ethertype chain (if tagged) follows it.
      const type = be16(b, start + SLL2_PROTOCOL);
      if (type === ETHERTYPE_IPV4) return { ok: true, offset: start + SLL2_HEADER_LEN, version: 4 };
      if (type === ETHERTYPE_IPV6) return { ok: true, offset: start + SLL2_HEADER_LEN, version: 6 };
      if (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ || type === ETHERTYPE_QINQ_OLD) {
        return fromEthertype(b, start + SLL2_HEADER_LEN + 2, end);
      }
      const name = ETHERTYPE_NAMES[type];
      return { ok: false, reason: `protocol ${hex4(type)}${name ? ` (${name})` : ''}` };
    }
    case LINKTYPE_RAW:
    case LINKTYPE_RAW_BSD_12:
    case LINKTYPE_RAW_BSD_14:
      return fromNibble(b, start, end);
    case LINKTYPE_IPV4:
      return { ok: true, offset: start, version: 4 };
    case LINKTYPE_IPV6:
      return { ok: true, offset: start, version: 6 };
    case LINKTYPE_NULL: {
      if (end - start < NULL_HEADER_LEN) return cut;
      // Host byte order of the machine that captured: families are small numbers, so a
      // value with high bits set was written by the other byte order.
      const le =
        (b[start] | (b[start + 1] << 8) | (b[start + 2] << 16) | (b[start + 3] << 24)) >>> 0;
      return fromBsdFamily(le > 0xffff ? be32(b, start) : le, start);
    }
    case LINKTYPE_LOOP:
      if (end - start < NULL_HEADER_LEN) return cut;
      return fromBsdFamily(be32(b, start), start);
    default:
      return { ok: false, reason: `unsupported link type ${linkType}` };
  }
}

/** What a reader knows about one frame before it is decoded. */
export interface RawFrame {
  packetNumber: number;
  tsNs: bigint;
  hasTimestamp: boolean;
  /** Offset of the first captured byte in `bytes`. */
  dataOffset: number;
  capturedLength: number;
  originalLength: number;
  linkType: number;
  /** Bytes of frame check sequence at the end of complete frames (pcap FCS bits, if_fcslen). */
  fcsLength: number;
  interfaceIndex: number;
  section: number;
  fileOffset: number;
}

const IPV4_MIN_HEADER = 20;
const IPV4_TOTAL_LENGTH = 2;
const IPV6_HEADER_LEN = 40;
const IPV6_PAYLOAD_LENGTH = 4;

/** Decodes a frame into a packet or a skipped item. Never throws. */
export function decodeFrame(bytes: Uint8Array, f: RawFrame): CaptureRecord | CaptureSkipped {
  const start = f.dataOffset;
  let end = start + f.capturedLength;
  const cutBySnaplen = f.capturedLength < f.originalLength;
  if (!cutBySnaplen && f.fcsLength > 0 && f.capturedLength >= f.fcsLength) end -= f.fcsLength;
  const info = {
    packetNumber: f.packetNumber,
    tsNs: f.tsNs,
    tsMs: nsToMs(f.tsNs),
    hasTimestamp: f.hasTimestamp,
    frame: bytes.subarray(start, start + f.capturedLength),
    capturedLength: f.capturedLength,
    originalLength: f.originalLength,
    linkType: f.linkType,
    interfaceIndex: f.interfaceIndex,
    section: f.section,
    fileOffset: f.fileOffset,
  };
  const at = locateIp(f.linkType, bytes, start, end);
  if (!at.ok) return { kind: 'skipped', ...info, reason: at.reason };
  const l3 = Math.min(at.offset, end);
  const avail = end - l3;
  const version = at.version;
  let ipLength = -1; // unknown: IPv4 total length 0 (TSO) or an IPv6 jumbogram
  if (version === 4 && avail >= IPV4_MIN_HEADER) {
    const total = be16(bytes, l3 + IPV4_TOTAL_LENGTH);
    if (total >= IPV4_MIN_HEADER) ipLength = total;
  } else if (version === 6 && avail >= IPV6_HEADER_LEN) {
    const payload = be16(bytes, l3 + IPV6_PAYLOAD_LENGTH);
    if (payload > 0) ipLength = IPV6_HEADER_LEN + payload;
  }
  const headerMissing = avail < (version === 4 ? IPV4_MIN_HEADER : IPV6_HEADER_LEN);
  let len = avail;
  let truncated: boolean;
  if (ipLength >= 0) {
    truncated = ipLength > avail;
    if (!truncated) len = ipLength;
  } else {
    truncated = headerMissing || cutBySnaplen;
  }
  return {
    kind: 'packet',
    ...info,
    ipVersion: version,
    packet: bytes.subarray(l3, l3 + len),
    truncated,
  };
}
