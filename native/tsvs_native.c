/*
 * tsvs native shim: the smallest C needed to capture and transmit packets from
 * Node.js. Everything else (parsing, rewriting, scheduling) lives in TypeScript.
 *
 * What is here:
 *   - TUN devices (IFF_TUN | IFF_NO_PI, optional virtio-net header + offloads)
 *   - AF_PACKET sockets bound to one interface (optional PACKET_VNET_HDR)
 *   - raw IP sockets (IPv4 with IP_HDRINCL, IPv6 IPPROTO_RAW) for sending and
 *     receiving one IP protocol (e.g. IPIP for decapsulation)
 *   - a netfilter queue netlink socket (bind, copy-packet mode, GSO and fail-open
 *     flags), packet messages parsed into a metadata array, batched verdicts with
 *     optional replaced payload
 *   - batched, non-blocking reads/writes into one caller-provided buffer, so JS is
 *     entered once per batch, and libuv readiness (uv_poll_t) with one callback
 *     per wake-up
 *   - a few interface helpers (ifindex, MAC, MTU) and socket buffer sizes
 *   - descriptors kept across a restart or hand-over: a copy of another process's
 *     descriptor (pidfd_getfd), descriptors sent with a datagram (SCM_RIGHTS, for the
 *     service manager's descriptor store), an inherited descriptor made ours
 *
 * Batch layout shared by every read and write: `buf` holds the bytes, `meta` is an
 * Int32Array with META_STRIDE (8) words per packet; words 0 and 1 are always the
 * byte offset and length of the packet in `buf`, the others depend on the kind of
 * descriptor (see native.ts for the authoritative description).
 *
 * Written from the Linux uapi headers and man pages (netlink(7), packet(7),
 * raw(7), tun documentation); no code from libnetfilter_queue or libmnl.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "tsvs_napi.h"

#define META_STRIDE 8

/* descriptor kinds, mirrored in native.ts */
#define TUN_GAP 64
enum { KIND_TUN = 0, KIND_PACKET = 1, KIND_RAW4 = 2, KIND_RAW6 = 3, KIND_NFQ = 4, KIND_PACKET_DGRAM = 5 };

static int set_nonblock_cloexec(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -1;
  return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* ------------------------------------------------------------------- TUN */

/* tunOpen(name, vnetHdrSize, offloadFlags, multiQueue) -> [fd, actualName] */
static napi_value tun_open(napi_env env, napi_callback_info info) {
  TSVS_ARGS(4);
  char name[IFNAMSIZ] = {0};
  int32_t vnet, offload, mq;
  if (tsvs_arg_str(env, argv[0], name, sizeof name) || tsvs_arg_i32(env, argv[1], &vnet) || tsvs_arg_i32(env, argv[2], &offload) ||
      tsvs_arg_i32(env, argv[3], &mq))
    return NULL;
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    tsvs_throw_errno(env, "open /dev/net/tun", errno);
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  if (vnet > 0) ifr.ifr_flags |= IFF_VNET_HDR;
  if (mq) ifr.ifr_flags |= IFF_MULTI_QUEUE;
  memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    tsvs_throw_errno(env, "ioctl TUNSETIFF", e);
    return NULL;
  }
  if (vnet > 0) {
    int sz = vnet;
    if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
      int e = errno;
      close(fd);
      tsvs_throw_errno(env, "ioctl TUNSETVNETHDRSZ", e);
      return NULL;
    }
  }
  if (offload != 0) {
    if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)offload) < 0) {
      int e = errno;
      close(fd);
      tsvs_throw_errno(env, "ioctl TUNSETOFFLOAD", e);
      return NULL;
    }
  }
  napi_value arr, nm;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, tsvs_i32(env, fd));
  napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &nm);
  napi_set_element(env, arr, 1, nm);
  return arr;
}

/* ---------------------------------------------------------- packet socket */

#define PKT_F_IGNORE_OUTGOING 1
#define PKT_F_QDISC_BYPASS 2

/* packetOpen(ifindex, ethertype, dgram, vnetHdr, flags) -> fd */
static napi_value packet_open(napi_env env, napi_callback_info info) {
  TSVS_ARGS(5);
  int32_t ifindex, proto, dgram, vnet, flags;
  if (tsvs_arg_i32(env, argv[0], &ifindex) || tsvs_arg_i32(env, argv[1], &proto) || tsvs_arg_i32(env, argv[2], &dgram) ||
      tsvs_arg_i32(env, argv[3], &vnet) || tsvs_arg_i32(env, argv[4], &flags))
    return NULL;
  int fd = socket(AF_PACKET, (dgram ? SOCK_DGRAM : SOCK_RAW) | SOCK_NONBLOCK | SOCK_CLOEXEC, htons((uint16_t)proto));
  if (fd < 0) {
    tsvs_throw_errno(env, "socket AF_PACKET", errno);
    return NULL;
  }
  const char *step = NULL;
  int one = 1;
  if (vnet && setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) step = "setsockopt PACKET_VNET_HDR";
  if (!step && (flags & PKT_F_IGNORE_OUTGOING) &&
      setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0)
    step = "setsockopt PACKET_IGNORE_OUTGOING";
  if (!step && (flags & PKT_F_QDISC_BYPASS) && setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) < 0)
    step = "setsockopt PACKET_QDISC_BYPASS";
  if (!step) {
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons((uint16_t)proto);
    sll.sll_ifindex = ifindex;
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) step = "bind AF_PACKET";
  }
  if (step) {
    int e = errno;
    close(fd);
    tsvs_throw_errno(env, step, e);
    return NULL;
  }
  return tsvs_i32(env, fd);
}

/* ------------------------------------------------------------- raw socket */

/* rawOpen(family 4|6, protocol, hdrincl) -> fd */
static napi_value raw_open(napi_env env, napi_callback_info info) {
  TSVS_ARGS(3);
  int32_t fam, proto, hdrincl;
  if (tsvs_arg_i32(env, argv[0], &fam) || tsvs_arg_i32(env, argv[1], &proto) || tsvs_arg_i32(env, argv[2], &hdrincl)) return NULL;
  int af = fam == 6 ? AF_INET6 : AF_INET;
  int fd = socket(af, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (fd < 0) {
    tsvs_throw_errno(env, "socket SOCK_RAW", errno);
    return NULL;
  }
  int one = 1;
  if (hdrincl && proto != IPPROTO_RAW) {
    int r = af == AF_INET ? setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof one)
                          : setsockopt(fd, IPPROTO_IPV6, 36 /* IPV6_HDRINCL */, &one, sizeof one);
    if (r < 0) {
      int e = errno;
      close(fd);
      tsvs_throw_errno(env, "setsockopt HDRINCL", e);
      return NULL;
    }
  }
  return tsvs_i32(env, fd);
}

/* ------------------------------------------------------------ nfnetlink queue */

#define NFQ_F_GSO 1
#define NFQ_F_FAIL_OPEN 2
#define NFQ_F_CONNTRACK 4

#define NLA_ALIGN4(x) (((x) + 3u) & ~3u)

static size_t put_attr(uint8_t *p, uint16_t type, const void *data, uint16_t len) {
  struct nlattr *a = (struct nlattr *)p;
  a->nla_type = type;
  a->nla_len = (uint16_t)(NLA_HDRLEN + len);
  if (len) memcpy(p + NLA_HDRLEN, data, len);
  size_t total = NLA_ALIGN4(NLA_HDRLEN + len);
  memset(p + NLA_HDRLEN + len, 0, total - NLA_HDRLEN - len);
  return total;
}

static size_t put_nfq_header(uint8_t *p, uint16_t msgtype, uint16_t flags, uint16_t queue, uint32_t seq) {
  struct nlmsghdr *nh = (struct nlmsghdr *)p;
  nh->nlmsg_len = NLMSG_HDRLEN + sizeof(struct nfgenmsg);
  nh->nlmsg_type = (uint16_t)((NFNL_SUBSYS_QUEUE << 8) | msgtype);
  nh->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
  nh->nlmsg_seq = seq;
  nh->nlmsg_pid = 0;
  struct nfgenmsg *g = (struct nfgenmsg *)(p + NLMSG_HDRLEN);
  g->nfgen_family = AF_UNSPEC;
  g->version = NFNETLINK_V0;
  g->res_id = htons(queue);
  return NLMSG_HDRLEN + sizeof(struct nfgenmsg);
}

/* Send one config request with NLM_F_ACK and wait (blocking, bounded) for its ack. */
static int nfq_request(int fd, uint8_t *msg, size_t len, uint32_t seq) {
  struct sockaddr_nl dst;
  memset(&dst, 0, sizeof dst);
  dst.nl_family = AF_NETLINK;
  if (sendto(fd, msg, len, 0, (struct sockaddr *)&dst, sizeof dst) < 0) return -errno;
  uint8_t rbuf[8192];
  for (int tries = 0; tries < 100; tries++) {
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n = recv(fd, rbuf, sizeof rbuf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    for (struct nlmsghdr *nh = (struct nlmsghdr *)rbuf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
      if (nh->nlmsg_seq != seq || nh->nlmsg_type != NLMSG_ERROR) continue;
      struct nlmsgerr *e = (struct nlmsgerr *)NLMSG_DATA(nh);
      return e->error; /* 0 = ack, negative errno otherwise */
    }
  }
  return -ETIMEDOUT;
}

/* nfqOpen(queueNum, copyRange, maxLen, flags, rcvbuf) -> fd */
static napi_value nfq_open(napi_env env, napi_callback_info info) {
  TSVS_ARGS(5);
  int32_t qnum, copy_range, maxlen, flags, rcvbuf;
  if (tsvs_arg_i32(env, argv[0], &qnum) || tsvs_arg_i32(env, argv[1], &copy_range) || tsvs_arg_i32(env, argv[2], &maxlen) ||
      tsvs_arg_i32(env, argv[3], &flags) || tsvs_arg_i32(env, argv[4], &rcvbuf))
    return NULL;
  if (qnum < 0 || qnum > 65535) {
    tsvs_throw_msg(env, "nfqOpen: queue number must be 0..65535");
    return NULL;
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    tsvs_throw_errno(env, "socket NETLINK_NETFILTER", errno);
    return NULL;
  }
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(fd);
    tsvs_throw_errno(env, "bind NETLINK_NETFILTER", e);
    return NULL;
  }
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
  if (rcvbuf > 0) {
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }
  int sndbuf = 4 * 1024 * 1024;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) < 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

  uint8_t msg[256];
  uint32_t seq = 1;
  int err;
  const char *step;

  /* bind the queue */
  size_t len = put_nfq_header(msg, NFQNL_MSG_CONFIG, NLM_F_ACK, (uint16_t)qnum, seq);
  struct nfqnl_msg_config_cmd cmd = {.command = NFQNL_CFG_CMD_BIND, ._pad = 0, .pf = htons(AF_UNSPEC)};
  len += put_attr(msg + len, NFQA_CFG_CMD, &cmd, sizeof cmd);
  ((struct nlmsghdr *)msg)->nlmsg_len = (uint32_t)len;
  step = "nfqueue bind";
  err = nfq_request(fd, msg, len, seq++);

  if (!err) {
    len = put_nfq_header(msg, NFQNL_MSG_CONFIG, NLM_F_ACK, (uint16_t)qnum, seq);
    struct nfqnl_msg_config_params params;
    params.copy_range = htonl((uint32_t)copy_range);
    params.copy_mode = NFQNL_COPY_PACKET;
    len += put_attr(msg + len, NFQA_CFG_PARAMS, &params, sizeof params);
    if (maxlen > 0) {
      uint32_t ml = htonl((uint32_t)maxlen);
      len += put_attr(msg + len, NFQA_CFG_QUEUE_MAXLEN, &ml, sizeof ml);
    }
    uint32_t fl = 0;
    if (flags & NFQ_F_GSO) fl |= NFQA_CFG_F_GSO;
    if (flags & NFQ_F_FAIL_OPEN) fl |= NFQA_CFG_F_FAIL_OPEN;
    if (flags & NFQ_F_CONNTRACK) fl |= NFQA_CFG_F_CONNTRACK;
    uint32_t flbe = htonl(fl), maskbe = htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_CONNTRACK);
    len += put_attr(msg + len, NFQA_CFG_FLAGS, &flbe, sizeof flbe);
    len += put_attr(msg + len, NFQA_CFG_MASK, &maskbe, sizeof maskbe);
    ((struct nlmsghdr *)msg)->nlmsg_len = (uint32_t)len;
    step = "nfqueue config";
    err = nfq_request(fd, msg, len, seq++);
  }
  if (err) {
    close(fd);
    tsvs_throw_errno(env, step, -err);
    return NULL;
  }
  struct timeval tv0 = {0, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv0, sizeof tv0);
  if (set_nonblock_cloexec(fd) < 0) {
    int e = errno;
    close(fd);
    tsvs_throw_errno(env, "fcntl O_NONBLOCK", e);
    return NULL;
  }
  return tsvs_i32(env, fd);
}

/*
 * Parse every NFQNL_MSG_PACKET message in [p, p+n) into meta entries.
 * Meta: [payloadOff, payloadLen, id, mark, indev, outdev, hwProto | hook<<16, skbInfo | queue<<16]
 * Returns the number of entries written (at most cap).
 */
static int nfq_parse(uint8_t *base, size_t off, size_t n, int32_t *meta, int cap) {
  int count = 0;
  uint8_t *p = base + off;
  int rem = (int)n; /* signed: NLMSG_NEXT may step past the end of the last message */
  for (struct nlmsghdr *nh = (struct nlmsghdr *)p; NLMSG_OK(nh, rem) && count < cap; nh = NLMSG_NEXT(nh, rem)) {
    if (nh->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) continue;
    if (nh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nfgenmsg)) continue;
    struct nfgenmsg *g = (struct nfgenmsg *)NLMSG_DATA(nh);
    int32_t *m = meta + (size_t)count * META_STRIDE;
    memset(m, 0, META_STRIDE * sizeof(int32_t));
    m[0] = -1;
    m[7] = (int32_t)((uint32_t)ntohs(g->res_id) << 16);
    int have_hdr = 0;
    uint8_t *a = (uint8_t *)g + NLMSG_ALIGN(sizeof(struct nfgenmsg));
    uint8_t *end = (uint8_t *)nh + nh->nlmsg_len;
    while (a + NLA_HDRLEN <= end) {
      struct nlattr *at = (struct nlattr *)a;
      if (at->nla_len < NLA_HDRLEN || a + at->nla_len > end) break;
      uint8_t *d = a + NLA_HDRLEN;
      uint16_t dl = (uint16_t)(at->nla_len - NLA_HDRLEN);
      uint32_t v;
      switch (at->nla_type & NLA_TYPE_MASK) {
        case NFQA_PACKET_HDR:
          if (dl >= sizeof(struct nfqnl_msg_packet_hdr)) {
            struct nfqnl_msg_packet_hdr *ph = (struct nfqnl_msg_packet_hdr *)d;
            m[2] = (int32_t)ntohl(ph->packet_id);
            m[6] = (int32_t)(ntohs(ph->hw_protocol) | ((uint32_t)ph->hook << 16));
            have_hdr = 1;
          }
          break;
        case NFQA_MARK:
          if (dl >= 4) memcpy(&v, d, 4), m[3] = (int32_t)ntohl(v);
          break;
        case NFQA_IFINDEX_INDEV:
          if (dl >= 4) memcpy(&v, d, 4), m[4] = (int32_t)ntohl(v);
          break;
        case NFQA_IFINDEX_OUTDEV:
          if (dl >= 4) memcpy(&v, d, 4), m[5] = (int32_t)ntohl(v);
          break;
        case NFQA_SKB_INFO:
          if (dl >= 4) memcpy(&v, d, 4), m[7] |= (int32_t)(ntohl(v) & 0xffff);
          break;
        case NFQA_PAYLOAD:
          m[0] = (int32_t)(d - base);
          m[1] = dl;
          break;
        default:
          break;
      }
      a += NLA_ALIGN4(at->nla_len);
    }
    if (!have_hdr) continue;
    if (m[0] < 0) { /* no payload (copy range 0): point at the message, length 0 */
      m[0] = (int32_t)((uint8_t *)nh - base);
      m[1] = 0;
    }
    count++;
  }
  return count;
}

/* ------------------------------------------------------------ batched read */

static int transient(int e) { return e == EAGAIN || e == EWOULDBLOCK; }

#define NFQ_RECV_CHUNK 64

/*
 * Netlink queue reads: recvmmsg, one system call for up to NFQ_RECV_CHUNK messages
 * (one queued packet each), every message in its own slot of `slot` bytes (8-byte
 * aligned), parsed into meta. Returns the number of packets, or -errno when the
 * first read fails for another reason than "nothing ready".
 */
static int nfq_read(int fd, uint8_t *buf, size_t buflen, int32_t *meta, int cap, int slot) {
  struct mmsghdr msgs[NFQ_RECV_CHUNK];
  struct iovec iov[NFQ_RECV_CHUNK];
  size_t stride = ((size_t)slot + 7u) & ~(size_t)7u;
  size_t off = 0;
  int n = 0, tries = 0;
  while (n < cap) {
    int k = 0;
    while (k < NFQ_RECV_CHUNK && n + k < cap && off + (size_t)(k + 1) * stride <= buflen) k++;
    if (k == 0) break;
    memset(msgs, 0, sizeof msgs[0] * (size_t)k);
    for (int j = 0; j < k; j++) {
      iov[j].iov_base = buf + off + (size_t)j * stride;
      iov[j].iov_len = (size_t)slot;
      msgs[j].msg_hdr.msg_iov = &iov[j];
      msgs[j].msg_hdr.msg_iovlen = 1;
    }
    int r = recvmmsg(fd, msgs, (unsigned)k, MSG_DONTWAIT, NULL);
    if (r < 0) {
      int e = errno;
      /* ENOBUFS: the kernel dropped messages (reported once); go on reading */
      if ((e == EINTR || e == ENOBUFS) && ++tries < 4) continue;
      if (transient(e) || n > 0 || e == ENOBUFS) break;
      return -e;
    }
    for (int j = 0; j < r && n < cap; j++)
      n += nfq_parse(buf, off + (size_t)j * stride, msgs[j].msg_len, meta + (size_t)n * META_STRIDE, cap - n);
    off += (size_t)r * stride;
    if (r < k) break; /* drained */
  }
  return n;
}

/*
 * readBatch(kind, fd, buf, meta, max, slot) -> count
 *
 * Reads until the descriptor has nothing more (EAGAIN), `max` packets were read,
 * or fewer than `slot` bytes are left in `buf`. Packets start 8-byte aligned.
 * An error after at least one packet ends the batch quietly (it will show up
 * again on the next call); an error on the first read throws.
 */
static napi_value read_batch(napi_env env, napi_callback_info info) {
  TSVS_ARGS(6);
  int32_t kind, fd, max, slot;
  uint8_t *buf;
  size_t buflen, metalen;
  int32_t *meta;
  if (tsvs_arg_i32(env, argv[0], &kind) || tsvs_arg_i32(env, argv[1], &fd) || tsvs_arg_u8(env, argv[2], &buf, &buflen) ||
      tsvs_arg_i32arr(env, argv[3], &meta, &metalen) || tsvs_arg_i32(env, argv[4], &max) || tsvs_arg_i32(env, argv[5], &slot))
    return NULL;
  int cap = (int)(metalen / META_STRIDE);
  if (max < cap) cap = max;
  if (slot <= 0) slot = 65536 + 64;
  if (kind == KIND_NFQ) {
    int r = nfq_read(fd, buf, buflen, meta, cap, slot);
    if (r < 0) {
      tsvs_throw_errno(env, "readBatch", -r);
      return NULL;
    }
    return tsvs_i32(env, r);
  }
  /* TUN packets get TUN_GAP bytes of headroom each (room for a link-layer header in
   * front of the IP packet when it is sent on through a packet socket) */
  size_t gap = kind == KIND_TUN ? TUN_GAP : 0;
  size_t off = gap;
  int n = 0;
  while (n < cap && buflen >= off + (size_t)slot) {
    uint8_t *p = buf + off;
    int32_t *m = meta + (size_t)n * META_STRIDE;
    ssize_t r;
    size_t got;
    switch (kind) {
      case KIND_TUN:
        r = read(fd, p, (size_t)slot);
        if (r < 0) break;
        memset(m, 0, META_STRIDE * sizeof(int32_t));
        m[0] = (int32_t)off;
        m[1] = (int32_t)r;
        break;
      case KIND_PACKET:
      case KIND_PACKET_DGRAM: {
        struct sockaddr_ll from;
        socklen_t fl = sizeof from;
        r = recvfrom(fd, p, (size_t)slot, MSG_TRUNC, (struct sockaddr *)&from, &fl);
        if (r < 0) break;
        got = (size_t)r > (size_t)slot ? (size_t)slot : (size_t)r;
        memset(m, 0, META_STRIDE * sizeof(int32_t));
        m[0] = (int32_t)off;
        m[1] = (int32_t)got;
        m[2] = from.sll_ifindex;
        m[3] = from.sll_pkttype;
        m[4] = ntohs(from.sll_protocol);
        m[5] = (int32_t)r; /* original length: > m[1] when truncated */
        r = (ssize_t)got;
        break;
      }
      case KIND_RAW4: {
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        r = recvfrom(fd, p, (size_t)slot, MSG_TRUNC, (struct sockaddr *)&from, &fl);
        if (r < 0) break;
        got = (size_t)r > (size_t)slot ? (size_t)slot : (size_t)r;
        memset(m, 0, META_STRIDE * sizeof(int32_t));
        m[0] = (int32_t)off;
        m[1] = (int32_t)got;
        m[2] = (int32_t)ntohl(from.sin_addr.s_addr);
        m[6] = (int32_t)r;
        r = (ssize_t)got;
        break;
      }
      case KIND_RAW6: {
        struct sockaddr_in6 from;
        socklen_t fl = sizeof from;
        r = recvfrom(fd, p, (size_t)slot, MSG_TRUNC, (struct sockaddr *)&from, &fl);
        if (r < 0) break;
        got = (size_t)r > (size_t)slot ? (size_t)slot : (size_t)r;
        memset(m, 0, META_STRIDE * sizeof(int32_t));
        m[0] = (int32_t)off;
        m[1] = (int32_t)got;
        for (int i = 0; i < 4; i++) {
          uint32_t w;
          memcpy(&w, from.sin6_addr.s6_addr + 4 * i, 4);
          m[2 + i] = (int32_t)ntohl(w);
        }
        m[6] = (int32_t)r;
        r = (ssize_t)got;
        break;
      }
      default:
        tsvs_throw_msg(env, "readBatch: unknown descriptor kind");
        return NULL;
    }
    if (r < 0) {
      int e = errno;
      if (e == EINTR) continue;
      if (kind == KIND_NFQ && e == ENOBUFS) continue;
      if (transient(e) || n > 0) break;
      tsvs_throw_errno(env, "readBatch", e);
      return NULL;
    }
    n++;
    off = ((off + (size_t)r + 7u) & ~(size_t)7u) + gap;
  }
  return tsvs_i32(env, n);
}

/* ----------------------------------------------------------- batched write */

#define SEND_CHUNK 64
#define NFQ_CHUNK 256
#define NFQ_HDR_MAX 48
#define NFQ_CHUNK_BYTES (2u * 1024u * 1024u)

static int nfq_write(int fd, uint8_t *buf, size_t buflen, int32_t *meta, int count) {
  static const uint8_t zeros[4] = {0, 0, 0, 0};
  uint8_t hdrs[NFQ_CHUNK][NFQ_HDR_MAX];
  struct iovec iov[NFQ_CHUNK * 3];
  int done = 0;
  while (done < count) {
    int k = 0, niov = 0;
    size_t bytes = 0;
    while (done + k < count && k < NFQ_CHUNK) {
      int32_t *m = meta + (size_t)(done + k) * META_STRIDE;
      int has_payload = m[1] >= 0 && (size_t)m[0] + (size_t)m[1] <= buflen;
      size_t plen = has_payload ? (size_t)m[1] : 0;
      if (k > 0 && bytes + plen + NFQ_HDR_MAX > NFQ_CHUNK_BYTES) break;
      uint8_t *h = hdrs[k];
      size_t hl = put_nfq_header(h, NFQNL_MSG_VERDICT, 0, (uint16_t)m[6], 0);
      struct nfqnl_msg_verdict_hdr vh = {.verdict = htonl((uint32_t)m[3]), .id = htonl((uint32_t)m[2])};
      hl += put_attr(h + hl, NFQA_VERDICT_HDR, &vh, sizeof vh);
      if (m[5] & 1) {
        uint32_t mk = htonl((uint32_t)m[4]);
        hl += put_attr(h + hl, NFQA_MARK, &mk, sizeof mk);
      }
      size_t total = hl;
      if (has_payload) {
        struct nlattr *a = (struct nlattr *)(h + hl);
        a->nla_type = NFQA_PAYLOAD;
        a->nla_len = (uint16_t)(NLA_HDRLEN + plen);
        hl += NLA_HDRLEN;
        total = hl + NLA_ALIGN4(plen);
      }
      ((struct nlmsghdr *)h)->nlmsg_len = (uint32_t)total;
      iov[niov].iov_base = h;
      iov[niov++].iov_len = hl;
      if (plen) {
        iov[niov].iov_base = buf + m[0];
        iov[niov++].iov_len = plen;
        if (NLA_ALIGN4(plen) != plen) {
          iov[niov].iov_base = (void *)zeros;
          iov[niov++].iov_len = NLA_ALIGN4(plen) - plen;
        }
      }
      m[7] = 0;
      bytes += total;
      k++;
    }
    struct sockaddr_nl dst;
    memset(&dst, 0, sizeof dst);
    dst.nl_family = AF_NETLINK;
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &dst;
    mh.msg_namelen = sizeof dst;
    mh.msg_iov = iov;
    mh.msg_iovlen = (size_t)niov;
    ssize_t r;
    do r = sendmsg(fd, &mh, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
      if (done > 0 && (transient(errno) || errno == ENOBUFS)) return done;
      return -errno;
    }
    done += k;
  }
  return done;
}

/*
 * writeBatch(kind, fd, buf, meta, count, ifindex) -> consumed
 *
 * Sends meta entries 0..count-1. Returns how many were consumed: sent, or
 * rejected by the kernel for that packet alone (its errno is then stored in
 * meta word 7, 0 when sent). Stops early, without error, when the descriptor
 * would block or the kernel is out of buffers; throws only if nothing at all
 * could be consumed for another reason.
 */
static napi_value write_batch(napi_env env, napi_callback_info info) {
  TSVS_ARGS(6);
  int32_t kind, fd, count, ifindex;
  uint8_t *buf;
  size_t buflen, metalen;
  int32_t *meta;
  if (tsvs_arg_i32(env, argv[0], &kind) || tsvs_arg_i32(env, argv[1], &fd) || tsvs_arg_u8(env, argv[2], &buf, &buflen) ||
      tsvs_arg_i32arr(env, argv[3], &meta, &metalen) || tsvs_arg_i32(env, argv[4], &count) || tsvs_arg_i32(env, argv[5], &ifindex))
    return NULL;
  if (count < 0 || (size_t)count * META_STRIDE > metalen) {
    tsvs_throw_msg(env, "writeBatch: count exceeds meta");
    return NULL;
  }
  for (int i = 0; i < count; i++) {
    int32_t *m = meta + (size_t)i * META_STRIDE;
    if (m[0] < 0 || (m[1] > 0 && (size_t)m[0] + (size_t)m[1] > buflen) || (kind != KIND_NFQ && m[1] < 0)) {
      tsvs_throw_msg(env, "writeBatch: packet outside the buffer");
      return NULL;
    }
  }
  if (kind == KIND_NFQ) {
    int r = nfq_write(fd, buf, buflen, meta, count);
    if (r < 0) {
      tsvs_throw_errno(env, "writeBatch (nfqueue verdict)", -r);
      return NULL;
    }
    return tsvs_i32(env, r);
  }
  if (kind == KIND_TUN) {
    int i = 0;
    for (; i < count; i++) {
      int32_t *m = meta + (size_t)i * META_STRIDE;
      ssize_t r;
      do r = write(fd, buf + m[0], (size_t)m[1]);
      while (r < 0 && errno == EINTR);
      if (r < 0) {
        int e = errno;
        if (transient(e) || e == ENOBUFS) break;
        m[7] = e;
      } else {
        m[7] = 0;
      }
    }
    if (i == 0 && count > 0) return tsvs_i32(env, 0);
    return tsvs_i32(env, i);
  }

  struct mmsghdr msgs[SEND_CHUNK];
  struct iovec iov[SEND_CHUNK];
  union {
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    struct sockaddr_ll ll;
  } names[SEND_CHUNK];
  int done = 0;
  while (done < count) {
    int k = count - done < SEND_CHUNK ? count - done : SEND_CHUNK;
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)k);
    for (int j = 0; j < k; j++) {
      int32_t *m = meta + (size_t)(done + j) * META_STRIDE;
      iov[j].iov_base = buf + m[0];
      iov[j].iov_len = (size_t)m[1];
      msgs[j].msg_hdr.msg_iov = &iov[j];
      msgs[j].msg_hdr.msg_iovlen = 1;
      switch (kind) {
        case KIND_RAW4:
          memset(&names[j].in4, 0, sizeof names[j].in4);
          names[j].in4.sin_family = AF_INET;
          names[j].in4.sin_addr.s_addr = htonl((uint32_t)m[2]);
          msgs[j].msg_hdr.msg_name = &names[j].in4;
          msgs[j].msg_hdr.msg_namelen = sizeof names[j].in4;
          break;
        case KIND_RAW6:
          memset(&names[j].in6, 0, sizeof names[j].in6);
          names[j].in6.sin6_family = AF_INET6;
          for (int w = 0; w < 4; w++) {
            uint32_t be = htonl((uint32_t)m[2 + w]);
            memcpy(names[j].in6.sin6_addr.s6_addr + 4 * w, &be, 4);
          }
          msgs[j].msg_hdr.msg_name = &names[j].in6;
          msgs[j].msg_hdr.msg_namelen = sizeof names[j].in6;
          break;
        case KIND_PACKET_DGRAM: {
          struct sockaddr_ll *ll = &names[j].ll;
          memset(ll, 0, sizeof *ll);
          ll->sll_family = AF_PACKET;
          ll->sll_ifindex = ifindex;
          ll->sll_protocol = htons((uint16_t)m[4]);
          ll->sll_halen = 6;
          uint32_t hi = (uint32_t)m[2], lo = (uint32_t)m[3];
          ll->sll_addr[0] = (uint8_t)(hi >> 8);
          ll->sll_addr[1] = (uint8_t)hi;
          ll->sll_addr[2] = (uint8_t)(lo >> 24);
          ll->sll_addr[3] = (uint8_t)(lo >> 16);
          ll->sll_addr[4] = (uint8_t)(lo >> 8);
          ll->sll_addr[5] = (uint8_t)lo;
          msgs[j].msg_hdr.msg_name = ll;
          msgs[j].msg_hdr.msg_namelen = sizeof *ll;
          break;
        }
        case KIND_PACKET:
          break; /* bound socket, frame carries its own link-layer header */
        default:
          tsvs_throw_msg(env, "writeBatch: unknown descriptor kind");
          return NULL;
      }
    }
    int r;
    do r = sendmmsg(fd, msgs, (unsigned)k, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
      int e = errno;
      if (transient(e) || e == ENOBUFS) break;
      /* this packet alone is refused (EMSGSIZE, ENETUNREACH, EPERM...): skip it */
      meta[(size_t)done * META_STRIDE + 7] = e;
      done++;
      continue;
    }
    for (int j = 0; j < r; j++) meta[(size_t)(done + j) * META_STRIDE + 7] = 0;
    done += r;
  }
  return tsvs_i32(env, done);
}

/* --------------------------------------------------------------- readiness */

typedef struct {
  uv_poll_t handle;
  napi_env env;
  napi_ref cb;
  napi_async_context ctx;
  int started, closed, finalized;
} poll_ctx;

static void poll_free_if_done(poll_ctx *p) {
  if (p->closed && p->finalized) free(p);
}

static void on_poll_close(uv_handle_t *h) {
  poll_ctx *p = (poll_ctx *)h->data;
  p->closed = 1;
  poll_free_if_done(p);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  poll_ctx *p = (poll_ctx *)h->data;
  if (!p->started) return;
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, args[2], res;
  if (napi_get_reference_value(env, p->cb, &cb) == napi_ok && cb != NULL) {
    napi_get_global(env, &recv);
    napi_create_int32(env, status, &args[0]);
    napi_create_int32(env, events, &args[1]);
    if (napi_make_callback(env, p->ctx, recv, cb, 2, args, &res) == napi_pending_exception) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void poll_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  poll_ctx *p = (poll_ctx *)data;
  p->finalized = 1;
  poll_free_if_done(p);
}

/* pollStart(fd, events (1 readable | 2 writable), callback(status, events)) -> handle */
static napi_value poll_start(napi_env env, napi_callback_info info) {
  TSVS_ARGS(3);
  int32_t fd, events;
  if (tsvs_arg_i32(env, argv[0], &fd) || tsvs_arg_i32(env, argv[1], &events)) return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  if (t != napi_function) {
    tsvs_throw_msg(env, "pollStart: callback must be a function");
    return NULL;
  }
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    tsvs_throw_msg(env, "pollStart: no event loop");
    return NULL;
  }
  poll_ctx *p = calloc(1, sizeof *p);
  if (!p) {
    tsvs_throw_errno(env, "pollStart", ENOMEM);
    return NULL;
  }
  p->env = env;
  int r = uv_poll_init(loop, &p->handle, fd);
  if (r < 0) {
    free(p);
    tsvs_throw_errno(env, "uv_poll_init", -r);
    return NULL;
  }
  p->handle.data = p;
  napi_create_reference(env, argv[2], 1, &p->cb);
  napi_value name, resource;
  napi_create_string_utf8(env, "tsvs:poll", NAPI_AUTO_LENGTH, &name);
  napi_create_object(env, &resource);
  napi_async_init(env, resource, name, &p->ctx);
  int uvev = ((events & 1) ? UV_READABLE : 0) | ((events & 2) ? UV_WRITABLE : 0);
  r = uv_poll_start(&p->handle, uvev, on_poll);
  if (r < 0) {
    napi_delete_reference(env, p->cb);
    napi_async_destroy(env, p->ctx);
    p->finalized = 1;
    uv_close((uv_handle_t *)&p->handle, on_poll_close);
    tsvs_throw_errno(env, "uv_poll_start", -r);
    return NULL;
  }
  p->started = 1;
  napi_value ext;
  napi_create_external(env, p, poll_finalize, NULL, &ext);
  return ext;
}

/* pollStop(handle): idempotent; must be called before the descriptor is closed */
static napi_value poll_stop(napi_env env, napi_callback_info info) {
  TSVS_ARGS(1);
  void *data;
  if (napi_get_value_external(env, argv[0], &data) != napi_ok) {
    tsvs_throw_msg(env, "pollStop: expected a poll handle");
    return NULL;
  }
  poll_ctx *p = (poll_ctx *)data;
  if (p->started) {
    p->started = 0;
    uv_poll_stop(&p->handle);
    napi_delete_reference(env, p->cb);
    napi_async_destroy(env, p->ctx);
    uv_close((uv_handle_t *)&p->handle, on_poll_close);
  }
  return NULL;
}

/* ----------------------------------------------------------------- helpers */

static napi_value fd_close(napi_env env, napi_callback_info info) {
  TSVS_ARGS(1);
  int32_t fd;
  if (tsvs_arg_i32(env, argv[0], &fd)) return NULL;
  if (close(fd) < 0 && errno != EINTR) {
    tsvs_throw_errno(env, "close", errno);
    return NULL;
  }
  return NULL;
}

static napi_value if_index(napi_env env, napi_callback_info info) {
  TSVS_ARGS(1);
  char name[IFNAMSIZ + 1] = {0};
  if (tsvs_arg_str(env, argv[0], name, sizeof name)) return NULL;
  unsigned idx = if_nametoindex(name);
  if (idx == 0) {
    tsvs_throw_errno(env, "if_nametoindex", errno);
    return NULL;
  }
  return tsvs_i32(env, (int32_t)idx);
}

static int if_ioctl(napi_env env, const char *name, unsigned long req, struct ifreq *ifr, const char *what) {
  memset(ifr, 0, sizeof *ifr);
  memcpy(ifr->ifr_name, name, strnlen(name, IFNAMSIZ - 1));
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    tsvs_throw_errno(env, "socket", errno);
    return -1;
  }
  int r = ioctl(s, req, ifr);
  int e = errno;
  close(s);
  if (r < 0) {
    tsvs_throw_errno(env, what, e);
    return -1;
  }
  return 0;
}

static napi_value if_hwaddr(napi_env env, napi_callback_info info) {
  TSVS_ARGS(1);
  char name[IFNAMSIZ + 1] = {0};
  struct ifreq ifr;
  if (tsvs_arg_str(env, argv[0], name, sizeof name) || if_ioctl(env, name, SIOCGIFHWADDR, &ifr, "ioctl SIOCGIFHWADDR"))
    return NULL;
  napi_value out;
  void *copy;
  napi_create_buffer_copy(env, 6, ifr.ifr_hwaddr.sa_data, &copy, &out);
  return out;
}

static napi_value if_mtu(napi_env env, napi_callback_info info) {
  TSVS_ARGS(1);
  char name[IFNAMSIZ + 1] = {0};
  struct ifreq ifr;
  if (tsvs_arg_str(env, argv[0], name, sizeof name) || if_ioctl(env, name, SIOCGIFMTU, &ifr, "ioctl SIOCGIFMTU")) return NULL;
  return tsvs_i32(env, ifr.ifr_mtu);
}

/* setSockBuf(fd, rcvbuf, sndbuf): 0 leaves a size unchanged; FORCE variants first (root) */
static napi_value set_sock_buf(napi_env env, napi_callback_info info) {
  TSVS_ARGS(3);
  int32_t fd, rcv, snd;
  if (tsvs_arg_i32(env, argv[0], &fd) || tsvs_arg_i32(env, argv[1], &rcv) || tsvs_arg_i32(env, argv[2], &snd)) return NULL;
  if (rcv > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) < 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv) < 0) {
    tsvs_throw_errno(env, "setsockopt SO_RCVBUF", errno);
    return NULL;
  }
  if (snd > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof snd) < 0 &&
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd) < 0) {
    tsvs_throw_errno(env, "setsockopt SO_SNDBUF", errno);
    return NULL;
  }
  return NULL;
}

/*
 * setNetns(path) -> fd of the namespace the calling thread was in before.
 * Lets the daemon (or a test) open TUN devices and sockets inside another network
 * namespace and return: a socket or device stays in the namespace it was created in.
 * restoreNetns(fd) switches back and closes fd.
 */
static napi_value set_netns(napi_env env, napi_callback_info info) {
  TSVS_ARGS(1);
  char path[512] = {0};
  if (tsvs_arg_str(env, argv[0], path, sizeof path)) return NULL;
  int old = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (old < 0) {
    tsvs_throw_errno(env, "open /proc/thread-self/ns/net", errno);
    return NULL;
  }
  int nfd = open(path, O_RDONLY | O_CLOEXEC);
  if (nfd < 0) {
    int e = errno;
    close(old);
    tsvs_throw_errno(env, "open netns", e);
    return NULL;
  }
  int r = setns(nfd, CLONE_NEWNET);
  int e = errno;
  close(nfd);
  if (r < 0) {
    close(old);
    tsvs_throw_errno(env, "setns", e);
    return NULL;
  }
  return tsvs_i32(env, old);
}

static napi_value restore_netns(napi_env env, napi_callback_info info) {
  TSVS_ARGS(1);
  int32_t fd;
  if (tsvs_arg_i32(env, argv[0], &fd)) return NULL;
  int r = setns(fd, CLONE_NEWNET);
  int e = errno;
  close(fd);
  if (r < 0) {
    tsvs_throw_errno(env, "setns (restore)", e);
    return NULL;
  }
  return NULL;
}

/* ------------------------------------------------------------------- init */

void tsvs_bpf_register(napi_env env, napi_value exports); /* tsvs_bpf.c */

/* ------------------------------------------------------- descriptor passing */

/*
 * fdGet(pid, fd) -> a copy of descriptor `fd` of process `pid` (pidfd_open +
 * pidfd_getfd; needs ptrace rights over it, which root has): the same open file, so a
 * netfilter queue's binding and a TUN device's attachment survive the other process.
 */
static napi_value fd_get(napi_env env, napi_callback_info info) {
  TSVS_ARGS(2);
  int32_t pid, fd;
  if (tsvs_arg_i32(env, argv[0], &pid) || tsvs_arg_i32(env, argv[1], &fd)) return NULL;
  int pfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (pfd < 0) {
    tsvs_throw_errno(env, "pidfd_open", errno);
    return NULL;
  }
  int nfd = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
  int e = errno;
  close(pfd);
  if (nfd < 0) {
    tsvs_throw_errno(env, "pidfd_getfd", e);
    return NULL;
  }
  return tsvs_i32(env, nfd);
}

/*
 * sendFds(path, message, fds) sends one datagram to the Unix socket `path` (`@` for
 * an abstract name) with the descriptors in `fds` (Int32Array) as SCM_RIGHTS: what
 * sd_notify(3) does for FDSTORE=1.
 */
static napi_value send_fds(napi_env env, napi_callback_info info) {
  TSVS_ARGS(3);
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1] = {0};
  uint8_t *msg;
  size_t len, nfds;
  int32_t *fds;
  if (tsvs_arg_str(env, argv[0], path, sizeof path) || tsvs_arg_u8(env, argv[1], &msg, &len) ||
      tsvs_arg_i32arr(env, argv[2], &fds, &nfds))
    return NULL;
  if (nfds > 253) {
    tsvs_throw_msg(env, "tsvs_native: too many descriptors");
    return NULL;
  }
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  size_t plen = strlen(path);
  if (plen == 0 || plen >= sizeof sa.sun_path) {
    tsvs_throw_msg(env, "tsvs_native: bad socket path");
    return NULL;
  }
  memcpy(sa.sun_path, path, plen);
  if (path[0] == '@') sa.sun_path[0] = 0;
  union {
    char buf[CMSG_SPACE(253 * sizeof(int))];
    struct cmsghdr align;
  } ctl;
  memset(&ctl, 0, sizeof ctl);
  struct iovec iov = {.iov_base = msg, .iov_len = len};
  struct msghdr mh = {.msg_name = &sa,
                      .msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen),
                      .msg_iov = &iov,
                      .msg_iovlen = 1};
  if (nfds > 0) {
    mh.msg_control = ctl.buf;
    mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
  }
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    tsvs_throw_errno(env, "socket", errno);
    return NULL;
  }
  ssize_t r = sendmsg(s, &mh, MSG_NOSIGNAL);
  int e = errno;
  close(s);
  if (r < 0) {
    tsvs_throw_errno(env, "sendmsg", e);
    return NULL;
  }
  return NULL;
}

/* fdAdopt(fd): an inherited descriptor made non-blocking and close-on-exec. */
static napi_value fd_adopt(napi_env env, napi_callback_info info) {
  TSVS_ARGS(1);
  int32_t fd;
  if (tsvs_arg_i32(env, argv[0], &fd)) return NULL;
  if (set_nonblock_cloexec(fd) < 0) {
    tsvs_throw_errno(env, "fcntl", errno);
    return NULL;
  }
  return NULL;
}
void tsvs_uring_register(napi_env env, napi_value exports); /* tsvs_uring.c */

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"tunOpen", NULL, tun_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"packetOpen", NULL, packet_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rawOpen", NULL, raw_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"nfqOpen", NULL, nfq_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readBatch", NULL, read_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writeBatch", NULL, write_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollStart", NULL, poll_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollStop", NULL, poll_stop, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, fd_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ifIndex", NULL, if_index, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ifHwAddr", NULL, if_hwaddr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ifMtu", NULL, if_mtu, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setSockBuf", NULL, set_sock_buf, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setNetns", NULL, set_netns, NULL, NULL, NULL, napi_enumerable, NULL},
      {"restoreNetns", NULL, restore_netns, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fdGet", NULL, fd_get, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendFds", NULL, send_fds, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fdAdopt", NULL, fd_adopt, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  tsvs_uring_register(env, exports);
  tsvs_bpf_register(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
