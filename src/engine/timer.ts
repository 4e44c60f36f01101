/**
 * The engine's periodic work, driven by the caller's clock (the kernel's timers):
 * connection expiry on the timing wheel, defense_work once a second (with the
 * random drop_entry and the schedulers' garbage collection), the rate estimators
 * every 2 s, and the dest trash every 60 s.
 */
import { connExpire } from './conn/conn.js';
import { trashExpire } from './ctl.js';
import { randomDropEntry, updateDefenseLevel } from './defense.js';
import type { Ipvs } from './ipvs.js';

const ESTIMATE_MS = 2000;
const TRASH_CHECK_MS = 60_000;

/** Expire conns and run the periodic jobs up to `now` (ms). */
export function ipvsTick(ipvs: Ipvs, now: number, expire: (id: number) => void): void {
  ipvs.now = now;
  ipvs.conns.advance(now, expire);
  const sec = Math.floor(now / 1000);
  if (sec !== ipvs.lastSecond) {
    ipvs.lastSecond = sec;
    updateDefenseLevel(ipvs);
    if (ipvs.dropEntryActive) randomDropEntry(ipvs);
    for (const s of ipvs.services) s.scheduler?.tick?.(s, now);
    // tsvs: the table gives memory back after a flood, one halving a second
    ipvs.conns.shrinkStep();
  }
  if (ipvs.lastEstimate < 0) ipvs.lastEstimate = now;
  if (
    now - ipvs.lastEstimate >= ESTIMATE_MS &&
    ipvs.settings.run_estimation &&
    ipvs.services.length > 0
  ) {
    while (now - ipvs.lastEstimate >= ESTIMATE_MS) {
      ipvs.lastEstimate += ESTIMATE_MS;
      ipvs.totals.estimate();
      for (const s of ipvs.services) {
        s.stats.estimate();
        for (const d of s.dests) d.stats.estimate();
      }
    }
  }
  if (ipvs.lastTrash < 0) ipvs.lastTrash = now;
  if (now - ipvs.lastTrash >= TRASH_CHECK_MS) {
    ipvs.lastTrash = now;
    trashExpire(ipvs, now);
  }
}

/** The expiry callback for the wheel: one closure per engine, made once. */
export function expireCallback(ipvs: Ipvs): (id: number) => void {
  return (id) => {
    // a conn whose packets the kernel forwarded meanwhile is re-armed, not expired
    const fp = ipvs.fastpath;
    if (fp !== null && fp.expiring(id)) return;
    connExpire(ipvs, id);
  };
}
