// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tsvs established-flow fast path: a tc (cls_bpf, direct-action) program on the
 * director's ingress, in front of the u32 steering filters. A packet whose exact
 * 5-tuple is in the flow map (filled by the daemon for ESTABLISHED TCP conns and UDP
 * conns the engine decided) is rewritten (NAT: addresses and ports with incremental
 * checksums; DR: nothing at layer 3), its TTL / hop limit stepped as forwarding
 * does, framed for the next hop's MAC and redirected to the egress interface.
 * Everything else — no entry, SYN/FIN/RST (a FIN or RST also marks the flow closed:
 * from then on all its packets go to the engine until the daemon removes the entry),
 * a closed flow, IPv4 options or fragments, IPv6
 * extension headers, TTL <= 1, too big for the egress MTU without GSO, VLAN tags,
 * packets not for this host — returns TC_ACT_UNSPEC: the next filter (the u32
 * steering) takes it to the engine as before.
 *
 * Per conn (a slot of an mmap-able array, indexed by the engine's conn id, shared by
 * the request and reply entries) the program counts packets and bytes per direction
 * (the IP length, as the engine counts) and records the last-seen time
 * (CLOCK_MONOTONIC ns); the daemon reads the slots through its mapping and folds them
 * into the engine's timers and statistics (src/dataplane/fastpath.ts).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Layout shared with src/dataplane/fastpath-map.ts: change both together. */
struct fp_key {
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 af;
	__u16 pad;
};

#define FP_REWRITE_SRC 0x1
#define FP_REWRITE_DST 0x2

struct fp_val {
	__u32 saddr[4];   /* new source (FP_REWRITE_SRC) */
	__u32 daddr[4];   /* new destination (FP_REWRITE_DST) */
	__u16 sport;      /* new source port, network order */
	__u16 dport;      /* new destination port, network order */
	__u32 ifindex;    /* egress interface */
	__u8 eth[12];     /* destination MAC, source MAC */
	__u16 mtu;        /* egress MTU (non-GSO packets above it go to the engine) */
	__u16 flags;
	__u32 slot;       /* the conn's slot in tsvs_slots (its conn id) */
	__u32 dir;        /* 0: request (client -> VIP), 1: NAT reply */
};

/* Per conn, written by the program, read by the daemon through mmap. */
struct fp_slot {
	__u64 packets[2]; /* per direction (fp_val.dir) */
	__u64 bytes[2];
	__u64 last_ns;
	__u32 closed;     /* a FIN or RST went by: everything to the engine */
	__u32 pad;
};

#define FP_SLOTS 131072

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_SLOTS * 2);
	__type(key, struct fp_key);
	__type(value, struct fp_val);
} tsvs_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FP_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct fp_slot);
} tsvs_slots SEC(".maps");

#define ETH_LEN 14
#define IP4_CSUM (ETH_LEN + 10)
#define IP4_TTL (ETH_LEN + 8)
#define IP4_SRC (ETH_LEN + 12)
#define IP4_DST (ETH_LEN + 16)
#define IP6_HOP (ETH_LEN + 7)
#define IP6_SRC (ETH_LEN + 8)
#define IP6_DST (ETH_LEN + 24)

static __always_inline int rewrite4(struct __sk_buff *skb, struct fp_val *v,
				    const struct fp_key *k, __u32 l4, __u32 csum, __u64 mz,
				    __u16 ttlword)
{
	__u16 nw = bpf_htons(bpf_ntohs(ttlword) - 0x100);

	if (v->flags & FP_REWRITE_DST) {
		__u32 o = k->daddr[0], n = v->daddr[0];
		if (bpf_l4_csum_replace(skb, csum, o, n, BPF_F_PSEUDO_HDR | mz | 4) ||
		    bpf_l3_csum_replace(skb, IP4_CSUM, o, n, 4) ||
		    bpf_skb_store_bytes(skb, IP4_DST, &n, 4, 0))
			return -1;
		if (k->dport != v->dport) {
			__u16 np = v->dport;
			if (bpf_l4_csum_replace(skb, csum, k->dport, np, mz | 2) ||
			    bpf_skb_store_bytes(skb, l4 + 2, &np, 2, 0))
				return -1;
		}
	}
	if (v->flags & FP_REWRITE_SRC) {
		__u32 o = k->saddr[0], n = v->saddr[0];
		if (bpf_l4_csum_replace(skb, csum, o, n, BPF_F_PSEUDO_HDR | mz | 4) ||
		    bpf_l3_csum_replace(skb, IP4_CSUM, o, n, 4) ||
		    bpf_skb_store_bytes(skb, IP4_SRC, &n, 4, 0))
			return -1;
		if (k->sport != v->sport) {
			__u16 np = v->sport;
			if (bpf_l4_csum_replace(skb, csum, k->sport, np, mz | 2) ||
			    bpf_skb_store_bytes(skb, l4, &np, 2, 0))
				return -1;
		}
	}
	if (bpf_l3_csum_replace(skb, IP4_CSUM, ttlword, nw, 2) ||
	    bpf_skb_store_bytes(skb, IP4_TTL, &nw, 2, 0))
		return -1;
	return 0;
}

static __always_inline int addr6(struct __sk_buff *skb, __u32 csum, __u64 mz, __u32 at,
				 const __u32 *o, __u32 *n)
{
	__s64 d = bpf_csum_diff((__be32 *)o, 16, (__be32 *)n, 16, 0);
	if (d < 0)
		return -1;
	if (bpf_l4_csum_replace(skb, csum, 0, (__u32)d, BPF_F_PSEUDO_HDR | mz))
		return -1;
	return bpf_skb_store_bytes(skb, at, n, 16, 0) ? -1 : 0;
}

static __always_inline int rewrite6(struct __sk_buff *skb, struct fp_val *v,
				    const struct fp_key *k, __u32 l4, __u32 csum, __u64 mz,
				    __u8 hop)
{
	__u8 nh = hop - 1;

	if (v->flags & FP_REWRITE_DST) {
		if (addr6(skb, csum, mz, IP6_DST, k->daddr, v->daddr))
			return -1;
		if (k->dport != v->dport) {
			__u16 np = v->dport;
			if (bpf_l4_csum_replace(skb, csum, k->dport, np, mz | 2) ||
			    bpf_skb_store_bytes(skb, l4 + 2, &np, 2, 0))
				return -1;
		}
	}
	if (v->flags & FP_REWRITE_SRC) {
		if (addr6(skb, csum, mz, IP6_SRC, k->saddr, v->saddr))
			return -1;
		if (k->sport != v->sport) {
			__u16 np = v->sport;
			if (bpf_l4_csum_replace(skb, csum, k->sport, np, mz | 2) ||
			    bpf_skb_store_bytes(skb, l4, &np, 2, 0))
				return -1;
		}
	}
	return bpf_skb_store_bytes(skb, IP6_HOP, &nh, 1, 0) ? -1 : 0;
}

SEC("tc")
int tsvs_fastpath(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct fp_key k = {};
	struct fp_slot *s;
	struct fp_val *v;
	__u32 l4, iplen, csum;
	__u64 mz = 0;
	__u16 ttlword = 0;
	__u8 hop = 0, proto, closing = 0;

	/*
	 * A unicast frame for another host's MAC (a switch flooding after its table
	 * was flushed) never reaches the kernel's IPVS: ip_rcv drops it. Pass it to
	 * the stack, before the steering filters below could take it.
	 */
	if (skb->pkt_type == PACKET_OTHERHOST)
		return TC_ACT_OK;
	if (skb->pkt_type != PACKET_HOST || skb->vlan_present)
		return TC_ACT_UNSPEC;
	if ((void *)(eth + 1) > end)
		return TC_ACT_UNSPEC;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end)
			return TC_ACT_UNSPEC;
		if (ip->version != 4 || ip->ihl != 5 || (ip->frag_off & bpf_htons(0x3fff)) ||
		    (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP) || ip->ttl <= 1)
			return TC_ACT_UNSPEC;
		k.af = 4;
		k.saddr[0] = ip->saddr;
		k.daddr[0] = ip->daddr;
		ttlword = *(__u16 *)&ip->ttl;
		iplen = bpf_ntohs(ip->tot_len);
		proto = ip->protocol;
		l4 = ETH_LEN + sizeof(*ip);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return TC_ACT_UNSPEC;
		if ((ip6->nexthdr != IPPROTO_TCP && ip6->nexthdr != IPPROTO_UDP) ||
		    ip6->hop_limit <= 1)
			return TC_ACT_UNSPEC;
		k.af = 6;
		__builtin_memcpy(k.saddr, &ip6->saddr, 16);
		__builtin_memcpy(k.daddr, &ip6->daddr, 16);
		hop = ip6->hop_limit;
		iplen = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
		proto = ip6->nexthdr;
		l4 = ETH_LEN + sizeof(*ip6);
	} else {
		return TC_ACT_UNSPEC;
	}
	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = data + l4;
		if ((void *)(th + 1) > end)
			return TC_ACT_UNSPEC;
		/* a SYN never belongs to an entry (a new conn, or one the engine reopens) */
		if (th->syn)
			return TC_ACT_UNSPEC;
		closing = th->fin || th->rst;
		k.sport = th->source;
		k.dport = th->dest;
		csum = l4 + __builtin_offsetof(struct tcphdr, check);
	} else {
		struct udphdr *uh = data + l4;
		if ((void *)(uh + 1) > end)
			return TC_ACT_UNSPEC;
		k.sport = uh->source;
		k.dport = uh->dest;
		csum = l4 + __builtin_offsetof(struct udphdr, check);
		/* an IPv4 UDP checksum of 0 (none) stays 0; a computed 0 is sent as 0xffff */
		mz = BPF_F_MARK_MANGLED_0;
	}
	k.proto = proto;

	v = bpf_map_lookup_elem(&tsvs_flows, &k);
	if (!v)
		return TC_ACT_UNSPEC;
	s = bpf_map_lookup_elem(&tsvs_slots, &v->slot);
	if (!s)
		return TC_ACT_UNSPEC;
	/* FIN or RST: the engine's state machine takes the flow back, both directions */
	if (closing) {
		s->closed = 1;
		return TC_ACT_UNSPEC;
	}
	if (s->closed)
		return TC_ACT_UNSPEC;
	/* the IP length must account for the whole frame (no trailing padding or a
	 * truncated packet); a packet above the egress MTU without GSO goes to the
	 * engine (its MTU check and ICMP) */
	if (skb->len != ETH_LEN + iplen && skb->gso_segs <= 1)
		return TC_ACT_UNSPEC;
	if (skb->gso_segs <= 1 && iplen > v->mtu)
		return TC_ACT_UNSPEC;
	if (k.af == 4) {
		if (rewrite4(skb, v, &k, l4, csum, mz, ttlword))
			return TC_ACT_SHOT;
	} else if (rewrite6(skb, v, &k, l4, csum, mz, hop)) {
		return TC_ACT_SHOT;
	}
	if (bpf_skb_store_bytes(skb, 0, v->eth, 12, 0))
		return TC_ACT_SHOT;
	if (v->dir) {
		__sync_fetch_and_add(&s->packets[1], 1);
		__sync_fetch_and_add(&s->bytes[1], skb->len - ETH_LEN);
	} else {
		__sync_fetch_and_add(&s->packets[0], 1);
		__sync_fetch_and_add(&s->bytes[0], skb->len - ETH_LEN);
	}
	s->last_ns = bpf_ktime_get_ns();
	return bpf_redirect(v->ifindex, 0);
}

char LICENSE[] SEC("license") = "GPL";
