/**
 * Network interfaces and namespaces through the addon: index, MAC and MTU of a device,
 * running code inside another network namespace, and MAC formatting helpers.
 *
 * @module
 */
import { loadNative } from './native.js';

/** Interface index by name (throws ENODEV). */
export function interfaceIndex(name: string): number {
  return loadNative().ifIndex(name);
}

/** MAC address of an interface (6 bytes). */
export function interfaceMac(name: string): Uint8Array {
  return loadNative().ifHwAddr(name);
}

/** MTU of an interface. */
export function interfaceMtu(name: string): number {
  return loadNative().ifMtu(name);
}

/**
 * Runs `fn` with the calling thread in network namespace `ns` (a name under
 * /run/netns, as `ip netns add` creates, or an absolute path), then switches back.
 * Devices and sockets opened inside stay in that namespace. Synchronous only: do not
 * await inside `fn`.
 */
export function withNetns<T>(ns: string, fn: () => T): T {
  const n = loadNative();
  const path = ns.startsWith('/') ? ns : `/run/netns/${ns}`;
  const old = n.setNetns(path);
  try {
    return fn();
  } finally {
    n.restoreNetns(old);
  }
}

/** Formats a MAC address as `aa:bb:cc:dd:ee:ff`. */
export function formatMac(mac: Uint8Array): string {
  return Array.from(mac.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Splits a MAC into the two meta words of a datagram packet-socket write. */
export function macWords(mac: Uint8Array): [hi: number, lo: number] {
  return [(mac[0] << 8) | mac[1], (mac[2] << 24) | (mac[3] << 16) | (mac[4] << 8) | mac[5] | 0];
}
