// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tsvs SYN cookies in the kernel (issue 19, docs/synproxy.md "Cookies in the kernel"):
 * a tc (cls_bpf, direct-action) program on the director's ingress, in front of the
 * fast path and the u32 steering filters. A TCP SYN (SYN set, ACK, RST and FIN clear,
 * no data) for a service the daemon marked in `tsvs_sc_svcs` (NAT services under the
 * SYN proxy) is answered here: the frame is turned into the SYN-ACK the engine's
 * proxy would send (src/engine/synproxy.ts cookieSynAck, synproxy-segment.ts
 * writeSegment) and sent back out of the interface it came in on, its MAC addresses
 * swapped. The SYN never reaches user space; the client's ACK does (the steering
 * takes it to the engine, which checks the cookie as it checks its own).
 *
 * The cookie is the engine's (src/engine/synproxy-cookie.ts): HalfSipHash-2-4 under
 * the daemon's two keys, in the kernel's syncookie layout, with the minute counter
 * and the timestamp taken from the engine's clock (wall-clock ms): CLOCK_MONOTONIC
 * (bpf_ktime_get_ns) plus the offset the daemon writes every second, set a little
 * behind so that the kernel's counter is never ahead of the engine's.
 *
 * Everything else — other packets, services not marked, IPv4 options or fragments,
 * IPv6 extension headers, SYNs with data, VLAN tags, packets not for this host —
 * returns TC_ACT_UNSPEC: the next filter takes it as before.
 *
 * Checksums: the TCP checksum is updated incrementally, the segment's bytes without
 * BPF_F_PSEUDO_HDR and the pseudo header's length with it, so that a packet whose
 * checksum is left to the device (CHECKSUM_PARTIAL, as from a local or veth sender)
 * is right as well as one checksummed in full.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Layouts shared with src/dataplane/syncookie-map.ts: change both together. */
struct sc_conf {
	__u32 k[4];      /* H0 keys k0 k1, H1 keys k0 k1 (CookieKeys) */
	__s64 off_ms;    /* engine clock (ms) = CLOCK_MONOTONIC ms + off_ms */
	__u32 mtu;       /* the engine's MTU: MSS offered = mtu - 40 (IPv4) / 60 (IPv6) */
	__u32 on;        /* 0: answer nothing (the daemon's switch) */
};

struct sc_key {
	__u32 addr[4];   /* VIP, host order words, IPv4 in addr[0] */
	__u16 port;      /* host order; 0 for a service of every port */
	__u8 proto;
	__u8 af;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sc_conf);
} tsvs_sc_conf SEC(".maps");

/* every TCP service (no fwmark): 1 answered here, 0 left to the engine */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct sc_key);
	__type(value, __u32);
} tsvs_sc_svcs SEC(".maps");

#define SC_SENT 0     /* SYN-ACKs sent */
#define SC_ERRORS 1   /* a helper failed: the SYN was dropped */
#define SC_NCOUNT 2

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SC_NCOUNT);
	__type(key, __u32);
	__type(value, __u64);
} tsvs_sc_counts SEC(".maps");

/* per-packet scratch (the stack is too small for it) */
struct sc_scratch {
	__u8 opts[64];
	__u8 oldh[64];
	__u8 newh[40];
	__u8 iph[40];
	__u32 m[10];
	__u8 mac[12];
	/* the client's options: MSS (0 none), window scale (-1 none), SACK-permitted,
	 * timestamps (ts 1) and their value */
	__u32 mss;
	__s32 ws;
	__u32 sack;
	__u32 ts;
	__u32 tsval;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sc_scratch);
} tsvs_sc_scratch SEC(".maps");

#define ETH_LEN 14
#define COOKIE_BITS 24
#define COOKIE_MASK ((1u << COOKIE_BITS) - 1)
#define TS_MASK 0x3f
#define TS_OPT_SACK 0x10
#define SP_WSCALE 7
#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WSCALE 3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_TIMESTAMP 8
#define FTP_PORT 21
#define FTP_DATA_PORT 20

static __always_inline void count(__u32 i)
{
	__u64 *c = bpf_map_lookup_elem(&tsvs_sc_counts, &i);
	if (c)
		*c += 1;
}

/* HalfSipHash-2-4, as synproxy-cookie.ts halfSipHash24 (Aumasson & Bernstein) */
#define ROTL(x, b) (((x) << (b)) | ((x) >> (32 - (b))))
#define SIPROUND                                                   \
	do {                                                       \
		v0 += v1; v1 = ROTL(v1, 5); v1 ^= v0; v0 = ROTL(v0, 16); \
		v2 += v3; v3 = ROTL(v3, 8); v3 ^= v2;                  \
		v0 += v3; v3 = ROTL(v3, 7); v3 ^= v0;                  \
		v2 += v1; v1 = ROTL(v1, 13); v1 ^= v2; v2 = ROTL(v2, 16); \
	} while (0)

#define MSG_WORDS 10

static __always_inline __u32 hsip24(__u32 k0, __u32 k1, const __u32 *m)
{
	__u32 v0 = k0, v1 = k1, v2 = 0x6c796765 ^ k0, v3 = 0x74656462 ^ k1;
#pragma unroll
	for (int w = 0; w <= MSG_WORDS; w++) {
		__u32 x = w < MSG_WORDS ? m[w] : (__u32)(MSG_WORDS * 4) << 24;
		v3 ^= x;
		SIPROUND;
		SIPROUND;
		v0 ^= x;
	}
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v1 ^ v3;
}

/* the kernel's MSS tables (syncookies.c msstab), as mssIndex */
static __always_inline __u32 mss_index(__u8 af, __u32 mss)
{
	if (af == 4)
		return mss >= 1460 ? 3 : mss >= 1440 ? 2 : mss >= 1300 ? 1 : 0;
	return mss >= 1460 ? 3 : mss >= 1440 ? 2 : mss >= 1400 ? 1 : 0;
}

/* the client's options (synproxy-segment.ts readOptions: the first of each kind),
 * read one option per bpf_loop step so that the verifier sees the step once */
struct opt_walk {
	struct sc_scratch *sc;
	__u32 p;
	__u32 n;
	__u32 seen;
};

static long opt_step(__u64 i, void *ctx)
{
	struct opt_walk *w = ctx;
	struct sc_scratch *sc = w->sc;
	const __u8 *o = sc->opts;
	__u32 p = w->p, n = w->n;
	__u32 len;
	__u8 k;

	if (p >= n || p >= 40)
		return 1;
	k = o[p & 63];
	if (k == TCPOPT_EOL)
		return 1;
	if (k == TCPOPT_NOP) {
		w->p = p + 1;
		return 0;
	}
	if (p + 1 >= n)
		return 1;
	len = o[(p + 1) & 63];
	if (len < 2 || p + len > n)
		return 1;
	if (k == TCPOPT_MSS && !(w->seen & 1)) {
		w->seen |= 1;
		if (len == 4)
			sc->mss = ((__u32)o[(p + 2) & 63] << 8) | o[(p + 3) & 63];
	} else if (k == TCPOPT_WSCALE && !(w->seen & 2)) {
		w->seen |= 2;
		if (len == 3)
			sc->ws = o[(p + 2) & 63] > 14 ? 14 : o[(p + 2) & 63];
	} else if (k == TCPOPT_SACK_PERM && !(w->seen & 4)) {
		w->seen |= 4;
		if (len == 2)
			sc->sack = 1;
	} else if (k == TCPOPT_TIMESTAMP && !(w->seen & 8)) {
		w->seen |= 8;
		if (len == 10) {
			sc->ts = 1;
			sc->tsval = ((__u32)o[(p + 2) & 63] << 24) | ((__u32)o[(p + 3) & 63] << 16) |
				    ((__u32)o[(p + 4) & 63] << 8) | o[(p + 5) & 63];
		}
	}
	w->p = p + len;
	return 0;
}

static __always_inline void put32(__u8 *b, __u32 v)
{
	b[0] = v >> 24;
	b[1] = v >> 16;
	b[2] = v >> 8;
	b[3] = v;
}

/* Is the SYN to (addr, port) for a service answered here? The lookup order is
 * ip_vs_service_find's (svc.ts serviceFind) without fwmarks (the daemon switches
 * the program off while a fwmark service exists): the exact port, the FTP service
 * for data ports, the VIP's every-port service. */
static __always_inline int svc_on(struct sc_key *k)
{
	__u32 *v = bpf_map_lookup_elem(&tsvs_sc_svcs, k);
	__u16 port = k->port;
	if (v)
		return *v != 0;
	if (port == FTP_DATA_PORT || port >= 1024) {
		k->port = FTP_PORT;
		v = bpf_map_lookup_elem(&tsvs_sc_svcs, k);
		if (v)
			return *v != 0;
	}
	k->port = 0;
	v = bpf_map_lookup_elem(&tsvs_sc_svcs, k);
	return v && *v != 0;
}

SEC("tc")
int tsvs_syncookie(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct sc_key sk = {};
	struct tcphdr *th;
	__u32 zero = 0, l4, iplen, ihl, doff, ol;
	__u8 af;

	if (skb->pkt_type != PACKET_HOST || skb->vlan_present)
		return TC_ACT_UNSPEC;
	if ((void *)(eth + 1) > end)
		return TC_ACT_UNSPEC;
	struct sc_conf *cf = bpf_map_lookup_elem(&tsvs_sc_conf, &zero);
	if (!cf || !cf->on)
		return TC_ACT_UNSPEC;
	struct sc_scratch *sc = bpf_map_lookup_elem(&tsvs_sc_scratch, &zero);
	if (!sc)
		return TC_ACT_UNSPEC;
	__u8 *opts = sc->opts, *oldh = sc->oldh, *newh = sc->newh, *iph = sc->iph, *mac = sc->mac;
	__u32 *m = sc->m;
	__builtin_memset(sc, 0, sizeof(*sc));
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end)
			return TC_ACT_UNSPEC;
		if (ip->version != 4 || ip->ihl != 5 || (ip->frag_off & bpf_htons(0x3fff)) ||
		    ip->protocol != IPPROTO_TCP)
			return TC_ACT_UNSPEC;
		af = 4;
		ihl = 20;
		m[0] = bpf_ntohl(ip->saddr);
		m[4] = bpf_ntohl(ip->daddr);
		iplen = bpf_ntohs(ip->tot_len);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return TC_ACT_UNSPEC;
		if (ip6->nexthdr != IPPROTO_TCP)
			return TC_ACT_UNSPEC;
		af = 6;
		ihl = 40;
#pragma unroll
		for (int i = 0; i < 4; i++) {
			m[i] = bpf_ntohl(ip6->saddr.in6_u.u6_addr32[i]);
			m[4 + i] = bpf_ntohl(ip6->daddr.in6_u.u6_addr32[i]);
		}
		iplen = bpf_ntohs(ip6->payload_len) + 40;
	} else {
		return TC_ACT_UNSPEC;
	}
	l4 = ETH_LEN + ihl;
	th = data + l4;
	if ((void *)(th + 1) > end)
		return TC_ACT_UNSPEC;
	/* the steering's SYN match: SYN set, ACK, RST and FIN clear */
	if ((((__u8 *)th)[13] & 0x17) != 0x02)
		return TC_ACT_UNSPEC;
	doff = th->doff * 4;
	if (doff < 20 || iplen != ihl + doff || skb->len < ETH_LEN + iplen)
		return TC_ACT_UNSPEC;
	sk.af = af;
	sk.proto = IPPROTO_TCP;
	sk.port = bpf_ntohs(th->dest);
#pragma unroll
	for (int i = 0; i < 4; i++)
		sk.addr[i] = m[4 + i];
	if (!svc_on(&sk))
		return TC_ACT_UNSPEC;

	/* the SYN's TCP header, and its options */
	if (bpf_skb_load_bytes(skb, l4, oldh, 20))
		return TC_ACT_UNSPEC;
	ol = doff - 20;
	if (ol > 40)
		return TC_ACT_UNSPEC;
	if (ol > 0 && bpf_skb_load_bytes(skb, l4 + 20, opts, ol))
		return TC_ACT_UNSPEC;
	sc->ws = -1;
	if (ol > 0) {
		struct opt_walk w = { .sc = sc, .p = 0, .n = ol, .seen = 0 };
		bpf_loop(40, opt_step, &w, 0);
	}
	if (bpf_skb_load_bytes(skb, 6, mac, 6) || bpf_skb_load_bytes(skb, 0, mac + 6, 6))
		return TC_ACT_UNSPEC;

	/* the cookie (CookieKeys.make) */
	__u16 sport = ((__u16)oldh[0] << 8) | oldh[1];
	__u16 dport = ((__u16)oldh[2] << 8) | oldh[3];
	__u32 isn = ((__u32)oldh[4] << 24) | ((__u32)oldh[5] << 16) | ((__u32)oldh[6] << 8) | oldh[7];
	__u64 now = bpf_ktime_get_ns() / 1000000 + cf->off_ms;
	__u32 cnt = (__u32)(now / 60000);
	__u32 mss = sc->mss > 0 ? sc->mss : (af == 4 ? 536 : 1220);
	__u32 tsnow = (__u32)now;
	int ts = sc->ts != 0;
	/* without timestamps there is nowhere to keep window scaling and SACK */
	__s32 ws = ts ? sc->ws : -1;
	__u32 sack = ts && sc->sack;
	m[8] = ((__u32)sport << 16) | dport;
	m[9] = 0;
	__u32 h0 = hsip24(cf->k[0], cf->k[1], m);
	m[9] = cnt;
	__u32 h1 = hsip24(cf->k[2], cf->k[3], m);
	__u32 cookie = h0 + isn + (cnt << COOKIE_BITS) + ((h1 + mss_index(af, mss)) & COOKIE_MASK);

	/* the timestamp value carrying the options (tsEncode) */
	__u32 tsopt = (ws >= 0 ? (__u32)ws & 0x0f : 0x0f) | (sack ? TS_OPT_SACK : 0);
	__u32 tsval = (tsnow & ~(__u32)TS_MASK) | tsopt;
	if (tsval > tsnow)
		tsval -= TS_MASK + 1;

	/* the SYN-ACK's TCP header (writeSegment): MSS, [SACK-perm|NOP NOP TS], [NOP WS] */
	__u32 my = cf->mtu - (af == 4 ? 40 : 60);
	__u32 nl = 20;
	newh[0] = oldh[2];
	newh[1] = oldh[3];
	newh[2] = oldh[0];
	newh[3] = oldh[1];
	put32(newh + 4, cookie);
	put32(newh + 8, isn + 1);
	newh[13] = 0x12; /* SYN ACK */
	newh[14] = 0xff;
	newh[15] = 0xff;
	newh[16] = oldh[16]; /* the checksum field as it was: updated below */
	newh[17] = oldh[17];
	newh[20] = TCPOPT_MSS;
	newh[21] = 4;
	__u32 omss = mss < my ? mss : my;
	newh[22] = omss >> 8;
	newh[23] = omss;
	nl = 24;
	if (ts) {
		newh[24] = sack ? TCPOPT_SACK_PERM : TCPOPT_NOP;
		newh[25] = sack ? 2 : TCPOPT_NOP;
		newh[26] = TCPOPT_TIMESTAMP;
		newh[27] = 10;
		put32(newh + 28, tsval);
		put32(newh + 32, sc->tsval);
		nl = 36;
		if (ws >= 0) {
			newh[36] = TCPOPT_NOP;
			newh[37] = TCPOPT_WSCALE;
			newh[38] = 3;
			newh[39] = SP_WSCALE;
			nl = 40;
		}
	}
	newh[12] = (nl / 4) << 4;

	/* the checksum's change: the segment's bytes (the field itself equal in both) */
	if (ol > 0 && bpf_skb_load_bytes(skb, l4 + 20, oldh + 20, ol))
		return TC_ACT_UNSPEC;
	__s64 dd = bpf_csum_diff((__be32 *)oldh, doff, (__be32 *)newh, nl, 0);
	__u32 lo = bpf_htonl(doff), ln = bpf_htonl(nl);
	__s64 dp = bpf_csum_diff(&lo, 4, &ln, 4, 0);
	if (dd < 0 || dp < 0)
		goto err;

	/* the IP header: addresses swapped, TTL 64, no ECN; IPv4 DF, ID 0 */
	if (af == 4) {
		iph[0] = 0x45;
		iph[2] = (20 + nl) >> 8;
		iph[3] = 20 + nl;
		iph[6] = 0x40;
		iph[8] = 64;
		iph[9] = IPPROTO_TCP;
		put32(iph + 12, m[4]);
		put32(iph + 16, m[0]);
		__s64 s = bpf_csum_diff(0, 0, (__be32 *)iph, 20, 0);
		if (s < 0)
			goto err;
		__u32 c = (__u32)s;
		c = (c & 0xffff) + (c >> 16);
		c = (c & 0xffff) + (c >> 16);
		/* csum_diff sums in network order: the folded sum is the header's bytes */
		__u16 f = ~c;
		__builtin_memcpy(iph + 10, &f, 2);
	} else {
		iph[0] = 0x60;
		iph[4] = nl >> 8;
		iph[5] = nl;
		iph[6] = IPPROTO_TCP;
		iph[7] = 64;
#pragma unroll
		for (int i = 0; i < 4; i++) {
			put32(iph + 8 + i * 4, m[4 + i]);
			put32(iph + 24 + i * 4, m[i]);
		}
	}

	if (bpf_skb_change_tail(skb, ETH_LEN + ihl + nl, 0))
		goto err;
	if (bpf_skb_store_bytes(skb, 0, mac, 12, 0))
		goto err;
	if (af == 4) {
		if (bpf_skb_store_bytes(skb, ETH_LEN, iph, 20, 0))
			goto err;
	} else if (bpf_skb_store_bytes(skb, ETH_LEN, iph, 40, 0)) {
		goto err;
	}
	if (nl == 24) {
		if (bpf_skb_store_bytes(skb, l4, newh, 24, 0))
			goto err;
	} else if (nl == 36) {
		if (bpf_skb_store_bytes(skb, l4, newh, 36, 0))
			goto err;
	} else if (bpf_skb_store_bytes(skb, l4, newh, 40, 0)) {
		goto err;
	}
	if (bpf_l4_csum_replace(skb, l4 + 16, 0, (__u32)dd, 0) ||
	    bpf_l4_csum_replace(skb, l4 + 16, 0, (__u32)dp, BPF_F_PSEUDO_HDR))
		goto err;
	count(SC_SENT);
	return bpf_redirect(skb->ifindex, 0);
err:
	count(SC_ERRORS);
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
