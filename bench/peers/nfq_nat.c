/*
 * nfq_nat: the floor of tsvs's data-plane design, for bench:e2e.
 *
 * A minimal stateless NAT forwarder in C with exactly the capture and transmit
 * mechanism the tsvs director uses, and nothing else (no connection table, no
 * scheduler, no state machine): requests queued by NFQUEUE (NFQA_CFG_F_GSO) at
 * PREROUTING, destination VIP -> RIP rewritten, sent whole through a SOCK_RAW packet
 * socket with the virtio-net header (GSO + checksum offload) to the next hop's MAC;
 * replies queued at FORWARD, source RIP -> VIP rewritten, L4 checksum completed in full
 * when it was partial or the packet is a GSO super-packet, handed back with a batched
 * verdict carrying the new payload. Ports are not changed. Queued packets are read
 * with recvmmsg, many per system call, as the tsvs shim does.
 *
 *   nfq_nat QIN QOUT VIP RIP IFNAME DSTMAC
 *
 * The iptables rules that feed the queues are the caller's (bench/e2e.ts). Runs until
 * SIGTERM/SIGINT. Written for this benchmark from the Linux uapi headers and man pages
 * (netlink(7), packet(7)); IPv4, TCP and UDP only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define BATCH 64
#define SLOT (65536 + 512)
#define L2H 24 /* virtio_net_hdr (10) + Ethernet (14) */
#define ALIGN4(x) (((x) + 3u) & ~3u)

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

static void die(const char *what) {
  perror(what);
  exit(1);
}

/* ------------------------------------------------------------ netlink queue */

static size_t put_attr(uint8_t *p, uint16_t type, const void *data, uint16_t len) {
  struct nlattr *a = (struct nlattr *)p;
  a->nla_type = type;
  a->nla_len = (uint16_t)(NLA_HDRLEN + len);
  memcpy(p + NLA_HDRLEN, data, len);
  size_t t = ALIGN4(NLA_HDRLEN + len);
  memset(p + NLA_HDRLEN + len, 0, t - NLA_HDRLEN - len);
  return t;
}

static size_t put_hdr(uint8_t *p, uint16_t type, uint16_t flags, uint16_t queue) {
  struct nlmsghdr *nh = (struct nlmsghdr *)p;
  memset(nh, 0, sizeof *nh);
  nh->nlmsg_type = (uint16_t)((NFNL_SUBSYS_QUEUE << 8) | type);
  nh->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
  struct nfgenmsg *g = (struct nfgenmsg *)(p + NLMSG_HDRLEN);
  g->nfgen_family = AF_UNSPEC;
  g->version = NFNETLINK_V0;
  g->res_id = htons(queue);
  return NLMSG_HDRLEN + sizeof *g;
}

static void config(int fd, uint8_t *msg, size_t len) {
  ((struct nlmsghdr *)msg)->nlmsg_len = (uint32_t)len;
  struct sockaddr_nl dst = {.nl_family = AF_NETLINK};
  if (sendto(fd, msg, len, 0, (struct sockaddr *)&dst, sizeof dst) < 0) die("nfqueue config");
  uint8_t r[4096];
  ssize_t n = recv(fd, r, sizeof r, 0);
  if (n < 0) die("nfqueue config ack");
  struct nlmsghdr *nh = (struct nlmsghdr *)r;
  if (nh->nlmsg_type == NLMSG_ERROR && ((struct nlmsgerr *)NLMSG_DATA(nh))->error) {
    errno = -((struct nlmsgerr *)NLMSG_DATA(nh))->error;
    die("nfqueue config");
  }
}

static int queue_open(uint16_t q) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) die("socket NETLINK_NETFILTER");
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind netlink");
  int one = 1, buf = 8 << 20;
  setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf);
  uint8_t msg[256];
  size_t len = put_hdr(msg, NFQNL_MSG_CONFIG, NLM_F_ACK, q);
  struct nfqnl_msg_config_cmd cmd = {.command = NFQNL_CFG_CMD_BIND, .pf = htons(AF_UNSPEC)};
  len += put_attr(msg + len, NFQA_CFG_CMD, &cmd, sizeof cmd);
  config(fd, msg, len);
  len = put_hdr(msg, NFQNL_MSG_CONFIG, NLM_F_ACK, q);
  struct nfqnl_msg_config_params p = {.copy_range = htonl(65535), .copy_mode = NFQNL_COPY_PACKET};
  len += put_attr(msg + len, NFQA_CFG_PARAMS, &p, sizeof p);
  uint32_t ml = htonl(8192), fl = htonl(NFQA_CFG_F_GSO), mask = htonl(NFQA_CFG_F_GSO);
  len += put_attr(msg + len, NFQA_CFG_QUEUE_MAXLEN, &ml, sizeof ml);
  len += put_attr(msg + len, NFQA_CFG_FLAGS, &fl, sizeof fl);
  len += put_attr(msg + len, NFQA_CFG_MASK, &mask, sizeof mask);
  config(fd, msg, len);
  return fd;
}

/* one queued packet */
struct pkt {
  uint32_t id;
  uint8_t *data;
  uint32_t len;
  uint32_t info;
};

/* Parse one NFQNL_MSG_PACKET message; returns 0 when it is one. */
static int parse(uint8_t *m, size_t n, struct pkt *p) {
  struct nlmsghdr *nh = (struct nlmsghdr *)m;
  if (n < NLMSG_HDRLEN || nh->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) return -1;
  uint8_t *a = m + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
  uint8_t *end = m + (nh->nlmsg_len < n ? nh->nlmsg_len : n);
  p->data = NULL;
  p->info = 0;
  int have = 0;
  while (a + NLA_HDRLEN <= end) {
    struct nlattr *at = (struct nlattr *)a;
    if (at->nla_len < NLA_HDRLEN || a + at->nla_len > end) break;
    uint8_t *d = a + NLA_HDRLEN;
    uint32_t v;
    switch (at->nla_type & NLA_TYPE_MASK) {
      case NFQA_PACKET_HDR:
        p->id = ntohl(((struct nfqnl_msg_packet_hdr *)d)->packet_id);
        have = 1;
        break;
      case NFQA_SKB_INFO:
        memcpy(&v, d, 4);
        p->info = ntohl(v);
        break;
      case NFQA_PAYLOAD:
        p->data = d;
        p->len = at->nla_len - NLA_HDRLEN;
        break;
    }
    a += ALIGN4(at->nla_len);
  }
  return have && p->data ? 0 : -1;
}

/* ---------------------------------------------------------------- checksums */

static uint32_t sum16(const uint8_t *b, size_t n, uint32_t s) {
  for (; n > 1; n -= 2, b += 2) s += (uint32_t)(b[0] << 8 | b[1]);
  if (n) s += (uint32_t)b[0] << 8;
  return s;
}
static uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)s;
}
static uint16_t rd16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static void wr16(uint8_t *b, uint16_t v) {
  b[0] = (uint8_t)(v >> 8);
  b[1] = (uint8_t)v;
}

/* Rewrite the 4-byte address at ip+aoff to `to`, fixing the header and L4 checksums.
 * Returns the L4 checksum offset (from ip) or 0 for other protocols. */
static size_t nat(uint8_t *ip, size_t len, int aoff, uint32_t to, int partial) {
  size_t ihl = (size_t)(ip[0] & 15) * 4;
  uint8_t proto = ip[9];
  size_t ck = proto == 6 ? ihl + 16 : proto == 17 ? ihl + 6 : 0;
  if (ck && ck + 2 > len) ck = 0;
  uint16_t o0 = rd16(ip + aoff), o1 = rd16(ip + aoff + 2);
  uint16_t n0 = (uint16_t)(to >> 16), n1 = (uint16_t)to;
  wr16(ip + aoff, n0);
  wr16(ip + aoff + 2, n1);
  uint32_t d = (uint16_t)~o0 + (uint32_t)(uint16_t)~o1 + n0 + n1;
  wr16(ip + 10, (uint16_t)~fold((uint16_t)~rd16(ip + 10) + d));
  if (ck && !(proto == 17 && rd16(ip + ck) == 0)) {
    if (partial)
      wr16(ip + ck, fold(rd16(ip + ck) + d)); /* pseudo-header sum, not complemented */
    else
      wr16(ip + ck, (uint16_t)~fold((uint16_t)~rd16(ip + ck) + d));
  }
  return ck;
}

static void full_l4(uint8_t *ip, size_t len, size_t ck) {
  size_t ihl = (size_t)(ip[0] & 15) * 4;
  wr16(ip + ck, 0);
  uint32_t s = sum16(ip + 12, 8, ip[9] + (uint32_t)(len - ihl));
  s = sum16(ip + ihl, len - ihl, s);
  uint16_t c = (uint16_t)~fold(s);
  if (c == 0 && ip[9] == 17) c = 0xffff;
  wr16(ip + ck, c);
}

/* ------------------------------------------------------------------- main */

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: nfq_nat QIN QOUT VIP RIP IFNAME DSTMAC\n");
    return 2;
  }
  uint16_t qin = (uint16_t)atoi(argv[1]), qout = (uint16_t)atoi(argv[2]);
  struct in_addr va, ra;
  if (!inet_aton(argv[3], &va) || !inet_aton(argv[4], &ra)) return 2;
  uint32_t vip = ntohl(va.s_addr), rip = ntohl(ra.s_addr);
  int ifindex = (int)if_nametoindex(argv[5]);
  if (!ifindex) die("if_nametoindex");
  uint8_t eth[14];
  if (sscanf(argv[6], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &eth[0], &eth[1], &eth[2], &eth[3], &eth[4], &eth[5]) != 6)
    return 2;
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, argv[5], IFNAMSIZ - 1);
  if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0) die("SIOCGIFHWADDR");
  memcpy(eth + 6, ifr.ifr_hwaddr.sa_data, 6);
  if (ioctl(s, SIOCGIFMTU, &ifr) < 0) die("SIOCGIFMTU");
  int mtu = ifr.ifr_mtu;
  close(s);
  eth[12] = 0x08;
  eth[13] = 0x00;

  int fin = queue_open(qin), fout = queue_open(qout);
  int tx = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (tx < 0) die("socket AF_PACKET");
  int one = 1, sndbuf = 8 << 20;
  if (setsockopt(tx, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) die("PACKET_VNET_HDR");
  setsockopt(tx, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = ifindex};
  if (bind(tx, (struct sockaddr *)&sll, sizeof sll) < 0) die("bind AF_PACKET");

  signal(SIGTERM, on_sig);
  signal(SIGINT, on_sig);
  uint8_t *buf = malloc((size_t)BATCH * SLOT);
  struct pkt pk[BATCH];
  struct mmsghdr in[BATCH], out[BATCH];
  struct iovec riov[BATCH];
  struct iovec oiov[BATCH];
  uint8_t vhdr[BATCH][64];
  struct iovec viov[BATCH * 3];
  static const uint8_t zeros[4];
  unsigned long nin = 0, nout = 0;

  struct pollfd pf[2] = {{.fd = fin, .events = POLLIN}, {.fd = fout, .events = POLLIN}};
  while (!stop) {
    if (poll(pf, 2, 200) <= 0) continue;
    for (int w = 0; w < 2; w++) {
      if (!(pf[w].revents & POLLIN)) continue;
      int fd = pf[w].fd, req = w == 0;
      uint16_t qn = req ? qin : qout;
      /* one system call reads up to BATCH queued packets, each into its own slot */
      for (int j = 0; j < BATCH; j++) {
        riov[j].iov_base = buf + (size_t)j * SLOT;
        riov[j].iov_len = SLOT;
        memset(&in[j], 0, sizeof in[j]);
        in[j].msg_hdr.msg_iov = &riov[j];
        in[j].msg_hdr.msg_iovlen = 1;
      }
      int got = recvmmsg(fd, in, BATCH, MSG_DONTWAIT, NULL), n = 0;
      for (int j = 0; j < got; j++)
        if (parse(buf + (size_t)j * SLOT, in[j].msg_len, &pk[n]) == 0) n++;
      if (n == 0) continue;
      int nt = 0, niov = 0;
      for (int i = 0; i < n; i++) {
        struct pkt *p = &pk[i];
        uint8_t *ip = p->data;
        int partial = (p->info & NFQA_SKB_CSUMNOTREADY) != 0;
        int gso = (p->info & NFQA_SKB_GSO) != 0;
        int mine = p->len >= 20 && (ip[0] >> 4) == 4 &&
                   (req ? (uint32_t)(ip[16] << 24 | ip[17] << 16 | ip[18] << 8 | ip[19]) == vip
                        : (uint32_t)(ip[12] << 24 | ip[13] << 16 | ip[14] << 8 | ip[15]) == rip);
        int payload = 0;
        if (mine && req) {
          size_t ck = nat(ip, p->len, 16, rip, partial);
          size_t ihl = (size_t)(ip[0] & 15) * 4;
          uint8_t *h = ip - L2H; /* netlink headers in front are already parsed */
          memset(h, 0, 10);
          if (ck && ip[9] == 6 && (int)p->len > mtu) {
            size_t thl = (size_t)(ip[ihl + 12] >> 4) * 4;
            if (!partial) { /* every segment needs its own: make it partial */
              wr16(ip + ck, fold(sum16(ip + 12, 8, 6 + (uint32_t)(p->len - ihl))));
              partial = 1;
            }
            uint16_t hl = (uint16_t)(14 + ihl + thl), gs = (uint16_t)(mtu - (int)ihl - (int)thl);
            h[1] = (ip[ihl + 13] & 0x80) ? 0x81 : 1; /* TCPV4 (| ECN) */
            memcpy(h + 2, &hl, 2);
            memcpy(h + 4, &gs, 2);
          }
          if (ck && partial) {
            uint16_t cs = (uint16_t)(14 + ihl), co = (uint16_t)(ck - ihl);
            h[0] = 1; /* NEEDS_CSUM */
            memcpy(h + 6, &cs, 2);
            memcpy(h + 8, &co, 2);
          }
          memcpy(h + 10, eth, 14);
          oiov[nt].iov_base = h;
          oiov[nt].iov_len = p->len + L2H;
          memset(&out[nt], 0, sizeof out[nt]);
          out[nt].msg_hdr.msg_iov = &oiov[nt];
          out[nt].msg_hdr.msg_iovlen = 1;
          nt++;
        } else if (mine) {
          size_t ck = nat(ip, p->len, 12, vip, partial);
          if (ck && (partial || gso)) full_l4(ip, p->len, ck);
          payload = 1;
        }
        /* verdict: requests we sent are dropped (stolen), the rest accepted */
        uint8_t *h = vhdr[i];
        size_t hl = put_hdr(h, NFQNL_MSG_VERDICT, 0, qn);
        struct nfqnl_msg_verdict_hdr vh = {.verdict = htonl(mine && req ? NF_DROP : NF_ACCEPT), .id = htonl(p->id)};
        hl += put_attr(h + hl, NFQA_VERDICT_HDR, &vh, sizeof vh);
        size_t total = hl;
        if (payload) {
          struct nlattr *a = (struct nlattr *)(h + hl);
          a->nla_type = NFQA_PAYLOAD;
          a->nla_len = (uint16_t)(NLA_HDRLEN + p->len);
          hl += NLA_HDRLEN;
          total = hl + ALIGN4(p->len);
        }
        ((struct nlmsghdr *)h)->nlmsg_len = (uint32_t)total;
        viov[niov].iov_base = h;
        viov[niov++].iov_len = hl;
        if (payload) {
          viov[niov].iov_base = ip;
          viov[niov++].iov_len = p->len;
          if (ALIGN4(p->len) != p->len) {
            viov[niov].iov_base = (void *)zeros;
            viov[niov++].iov_len = ALIGN4(p->len) - p->len;
          }
        }
      }
      for (int done = 0; done < nt;) {
        int r = sendmmsg(tx, out + done, (unsigned)(nt - done), 0);
        if (r <= 0) break;
        done += r;
      }
      struct sockaddr_nl dst = {.nl_family = AF_NETLINK};
      struct msghdr mh = {.msg_name = &dst, .msg_namelen = sizeof dst, .msg_iov = viov, .msg_iovlen = (size_t)niov};
      if (sendmsg(fd, &mh, 0) < 0) perror("verdict");
      if (req) nin += (unsigned long)n;
      else nout += (unsigned long)n;
    }
  }
  fprintf(stderr, "nfq_nat: %lu requests, %lu replies\n", nin, nout);
  return 0;
}
