/**
 * BFD_CHECK (check_bfd.c) follows a session of keepalived's own BFD process, declared
 * by a `bfd_instance` block of the same keepalived.conf; tsvs has no BFD process and
 * talks to none (FRR's bfdd would be another source, with its own configuration), so
 * a BFD_CHECK is refused when the file is read and its real server kept out of
 * rotation. This check only ever reports that.
 *
 * @module
 */
import type { KaChecker } from '../keepalived/types.js';
import type { CheckResult } from './socket.js';

/** Fails with the refusal (a BFD_CHECK is always `unusable`). */
export function bfdCheck(c: KaChecker): Promise<CheckResult> {
  return Promise.resolve({
    ok: false,
    why: c.unusable ?? 'BFD_CHECK: tsvs has no BFD source',
  });
}
