/**
 * Application helpers (the kernel's `struct ip_vs_app`, spec §9.1): registered per
 * (protocol, port), bound at conn creation to MASQ conns whose vport matches, with an
 * in hook (client→RS) and an out hook (RS→client) that may change the payload.
 */
import type { Engine } from '../engine.js';
import type { PacketView } from '../../wire/packet.js';

/** Hook results, as in the kernel: drop, OK, or payload changed (full checksum needed). */
export const APP_DROP = 0;
export const APP_OK = 1;
export const APP_MANGLED = 2;

export interface AppHelper {
  readonly name: string;
  readonly protocol: number;
  readonly ports: readonly number[];
  /** Called when a conn is bound (FTP: sets NFCT). */
  init?(eng: Engine, conn: number): void;
  /** Called when a conn expires. */
  done?(eng: Engine, conn: number): void;
  /**
   * client→RS packet, before ports are rewritten. May rewrite the payload in place in
   * `pv.buf` (growing or shrinking it within `cap` bytes from `pv.l3off`) and must then
   * fix the IP lengths through `eng.resizePayload`. Returns APP_DROP/APP_OK/APP_MANGLED.
   */
  in(eng: Engine, conn: number, pv: PacketView, now: number, mark: number): number;
  /** RS→client packet, before ports are rewritten. */
  out(eng: Engine, conn: number, pv: PacketView, now: number, mark: number): number;
}
