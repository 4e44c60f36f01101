/**
 * The layouts of the kernel SYN-cookie program's maps (bpf/syncookie.c): its
 * configuration (the cookie keys, the engine's clock offset, the MTU) and its service
 * keys. Little-endian host fields, as the program reads them; change both together.
 *
 * @module
 */
import type { AddressFamily } from '../engine/constants.js';

/** struct sc_conf: k[4], off_ms (s64), mtu, on. */
export const SC_CONF_BYTES = 32;
/** struct sc_key: addr[4] (host-order words), port (host order), proto, af. */
export const SC_KEY_BYTES = 20;
/** Counter slots of tsvs_sc_counts (per CPU): SYN-ACKs sent, helper failures. */
export const SC_SENT = 0;
export const SC_ERRORS = 1;
export const SC_NCOUNT = 2;

/** Writes the configuration value into `b` (SC_CONF_BYTES). */
export function encodeConf(
  b: Uint8Array,
  keys: Int32Array,
  offMs: number,
  mtu: number,
  on: boolean,
): void {
  const v = new DataView(b.buffer, b.byteOffset, SC_CONF_BYTES);
  for (let i = 0; i < 4; i++) v.setInt32(i * 4, keys[i], true);
  v.setBigInt64(16, BigInt(Math.trunc(offMs)), true);
  v.setUint32(24, mtu >>> 0, true);
  v.setUint32(28, on ? 1 : 0, true);
}

/** Writes a service key into `b` (SC_KEY_BYTES). */
export function encodeSvcKey(
  b: Uint8Array,
  af: AddressFamily,
  addr: ArrayLike<number>,
  port: number,
  proto: number,
): void {
  const v = new DataView(b.buffer, b.byteOffset, SC_KEY_BYTES);
  for (let i = 0; i < 4; i++) v.setUint32(i * 4, af === 4 && i > 0 ? 0 : addr[i] >>> 0, true);
  v.setUint16(16, port, true);
  b[18] = proto;
  b[19] = af;
}
