/**
 * Descriptors that outlive a daemon: a queue socket or TUN descriptor handed over by an
 * earlier daemon (`pidfd_getfd`) or kept by the service manager (`FDSTORE`), adopted
 * with the packets queued meanwhile; and descriptors sent to a Unix socket
 * (SCM_RIGHTS). The addon's wrappers for hand-over and restart
 * (src/daemon/takeover.ts, notify.ts).
 *
 * @module
 */
import { ChannelKind, DEFAULT_SLOT, loadNative, PacketChannel } from './native.js';

/**
 * A netfilter queue socket opened and bound by {@link openNfQueue} elsewhere (an
 * earlier daemon's, handed over or kept by the service manager): still bound, with
 * the packets queued meanwhile waiting on it.
 */
export function adoptNfQueue(fd: number, queue: number, copyRange = 65535): PacketChannel {
  loadNative().fdAdopt(fd);
  return new PacketChannel(ChannelKind.nfqueue, fd, copyRange + 512, 0, `nfqueue ${queue}`);
}

/** A TUN descriptor attached to device `name` elsewhere (see {@link adoptNfQueue}). */
export function adoptTun(fd: number, name: string, slot = DEFAULT_SLOT): PacketChannel {
  loadNative().fdAdopt(fd);
  return new PacketChannel(ChannelKind.tun, fd, slot, 0, name);
}

/** A copy of descriptor `fd` of process `pid` (pidfd_getfd; root). */
export function copyDescriptor(pid: number, fd: number): number {
  return loadNative().fdGet(pid, fd);
}

/** One datagram with descriptors (SCM_RIGHTS) to a Unix socket (`@name`: abstract). */
export function sendDescriptors(path: string, message: string, fds: number[]): void {
  loadNative().sendFds(path, Buffer.from(message), Int32Array.from(fds));
}
