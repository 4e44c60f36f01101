/**
 * The defences against memory exhaustion (the kernel's update_defense_level,
 * ip_vs_todrop and ip_vs_random_dropentry, spec §2.6, §2.9): drop_entry, drop_packet
 * and secure_tcp, switched by the available memory the caller reports.
 */
import { CONN_F_TEMPLATE, SVC_F_ONEPACKET, TEMPLATE_ASSURED } from './constants.js';
import type { Ipvs } from './ipvs.js';
import { connDelete } from './conn/conn.js';
import { protoGet } from './proto/index.js';
import { DROPENTRY_ALWAYS, DROPENTRY_MAYBE } from './proto/types.js';

/** A conn idle for less than this is never dropped by drop_entry (§2.9). */
const DROPENTRY_IDLE_MS = 60_000;

/** update_defense_level (§2.6, §2.9). */
export function updateDefenseLevel(ipvs: Ipvs): void {
  const s = ipvs.settings;
  const avail = ipvs.availMem;
  const nomem = avail < s.amemthresh;
  // drop_entry
  switch (s.drop_entry) {
    case 0:
      ipvs.dropEntryActive = false;
      break;
    case 1:
      if (nomem) {
        ipvs.dropEntryActive = true;
        s.drop_entry = 2;
      } else ipvs.dropEntryActive = false;
      break;
    case 2:
      if (nomem) ipvs.dropEntryActive = true;
      else {
        ipvs.dropEntryActive = false;
        s.drop_entry = 1;
      }
      break;
    case 3:
      ipvs.dropEntryActive = true;
      break;
  }
  // drop_packet
  switch (s.drop_packet) {
    case 0:
      ipvs.dropRate = 0;
      break;
    case 1:
    case 2:
      if (nomem) {
        const diff = s.amemthresh - avail;
        ipvs.dropRate = ipvs.dropCounter = diff > 0 ? Math.floor(s.amemthresh / diff) : 0;
        s.drop_packet = 2;
      } else {
        ipvs.dropRate = 0;
        s.drop_packet = 1;
      }
      break;
    case 3:
      ipvs.dropRate = s.am_droprate;
      break;
  }
  // secure_tcp
  switch (s.secure_tcp) {
    case 1:
      if (nomem) s.secure_tcp = 2;
      break;
    case 2:
      if (!nomem) s.secure_tcp = 1;
      break;
  }
  ipvs.secureTable = s.secure_tcp > 1;
}

/** ip_vs_todrop: one of every drop_rate new-connection packets (§2.9). */
export function todrop(ipvs: Ipvs): boolean {
  if (ipvs.dropRate === 0) return false;
  if (--ipvs.dropCounter > 0) return false;
  ipvs.dropCounter = ipvs.dropRate;
  return true;
}

/** The "todrop" entry test of §2.9. */
function todropEntry(ipvs: Ipvs, id: number): boolean {
  const c = ipvs.conns;
  // keep if idle < 60 s: timeout + now < expires + 60 s
  if (c.timeout[id] + ipvs.now < c.expires[id] + DROPENTRY_IDLE_MS) return false;
  const i = c.inPkts[id];
  if (i > 8) return false;
  if (i === 0) return false;
  if (--ipvs.todropCounter[i] > 0) return false;
  ipvs.todropCounter[i] = i;
  return true;
}

/** ip_vs_random_dropentry: scan 1/32 of the table at random (§2.9). */
export function randomDropEntry(ipvs: Ipvs): void {
  const c = ipvs.conns;
  const n = Math.max(1, Math.ceil(c.cap / 32));
  const start = Math.floor(ipvs.random() * c.cap);
  for (let k = 0; k < n; k++) {
    const id = (start + k) % c.cap;
    if (!c.armed(id) || c.nControl[id] > 0) continue;
    const f = c.flags[id];
    let drop = false;
    if (f & CONN_F_TEMPLATE) {
      const d = ipvs.destById[c.dest[id]];
      if (d && d.svc.flags & SVC_F_ONEPACKET) drop = todropEntry(ipvs, id);
      else drop = !(c.state[id] & TEMPLATE_ASSURED);
    } else {
      const pp = protoGet(c.proto[id]);
      const what = pp !== null ? pp.dropEntry(c.state[id]) : DROPENTRY_MAYBE;
      if (what === DROPENTRY_ALWAYS) drop = true;
      else if (what === DROPENTRY_MAYBE) drop = todropEntry(ipvs, id);
    }
    if (drop) connDelete(ipvs, id);
  }
}
