/**
 * The built-in schedulers (spec §10), registered by name. Importing this module
 * registers them; {@link registerBuiltinSchedulers} may be called again at no cost.
 */
import { dh } from './dh.js';
import { fo } from './fo.js';
import { lblc } from './lblc.js';
import { lblcr } from './lblcr.js';
import { lc } from './lc.js';
import { mh } from './mh.js';
import { nq } from './nq.js';
import { ovf } from './ovf.js';
import { findScheduler, registerScheduler } from './registry.js';
import { rr } from './rr.js';
import { sed } from './sed.js';
import { sh } from './sh.js';
import { twos } from './twos.js';
import type { SchedulerModule } from './types.js';
import { wlc } from './wlc.js';
import { wrr } from './wrr.js';

/** All 14, in the order ipvsadm's help lists them (twos, the newest, last). */
export const BUILTIN_SCHEDULERS: readonly SchedulerModule[] = [
  rr,
  wrr,
  lc,
  wlc,
  lblc,
  lblcr,
  dh,
  sh,
  sed,
  nq,
  fo,
  ovf,
  mh,
  twos,
];

/** Register every built-in scheduler that is not registered yet (idempotent). */
export function registerBuiltinSchedulers(): void {
  for (const mod of BUILTIN_SCHEDULERS) {
    if (findScheduler(mod.name) === undefined) registerScheduler(mod);
  }
}

registerBuiltinSchedulers();

export { dh, fo, lblc, lblcr, lc, mh, nq, ovf, rr, sed, sh, twos, wlc, wrr };
