/**
 * FILE_CHECK with its track_file (keepalived's trackers/track_file.c): the file holds
 * a number (read as C's strtol with base 0: decimal, 0x hex, 0 octal, leading blanks,
 * trailing text ignored; a missing, unreadable or empty file counts as 0; a number out
 * of the 32-bit range is ignored and the previous state kept). With weight 0 the
 * checker is down when the value is non-zero (with `reverse`, when it is zero);
 * otherwise its status is value × weight (× −1 with `reverse`), down only at
 * −2147483648 and up for anything else, adding the status to the real server's weight
 * (keepalived's cur_weight). keepalived watches the file with inotify; tsvs reads it
 * every second.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import type { KaChecker } from '../keepalived/types.js';
import type { CheckResult, CheckTarget } from './socket.js';

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

/** C's strtol(s, NULL, 0) on the start of `s`; undefined when out of keepalived's range. */
export function strtol0(s: string): number | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)?/.exec(s);
  if (!m || m[2] === undefined) return 0;
  const d = m[2];
  const abs = /^0[xX]/.test(d)
    ? parseInt(d.slice(2), 16)
    : d.length > 1 && d[0] === '0'
      ? parseInt(d, 8)
      : Number(d);
  const v = m[1] === '-' ? -abs : abs;
  return v < INT_MIN || v > INT_MAX + 1 ? undefined : v;
}

/** keepalived's status of a tracked value for a checker (update_track_file_status). */
export function fileStatus(value: number, weight: number, reverse: boolean): number {
  if (weight === 0) return (value !== 0) !== reverse ? INT_MIN : 0;
  const s = value * weight * (reverse ? -1 : 1);
  return Math.max(INT_MIN, Math.min(INT_MAX, s));
}

/** The last value read per checker (kept when the file holds an invalid number). */
const last = new WeakMap<KaChecker, number>();

/** Runs one FILE_CHECK. */
export async function fileCheck(c: KaChecker, t: CheckTarget): Promise<CheckResult> {
  const tf = c.trackFile;
  if (!tf || !tf.path) return { ok: false, why: 'FILE_CHECK without a track_file' };
  let text = '';
  try {
    text = (await readFile(tf.path)).subarray(0, 127).toString('latin1');
  } catch {
    text = '';
  }
  let value = strtol0(text);
  if (value === undefined) value = last.get(c) ?? 0;
  last.set(c, value);
  const status = fileStatus(value, tf.weight, tf.reverse);
  if (status === INT_MIN)
    return { ok: false, curWeight: 0, why: `tracked file ${tf.name} (${tf.path}) is ${value}` };
  const r: CheckResult = { ok: true, curWeight: status };
  if (t.weight !== undefined) r.weight = Math.max(0, t.weight + status);
  return r;
}
