/*
 * synflood: a SYN flood bounded in rate and time, for tsvs's own lab only (the
 * e2e test e2esyn- and bench:e2e's flood section run it inside their network
 * namespaces). IPv4 TCP SYNs with random source addresses in a given prefix, random
 * source ports and sequence numbers, through a raw socket, paced in slices of 1 ms.
 *
 *   synflood DST_IP DST_PORT PPS SECONDS SRC_NET/LEN
 *
 * PPS 0: as fast as one thread can send. Prints the number of packets sent (and send
 * errors) at the end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

static uint16_t csum(const uint8_t *p, size_t n, uint32_t s) {
  for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1) s += (uint32_t)p[n - 1] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)~s;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s DST_IP DST_PORT PPS SECONDS SRC_NET/LEN\n", argv[0]);
    return 2;
  }
  struct in_addr dst, net;
  if (!inet_aton(argv[1], &dst)) return 2;
  int dport = atoi(argv[2]);
  double pps = atof(argv[3]);
  double secs = atof(argv[4]);
  char *slash = strchr(argv[5], '/');
  if (!slash) return 2;
  *slash = 0;
  if (!inet_aton(argv[5], &net)) return 2;
  int len = atoi(slash + 1);
  uint32_t mask = len == 0 ? 0 : 0xffffffffu << (32 - len);
  uint32_t base = ntohl(net.s_addr) & mask;
  rng ^= (uint64_t)getpid() << 32 | (uint64_t)time(NULL);

  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) {
    perror("socket");
    return 1;
  }
  int buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = dst};

  uint8_t p[44];
  unsigned long sent = 0, errors = 0;
  double start = now_s(), end = start + secs;
  for (;;) {
    double t = now_s();
    if (t >= end) break;
    /* packets due by now (unpaced: a slice of 256) */
    unsigned long due = pps > 0 ? (unsigned long)((t - start) * pps) : sent + errors + 256;
    while (sent + errors < due) {
      memset(p, 0, sizeof p);
      uint32_t src = base | (rnd() & ~mask);
      p[0] = 0x45;
      p[3] = 44;
      p[6] = 0x40;
      p[8] = 64;
      p[9] = 6;
      memcpy(p + 12, &(uint32_t){htonl(src)}, 4);
      memcpy(p + 16, &dst.s_addr, 4);
      uint16_t ic = csum(p, 20, 0);
      p[10] = ic >> 8;
      p[11] = ic & 0xff;
      uint8_t *th = p + 20;
      uint16_t sp = 1024 + rnd() % 60000;
      th[0] = sp >> 8;
      th[1] = sp & 0xff;
      th[2] = dport >> 8;
      th[3] = dport & 0xff;
      uint32_t seq = rnd() << 16 ^ rnd();
      th[4] = seq >> 24;
      th[5] = seq >> 16;
      th[6] = seq >> 8;
      th[7] = seq;
      th[12] = 6 << 4; /* 24 bytes: one MSS option */
      th[13] = 0x02;
      th[14] = 0xfa;
      th[15] = 0xf0;
      th[20] = 2;
      th[21] = 4;
      th[22] = 0x05;
      th[23] = 0xb4;
      /* pseudo-header sum */
      uint32_t s = 0;
      for (int i = 12; i < 20; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
      s += 6 + 24;
      uint16_t tc = csum(th, 24, s);
      th[16] = tc >> 8;
      th[17] = tc & 0xff;
      if (sendto(fd, p, 44, 0, (struct sockaddr *)&to, sizeof to) == 44)
        sent++;
      else
        errors++;
    }
    if (pps > 0) {
      struct timespec ns = {0, 1000000};
      nanosleep(&ns, NULL);
    }
  }
  printf("%lu %lu\n", sent, errors);
  return 0;
}
