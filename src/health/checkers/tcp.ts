/**
 * TCP_CHECK (check_tcp.c): up when a TCP connection to the real server (or
 * connect_ip/connect_port) completes within connect_timeout; the connection is then
 * closed at once.
 *
 * @module
 */
import type { KaChecker } from '../keepalived/types.js';
import { connectTcp } from './stream.js';
import { whyOf, type CheckResult, type CheckTarget } from './socket.js';

/** Runs one TCP_CHECK. */
export async function tcpCheck(c: KaChecker, t: CheckTarget): Promise<CheckResult> {
  try {
    (await connectTcp(c, t)).destroy();
    return { ok: true };
  } catch (e) {
    return { ok: false, why: whyOf(e) };
  }
}
