/**
 * The flow map of the established-flow fast path (bpf/fastpath.c): the byte layout
 * of its keys and values, shared with the BPF program (change both together), and
 * their encoding from a conn of the engine. No I/O here: fastpath.ts does that.
 *
 * Key (40 bytes): source address (16), destination address (16), source port,
 * destination port (network order), protocol, family (4 or 6), 2 bytes of padding.
 * IPv4 addresses take the first 4 bytes of their 16, the rest zero.
 *
 * Value (64 bytes): new source address (16), new destination address (16), new
 * source port, new destination port (network order), egress ifindex (host order),
 * destination MAC then source MAC (12), egress MTU, flags, the conn's slot, the
 * direction (0 request, 1 NAT reply; host order).
 *
 * Slot (48 bytes, one per conn in the mmap-able array `tsvs_slots`, indexed by the
 * conn id; the program writes it, the daemon reads it through its mapping): packets
 * per direction, bytes per direction, last-seen time (CLOCK_MONOTONIC ns; u64, host
 * order), closed (u32: a FIN or RST went by), padding.
 *
 * @module
 */
import type { Engine } from '../engine/engine.js';
import { CONN_F_FWD_MASK, CONN_F_MASQ, type AddressFamily } from '../engine/constants.js';
import type { ReplyRoutes } from './replyroute.js';
import type { L2Tx, Transmit } from './xmit.js';

export const FP_KEY_BYTES = 40;
export const FP_VAL_BYTES = 64;
/** Bytes of one conn's slot in `tsvs_slots`. */
export const FP_SLOT_BYTES = 48;
/** Slots (= the most conns in the map at once, and the bound on the conn ids taken). */
export const FP_SLOTS = 131072;
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
const V_SLOT = 56;
const V_DIR = 60;

/** 32-bit word offsets in a slot. */
const S_PKTS = 0;
const S_BYTES = 4;
const S_LAST = 8;
const S_CLOSED = 10;

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

/** A flow's value at `b[at..at+64)`: the action `a`, for conn slot `slot`, direction `dir`. */
export function encodeValue(
  b: Uint8Array,
  at: number,
  a: FlowAction,
  slot = 0,
  dir: 0 | 1 = 0,
): void {
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
  dv.setUint32(at + V_SLOT, slot >>> 0, true);
  dv.setUint32(at + V_DIR, dir, true);
}

/**
 * A u64 counter of a slot (`w`: the slot array as 32-bit words, host order), as a
 * Number without a BigInt (exact below 2^53). The program may add to it while it is
 * read: the high word is read again and the pair retried when it moved.
 */
function u64(w: Uint32Array, at: number): number {
  for (;;) {
    // (Atomics: loads the compiler may neither merge nor reorder)
    const hi = Atomics.load(w, at + 1);
    const lo = Atomics.load(w, at);
    if (Atomics.load(w, at + 1) === hi) return lo + hi * 4294967296;
  }
}

/** Packets the program forwarded for the conn in slot `slot`, direction `dir`. */
export function slotPackets(w: Uint32Array, slot: number, dir: number): number {
  return u64(w, (slot * FP_SLOT_BYTES) / 4 + S_PKTS + dir * 2);
}
/** Bytes (IP lengths) the program forwarded for the conn in slot `slot`, direction `dir`. */
export function slotBytes(w: Uint32Array, slot: number, dir: number): number {
  return u64(w, (slot * FP_SLOT_BYTES) / 4 + S_BYTES + dir * 2);
}
/** When the program last forwarded a packet of the conn (CLOCK_MONOTONIC ns; 0: never). */
export function slotLastNs(w: Uint32Array, slot: number): number {
  return u64(w, (slot * FP_SLOT_BYTES) / 4 + S_LAST);
}
/** The program saw a FIN or RST of the conn: it forwards none of its packets any more. */
export function slotClosed(w: Uint32Array, slot: number): boolean {
  return w[(slot * FP_SLOT_BYTES) / 4 + S_CLOSED] !== 0;
}
/** Zeroes a slot (before its conn's entries go in). */
export function slotReset(w: Uint32Array, slot: number): void {
  const o = (slot * FP_SLOT_BYTES) / 4;
  w.fill(0, o, o + FP_SLOT_BYTES / 4);
}

/** The action bytes of a value (ifindex, MACs, MTU, flags and the rewrite), for change detection. */
export function sameAction(a: Uint8Array, ao: number, b: Uint8Array, bo: number): boolean {
  for (let i = 0; i < V_SLOT; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

/**
 * Writes the request value (and for NAT the reply value) of the engine's conn `id` into
 * `out` (two values), for its slot `id`: the real server's next hop from the director's
 * table, for NAT the client side's from the reply routes; false when a next hop is not
 * known. `a` and `b` are the caller's scratch.
 */
export function encodeConn(
  engine: Engine,
  x: Transmit,
  rr: ReplyRoutes,
  id: number,
  out: Uint8Array,
  a: FlowAction,
  b: Uint8Array,
): boolean {
  const c = engine.conns;
  const af = c.af[id] as AddressFamily;
  const hop = x.hopByDest.get(c.dest[id]);
  if (hop === undefined || !hop.ready || hop.tx === null || hop.local) return false;
  const nat = (c.flags[id] & CONN_F_FWD_MASK) === CONN_F_MASQ;
  const o = id * 4;
  a.af = af;
  a.flags = nat ? FP_REWRITE_DST : 0;
  a.daddr = c.daddr;
  a.doff = o;
  a.dport = c.dport[id];
  a.ifindex = hop.tx.ifindex;
  a.eth.set(hop.eth.subarray(0, 12));
  a.mtu = hop.mtu;
  encodeValue(out, 0, a, id, 0);
  if (!nat) {
    out.fill(0, FP_VAL_BYTES, FP_VAL_BYTES * 2);
    return true;
  }
  // the client side's next hop, as replies sent by the director take it
  for (let i = 0; i < (af === 4 ? 1 : 4); i++) {
    const w = c.caddr[o + i] >>> 0;
    b[i * 4] = w >>> 24;
    b[i * 4 + 1] = (w >>> 16) & 0xff;
    b[i * 4 + 2] = (w >>> 8) & 0xff;
    b[i * 4 + 3] = w & 0xff;
  }
  const rh = rr.lookup(af === 4 ? 4 : 6, b, 0);
  if (rh === null) return false;
  let t = rh.tx as L2Tx | null;
  if (t === null) t = rh.tx = x.l2ForQuiet(rh.dev);
  if (t === null) return false;
  a.flags = FP_REWRITE_SRC;
  a.saddr = c.vaddr;
  a.soff = o;
  a.sport = c.vport[id];
  a.ifindex = t.ifindex;
  a.eth.set(rh.eth.subarray(0, 12));
  a.mtu = rh.mtu;
  encodeValue(out, FP_VAL_BYTES, a, id, 1);
  return true;
}
