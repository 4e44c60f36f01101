/**
 * Application helpers (the kernel's `struct ip_vs_app`, spec §9.1): registered per
 * (protocol, port), bound at conn creation to MASQ conns whose vport matches, with an
 * in hook (client→RS) and an out hook (RS→client) that may change the payload.
 */
import type { ConnNewArgs, ConnTable } from '../conn/table.js';
import type { Dest } from '../service.js';
import type { PacketView } from '../../wire/packet.js';

/** Hook results, as in the kernel: drop, OK, or payload changed (full checksum needed). */
export const APP_DROP = 0;
export const APP_OK = 1;
export const APP_MANGLED = 2;

/**
 * What a helper may use of the engine (the `Engine` facade implements it): the conn
 * table, its own per-conn data, and the conn lifecycle calls to create the
 * connections it expects (FTP data).
 */
export interface AppContext {
  readonly conns: ConnTable;
  readonly destById: readonly (Dest | null)[];
  readonly appData: Map<number, number>;
  readonly seqs: Map<number, Uint32Array>;
  /** End of the room the current packet may grow into (see `Engine.room`). */
  readonly room: number;
  connNew(...args: ConnNewArgs): number;
  connPut(id: number): void;
  setControl(id: number, ct: number): void;
  setState(id: number, state: number): void;
  resizePayload(pv: PacketView, delta: number): void;
}

export interface AppHelper {
  readonly name: string;
  readonly protocol: number;
  readonly ports: readonly number[];
  /** Called when a conn is bound (FTP: sets NFCT). */
  init?(eng: AppContext, conn: number): void;
  /** Called when a conn expires. */
  done?(eng: AppContext, conn: number): void;
  /**
   * client→RS packet, before ports are rewritten. May rewrite the payload in place in
   * `pv.buf` (growing or shrinking it within `cap` bytes from `pv.l3off`) and must then
   * fix the IP lengths through `eng.resizePayload`. Returns APP_DROP/APP_OK/APP_MANGLED.
   */
  in(eng: AppContext, conn: number, pv: PacketView, now: number, mark: number): number;
  /** RS→client packet, before ports are rewritten. */
  out(eng: AppContext, conn: number, pv: PacketView, now: number, mark: number): number;
}
