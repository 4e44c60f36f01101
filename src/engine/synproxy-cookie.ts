/**
 * SYN cookies for the SYN proxy (synproxy.ts): the sequence number the director puts
 * in its SYN-ACK, from which a later ACK proves that its sender saw the SYN-ACK, with
 * no state kept between the two. The layout is the kernel's (net/ipv4/syncookies.c,
 * facts only — the code is our own):
 *
 *   cookie = H0(addrs, ports) + client ISN + (count << 24)
 *            + ((H1(addrs, ports, count) + mssIndex) mod 2^24)
 *
 * `count` is the minute (the engine's clock ÷ 60 s: the secret's rotation, as the
 * kernel's `tcp_cookie_time`), H0 and H1 are SipHash-2-4 under two random 128-bit
 * keys, and a cookie is accepted while its minute is the current or the previous one
 * (MAX_SYNCOOKIE_AGE 2). The 2-bit MSS index picks from the kernel's tables.
 *
 * What does not fit in the cookie — window scaling, SACK-permitted, ECN — goes, as
 * the kernel puts it, in the low 6 bits of the timestamp value of the SYN-ACK
 * (`cookie_init_timestamp`): bits 0–3 the client's window scale (15 = none), bit 4
 * SACK, bit 5 ECN; the client echoes it in its ACK's TSecr. Without timestamps these
 * options are lost, as in the kernel (the proxy then does not offer them).
 *
 * Allocation-free: one scratch message and one result pair per key set.
 */
import { sipHash, sipKeyFromBytes, type SipKey } from './sched/siphash.js';

/** Bits of the cookie below the minute counter. */
export const COOKIE_BITS = 24;
export const COOKIE_MASK = (1 << COOKIE_BITS) - 1;
/** A cookie is valid in its minute and the next (the kernel's MAX_SYNCOOKIE_AGE). */
export const COOKIE_MAX_AGE = 2;
/** Minute length of the counter, ms. */
export const COOKIE_PERIOD_MS = 60_000;

/** The kernel's IPv4 MSS table (msstab in syncookies.c). */
export const MSS_TABLE_V4: readonly number[] = [536, 1300, 1440, 1460];
/** The kernel's IPv6 MSS table (msstab in syncookies.c's IPv6 twin). */
export const MSS_TABLE_V6: readonly number[] = [1220, 1400, 1440, 1460];

/** Timestamp-encoded options (cookie_init_timestamp's TS_OPT_*). */
export const TS_OPT_WSCALE_MASK = 0x0f;
export const TS_OPT_SACK = 0x10;
export const TS_OPT_ECN = 0x20;
export const TS_MASK = 0x3f;
/** The largest window scale TCP allows (RFC 7323). */
export const TCP_MAX_WSCALE = 14;

/** Index into the MSS table for a client's MSS: the largest entry not above it. */
export function mssIndex(af: 4 | 6, mss: number): number {
  const t = af === 4 ? MSS_TABLE_V4 : MSS_TABLE_V6;
  for (let i = t.length - 1; i > 0; i--) if (mss >= t[i]) return i;
  return 0;
}

/** The MSS an index stands for. */
export function mssOf(af: 4 | 6, index: number): number {
  return (af === 4 ? MSS_TABLE_V4 : MSS_TABLE_V6)[index & 3];
}

/** The keyed hash and its secrets; one per engine. */
export class CookieKeys {
  private readonly k0: SipKey;
  private readonly k1: SipKey;
  /** saddr(16) daddr(16) sport dport(4) count(4): 40 bytes, zero-padded for IPv4. */
  private readonly msg = new Uint8Array(40);
  private readonly out = new Uint32Array(2);

  /** Keys from 32 random bytes (the engine's random source fills them). */
  constructor(random: () => number) {
    const b = new Uint8Array(32);
    for (let i = 0; i < 32; i++) b[i] = Math.floor(random() * 256) & 0xff;
    this.k0 = sipKeyFromBytes(b.subarray(0, 16));
    this.k1 = sipKeyFromBytes(b.subarray(16, 32));
  }

  /** H0 (`which` 0, count ignored) or H1 (`which` 1) of a flow, as an unsigned 32-bit number. */
  hash(
    which: 0 | 1,
    af: 4 | 6,
    saddr: Uint32Array,
    daddr: Uint32Array,
    sport: number,
    dport: number,
    count: number,
  ): number {
    const m = this.msg;
    const n = af === 4 ? 1 : 4;
    for (let i = 0; i < 4; i++) {
      const s = i < n ? saddr[i] : 0;
      const d = i < n ? daddr[i] : 0;
      m[i * 4] = s >>> 24;
      m[i * 4 + 1] = s >>> 16;
      m[i * 4 + 2] = s >>> 8;
      m[i * 4 + 3] = s;
      m[16 + i * 4] = d >>> 24;
      m[16 + i * 4 + 1] = d >>> 16;
      m[16 + i * 4 + 2] = d >>> 8;
      m[16 + i * 4 + 3] = d;
    }
    m[32] = sport >>> 8;
    m[33] = sport;
    m[34] = dport >>> 8;
    m[35] = dport;
    const c = which === 0 ? 0 : count;
    m[36] = c >>> 24;
    m[37] = c >>> 16;
    m[38] = c >>> 8;
    m[39] = c;
    sipHash(which === 0 ? this.k0 : this.k1, m, this.out);
    return this.out[0];
  }

  /**
   * The cookie for a SYN from (saddr, sport) to (daddr, dport) with sequence number
   * `isn`, at minute `count`, carrying `data` (< 2^24; the MSS index).
   */
  make(
    af: 4 | 6,
    saddr: Uint32Array,
    daddr: Uint32Array,
    sport: number,
    dport: number,
    isn: number,
    count: number,
    data: number,
  ): number {
    const h0 = this.hash(0, af, saddr, daddr, sport, dport, 0);
    const h1 = this.hash(1, af, saddr, daddr, sport, dport, count);
    return (h0 + isn + ((count << COOKIE_BITS) >>> 0) + ((h1 + data) & COOKIE_MASK)) >>> 0;
  }

  /**
   * The data of `cookie` if it was made for this flow and `isn` at minute `count` or
   * the one before; -1 otherwise (wrong flow, forged, or expired).
   */
  check(
    cookie: number,
    af: 4 | 6,
    saddr: Uint32Array,
    daddr: Uint32Array,
    sport: number,
    dport: number,
    isn: number,
    count: number,
  ): number {
    const h0 = this.hash(0, af, saddr, daddr, sport, dport, 0);
    const rest = (cookie - h0 - isn) >>> 0;
    const diff = (count - (rest >>> COOKIE_BITS)) & (0xffffffff >>> COOKIE_BITS);
    if (diff >= COOKIE_MAX_AGE) return -1;
    const h1 = this.hash(1, af, saddr, daddr, sport, dport, (count - diff) >>> 0);
    return (rest - h1) & COOKIE_MASK;
  }
}

/** The minute counter at engine time `now` (ms). */
export function cookieCount(now: number): number {
  return Math.floor(now / COOKIE_PERIOD_MS) >>> 0;
}

/**
 * The SYN-ACK's timestamp value carrying the options (cookie_init_timestamp): the
 * clock `tsNow` with its low 6 bits replaced, moved one step back if that put it
 * in the future. `wscale` < 0 means the client offered no window scaling.
 */
export function tsEncode(tsNow: number, wscale: number, sack: boolean, ecn: boolean): number {
  let opts = wscale >= 0 ? wscale & TS_OPT_WSCALE_MASK : TS_OPT_WSCALE_MASK;
  if (sack) opts |= TS_OPT_SACK;
  if (ecn) opts |= TS_OPT_ECN;
  const now = tsNow >>> 0;
  let ts = ((now & ~TS_MASK) | opts) >>> 0;
  if (ts > now) ts = (ts - (TS_MASK + 1)) >>> 0;
  return ts;
}

/**
 * Decode the options from an echoed timestamp (cookie_timestamp_decode): the client's
 * window scale (-1 for none), or -2 when the value is not one the proxy can have sent
 * (a scale above 14).
 */
export function tsDecodeWscale(tsecr: number): number {
  const ws = tsecr & TS_OPT_WSCALE_MASK;
  if (ws === TS_OPT_WSCALE_MASK) return -1;
  return ws > TCP_MAX_WSCALE ? -2 : ws;
}
