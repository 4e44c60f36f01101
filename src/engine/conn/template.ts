/**
 * Persistence templates (spec §4.5): the kernel's `ip_vs_check_template`, the
 * neutralising of a template whose dest went away, and the ASSURED mark a template
 * gets once a connection it controls is established (or, for UDP, answered).
 */
import { CONN_F_TEMPLATE, TEMPLATE_ASSURED } from '../constants.js';
import type { Ipvs } from '../ipvs.js';

/** Mark the template controlling `id` ASSURED (random drop_entry spares it, §2.9). */
export function assureTemplate(ipvs: Ipvs, id: number): void {
  const c = ipvs.conns;
  const ct = c.control[id];
  if (ct >= 0 && c.flags[ct] & CONN_F_TEMPLATE) c.state[ct] |= TEMPLATE_ASSURED;
}

/**
 * ip_vs_check_template: whether template `t` may still pick its dest — the dest is
 * available and not quiesced under expire_quiescent_template. An invalid template is
 * neutralised (made unmatchable: it lives until its timer expires and it controls
 * nobody) and false returned.
 */
export function checkTemplate(ipvs: Ipvs, t: number): boolean {
  const c = ipvs.conns;
  const d = ipvs.destById[c.dest[t]];
  if (
    d !== null &&
    d !== undefined &&
    d.available &&
    !(ipvs.settings.expire_quiescent_template && d.weight === 0)
  )
    return true;
  if (c.cport[t] !== 0 || c.vport[t] !== 0xffff) {
    c.unhash(t);
    c.vport[t] = 0xffff;
    c.dport[t] = 0xffff;
    c.cport[t] = 0;
    c.hash(t);
  }
  return false;
}
