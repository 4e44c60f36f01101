/**
 * Test packet builder and an independent checksum checker. Deliberately written
 * without src/wire so that the engine's rewrites are checked against a second
 * implementation.
 */
import { isIPv4 } from 'node:net';

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

export function ipBytes(addr: string): number[] {
  if (isIPv4(addr)) return addr.split('.').map(Number);
  const [h, t = ''] = addr.split('::');
  const hg = h ? h.split(':') : [];
  const tg = t ? t.split(':') : [];
  const groups = addr.includes('::')
    ? [...hg, ...Array(8 - hg.length - tg.length).fill('0'), ...tg]
    : hg;
  const out: number[] = [];
  for (const g of groups) {
    const v = parseInt(g, 16);
    out.push(v >> 8, v & 255);
  }
  return out;
}

export function bytesToIp(b: Uint8Array | number[], off: number, v6: boolean): string {
  if (!v6) return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
  const g: string[] = [];
  for (let i = 0; i < 8; i++) g.push(((b[off + 2 * i] << 8) | b[off + 2 * i + 1]).toString(16));
  return g.join(':');
}

/** Naive one's-complement sum, independent of src/wire. */
export function naiveSum(bytes: ArrayLike<number>, start = 0, end = bytes.length): number {
  let s = 0;
  for (let i = start; i < end; i += 2) {
    const hi = bytes[i];
    const lo = i + 1 < end ? bytes[i + 1] : 0;
    s += (hi << 8) | lo;
  }
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}

export interface PacketSpec {
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  proto?: 'tcp' | 'udp';
  flags?: number;
  seq?: number;
  ack?: number;
  payload?: Uint8Array | string;
  ttl?: number;
  /** IPv4 options bytes (multiple of 4). */
  options?: number[];
  /** UDP: leave the checksum zero. */
  noUdpChecksum?: boolean;
  df?: boolean;
  /** TCP option bytes (padded to a multiple of 4 by the builder with NOPs). */
  tcpOptions?: number[];
  /** TCP window (default 0xffff). */
  window?: number;
}

/** Build an IPv4 or IPv6 TCP/UDP packet with correct checksums. */
export function buildPacket(p: PacketSpec): Uint8Array {
  const v6 = !isIPv4(p.src);
  const proto = p.proto ?? 'tcp';
  const payload =
    typeof p.payload === 'string'
      ? new TextEncoder().encode(p.payload)
      : (p.payload ?? new Uint8Array(0));
  const opts = p.options ?? [];
  const ipHdr = v6 ? 40 : 20 + opts.length;
  const topts = [...(p.tcpOptions ?? [])];
  while (topts.length % 4 !== 0) topts.push(1);
  const l4Hdr = proto === 'tcp' ? 20 + topts.length : 8;
  const l4len = l4Hdr + payload.length;
  const total = ipHdr + l4len;
  const b = new Uint8Array(total);
  const src = ipBytes(p.src);
  const dst = ipBytes(p.dst);
  const protoNum = proto === 'tcp' ? 6 : 17;
  if (!v6) {
    b[0] = 0x40 | (ipHdr / 4);
    b[2] = total >> 8;
    b[3] = total & 255;
    b[4] = 0x12;
    b[5] = 0x34;
    b[6] = p.df === false ? 0 : 0x40;
    b[8] = p.ttl ?? 64;
    b[9] = protoNum;
    b.set(src, 12);
    b.set(dst, 16);
    b.set(opts, 20);
    const hs = 0xffff - naiveSum(b, 0, ipHdr);
    b[10] = hs >> 8;
    b[11] = hs & 255;
  } else {
    b[0] = 0x60;
    b[4] = l4len >> 8;
    b[5] = l4len & 255;
    b[6] = protoNum;
    b[7] = p.ttl ?? 64;
    b.set(src, 8);
    b.set(dst, 24);
  }
  const l4 = ipHdr;
  const sport = p.sport ?? 40000;
  const dport = p.dport ?? 80;
  b[l4] = sport >> 8;
  b[l4 + 1] = sport & 255;
  b[l4 + 2] = dport >> 8;
  b[l4 + 3] = dport & 255;
  if (proto === 'tcp') {
    const seq = p.seq ?? 1000;
    const ack = p.ack ?? 0;
    b[l4 + 4] = seq >>> 24;
    b[l4 + 5] = (seq >>> 16) & 255;
    b[l4 + 6] = (seq >>> 8) & 255;
    b[l4 + 7] = seq & 255;
    b[l4 + 8] = ack >>> 24;
    b[l4 + 9] = (ack >>> 16) & 255;
    b[l4 + 10] = (ack >>> 8) & 255;
    b[l4 + 11] = ack & 255;
    b[l4 + 12] = (l4Hdr / 4) << 4;
    b[l4 + 13] = p.flags ?? SYN;
    const win = p.window ?? 0xffff;
    b[l4 + 14] = win >> 8;
    b[l4 + 15] = win & 255;
    b.set(topts, l4 + 20);
  } else {
    b[l4 + 4] = l4len >> 8;
    b[l4 + 5] = l4len & 255;
  }
  b.set(payload, l4 + l4Hdr);
  if (!(proto === 'udp' && p.noUdpChecksum)) {
    const c = 0xffff - l4FullSum(b);
    const co = l4 + (proto === 'tcp' ? 16 : 6);
    const v = proto === 'udp' && c === 0 ? 0xffff : c;
    b[co] = v >> 8;
    b[co + 1] = v & 255;
  }
  return b;
}

function ipInfo(b: Uint8Array): { v6: boolean; hl: number; proto: number; total: number } {
  const v6 = b[0] >> 4 === 6;
  if (v6) return { v6, hl: 40, proto: b[6], total: 40 + ((b[4] << 8) | b[5]) };
  return { v6, hl: (b[0] & 15) * 4, proto: b[9], total: (b[2] << 8) | b[3] };
}

/** Sum over pseudo-header + L4 segment (checksum field included as it is). */
function l4FullSum(b: Uint8Array): number {
  const { v6, hl, proto, total } = ipInfo(b);
  const l4len = total - hl;
  const pseudo: number[] = [];
  if (!v6) pseudo.push(...b.subarray(12, 20), 0, proto, l4len >> 8, l4len & 255);
  else pseudo.push(...b.subarray(8, 40), 0, 0, l4len >> 8, l4len & 255, 0, 0, 0, proto);
  const all = [...pseudo, ...b.subarray(hl, total)];
  return naiveSum(all);
}

/** Is the L4 checksum of a TCP/UDP packet correct (UDP 0 counts as valid on IPv4)? */
export function l4ChecksumValid(b: Uint8Array): boolean {
  const { v6, hl, proto } = ipInfo(b);
  if (proto === 17 && !v6 && b[hl + 6] === 0 && b[hl + 7] === 0) return true;
  return l4FullSum(b) === 0xffff;
}

export function ipv4HeaderValid(b: Uint8Array): boolean {
  const { v6, hl } = ipInfo(b);
  return v6 || naiveSum(b, 0, hl) === 0xffff;
}

export interface Parsed {
  v6: boolean;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  flags: number;
  seq: number;
  ack: number;
  ttl: number;
  proto: number;
  payload: Uint8Array;
}

export function parse(b: Uint8Array): Parsed {
  const { v6, hl, proto, total } = ipInfo(b);
  const l4 = hl;
  const doff = proto === 6 ? (b[l4 + 12] >> 4) * 4 : 8;
  return {
    v6,
    src: bytesToIp(b, v6 ? 8 : 12, v6),
    dst: bytesToIp(b, v6 ? 24 : 16, v6),
    sport: (b[l4] << 8) | b[l4 + 1],
    dport: (b[l4 + 2] << 8) | b[l4 + 3],
    flags: proto === 6 ? b[l4 + 13] : 0,
    seq:
      proto === 6
        ? ((b[l4 + 4] << 24) | (b[l4 + 5] << 16) | (b[l4 + 6] << 8) | b[l4 + 7]) >>> 0
        : 0,
    ack:
      proto === 6
        ? ((b[l4 + 8] << 24) | (b[l4 + 9] << 16) | (b[l4 + 10] << 8) | b[l4 + 11]) >>> 0
        : 0,
    ttl: v6 ? b[7] : b[8],
    proto,
    payload: b.slice(l4 + doff, total),
  };
}

/** Seeded PRNG (mulberry32) for reproducible random tests. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
