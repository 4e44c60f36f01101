/**
 * One health check, run once: the dispatcher over keepalived's checkers (spec
 * keepalived-lvs-reference §3.1, keepalived 2.2's check_*.c), one module each in
 * `checkers/`: TCP_CHECK, HTTP_GET and SSL_GET, SMTP_CHECK, MISC_CHECK, PING_CHECK,
 * UDP_CHECK, DNS_CHECK, FILE_CHECK and BFD_CHECK. Checks run from the director's own
 * network namespace, as keepalived's do.
 *
 * Fail closed: a checker that cannot run (`unusable`, set when the file was read)
 * always fails with its reason, so even a caller that does not look at `unusable`
 * takes its real server out at the first check.
 *
 * @module
 */
import type { KaChecker } from './keepalived/types.js';
import type { CheckResult, CheckTarget } from './checkers/socket.js';
import { tcpCheck } from './checkers/tcp.js';
import { httpCheck } from './checkers/http.js';
import { smtpCheck } from './checkers/smtp.js';
import { miscCheck } from './checkers/misc.js';
import { pingCheck } from './checkers/ping.js';
import { udpCheck } from './checkers/udp.js';
import { dnsCheck } from './checkers/dns.js';
import { fileCheck } from './checkers/file.js';
import { bfdCheck } from './checkers/bfd.js';

export type { CheckResult, CheckTarget } from './checkers/socket.js';

/** Runs one check of `c` against the real server `t`. Never rejects. */
export async function runCheck(c: KaChecker, t: CheckTarget): Promise<CheckResult> {
  if (c.unusable !== undefined) return { ok: false, why: c.unusable };
  try {
    switch (c.type) {
      case 'TCP_CHECK':
        return await tcpCheck(c, t);
      case 'HTTP_GET':
      case 'SSL_GET':
        return await httpCheck(c, t);
      case 'SMTP_CHECK':
        return await smtpCheck(c, t);
      case 'MISC_CHECK':
        return await miscCheck(c, t);
      case 'PING_CHECK':
        return await pingCheck(c, t);
      case 'UDP_CHECK':
        return await udpCheck(c, t);
      case 'DNS_CHECK':
        return await dnsCheck(c, t);
      case 'FILE_CHECK':
        return await fileCheck(c, t);
      case 'BFD_CHECK':
        return await bfdCheck(c);
    }
  } catch (e) {
    return { ok: false, why: `${c.type}: ${(e as Error).message}` };
  }
}
