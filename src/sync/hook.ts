/**
 * Several listeners on the engine's per-connection hook (`Engine.syncMaster`, called
 * for every INPUT packet of a conn): the sync master (master.ts) and the daemon's
 * crash-recovery journal (daemon/journal.ts) hear the same events.
 *
 * With a hook set, the engine leaves one thing to it: counting a ONE_PACKET conn's
 * packet on its controller (the sync master does it as the kernel's ip_vs_sync_conn
 * does). Without a master among the listeners, the dispatcher does it, so listening
 * changes nothing in the engine.
 *
 * @module
 */
import type { Engine } from '../engine/engine.js';
import { CONN_F_ONE_PACKET } from '../engine/constants.js';

/** A listener: the conn id and its in_pkts (see `Engine.syncMaster`). */
export type ConnListener = (id: number, pkts: number) => void;

interface Taps {
  master: ConnListener | null;
  others: ConnListener[];
}

const taps = new WeakMap<Engine, Taps>();

function install(engine: Engine, t: Taps): void {
  const { master, others } = t;
  if (master === null && others.length === 0) {
    engine.syncMaster = null;
    return;
  }
  if (others.length === 0) {
    engine.syncMaster = master;
    return;
  }
  const c = engine.conns;
  const list = others.slice();
  engine.syncMaster = (id, pkts) => {
    if (master !== null) master(id, pkts);
    else if (c.flags[id] & CONN_F_ONE_PACKET && c.control[id] >= 0) c.inPkts[c.control[id]]++;
    for (let i = 0; i < list.length; i++) list[i](id, pkts);
  };
}

function tapsOf(engine: Engine): Taps {
  let t = taps.get(engine);
  if (!t) {
    t = { master: null, others: [] };
    taps.set(engine, t);
  }
  return t;
}

/** Sets (or with null clears) the sync master's listener. */
export function setMasterListener(engine: Engine, fn: ConnListener | null): void {
  const t = tapsOf(engine);
  t.master = fn;
  install(engine, t);
}

/** Adds a listener that only observes (the journal). Returns its removal. */
export function addConnListener(engine: Engine, fn: ConnListener): () => void {
  const t = tapsOf(engine);
  t.others.push(fn);
  install(engine, t);
  return () => {
    t.others = t.others.filter((f) => f !== fn);
    install(engine, t);
  };
}
