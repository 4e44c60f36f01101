/**
 * The daemon's log: one JSON line per event on stderr, written by pino with an ISO
 * time and the level's name (`{"level":"info","time":"2026-12-04T02:34:20.123Z",
 * "msg":"reload: 2 change(s)"}`), the form log shippers and `jq` read as they are.
 *
 * Under systemd (`JOURNAL_STREAM` set: stderr is connected to the journal) each line
 * also starts with the syslog priority in angle brackets (`<3>` error, `<4>` warning,
 * `<6>` info, `<7>` debug: sd-daemon(3)'s prefixes), so that journald records the
 * priority and `journalctl -p warning -u tsvs` shows the faults alone; journald keeps
 * its own timestamp beside ours.
 *
 * What is logged, one line each: every configuration change (each difference a reload
 * applies, and the data plane's "configuration changed"), every fault (a refused
 * change, a file that did not validate, a failed save, a data-plane error), every
 * reload and its outcome, start, readiness and stop.
 */
import { writeSync } from 'node:fs';
import { pino, type DestinationStream, type Level } from 'pino';

/** The syslog priority of each level (sd-daemon(3)). */
const PRIORITY: Record<string, number> = {
  trace: 7,
  debug: 7,
  info: 6,
  warn: 4,
  error: 3,
  fatal: 2,
};

/** The daemon's log. `line` is the plain function the parts of the daemon are given. */
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  /**
   * What the parts that only know "a line" (data plane, sync, health) report through:
   * a line naming a failure is a warning, any other an info line.
   */
  readonly line: (msg: string) => void;
}

export interface LoggerOptions {
  /** Where lines go (default: stderr, synchronously, so none is lost at exit). */
  write?: (text: string) => void;
  /** Prefix each line with `<N>` for journald (default: when `JOURNAL_STREAM` is set). */
  journal?: boolean;
  /** Lowest level written (default info; `TSVS_LOG_LEVEL` overrides). */
  level?: Level;
}

/** A pino logger writing one line per event, journald-friendly (see the module comment). */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const out = opts.write ?? ((text: string) => void writeSync(2, text));
  const journal = opts.journal ?? (process.env.JOURNAL_STREAM ?? '') !== '';
  const dest: DestinationStream = {
    write(text: string): void {
      if (!journal) return out(text);
      // pino writes one object per call; its level label is the first field
      const m = /^\{"level":"(\w+)"/.exec(text);
      out(`<${PRIORITY[m?.[1] ?? 'info'] ?? 6}>${text}`);
    },
  };
  const envLevel = process.env.TSVS_LOG_LEVEL as Level | undefined;
  const p = pino(
    {
      level: opts.level ?? envLevel ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
  return {
    info: (msg) => p.info(msg),
    warn: (msg) => p.warn(msg),
    error: (msg) => p.error(msg),
    line: (msg) => (FAULT.test(msg) ? p.warn(msg) : p.info(msg)),
  };
}

/** Words the parts use when something failed (their lines carry no level of their own). */
const FAULT = /\b(error|errors|fail(ed|s|ure)?|cannot|refused|unreachable|fault|lost|dropped)\b/i;

/** A logger over a plain line function (callers that pass `DaemonArgs.log`). */
export function lineLogger(fn: (line: string) => void): Logger {
  return {
    info: (m) => fn(m),
    warn: (m) => fn(`warning: ${m}`),
    error: (m) => fn(`error: ${m}`),
    line: (m) => fn(m),
  };
}
