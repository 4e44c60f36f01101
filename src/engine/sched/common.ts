/**
 * Small pieces shared by several schedulers (spec §10 "Common rules"): the kernel's
 * `hash_32`, the connection overhead of the least-connection family, the weighted
 * least-connection pick, and the "locally overloaded" test of lblc/lblcr.
 */
import { DEST_F_AVAILABLE, DEST_F_OVERLOAD } from '../constants.js';
import type { Dest } from '../service.js';

/** The kernel's golden-ratio multiplier for `hash_32` (GOLDEN_RATIO_32). */
export const GOLDEN_RATIO_32 = 0x61c88647;

/** `hash_32(v, bits)`: (v × 0x61C88647 mod 2^32) >> (32 − bits), v taken mod 2^32. */
export function hash32(v: number, bits: number): number {
  return Math.imul(v, GOLDEN_RATIO_32) >>> (32 - bits);
}

/**
 * ip_vs_dest_conn_overhead of current kernels ("ipvs: add totalconns for dest"):
 * (activeconns << 8) + totalconns, so an active conn weighs 257 idle (TIME_WAIT,
 * UDP) ones. Kernels before it used activeconns × 256 + inactconns.
 */
export function overhead(d: Dest): number {
  return d.activeconns * 257 + d.inactconns;
}

/** Greatest common divisor of two positive integers. */
export function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

export function isOverloaded(d: Dest): boolean {
  return (d.flags & DEST_F_OVERLOAD) !== 0;
}

export function isAvailable(d: Dest): boolean {
  return (d.flags & DEST_F_AVAILABLE) !== 0;
}

/**
 * Weighted least-connection (wlc, and the fallback pick of lblc/lblcr): the first
 * dest that is not OVERLOADed and has weight > 0 is the initial best; a later
 * non-OVERLOADed dest d replaces best b iff overhead(b)·w(d) > overhead(d)·w(b).
 * Strict, so ties stay with the earlier dest in list order. Products stay far below
 * 2^53 for any realistic counter, so doubles are exact here.
 */
export function wlcPick(dests: readonly Dest[]): Dest | null {
  const n = dests.length;
  let i = 0;
  let least: Dest | null = null;
  for (; i < n; i++) {
    const d = dests[i];
    if ((d.flags & DEST_F_OVERLOAD) === 0 && d.weight > 0) {
      least = d;
      break;
    }
  }
  if (least === null) return null;
  let loh = overhead(least);
  for (i++; i < n; i++) {
    const d = dests[i];
    if ((d.flags & DEST_F_OVERLOAD) !== 0) continue;
    const doh = overhead(d);
    if (loh * d.weight > doh * least.weight) {
      least = d;
      loh = doh;
    }
  }
  return least;
}

/**
 * lblc/lblcr "locally overloaded": the dest has more active conns than its weight
 * while some dest of the service is below half of its own weight.
 */
export function locallyOverloaded(dest: Dest, dests: readonly Dest[]): boolean {
  if (dest.activeconns > dest.weight) {
    for (let i = 0; i < dests.length; i++) {
      const d = dests[i];
      if (d.activeconns * 2 < d.weight) return true;
    }
  }
  return false;
}

/** Host-order port a hashing scheduler mixes in when its "port" flag is set (TCP/UDP/SCTP). */
export function hashablePort(protocol: number, port: number): number {
  return protocol === 6 || protocol === 17 || protocol === 132 ? port : 0;
}
