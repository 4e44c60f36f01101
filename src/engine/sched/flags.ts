/**
 * ipvsadm's `-b` scheduler flags (ipvsadm reference §3.2.1, kernel spec §0.2): names
 * to SVC_F_SCHED1..3 bits, the scheduler-compatibility check, and the names a listing
 * prints for a set of bits (§7.1).
 */
import { SVC_F_SCHED1, SVC_F_SCHED2, SVC_F_SCHED3 } from '../constants.js';

/** Each token, its bit, and the only scheduler it is allowed with ('' = any). */
const FLAG_TABLE: Readonly<Record<string, readonly [number, string]>> = {
  'flag-1': [SVC_F_SCHED1, ''],
  'flag-2': [SVC_F_SCHED2, ''],
  'flag-3': [SVC_F_SCHED3, ''],
  'sh-fallback': [SVC_F_SCHED1, 'sh'],
  'sh-port': [SVC_F_SCHED2, 'sh'],
  'mh-fallback': [SVC_F_SCHED1, 'mh'],
  'mh-port': [SVC_F_SCHED2, 'mh'],
};

/**
 * Tokens of a `-b` argument. Like ipvsadm's strtok, empty tokens between commas are
 * skipped; an argument with no token at all except the empty string (e.g. `,`)
 * yields one empty token, which is then rejected as ``invalid scheduler flag `'``
 * (ipvsadm 1.31 crashes there instead; the reference recommends this message).
 */
function tokens(names: string): string[] {
  const t = names.split(',').filter((s) => s !== '');
  return t.length === 0 ? [''] : t;
}

function parse(names: string, sched: string | null): number {
  // `-b ""` is ignored without a message.
  if (names === '') return 0;
  let flags = 0;
  for (const tok of tokens(names)) {
    const entry = Object.prototype.hasOwnProperty.call(FLAG_TABLE, tok)
      ? FLAG_TABLE[tok]
      : undefined;
    if (entry === undefined) throw new Error(`invalid scheduler flag \`${tok}'`);
    flags |= entry[0];
    if (sched !== null && entry[1] !== '' && entry[1] !== sched) {
      throw new Error(`incompatible scheduler flag \`${tok}'`);
    }
  }
  return flags;
}

/**
 * Map a comma-separated `-b` list (sh-fallback, sh-port, mh-fallback, mh-port,
 * flag-1, flag-2, flag-3) to SVC_F_SCHED* bits. Throws ``invalid scheduler flag
 * `<flag>'`` for an unknown name. No scheduler check: see {@link checkSchedFlags}.
 */
export function parseSchedFlags(names: string): number {
  return parse(names, null);
}

/**
 * As {@link parseSchedFlags}, and also rejects sh-* flags unless `sched` is `sh` and
 * mh-* flags unless it is `mh` with ``incompatible scheduler flag `<flag>'``. Tokens
 * are checked in order, so the first bad token names the error, as in ipvsadm.
 * `sched` is what `-s` gave, or `wlc` when it was not given.
 */
export function checkSchedFlags(sched: string, names: string): number {
  return parse(names, sched);
}

/**
 * The names a listing prints for the SCHED bits of `flags` (ipvsadm reference §7.1):
 * sh-fallback/sh-port for sh, mh-fallback/mh-port for mh (where SCHED3 has no name),
 * flag-1..3 otherwise. Can be empty while a SCHED bit is set (sh/mh with only SCHED3):
 * ipvsadm then prints ` ()`.
 */
export function schedFlagNames(sched: string, flags: number): string[] {
  const out: string[] = [];
  if (sched === 'sh' || sched === 'mh') {
    if (flags & SVC_F_SCHED1) out.push(`${sched}-fallback`);
    if (flags & SVC_F_SCHED2) out.push(`${sched}-port`);
  } else {
    if (flags & SVC_F_SCHED1) out.push('flag-1');
    if (flags & SVC_F_SCHED2) out.push('flag-2');
    if (flags & SVC_F_SCHED3) out.push('flag-3');
  }
  return out;
}
