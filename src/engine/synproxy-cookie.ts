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
 * kernel's `tcp_cookie_time`), H0 and H1 are HalfSipHash-2-4 (the kernel's 32-bit
 * `hsiphash`) under two random 64-bit keys, written here over int32 locals so that a
 * SYN costs no allocation, and a cookie is accepted while its minute is the current or the previous one
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
  /** k0, k1 of H0, then k0, k1 of H1. */
  private readonly k = new Int32Array(4);
  /** saddr(4 words) daddr(4 words) sport<<16|dport, count: 10 words, IPv4 zero-padded. */
  private readonly msg = new Int32Array(10);

  /** Keys from the engine's random source. */
  constructor(random: () => number) {
    for (let i = 0; i < 4; i++) this.k[i] = Math.floor(random() * 4294967296) | 0;
  }

  /** A copy of the secrets (saved with the engine's state: engine/state.ts). */
  save(): Int32Array {
    return this.k.slice();
  }

  /** Takes another engine's secrets: the cookies it sent stay valid here. */
  restore(k: Int32Array): void {
    this.k.set(k.subarray(0, 4));
  }

  /** The four key words (H0's k0 k1, H1's k0 k1) into `out`, for the kernel program. */
  copyTo(out: Int32Array): void {
    out.set(this.k);
  }

  /** H0 (`which` 0, count ignored) or H1 (`which` 1) of a flow, as an int32. */
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
      m[i] = i < n ? saddr[i] : 0;
      m[4 + i] = i < n ? daddr[i] : 0;
    }
    m[8] = (sport << 16) | dport;
    m[9] = which === 0 ? 0 : count;
    return halfSipHash24(this.k[which * 2], this.k[which * 2 + 1], m, 10);
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
    return (h0 + isn + (count << COOKIE_BITS) + ((h1 + data) & COOKIE_MASK)) | 0;
  }

  /**
   * The data of `cookie` if it was made for this flow and `isn` at minute `count` or
   * the one before; -1 otherwise (wrong flow, forged, or expired). Sequence numbers
   * may be given as int32 or uint32 (they are taken modulo 2^32); the cookie made is an
   * int32, so that no number is boxed on the packet path.
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
    const rest = (cookie - h0 - isn) | 0;
    const diff = (count - (rest >>> COOKIE_BITS)) & (0xffffffff >>> COOKIE_BITS);
    if (diff >= COOKIE_MAX_AGE) return -1;
    const h1 = this.hash(1, af, saddr, daddr, sport, dport, (count - diff) | 0);
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
  // compared as unsigned, returned as int32 (never boxed)
  const now = tsNow >>> 0;
  let ts = ((now & ~TS_MASK) | opts) >>> 0;
  if (ts > now) ts = (ts - (TS_MASK + 1)) >>> 0;
  return ts | 0;
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

/** HalfSipHash state v0..v3 (module scratch: no number is boxed, nothing allocated). */
const V = new Int32Array(4);

/** One SipRound of HalfSipHash over the state in {@link V}. */
function sipRound(v: Int32Array): void {
  let v0 = v[0];
  let v1 = v[1];
  let v2 = v[2];
  let v3 = v[3];
  v0 = (v0 + v1) | 0;
  v1 = (v1 << 5) | (v1 >>> 27);
  v1 ^= v0;
  v0 = (v0 << 16) | (v0 >>> 16);
  v2 = (v2 + v3) | 0;
  v3 = (v3 << 8) | (v3 >>> 24);
  v3 ^= v2;
  v0 = (v0 + v3) | 0;
  v3 = (v3 << 7) | (v3 >>> 25);
  v3 ^= v0;
  v2 = (v2 + v1) | 0;
  v1 = (v1 << 13) | (v1 >>> 19);
  v1 ^= v2;
  v2 = (v2 << 16) | (v2 >>> 16);
  v[0] = v0;
  v[1] = v1;
  v[2] = v2;
  v[3] = v3;
}

/**
 * HalfSipHash-2-4 (Aumasson & Bernstein) of `n` 32-bit words (taken as their
 * little-endian bytes) under the key (k0, k1): the 32-bit result as an int32. The same
 * function runs in the kernel in bpf/syncookie.c (its SYN-ACKs carry this cookie).
 */
export function halfSipHash24(k0: number, k1: number, words: Int32Array, n: number): number {
  const v = V;
  v[0] = k0 | 0;
  v[1] = k1 | 0;
  v[2] = 0x6c796765 ^ k0;
  v[3] = 0x74656462 ^ k1;
  for (let w = 0; w <= n; w++) {
    // the last block: no bytes left, the length in its top byte
    const m = w < n ? words[w] | 0 : (n * 4) << 24;
    v[3] ^= m;
    sipRound(v);
    sipRound(v);
    v[0] ^= m;
  }
  v[2] ^= 0xff;
  sipRound(v);
  sipRound(v);
  sipRound(v);
  sipRound(v);
  return v[1] ^ v[3];
}
