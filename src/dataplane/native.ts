/**
 * Typed access to the native shim (`native/tsvs_native.c`, built by node-gyp during
 * `npm install` into `build/Release/tsvs_native.node`).
 *
 * The shim only opens descriptors and moves bytes: TUN devices, packet sockets, raw IP
 * sockets and a netfilter queue socket, each read and written in batches through one
 * shared {@link Batch} (a byte buffer plus an `Int32Array` of per-packet metadata), and
 * libuv readiness callbacks so JS runs once per wake-up. Errors from C are thrown as
 * `Error`s whose `code` is the errno name (e.g. `EBUSY`) and whose message has the
 * errno text.
 *
 * Metadata: {@link META_STRIDE} words per packet. Words 0 and 1 are always the byte
 * offset and length of the packet in `buf`. The other words depend on the kind of
 * channel; the `M_*` constants name them.
 *
 * TUN channels can read and write through an io_uring (`native/tsvs_uring.c`,
 * {@link PacketChannel.useUring}): one system call per wake-up instead of one per packet.
 *
 * Beside it: `native-fds.ts` (descriptors adopted from an earlier daemon or the service
 * manager, and sent over Unix sockets), `native-if.ts` (interfaces and namespaces) and
 * `native-bpf.ts` (the bpf() wrappers of native/tsvs_bpf.c). The C side shares its
 * N-API helpers in native/tsvs_napi.c.
 *
 * @module
 */
import { createRequire } from 'node:module';
import {
  META_STRIDE,
  M_OFF,
  M_LEN,
  M_ERR,
  M_NFQ_ID,
  M_NFQ_VERDICT,
  M_NFQ_SETMARK,
  M_NFQ_FLAGS,
  M_NFQ_QUEUE,
  ETH_P_ALL,
} from './native-meta.js';

/** Descriptor kinds understood by the shim (mirrors the enum in tsvs_native.c). */
export const ChannelKind = {
  tun: 0,
  packet: 1,
  raw4: 2,
  raw6: 3,
  nfqueue: 4,
  packetDgram: 5,
} as const;
/** One of {@link ChannelKind}'s values. */
export type ChannelKind = (typeof ChannelKind)[keyof typeof ChannelKind];

/** Opaque libuv poll handle. */
export interface PollHandle {
  readonly __pollHandle: unique symbol;
}

/** The raw functions exported by the addon; prefer the typed wrappers below. */
export interface NativeBinding {
  tunOpen(name: string, vnetHdrSize: number, offload: number, multiQueue: number): [number, string];
  packetOpen(
    ifindex: number,
    ethertype: number,
    dgram: number,
    vnetHdr: number,
    flags: number,
  ): number;
  rawOpen(family: number, protocol: number, hdrIncl: number): number;
  nfqOpen(queue: number, copyRange: number, maxLen: number, flags: number, rcvBuf: number): number;
  readBatch(
    kind: number,
    fd: number,
    buf: Uint8Array,
    meta: Int32Array,
    max: number,
    slot: number,
  ): number;
  writeBatch(
    kind: number,
    fd: number,
    buf: Uint8Array,
    meta: Int32Array,
    count: number,
    ifindex: number,
  ): number;
  pollStart(fd: number, events: number, cb: (status: number, events: number) => void): PollHandle;
  pollStop(handle: PollHandle): void;
  close(fd: number): void;
  ifIndex(name: string): number;
  ifHwAddr(name: string): Uint8Array;
  ifMtu(name: string): number;
  setSockBuf(fd: number, rcvBuf: number, sndBuf: number): void;
  setNetns(path: string): number;
  restoreNetns(fd: number): void;
  fdGet(pid: number, fd: number): number;
  sendFds(path: string, message: Uint8Array, fds: Int32Array): void;
  fdAdopt(fd: number): void;
  // native/tsvs_uring.c
  uringOpen(entries: number): UringHandle;
  uringReadBatch(
    ring: UringHandle,
    fd: number,
    buf: Uint8Array,
    meta: Int32Array,
    max: number,
    slot: number,
    want: number,
  ): number;
  uringWriteBatch(
    ring: UringHandle,
    fd: number,
    buf: Uint8Array,
    meta: Int32Array,
    count: number,
  ): number;
  uringClose(ring: UringHandle): void;
}

/** Opaque io_uring instance of the shim (native/tsvs_uring.c). */
export interface UringHandle {
  readonly __uringHandle: unique symbol;
}

/** Entries of the io_uring: the most TUN reads or writes one system call carries. */
export const URING_ENTRIES = 256;
/** Fewest reads one io_uring wake-up asks for. */
const URING_MIN_WANT = 2;
/** Fewest packets a write batch sends through io_uring (bench/tun-read.ts: the break-even is 2–4). */
const URING_MIN_WRITES = 3;

let ring: UringHandle | null | undefined;
let ringError = '';

/**
 * The io_uring the TUN channels of this thread share (their calls run one after the
 * other, each submitting and reaping all its entries), opened on first use; null when
 * the kernel refuses it (ENOSYS, `kernel.io_uring_disabled`, seccomp...) — why is in
 * {@link uringUnavailable}.
 */
export function sharedUring(): UringHandle | null {
  if (ring !== undefined) return ring;
  try {
    ring = loadNative().uringOpen(URING_ENTRIES);
  } catch (e) {
    ring = null;
    ringError = (e as Error).message;
  }
  return ring;
}

/** Why {@link sharedUring} returned null ('' when it did not). */
export function uringUnavailable(): string {
  return ringError;
}

let binding: NativeBinding | undefined;
let loadError: Error | undefined;

/** Path of the compiled addon, relative to this module (dist/src/dataplane/native.js). */
export const NATIVE_ADDON_URL = new URL('../../../build/Release/tsvs_native.node', import.meta.url);

/**
 * Loads the addon once. Throws an Error explaining how to build it when it is missing
 * (`npm install` or `npx node-gyp rebuild`).
 */
export function loadNative(): NativeBinding {
  if (binding) return binding;
  if (loadError) throw loadError;
  try {
    const require = createRequire(import.meta.url);
    binding = require(NATIVE_ADDON_URL.pathname) as NativeBinding;
    return binding;
  } catch (e) {
    loadError = new Error(
      `tsvs native addon not loadable (${NATIVE_ADDON_URL.pathname}): ${(e as Error).message}; ` +
        'build it with `npm install` (runs node-gyp) on Linux with python3, make and a C compiler',
    );
    throw loadError;
  }
}

/** True when the addon can be loaded (for tests and `tsvs` to decide before using it). */
export function nativeAvailable(): boolean {
  try {
    loadNative();
    return true;
  } catch {
    return false;
  }
}

/** A shared batch: packet bytes in `buf`, {@link META_STRIDE} words per packet in `meta`. */
export interface Batch {
  readonly buf: Uint8Array;
  readonly meta: Int32Array;
  /** Maximum number of packets `meta` can describe. */
  readonly capacity: number;
}

/**
 * Allocates a batch of `bytes` bytes for up to `packets` packets. Allocate once per
 * channel (or per worker) and reuse it: reads overwrite it from offset 0.
 */
export function allocBatch(bytes: number, packets: number): Batch {
  return {
    buf: new Uint8Array(bytes),
    meta: new Int32Array(packets * META_STRIDE),
    capacity: packets,
  };
}

/** Default per-read space reserved: a 64 KiB GSO super-packet plus headers. */
export const DEFAULT_SLOT = 65536 + 128;

/**
 * One open descriptor of the shim with its kind: read and write batches, readiness
 * callback, close. Not per packet: create one per device or socket.
 */
export class PacketChannel {
  private poll: PollHandle | undefined;
  private closed = false;
  /** TUN reads and writes through this io_uring (see {@link useUring}). */
  private ring: UringHandle | null = null;
  /** Reads the next io_uring call asks for (adapts to what the last ones found). */
  private want = URING_MIN_WANT;
  /**
   * The last {@link read} filled all it asked for: more may be waiting. False when it
   * found the descriptor empty.
   */
  more = false;

  /**
   * @param kind what the descriptor is
   * @param fd the descriptor (non-blocking, close-on-exec)
   * @param slot bytes reserved for each read; a packet longer than this is truncated
   * @param ifindex interface for datagram packet socket writes (0 otherwise)
   * @param name device name (TUN) or a description, for messages
   */
  constructor(
    readonly kind: ChannelKind,
    readonly fd: number,
    readonly slot: number,
    readonly ifindex: number,
    readonly name: string,
  ) {}

  /**
   * Reads as many packets as are ready, up to `max`, into `batch` from offset 0 and
   * fills `batch.meta`. Returns the number read (0 when nothing is ready). Packets read
   * from a TUN device each have {@link TUN_READ_GAP} unused bytes in front of them.
   */
  read(batch: Batch, max: number = batch.capacity): number {
    const r = this.ring;
    if (r !== null) {
      // one system call for `want` reads; the empty ones cost a failed dequeue each
      const want = this.want < max ? this.want : max;
      let n = -1;
      try {
        n = loadNative().uringReadBatch(r, this.fd, batch.buf, batch.meta, max, this.slot, want);
      } catch (e) {
        // refused by this kernel for this file (e.g. EOPNOTSUPP for RWF_NOWAIT): the
        // error is the plain read's to report, if it has one
        if (
          (e as { code?: string }).code !== 'EOPNOTSUPP' &&
          (e as { code?: string }).code !== 'EINVAL'
        )
          throw e;
        this.ring = null;
      }
      if (n >= 0) {
        // next time: twice as many when this one filled up, else what came plus 2
        // (each read that finds nothing costs a failed dequeue inside the call)
        this.more = n >= want;
        const w = this.more ? want * 2 : n + URING_MIN_WANT;
        this.want = w > URING_ENTRIES ? URING_ENTRIES : w;
        return n;
      }
    }
    const n = loadNative().readBatch(this.kind, this.fd, batch.buf, batch.meta, max, this.slot);
    this.more = n >= max;
    return n;
  }

  /**
   * TUN only: from now on, reads and writes go through the thread's io_uring (many
   * packets per system call; packets read are each in their own `slot`-sized area, at
   * {@link TUN_READ_GAP} from its start). Returns false (and changes nothing) when
   * io_uring is not available; `false` as argument goes back to read()/write().
   */
  useUring(on = true): boolean {
    if (!on || this.kind !== ChannelKind.tun) {
      this.ring = null;
      return !on;
    }
    this.ring = sharedUring();
    return this.ring !== null;
  }

  /** Reads and writes go through io_uring. */
  get uring(): boolean {
    return this.ring !== null;
  }

  /**
   * Sends packets 0..count-1 described by `batch.meta` (verdicts for a netfilter
   * queue). Returns how many were consumed; fewer than `count` means the descriptor
   * would block (retry the rest when writable). Packets refused one by one have their
   * errno in {@link M_ERR}.
   */
  write(batch: Batch, count: number): number {
    const r = this.ring;
    // (one io_uring_enter costs more than one write(): below 3 packets, plain writes)
    if (r !== null && count >= URING_MIN_WRITES)
      return loadNative().uringWriteBatch(r, this.fd, batch.buf, batch.meta, count);
    return loadNative().writeBatch(this.kind, this.fd, batch.buf, batch.meta, count, this.ifindex);
  }

  /**
   * Calls `onReady` once per libuv wake-up while the descriptor is readable (level
   * triggered: if a callback leaves packets unread it is called again). Replaces a
   * previous callback. `onError` receives poll errors (e.g. the device went away).
   */
  onReadable(onReady: () => void, onError?: (err: Error) => void): void {
    this.stopPolling();
    this.poll = loadNative().pollStart(this.fd, 1, (status) => {
      if (status < 0) {
        if (onError) onError(new Error(`${this.name}: poll failed (libuv status ${status})`));
        return;
      }
      onReady();
    });
  }

  /** Stops readiness callbacks (idempotent). */
  stopPolling(): void {
    if (this.poll) {
      loadNative().pollStop(this.poll);
      this.poll = undefined;
    }
  }

  /** Sets socket buffer sizes in bytes (0 leaves one unchanged); root may exceed the sysctl limits. */
  setBuffers(rcvBuf: number, sndBuf: number): void {
    loadNative().setSockBuf(this.fd, rcvBuf, sndBuf);
  }

  /** Stops polling and closes the descriptor (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ring = null;
    this.stopPolling();
    loadNative().close(this.fd);
  }
}

/** Options of {@link openTun}. */
export interface TunOptions {
  /** Device name; a pattern with `%d` or empty lets the kernel choose. */
  name?: string;
  /** Prepend a virtio-net header of this size to every packet (10 or 12); 0 = none. */
  vnetHdrSize?: number;
  /** TUNSETOFFLOAD flags ({@link TUN_F_CSUM}...); needs a vnet header. */
  offload?: number;
  /** IFF_MULTI_QUEUE, so several descriptors can attach to the same device. */
  multiQueue?: boolean;
  /** See {@link PacketChannel} `slot`. */
  slot?: number;
}

/**
 * Creates (or attaches to) a TUN device in the calling thread's network namespace:
 * IFF_TUN | IFF_NO_PI, so every read/write is one IP packet (preceded by the
 * virtio-net header when requested). The device is down until configured (`ip link`),
 * and disappears when the channel is closed (unless made persistent elsewhere).
 */
export function openTun(opts: TunOptions = {}): PacketChannel {
  const vnet = opts.vnetHdrSize ?? 0;
  const [fd, name] = loadNative().tunOpen(
    opts.name ?? '',
    vnet,
    opts.offload ?? 0,
    opts.multiQueue ? 1 : 0,
  );
  return new PacketChannel(ChannelKind.tun, fd, opts.slot ?? DEFAULT_SLOT, 0, name);
}

/** Options of {@link openPacketSocket}. */
export interface PacketSocketOptions {
  /** Interface name (or give `ifindex`). */
  ifname?: string;
  ifindex?: number;
  /** EtherType to receive (default {@link ETH_P_ALL}; 0 receives nothing, for send-only sockets). */
  protocol?: number;
  /** SOCK_DGRAM: the kernel adds/strips the link-layer header; writes give the destination MAC in meta. */
  dgram?: boolean;
  /**
   * PACKET_VNET_HDR: a 10-byte virtio-net header precedes every frame (GSO/checksum
   * offload; csum_start counts from the Ethernet header). The kernel allows it on
   * SOCK_RAW only, so not with `dgram`.
   */
  vnetHdr?: boolean;
  /** PACKET_IGNORE_OUTGOING: do not read back what this host sends. */
  ignoreOutgoing?: boolean;
  /** PACKET_QDISC_BYPASS: send straight to the driver. */
  qdiscBypass?: boolean;
  slot?: number;
}

/** Opens an AF_PACKET socket bound to one interface. */
export function openPacketSocket(opts: PacketSocketOptions): PacketChannel {
  const n = loadNative();
  const ifindex = opts.ifindex ?? (opts.ifname !== undefined ? n.ifIndex(opts.ifname) : 0);
  if (!ifindex) throw new Error('openPacketSocket: ifname or ifindex required');
  if (opts.vnetHdr && opts.dgram)
    throw new Error('openPacketSocket: vnetHdr needs a SOCK_RAW socket (dgram false)');
  const flags = (opts.ignoreOutgoing ? 1 : 0) | (opts.qdiscBypass ? 2 : 0);
  const fd = n.packetOpen(
    ifindex,
    opts.protocol ?? ETH_P_ALL,
    opts.dgram ? 1 : 0,
    opts.vnetHdr ? 1 : 0,
    flags,
  );
  const kind = opts.dgram ? ChannelKind.packetDgram : ChannelKind.packet;
  return new PacketChannel(
    kind,
    fd,
    opts.slot ?? DEFAULT_SLOT,
    ifindex,
    opts.ifname ?? `ifindex ${ifindex}`,
  );
}

/** Options of {@link openRawSocket}. */
export interface RawSocketOptions {
  family: 4 | 6;
  /** IP protocol: {@link IPPROTO_RAW} (send only, header included), {@link IPPROTO_IPIP}... */
  protocol: number;
  /** Writes carry the IP header (IP_HDRINCL / IPV6_HDRINCL; implied by IPPROTO_RAW). */
  hdrIncl?: boolean;
  slot?: number;
}

/**
 * Opens a raw IP socket. Reads of an IPv4 raw socket include the IP header, IPv6 ones
 * do not (raw(7), raw6). Writes go to the address in meta word {@link M_RAW_ADDR}.
 */
export function openRawSocket(opts: RawSocketOptions): PacketChannel {
  const fd = loadNative().rawOpen(opts.family, opts.protocol, opts.hdrIncl ? 1 : 0);
  const kind = opts.family === 6 ? ChannelKind.raw6 : ChannelKind.raw4;
  return new PacketChannel(
    kind,
    fd,
    opts.slot ?? DEFAULT_SLOT,
    0,
    `raw${opts.family}/${opts.protocol}`,
  );
}

/** Options of {@link openNfQueue}. */
export interface NfQueueOptions {
  /** Queue number (0..65535) used by the `NFQUEUE --queue-num` rule. */
  queue: number;
  /** Bytes of each packet copied to user space (default 65535: whole packets). */
  copyRange?: number;
  /** Kernel queue length before packets are dropped, or accepted with `failOpen`. */
  maxLen?: number;
  /** NFQA_CFG_F_GSO: receive GSO super-packets whole (and partial checksums). */
  gso?: boolean;
  /** NFQA_CFG_F_FAIL_OPEN: accept instead of drop when the queue is full. */
  failOpen?: boolean;
  /** Receive buffer in bytes (default 8 MiB). */
  rcvBuf?: number;
}

/**
 * Binds a netfilter queue (copy-packet mode) on a NETLINK_NETFILTER socket. Fails
 * with EBUSY when another socket holds the queue. Reads fill meta with the packet
 * id, mark, interfaces, protocol/hook and skb info; the payload offset points into
 * the received netlink message. Writes send verdicts (meta: id, verdict, optional
 * mark, queue, optional replaced payload at off/len; len -1 = unchanged payload),
 * many per system call.
 */
export function openNfQueue(opts: NfQueueOptions): PacketChannel {
  const copy = opts.copyRange ?? 65535;
  const flags = (opts.gso ? 1 : 0) | (opts.failOpen ? 2 : 0);
  const fd = loadNative().nfqOpen(
    opts.queue,
    copy,
    opts.maxLen ?? 0,
    flags,
    opts.rcvBuf ?? 8 * 1024 * 1024,
  );
  return new PacketChannel(ChannelKind.nfqueue, fd, copy + 512, 0, `nfqueue ${opts.queue}`);
}

/**
 * Writes a verdict for queued packet `id` into entry `i` of `batch`. `payloadLen` -1
 * keeps the packet as queued; otherwise bytes `payloadOff..+payloadLen` of `batch.buf`
 * replace it (they may be the received payload rewritten in place).
 */
export function setVerdict(
  batch: Batch,
  i: number,
  queue: number,
  id: number,
  verdict: number,
  payloadOff = 0,
  payloadLen = -1,
): void {
  const m = batch.meta;
  const b = i * META_STRIDE;
  m[b + M_OFF] = payloadOff;
  m[b + M_LEN] = payloadLen;
  m[b + M_NFQ_ID] = id;
  m[b + M_NFQ_VERDICT] = verdict;
  m[b + M_NFQ_SETMARK] = 0;
  m[b + M_NFQ_FLAGS] = 0;
  m[b + M_NFQ_QUEUE] = queue;
  m[b + M_ERR] = 0;
}
