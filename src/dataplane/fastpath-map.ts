/**
 * The flow map of the established-flow fast path (bpf/fastpath.c): the byte layout
 * of its keys and values, shared with the BPF program (change both together), and
 * their encoding from a conn of the engine. No I/O here: fastpath.ts does that.
 *
 * Key (40 bytes): source address (16), destination address (16), source port,
 * destination port (network order), protocol, family (4 or 6), 2 bytes of padding.
 * IPv4 addresses take the first 4 bytes of their 16, the rest zero.
 *
 * Value (80 bytes): new source address (16), new destination address (16), new
 * source port, new destination port (network order), egress ifindex (host order),
 * destination MAC then source MAC (12), egress MTU, flags (host order), then the
 * counters the program keeps: packets, bytes, last-seen time (CLOCK_MONOTONIC ns;
 * u64, host order).
 *
 * @module
 */
import type { AddressFamily } from '../engine/constants.js';

export const FP_KEY_BYTES = 40;
export const FP_VAL_BYTES = 80;
/** The value rewrites the source (NAT replies: RIP:rport → VIP:vport). */
export const FP_REWRITE_SRC = 0x1;
/** The value rewrites the destination (NAT requests: VIP:vport → RIP:rport). */
export const FP_REWRITE_DST = 0x2;

const K_SADDR = 0;
const K_DADDR = 16;
const K_SPORT = 32;
const K_DPORT = 34;
const K_PROTO = 36;
const K_AF = 37;

const V_SADDR = 0;
const V_DADDR = 16;
const V_SPORT = 32;
const V_DPORT = 34;
const V_IFINDEX = 36;
const V_ETH = 40;
const V_MTU = 52;
const V_FLAGS = 54;
export const V_PACKETS = 56;
export const V_BYTES = 64;
export const V_LAST = 72;

/** Writes the address (engine words, host order) as network-order bytes at `at`. */
function putAddr(
  b: Uint8Array,
  at: number,
  af: AddressFamily,
  w: ArrayLike<number>,
  o: number,
): void {
  const n = af === 4 ? 1 : 4;
  for (let i = 0; i < 4; i++) {
    const x = i < n ? w[o + i] >>> 0 : 0;
    b[at + i * 4] = x >>> 24;
    b[at + i * 4 + 1] = (x >>> 16) & 0xff;
    b[at + i * 4 + 2] = (x >>> 8) & 0xff;
    b[at + i * 4 + 3] = x & 0xff;
  }
}

function putPort(b: Uint8Array, at: number, port: number): void {
  b[at] = (port >>> 8) & 0xff;
  b[at + 1] = port & 0xff;
}

/** A flow's key: `saddr:sport → daddr:dport` of protocol `proto`, at `b[at..at+40)`. */
export function encodeKey(
  b: Uint8Array,
  at: number,
  af: AddressFamily,
  proto: number,
  saddr: ArrayLike<number>,
  soff: number,
  sport: number,
  daddr: ArrayLike<number>,
  doff: number,
  dport: number,
): void {
  b.fill(0, at, at + FP_KEY_BYTES);
  putAddr(b, at + K_SADDR, af, saddr, soff);
  putAddr(b, at + K_DADDR, af, daddr, doff);
  putPort(b, at + K_SPORT, sport);
  putPort(b, at + K_DPORT, dport);
  b[at + K_PROTO] = proto;
  b[at + K_AF] = af;
}

/** What a flow's packets become and where they go. */
export interface FlowAction {
  af: AddressFamily;
  flags: number;
  saddr: ArrayLike<number>;
  soff: number;
  sport: number;
  daddr: ArrayLike<number>;
  doff: number;
  dport: number;
  ifindex: number;
  /** 12 bytes: destination MAC, source MAC. */
  eth: Uint8Array;
  mtu: number;
}

/** A flow's value (counters zero) at `b[at..at+80)`. */
export function encodeValue(b: Uint8Array, at: number, a: FlowAction): void {
  b.fill(0, at, at + FP_VAL_BYTES);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (a.flags & FP_REWRITE_SRC) {
    putAddr(b, at + V_SADDR, a.af, a.saddr, a.soff);
    putPort(b, at + V_SPORT, a.sport);
  }
  if (a.flags & FP_REWRITE_DST) {
    putAddr(b, at + V_DADDR, a.af, a.daddr, a.doff);
    putPort(b, at + V_DPORT, a.dport);
  }
  dv.setUint32(at + V_IFINDEX, a.ifindex >>> 0, true);
  b.set(a.eth.subarray(0, 12), at + V_ETH);
  dv.setUint16(at + V_MTU, Math.min(a.mtu, 0xffff), true);
  dv.setUint16(at + V_FLAGS, a.flags, true);
}

/** A u64 (host order) as a Number, without a BigInt (exact below 2^53). */
function u64(dv: DataView, at: number): number {
  return dv.getUint32(at, true) + dv.getUint32(at + 4, true) * 4294967296;
}

/** The counters of a value read back: packets, bytes, last-seen (CLOCK_MONOTONIC ns). */
export function valuePackets(dv: DataView, at: number): number {
  return u64(dv, at + V_PACKETS);
}
export function valueBytes(dv: DataView, at: number): number {
  return u64(dv, at + V_BYTES);
}
export function valueLastNs(dv: DataView, at: number): number {
  return u64(dv, at + V_LAST);
}

/** The action bytes of a value (ifindex, MACs, MTU, flags and the rewrite), for change detection. */
export function sameAction(a: Uint8Array, ao: number, b: Uint8Array, bo: number): boolean {
  for (let i = 0; i < V_PACKETS; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}
