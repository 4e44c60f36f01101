/**
 * The real server's connection accounting shared by every protocol with active
 * states (the part of the kernel's set_tcp_state / set_sctp_state that moves a conn
 * between its dest's activeconns and inactconns, spec §2.5), written once.
 */
import { CONN_F_INACTIVE } from '../constants.js';
import type { Ipvs } from '../ipvs.js';

/**
 * Count conn `id` as active or inactive at its dest: when the conn's INACTIVE flag
 * disagrees with `active`, move it from one counter to the other.
 */
export function destAccount(ipvs: Ipvs, id: number, active: boolean): void {
  const c = ipvs.conns;
  const did = c.dest[id];
  const d = did >= 0 ? ipvs.destById[did] : null;
  if (!d) return;
  const inactive = (c.flags[id] & CONN_F_INACTIVE) !== 0;
  if (!inactive && !active) {
    d.activeconns--;
    d.inactconns++;
    c.flags[id] |= CONN_F_INACTIVE;
  } else if (inactive && active) {
    d.activeconns++;
    d.inactconns--;
    c.flags[id] &= ~CONN_F_INACTIVE;
  }
}
