/**
 * Where and how a checker connects (keepalived's conn_opts: connect_ip/connect_port,
 * bindto/bind_port, bind_if as the zone of an IPv6 link-local address, connect_timeout)
 * and what every checker returns.
 *
 * @module
 */
import type { KaChecker } from '../keepalived/types.js';

/** Outcome of one check: up or not, and a weight for dynamic checkers. */
export interface CheckResult {
  ok: boolean;
  /** misc_dynamic with a single dynamic checker: the weight the exit code asks for (code − 2). */
  weight?: number;
  /**
   * keepalived's cur_weight of this checker: what it adds to the real server's
   * configured weight (misc_dynamic: code − 2 − weight; FILE_CHECK: value × weight).
   * The real server's weight is its configured weight plus the sum over its checkers.
   */
  curWeight?: number;
  /** Why it failed (for the log). */
  why?: string;
  /**
   * A step of a check that walks several steps passed, and the check goes on
   * (HTTP_GET/SSL_GET: one url per step): the checker's state does not change.
   */
  pending?: boolean;
  /** The checker's own delay before its next step, seconds (instead of delay_loop). */
  delay?: number;
  /** On a failure: the checker's own delays before its next try while retrying / once down. */
  failDelays?: { retry: number; down: number };
}

/** Where a checker connects: its connect_ip/connect_port, else the real server's. */
export interface CheckTarget {
  addr: string;
  port: number;
  /** The real server's configured weight (for FILE_CHECK and misc_dynamic's weight). */
  weight?: number;
  /** The checker's state as the health manager has it (HTTP_GET's url walk). */
  up?: boolean;
  hasRun?: boolean;
}

const LINK_LOCAL = /^fe[89ab][0-9a-f]:/i;

/** The address and port a checker sends to; a link-local IPv6 address carries bind_if as its zone. */
export function destination(c: KaChecker, t: CheckTarget): { host: string; port: number } {
  let host = c.connectIp ?? t.addr;
  if (c.bindIf !== undefined && LINK_LOCAL.test(host) && !host.includes('%'))
    host = `${host}%${c.bindIf}`;
  return { host, port: c.connectPort ?? t.port };
}

/** The local address to bind (bindto, with the same zone rule). */
export function source(c: KaChecker): string | undefined {
  const a = c.bindto;
  if (a !== undefined && c.bindIf !== undefined && LINK_LOCAL.test(a) && !a.includes('%'))
    return `${a}%${c.bindIf}`;
  return a;
}

/** Host header form of an address (RFC 2732 brackets for IPv6). */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host.replace(/%.*$/, '')}]:${port}` : `${host}:${port}`;
}

/** The message of a rejection, for CheckResult.why. */
export function whyOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
