/**
 * The SYN proxy's state (synproxy.ts): the cookie secrets, its counters, the pool
 * that holds a client's first data until the real server has answered, and the
 * table of client addresses proved by the DR handshake. All of it fixed-size, made
 * once per engine: a flood cannot make it grow.
 */
import { CookieKeys } from './synproxy-cookie.js';

/** Counters of the SYN proxy (`SynProxyState.counters`), by index. */
export const SpCounter = {
  /** SYN-ACKs with a cookie sent (NAT proxy). */
  COOKIES_SENT: 0,
  /** ACKs whose cookie was valid: conns created. */
  COOKIES_VALID: 1,
  /** ACKs whose cookie was not valid (also counted as the drop synproxy-bad-cookie). */
  COOKIES_FAILED: 2,
  /** SYN-ACKs sent for the DR address proof. */
  AUTH_SENT: 3,
  /** Client addresses proved (DR). */
  AUTH_PASSED: 4,
  /** Client packets held until the real server answered. */
  HELD: 5,
  /** Real servers' SYN-ACKs answered (handshakes completed towards the server). */
  SERVER_DONE: 6,
  /** SYNs sent to real servers. */
  SERVER_SYN: 7,
  /**
   * Of COOKIES_SENT, the SYN-ACKs the kernel program sent (bpf/syncookie.c, folded in
   * by src/dataplane/syncookie.ts): their SYNs never reached the daemon.
   */
  COOKIES_SENT_KERNEL: 8,
  /** SYNs the kernel program dropped because a helper failed (should stay 0). */
  KERNEL_ERRORS: 9,
} as const;

export const SP_COUNTER_NAMES = [
  'cookies-sent',
  'cookies-valid',
  'cookies-failed',
  'auth-sent',
  'auth-passed',
  'held',
  'server-done',
  'server-syn',
  'cookies-sent-kernel',
  'kernel-errors',
];

/** Held packets: slots of this many bytes (one MTU-sized segment each). */
export const HELD_SLOT_BYTES = 2048;
/** Held packets at most (2 MB). */
export const HELD_SLOTS = 1024;
/** Proved client addresses remembered (direct-mapped, newest wins). */
export const AUTH_SLOTS = 1 << 16;
/** How long a proved address stays proved, ms. */
export const AUTH_TTL_MS = 60_000;

export class SynProxyState {
  readonly keys: CookieKeys;
  readonly counters = new Float64Array(SP_COUNTER_NAMES.length);
  readonly pool = new Uint8Array(HELD_SLOTS * HELD_SLOT_BYTES);
  readonly poolLen = new Int32Array(HELD_SLOTS);
  private readonly poolFree = new Int32Array(HELD_SLOTS);
  private poolTop = 0;
  private readonly authAddr = new Uint32Array(AUTH_SLOTS * 4);
  private readonly authUntil = new Float64Array(AUTH_SLOTS);
  private readonly authAf = new Uint8Array(AUTH_SLOTS);

  constructor(random: () => number) {
    this.keys = new CookieKeys(random);
    for (let i = HELD_SLOTS - 1; i >= 0; i--) this.poolFree[this.poolTop++] = i;
  }

  /** Held packets now. */
  get heldNow(): number {
    return HELD_SLOTS - this.poolTop;
  }

  /** A free slot, or -1 when all hold something. */
  slotTake(): number {
    return this.poolTop === 0 ? -1 : this.poolFree[--this.poolTop];
  }

  slotFree(slot: number): void {
    this.poolFree[this.poolTop++] = slot;
  }

  private authSlot(af: number, a: Uint32Array): number {
    let h = Math.imul(a[0] ^ af, 0x9e3779b1);
    if (af === 6) {
      h = Math.imul(h ^ a[1], 0x85ebca6b);
      h = Math.imul(h ^ a[2], 0xc2b2ae35);
      h = Math.imul(h ^ a[3], 0x9e3779b1);
    }
    return (h ^ (h >>> 16)) & (AUTH_SLOTS - 1);
  }

  /** Remember `a` as proved until now + AUTH_TTL_MS. */
  authAdd(af: number, a: Uint32Array, now: number): void {
    const s = this.authSlot(af, a);
    const o = s * 4;
    for (let i = 0; i < 4; i++) this.authAddr[o + i] = af === 4 && i > 0 ? 0 : a[i];
    this.authAf[s] = af;
    this.authUntil[s] = now + AUTH_TTL_MS;
  }

  /** Was `a` proved, and not too long ago? */
  authHas(af: number, a: Uint32Array, now: number): boolean {
    const s = this.authSlot(af, a);
    if (this.authAf[s] !== af || this.authUntil[s] < now) return false;
    const o = s * 4;
    if (this.authAddr[o] !== a[0]) return false;
    return (
      af === 4 ||
      (this.authAddr[o + 1] === a[1] &&
        this.authAddr[o + 2] === a[2] &&
        this.authAddr[o + 3] === a[3])
    );
  }

  /** Forget everything proved (tests, flush). */
  authClear(): void {
    this.authUntil.fill(0);
  }
}
