/**
 * Waiting for a condition instead of sleeping: the one poll-with-a-deadline helper of
 * the tests. A test that needs something to have happened (a line echoed, a connection
 * state reached, a capture written) waits for exactly that, so it is as fast as the
 * machine allows and fails with a message naming what never happened.
 */

/** How long and how often {@link waitFor} polls. */
export interface WaitOptions {
  /** Give up after this many ms (default 5000). */
  timeout?: number;
  /** Poll every this many ms (default 100). */
  interval?: number;
  /** What is awaited, for the error message. */
  what?: string;
}

/**
 * Resolves as soon as `cond()` returns (or resolves to) true, polling; rejects after
 * `timeout` ms with an error naming `what` and the last error `cond` threw, if any.
 */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  opts: WaitOptions = {},
): Promise<void> {
  const timeout = opts.timeout ?? 5000;
  const interval = opts.interval ?? 100;
  const end = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      if (await cond()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= end) break;
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(
    `timed out after ${timeout} ms waiting for ${opts.what ?? 'a condition'}` +
      (last ? `: ${String(last)}` : ''),
  );
}
