/**
 * The one engine fixture of the engine tests: the addresses of the usual lab, an
 * engine with a service and its real servers, a packet sent through `in` or `out`
 * with headroom, and the IPv4 / ICMP error builders the ICMP tests quote packets
 * with. Packets themselves come from test/helpers/packets.ts (written without
 * src/wire, so the engine is checked against a second implementation).
 */
import { Engine, type EngineOptions, type ServiceKey } from '../../src/engine/engine.js';
import type { DestSpec, ServiceParams } from '../../src/engine/spec.js';
import { buildPacket, ipBytes, naiveSum, type PacketSpec } from '../helpers/packets.js';

export const VIP = '10.0.3.100';
export const CIP = '10.0.1.2';
export const RIP1 = '10.0.2.11';
export const RIP2 = '10.0.2.12';
/** The director's own address on the real servers' side. */
export const DIR = '10.0.2.1';
/** TCP VIP:80. */
export const TCP80: ServiceKey = { af: 4, protocol: 6, addr: VIP, port: 80 };

/** A client → VIP:80 packet from CIP:40000 with these TCP flags (and `extra`). */
export const cin = (flags: number, extra: Partial<PacketSpec> = {}): PacketSpec => ({
  src: CIP,
  dst: VIP,
  sport: 40000,
  dport: 80,
  flags,
  ...extra,
});

/** Add a service and its real servers (in the order given) to `e`. */
export function addService(
  e: Engine,
  key: ServiceKey,
  params: ServiceParams,
  ...dests: DestSpec[]
): Engine {
  e.addService(key, params);
  for (const d of dests) e.addDest(key, d);
  return e;
}

/** A new engine with one service and its real servers. */
export function engineWith(
  opts: EngineOptions,
  key: ServiceKey,
  params: ServiceParams,
  ...dests: DestSpec[]
): Engine {
  return addService(new Engine(opts), key, params, ...dests);
}

/**
 * Send a packet through `in` or `out`, placed `headroom` bytes into a larger buffer
 * (room for a tunnel header); returns the verdict and a copy of what the engine sent.
 */
export function send(
  e: Engine,
  dir: 'in' | 'out',
  p: PacketSpec,
  now: number,
  headroom = 64,
): { v: number; pkt: Uint8Array } {
  const raw = buildPacket(p);
  const buf = new Uint8Array(raw.length + headroom);
  buf.set(raw, headroom);
  const v =
    dir === 'in' ? e.in(buf, headroom, raw.length, now) : e.out(buf, headroom, raw.length, now);
  const r = e.result;
  return { v, pkt: r.buf.slice(r.off, r.off + r.len) };
}

/** A 20-byte IPv4 header (protocol `proto`, `payloadLen` bytes after it), checksummed. */
export function ip4Header(
  src: string,
  dst: string,
  proto: number,
  payloadLen: number,
  df = true,
  ttl = 63,
): Uint8Array {
  const b = new Uint8Array(20);
  b[0] = 0x45;
  const tot = 20 + payloadLen;
  b[2] = tot >> 8;
  b[3] = tot & 255;
  b[6] = df ? 0x40 : 0;
  b[8] = ttl;
  b[9] = proto;
  b.set(ipBytes(src), 12);
  b.set(ipBytes(dst), 16);
  const s = 0xffff - naiveSum(b, 0, 20);
  b[10] = s >> 8;
  b[11] = s & 255;
  return b;
}

/** An ICMPv4 error from `from` to `to` quoting `quoted` (whole), `mtu` in the next-hop MTU field. */
export function icmpError(
  from: string,
  to: string,
  type: number,
  code: number,
  mtu: number,
  quoted: Uint8Array,
  ttl = 63,
): Uint8Array {
  const body = new Uint8Array(8 + quoted.length);
  body[0] = type;
  body[1] = code;
  body[6] = mtu >> 8;
  body[7] = mtu & 255;
  body.set(quoted, 8);
  const s = 0xffff - naiveSum(body, 0, body.length);
  body[2] = s >> 8;
  body[3] = s & 255;
  const out = new Uint8Array(20 + body.length);
  out.set(ip4Header(from, to, 1, body.length, false, ttl), 0);
  out.set(body, 20);
  return out;
}

export * from '../helpers/packets.js';
