/*
 * tun_nat: the floor of tsvs's data-plane design, for bench:e2e ("c-floor").
 *
 * A minimal stateless NAT forwarder in C with exactly the capture and transmit
 * mechanism the tsvs director uses on its fast path, and nothing else (no connection
 * table, no scheduler, no state machine): the caller's tc u32 filters on the
 * director's ingress redirect (act_mirred) requests to the VIP and replies from the
 * RIP into a TUN device with the virtio-net header and TSO/checksum offloads, so
 * GSO super-packets and partial checksums arrive whole and no verdict is owed.
 * Requests get VIP -> RIP, replies RIP -> VIP, and each is sent whole through a
 * SOCK_RAW packet socket with the virtio-net header to the next hop's MAC on its
 * side. Ports are not changed. The TUN is read with one read() per packet (TUN has
 * no recvmmsg); sends are batched with sendmmsg.
 *
 *   tun_nat TUN VIP RIP SRVIF RSMAC CLIIF CLIMAC
 *
 * Runs until SIGTERM/SIGINT. Written for this benchmark from the Linux uapi headers
 * and man pages (packet(7), the TUN/TAP documentation); IPv4, TCP and UDP only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
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

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }
static void die(const char *what) {
  perror(what);
  exit(1);
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

/* Rewrite the address at ip+aoff to `to`, fixing IP and L4 checksums incrementally. */
static void nat(uint8_t *ip, size_t len, int aoff, uint32_t to, int partial) {
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
      wr16(ip + ck, fold(rd16(ip + ck) + d));
    else
      wr16(ip + ck, (uint16_t)~fold((uint16_t)~rd16(ip + ck) + d));
  }
}

struct side {
  int fd;
  uint8_t eth[14];
  struct mmsghdr out[BATCH];
  struct iovec iov[BATCH];
  int n;
};

static void side_open(struct side *s, const char *ifname, const char *mac) {
  memset(s, 0, sizeof *s);
  if (sscanf(mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &s->eth[0], &s->eth[1], &s->eth[2], &s->eth[3],
             &s->eth[4], &s->eth[5]) != 6)
    exit(2);
  int q = socket(AF_INET, SOCK_DGRAM, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  if (ioctl(q, SIOCGIFHWADDR, &ifr) < 0) die("SIOCGIFHWADDR");
  memcpy(s->eth + 6, ifr.ifr_hwaddr.sa_data, 6);
  close(q);
  s->eth[12] = 0x08;
  s->eth[13] = 0x00;
  s->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (s->fd < 0) die("socket AF_PACKET");
  int one = 1, sndbuf = 8 << 20;
  if (setsockopt(s->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) die("PACKET_VNET_HDR");
  setsockopt(s->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(ifname)};
  if (!sll.sll_ifindex) die("if_nametoindex");
  if (bind(s->fd, (struct sockaddr *)&sll, sizeof sll) < 0) die("bind AF_PACKET");
}

static void side_flush(struct side *s) {
  for (int done = 0; done < s->n;) {
    int r = sendmmsg(s->fd, s->out + done, (unsigned)(s->n - done), 0);
    if (r <= 0) break;
    done += r;
  }
  s->n = 0;
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: tun_nat TUN VIP RIP SRVIF RSMAC CLIIF CLIMAC\n");
    return 2;
  }
  struct in_addr va, ra;
  if (!inet_aton(argv[2], &va) || !inet_aton(argv[3], &ra)) return 2;
  uint32_t vip = ntohl(va.s_addr), rip = ntohl(ra.s_addr);
  static struct side srv, cli;
  side_open(&srv, argv[4], argv[5]);
  side_open(&cli, argv[6], argv[7]);

  int tun = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (tun < 0) die("open /dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
  if (ioctl(tun, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
  int hs = 10;
  if (ioctl(tun, TUNSETVNETHDRSZ, &hs) < 0) die("TUNSETVNETHDRSZ");
  if (ioctl(tun, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) < 0)
    die("TUNSETOFFLOAD");
  int q = socket(AF_INET, SOCK_DGRAM, 0);
  if (ioctl(q, SIOCGIFFLAGS, &ifr) < 0) die("SIOCGIFFLAGS");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(q, SIOCSIFFLAGS, &ifr) < 0) die("SIOCSIFFLAGS");
  close(q);
  fprintf(stderr, "tun_nat: ready on %s\n", argv[1]);

  signal(SIGTERM, on_sig);
  signal(SIGINT, on_sig);
  uint8_t *buf = malloc((size_t)BATCH * SLOT);
  unsigned long nin = 0, nout = 0, other = 0;
  struct pollfd pf = {.fd = tun, .events = POLLIN};
  while (!stop) {
    if (poll(&pf, 1, 200) <= 0) continue;
    for (;;) {
      int k = 0;
      for (; k < BATCH; k++) {
        uint8_t *slot = buf + (size_t)k * SLOT;
        /* virtio-net header at +14, the IP packet at +24: room for Ethernet in front */
        ssize_t n = read(tun, slot + 14, SLOT - 14);
        if (n < 0) break;
        if (n < 30) continue;
        uint8_t *ip = slot + 24;
        size_t len = (size_t)n - 10;
        if ((ip[0] >> 4) != 4) {
          other++;
          continue;
        }
        uint8_t vh[10];
        memcpy(vh, slot + 14, 10);
        int partial = vh[0] & 1; /* VIRTIO_NET_HDR_F_NEEDS_CSUM */
        uint32_t dst = (uint32_t)(ip[16] << 24 | ip[17] << 16 | ip[18] << 8 | ip[19]);
        uint32_t src = (uint32_t)(ip[12] << 24 | ip[13] << 16 | ip[14] << 8 | ip[15]);
        struct side *s;
        if (dst == vip) {
          nat(ip, len, 16, rip, partial);
          s = &srv;
          nin++;
        } else if (src == rip) {
          nat(ip, len, 12, vip, partial);
          nout++;
          s = &cli;
        } else {
          other++;
          continue;
        }
        /* the header counts from the Ethernet header on a packet socket */
        uint16_t v;
        memcpy(&v, vh + 2, 2);
        if (v) v = (uint16_t)(v + 14);
        memcpy(vh + 2, &v, 2);
        if (partial) {
          memcpy(&v, vh + 6, 2);
          v = (uint16_t)(v + 14);
          memcpy(vh + 6, &v, 2);
        }
        memcpy(slot, vh, 10);
        memcpy(slot + 10, s->eth, 14);
        s->iov[s->n].iov_base = slot;
        s->iov[s->n].iov_len = len + 24;
        memset(&s->out[s->n], 0, sizeof s->out[s->n]);
        s->out[s->n].msg_hdr.msg_iov = &s->iov[s->n];
        s->out[s->n].msg_hdr.msg_iovlen = 1;
        s->n++;
      }
      side_flush(&srv);
      side_flush(&cli);
      if (k < BATCH) break;
    }
  }
  fprintf(stderr, "tun_nat: %lu requests, %lu replies, %lu other\n", nin, nout, other);
  return 0;
}
