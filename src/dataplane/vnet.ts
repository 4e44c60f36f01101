/**
 * Link-layer framing for packets the director sends itself through a SOCK_RAW packet
 * socket opened with PACKET_VNET_HDR: a 10-byte `struct virtio_net_hdr` (fields in
 * host order, little-endian on the machines tsvs runs on) followed by the Ethernet
 * header, then the IP packet.
 *
 * The virtio-net header is what lets one write carry a whole GSO super-packet (up to
 * 64 KB, queued whole with NFQA_CFG_F_GSO) and a pending (CHECKSUM_PARTIAL) L4
 * checksum: the kernel, or the NIC, segments and finishes the checksums on the way out.
 * Nothing here allocates; the caller reserves {@link L2_HEADROOM} bytes before the IP
 * packet and passes a parsed {@link PacketView} of it.
 *
 * @module
 */
import { write16 } from '../wire/bytes.js';
import { l4PartialFill } from '../wire/checksum.js';
import type { PacketView } from '../wire/packet.js';

/** Bytes of `struct virtio_net_hdr`. */
export const VNET_HDR_BYTES = 10;
/** Bytes of an Ethernet II header. */
export const ETH_HDR_BYTES = 14;
/** Bytes the sender writes in front of the IP packet. */
export const L2_HEADROOM = VNET_HDR_BYTES + ETH_HDR_BYTES;

/** Field offsets of `struct virtio_net_hdr` (16-bit fields little-endian). */
export const VH_FLAGS = 0;
export const VH_GSO_TYPE = 1;
export const VH_HDR_LEN = 2;
export const VH_GSO_SIZE = 4;
export const VH_CSUM_START = 6;
export const VH_CSUM_OFFSET = 8;
/** Field offsets of the Ethernet II header. */
export const ETH_DST = 0;
export const ETH_SRC = 6;
export const ETH_TYPE = 12;
/** EtherTypes of the IP packets framed here. */
export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;

/** virtio_net_hdr.flags: the L4 checksum at csum_start + csum_offset is to be finished. */
export const VNET_F_NEEDS_CSUM = 1;
/** virtio_net_hdr.flags: the checksum was verified (CHECKSUM_UNNECESSARY). */
export const VNET_F_DATA_VALID = 2;
/** virtio_net_hdr.gso_type values. */
export const VNET_GSO_NONE = 0;
export const VNET_GSO_TCPV4 = 1;
export const VNET_GSO_TCPV6 = 4;
/** The super-packet's first segment carries CWR (TSO with ECN). */
export const VNET_GSO_ECN = 0x80;

const TCP = 6;
const UDP = 17;
const TCP_FLAG_CWR = 0x80;

/**
 * Writes the virtio-net and Ethernet headers into the {@link L2_HEADROOM} bytes before
 * the IP packet `pv` describes (`pv.buf`, parsed at `pv.l3off`) and returns the frame's
 * offset (`pv.l3off - L2_HEADROOM`).
 *
 * - `eth`: 12 bytes destination then source MAC (the EtherType is written from `pv.af`).
 * - `partial`: the L4 checksum field holds the pseudo-header sum (the packet was queued
 *   CHECKSUM_PARTIAL): the header asks the kernel to finish it.
 * - `mtu`: egress MTU. A TCP packet longer than it is sent as a GSO super-packet with
 *   `gso_size = mtu − IP header − TCP header` (the queue does not report the original
 *   segment size; this size always fits). Its checksum is turned into the partial form
 *   first if it was complete, since every segment needs its own.
 */
export function writeL2Header(
  pv: PacketView,
  eth: Uint8Array,
  partial: boolean,
  mtu: number,
): number {
  const b = pv.buf;
  const ip = pv.l3off;
  const h = ip - L2_HEADROOM;
  const e = h + VNET_HDR_BYTES;
  // eth holds destination then source MAC: ETH_DST and ETH_SRC in one copy
  for (let i = 0; i < 12; i++) b[e + ETH_DST + i] = eth[i];
  const v6 = pv.af === 6;
  write16(b, e + ETH_TYPE, v6 ? ETH_P_IPV6 : ETH_P_IP);
  let flags = 0;
  let gsoType = VNET_GSO_NONE;
  let hdrLen = 0;
  let gsoSize = 0;
  let csumStart = 0;
  let csumOffset = 0;
  const proto = pv.proto;
  const l4 = (proto === TCP || proto === UDP) && pv.frag === 0 && pv.csumOff >= 0;
  const ipHdr = pv.l4off - ip;
  if (l4 && proto === TCP && pv.l3len > mtu && pv.tcpDoff >= 20) {
    gsoType = v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4;
    if (pv.tcpFlags & TCP_FLAG_CWR) gsoType |= VNET_GSO_ECN;
    gsoSize = mtu - ipHdr - pv.tcpDoff;
    hdrLen = ETH_HDR_BYTES + ipHdr + pv.tcpDoff;
    if (!partial) {
      l4PartialFill(b, pv.af, pv.saddrOff, pv.daddrOff, proto, pv.l4off, pv.l4len);
      partial = true;
    }
  }
  if (l4 && partial) {
    flags = VNET_F_NEEDS_CSUM;
    csumStart = ETH_HDR_BYTES + ipHdr;
    csumOffset = pv.csumOff - pv.l4off;
  }
  writeVnetHeader(b, h, flags, gsoType, hdrLen, gsoSize, csumStart, csumOffset);
  return h;
}

/** Writes a `struct virtio_net_hdr` (little-endian fields) at `b[h..h+10)`. */
export function writeVnetHeader(
  b: Uint8Array,
  h: number,
  flags: number,
  gsoType: number,
  hdrLen: number,
  gsoSize: number,
  csumStart: number,
  csumOffset: number,
): void {
  b[h + VH_FLAGS] = flags;
  b[h + VH_GSO_TYPE] = gsoType;
  writeLe16(b, h + VH_HDR_LEN, hdrLen);
  writeLe16(b, h + VH_GSO_SIZE, gsoSize);
  writeLe16(b, h + VH_CSUM_START, csumStart);
  writeLe16(b, h + VH_CSUM_OFFSET, csumOffset);
}

/** `virtio_net_hdr.flags` of the header at `b[h..h+10)`. */
export function vnetHdrFlags(b: Uint8Array, h: number): number {
  return b[h + VH_FLAGS];
}

/** `virtio_net_hdr.gso_type` (0: not a super-packet). */
export function vnetGsoType(b: Uint8Array, h: number): number {
  return b[h + VH_GSO_TYPE];
}

/** `virtio_net_hdr.gso_size`: the segment size of a super-packet. */
export function vnetGsoSize(b: Uint8Array, h: number): number {
  return b[h + VH_GSO_SIZE] | (b[h + VH_GSO_SIZE + 1] << 8);
}

/** A little-endian 16-bit field (virtio-net header fields are in host order). */
function writeLe16(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = v >>> 8;
}
