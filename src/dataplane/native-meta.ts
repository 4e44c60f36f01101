/**
 * The numbers the native shim and its callers share: the per-packet metadata words of
 * a batch (`Batch` in native.ts) (which word means what, per kind of descriptor), netfilter verdicts,
 * hooks and queue flags, TUN offload flags, virtio-net header sizes, EtherTypes and
 * IP protocol numbers. Mirrored in native/tsvs_native.c.
 *
 * @module
 */
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

/** Bytes left free in front of every packet read from a TUN device (for a link-layer header). */
export const TUN_READ_GAP = 64;

/** TUNSETOFFLOAD flags (linux/if_tun.h). */

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
