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
 * Over 600 lines: this is the one typed face of the whole shim (every descriptor kind,
 * its metadata words and the io_uring behind TUN reads); split, the halves would import
 * each other.
 *
 * @module
 */
import { createRequire } from 'node:module';

/** Int32 words of metadata per packet in {@link Batch.meta}. */
export const META_STRIDE = 8;

/** Metadata word: byte offset of the packet in `buf` (all kinds). */
export const M_OFF = 0;
/** Metadata word: length of the packet in bytes (all kinds). */
export const M_LEN = 1;
/** Metadata word after a write: 0 when sent, else the errno that refused this packet alone. */
export const M_ERR = 7;

/** Packet socket read: interface index the frame came from. */
export const M_PKT_IFINDEX = 2;
/** Packet socket read: `sll_pkttype` (0 host, 1 broadcast, 2 multicast, 3 other host, 4 outgoing). */
export const M_PKT_TYPE = 3;
/** Packet socket read: EtherType; datagram socket write: EtherType to send with. */
export const M_PKT_PROTO = 4;
/** Packet socket read: original length (greater than the length when truncated). */
export const M_PKT_ORIGLEN = 5;
/** Datagram packet socket write: destination MAC bytes 0–1 (as a 16-bit number). */
export const M_PKT_MAC_HI = 2;
/** Datagram packet socket write: destination MAC bytes 2–5 (as a 32-bit number). */
export const M_PKT_MAC_LO = 3;

/** Raw socket read: source address; raw socket write: destination. IPv4 uses one word, IPv6 four (2..5), big-endian words. */
export const M_RAW_ADDR = 2;
/** Raw socket read: original length (greater than the length when truncated). */
export const M_RAW_ORIGLEN = 6;

/** Netfilter queue read and verdict: packet id. */
export const M_NFQ_ID = 2;
/** Netfilter queue read: skb mark. */
export const M_NFQ_MARK = 3;
/** Netfilter queue verdict: the verdict ({@link NF_ACCEPT}, {@link NF_DROP}...). */
export const M_NFQ_VERDICT = 3;
/** Netfilter queue read: input interface index (0 if none). */
export const M_NFQ_INDEV = 4;
/** Netfilter queue verdict: new mark, used when bit 0 of {@link M_NFQ_FLAGS} is set. */
export const M_NFQ_SETMARK = 4;
/** Netfilter queue read: output interface index (0 if none). */
export const M_NFQ_OUTDEV = 5;
/** Netfilter queue verdict: bit 0 = set the mark from {@link M_NFQ_SETMARK}. */
export const M_NFQ_FLAGS = 5;
/** Netfilter queue read: hardware protocol (EtherType) | hook number << 16. */
export const M_NFQ_PROTO_HOOK = 6;
/** Netfilter queue verdict: queue number the packet came from. */
export const M_NFQ_QUEUE = 6;
/** Netfilter queue read: skb info flags ({@link NFQ_SKB_CSUMNOTREADY}...) | queue number << 16. */
export const M_NFQ_INFO_QUEUE = 7;

/** Netfilter verdicts. */
export const NF_DROP = 0;
export const NF_ACCEPT = 1;
export const NF_REPEAT = 4;

/** Netfilter hook numbers as reported in {@link M_NFQ_PROTO_HOOK}. */
export const NF_INET_PRE_ROUTING = 0;
export const NF_INET_LOCAL_IN = 1;
export const NF_INET_FORWARD = 2;
export const NF_INET_LOCAL_OUT = 3;
export const NF_INET_POST_ROUTING = 4;

/** NFQA_SKB_INFO: the L4 checksum is partial (pseudo-header only), to be completed by whoever sends. */
export const NFQ_SKB_CSUMNOTREADY = 1;
/** NFQA_SKB_INFO: the packet is a GSO super-packet. */
export const NFQ_SKB_GSO = 2;
/** NFQA_SKB_INFO: the checksum has not been verified by the receiving device. */
export const NFQ_SKB_CSUM_NOTVERIFIED = 4;

/** TUNSETOFFLOAD flags (linux/if_tun.h). */
/** Bytes left free in front of every packet read from a TUN device (for a link-layer header). */
export const TUN_READ_GAP = 64;

export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_TSO_ECN = 0x08;
export const TUN_F_UFO = 0x10;
export const TUN_F_USO4 = 0x20;
export const TUN_F_USO6 = 0x40;

/** Size of `struct virtio_net_hdr` (flags, gso_type, hdr_len, gso_size, csum_start, csum_offset). */
export const VNET_HDR_LEN = 10;
/** Size of `struct virtio_net_hdr_v1` / `_mrg_rxbuf` (adds num_buffers). */
export const VNET_HDR_V1_LEN = 12;

/** EtherTypes used when opening packet sockets. */
export const ETH_P_ALL = 0x0003;
export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;

/** IP protocol numbers used with raw sockets. */
export const IPPROTO_IPIP = 4;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_RAW = 255;

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
