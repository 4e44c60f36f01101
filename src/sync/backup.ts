/**
 * Connection synchronisation, backup side (spec §12.5, the kernel's
 * `ip_vs_proc_conn`): each record received from a master creates or updates a conn
 * in the backup's engine, bound to the backup's own dest for it (found through its
 * own configuration), so that after a fail-over the backup carries the master's
 * connections on.
 *
 * @module
 */
import type { Engine } from '../engine/engine.js';
import type { Dest } from '../engine/service.js';
import {
  CONN_F_BACKUP_MASK,
  CONN_F_BACKUP_UPD_MASK,
  CONN_F_FWD_MASK,
  CONN_F_HASHED,
  CONN_F_INACTIVE,
  CONN_F_MASQ,
  CONN_F_SEQ_MASK,
  CONN_F_SYNC,
  CONN_F_TEMPLATE,
} from '../engine/constants.js';
import { protoGet } from '../engine/proto/index.js';
import type { SyncConn } from './message.js';

/** Templates synced in the v0 format get this timeout (they carry none). */
const V0_TEMPLATE_TIMEOUT_MS = 180_000;
/** The kernel caps a received timeout at MAX_SCHEDULE_TIMEOUT / HZ; 2^31 − 1 ms here. */
const MAX_TIMEOUT_S = Math.floor(0x7fffffff / 1000);

/** What became of one record. */
export type SyncOutcome = 'created' | 'updated' | 'replaced' | 'stale' | 'skipped';

/** The backup's dest for a record (`ip_vs_find_dest`), or null. */
function findDest(eng: Engine, r: SyncConn, flags: number): Dest | null {
  const svc = eng.serviceFind(r.af, r.fwmark, r.protocol, r.vaddr, 0, r.vport);
  if (!svc) return null;
  // fwmark services with DR/TUN dests may have port 0
  const port = r.fwmark !== 0 && (flags & CONN_F_FWD_MASK) !== CONN_F_MASQ ? 0 : r.dport;
  const match = (p: number): Dest | null => {
    for (const d of svc.dests) {
      if (d.af !== r.af || d.port !== p) continue;
      let same = true;
      for (let i = 0; i < (r.af === 4 ? 1 : 4); i++) if (d.addr[i] !== r.daddr[i]) same = false;
      if (same) return d;
    }
    return null;
  };
  return match(port) ?? match(port ^ r.dport);
}

/**
 * Applies one record (`version` is the datagram's format: v1 records carry a timeout
 * and are masked with BACKUP_MASK) at time `now` (ms; default the engine's last).
 * Returns what happened, for counters and tests.
 */
export function applySyncConn(eng: Engine, r: SyncConn, version: 0 | 1, now?: number): SyncOutcome {
  const c = eng.conns;
  if (now !== undefined) eng.now = now;
  let flags =
    ((version === 1 ? r.flags & CONN_F_BACKUP_MASK : r.flags) | CONN_F_SYNC) & ~CONN_F_HASHED;
  const template = (flags & CONN_F_TEMPLATE) !== 0;
  const state = r.state;
  if (!template) {
    // a protocol IPVS handles (TCP, UDP, SCTP), in one of its states
    const pp = protoGet(r.protocol);
    if (pp === null || state >= pp.numStates) return 'skipped';
  }
  let outcome: SyncOutcome = 'updated';
  let id: number;
  if (!template) {
    id = c.inLookup(r.af, r.protocol, r.caddr, 0, r.cport, r.vaddr, 0, r.vport);
    if (id >= 0) {
      let same = c.dport[id] === r.dport;
      for (let i = 0; i < (r.af === 4 ? 1 : 4); i++)
        if (c.daddr[id * 4 + i] !== r.daddr[i]) same = false;
      if (!same) {
        // the master moved this client to another real server
        if (flags & CONN_F_INACTIVE) return 'stale';
        eng.expireNow(id);
        id = -1;
        outcome = 'replaced';
      }
    }
  } else {
    id = c.templateLookup(r.af, r.protocol, r.caddr, r.cport, r.vaddr, r.vport);
  }
  if (id >= 0) {
    const did = c.dest[id];
    const d = did >= 0 ? eng.destById[did] : null;
    if (((c.flags[id] ^ flags) & CONN_F_INACTIVE) !== 0 && !template && d) {
      if (flags & CONN_F_INACTIVE) {
        d.activeconns--;
        d.inactconns++;
      } else {
        d.activeconns++;
        d.inactconns--;
      }
    }
    flags = (flags & CONN_F_BACKUP_UPD_MASK) | (c.flags[id] & ~CONN_F_BACKUP_UPD_MASK);
    c.flags[id] = flags;
    if (!d) {
      // still unbound: the backup's configuration may have the dest by now
      const nd = findDest(eng, r, flags);
      if (nd) {
        c.dest[id] = nd.id;
        c.flags[id] |= nd.connFlags & CONN_F_FWD_MASK;
        nd.bind(template, (c.flags[id] & CONN_F_INACTIVE) !== 0);
      }
    }
  } else {
    const dest = findDest(eng, r, flags);
    id = eng.connNew(
      r.af,
      r.protocol,
      r.caddr,
      0,
      r.cport,
      r.vaddr,
      0,
      r.vport,
      r.daddr,
      0,
      r.dport,
      flags,
      dest,
      r.fwmark,
    );
    if (outcome !== 'replaced') outcome = 'created';
  }
  if (r.inSeq || r.outSeq) {
    const s = new Uint32Array(6);
    if (r.inSeq) s.set([r.inSeq.initSeq, r.inSeq.delta, r.inSeq.previousDelta], 0);
    if (r.outSeq) s.set([r.outSeq.initSeq, r.outSeq.delta, r.outSeq.previousDelta], 3);
    eng.seqs.set(id, s);
  } else if ((c.flags[id] & CONN_F_SEQ_MASK) === 0) {
    eng.seqs.delete(id);
  }
  c.inPkts[id] = eng.settings.sync_threshold[0];
  c.state[id] = state;
  c.oldState[id] = state;
  if (r.timeout !== undefined && r.timeout > 0) {
    c.timeout[id] = Math.min(r.timeout, MAX_TIMEOUT_S) * 1000;
  } else if (template) {
    c.timeout[id] = V0_TEMPLATE_TIMEOUT_MS;
  } else {
    // the state's timeout from the protocol's table
    c.timeout[id] = eng.ipvs.timeouts[r.protocol][state];
  }
  eng.connPut(id);
  return outcome;
}
