/**
 * What every protocol with a state table shares (TCP and SCTP, the kernel's
 * set_tcp_state / set_sctp_state): the tables written as text and parsed once, the
 * direction block a packet is looked up in, and the real server's connection
 * accounting — the part that moves a conn between its dest's activeconns and
 * inactconns (spec §2.5) — with the state's timeout.
 */
import { CONN_F_INACTIVE, CONN_F_NOOUTPUT } from '../constants.js';
import type { Ipvs } from '../ipvs.js';
import { DIR_INPUT_ONLY, DIR_OUTPUT } from './types.js';

/**
 * One direction block of a state table written as rows of state abbreviations
 * (`names[n]` abbreviates state n), e.g. `'SR ES ES SR'` → `[3, 1, 1, 3]`. Runs at
 * module load; an unknown abbreviation is a programming error and throws.
 */
export function parseStateBlock(names: readonly string[], rows: readonly string[]): number[][] {
  return rows.map((r) =>
    r
      .trim()
      .split(/\s+/)
      .map((a) => {
        const n = names.indexOf(a);
        if (n < 0) throw new Error(`state table: unknown state ${a}`);
        return n;
      }),
  );
}

/**
 * The block a packet of conn `id` in `dir` is looked up in: INPUT-ONLY while the conn
 * has seen no reply (CONN_F_NOOUTPUT: DR/TUN, where the server's packets bypass the
 * director); the first reply clears the flag and uses the OUTPUT block.
 */
export function transitionBlock(ipvs: Ipvs, id: number, dir: number): number {
  const c = ipvs.conns;
  if (!(c.flags[id] & CONN_F_NOOUTPUT)) return dir;
  if (dir === DIR_OUTPUT) {
    c.flags[id] &= ~CONN_F_NOOUTPUT;
    return dir;
  }
  return DIR_INPUT_ONLY;
}

/**
 * Puts conn `id` of `protocol` into `state` as a helper or sync does (no table): the
 * dest's accounting by `active` and the state's timeout.
 */
export function setStateAccounted(
  ipvs: Ipvs,
  id: number,
  protocol: number,
  state: number,
  active: boolean,
): void {
  destAccount(ipvs, id, active);
  ipvs.conns.state[id] = state;
  ipvs.conns.timeout[id] = ipvs.timeouts[protocol][state];
}

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
