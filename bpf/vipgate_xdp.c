// SPDX-License-Identifier: GPL-2.0
/* vipgate's XDP load balancer: VIP . proto . port → Maglev ring → backend, with a connection
 * table so established flows keep their backend. Anything that is not for a VIP (or a reply to a
 * translated flow) is passed to the kernel untouched: the LB node stays a normal host.
 * Heavy work (Maglev tables, diffing) is done by the agent; this program only looks things up. */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "vipgate.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* Frontends: VIP . port . protocol → slot and ring size. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VG_MAX_SERVICES);
	__type(key, struct vg_service_key);
	__type(value, struct vg_service);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vg_services SEC(".maps");

/* Backends by index (the agent allocates indices); rings and flows refer to them by index. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VG_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct vg_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vg_backends SEC(".maps");

/* Maglev ring of one slot. BPF_F_INNER_MAP lets every ring have its own prime size;
 * BPF_F_MMAPABLE lets the agent fill a fresh ring with one memcpy instead of a kernel step per
 * entry (~30 µs vs ~230 µs a ring). Every inner map must carry exactly these flags. Overridable
 * only so a test can build the older template (-DVG_RING_FLAGS=BPF_F_INNER_MAP). */
#ifndef VG_RING_FLAGS
#define VG_RING_FLAGS (BPF_F_INNER_MAP | BPF_F_MMAPABLE)
#endif
struct vg_ring {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, VG_RING_FLAGS);
	__type(key, __u32);
	__type(value, __u32);
};

/* Slot → its ring. A ring is replaced by swapping in a new inner map: never seen half-written,
 * and memory follows each service's size instead of slots × 65,537. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, VG_MAX_SERVICES);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct vg_ring);
} vg_rings SEC(".maps");

/* Connection table: client flow → backend (and SNAT port). LRU: idle flows age out by pressure. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VG_MAX_FLOWS);
	__type(key, struct vg_flow_key);
	__type(value, struct vg_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vg_flows SEC(".maps");

/* Reply translation: backend → (LB or client) flow → the client's view of it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VG_MAX_FLOWS);
	__type(key, struct vg_flow_key);
	__type(value, struct vg_reverse);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vg_reverse SEC(".maps");

/* Client prefixes never served (by default the cluster's own nodes). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, VG_MAX_SOURCE_RANGES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vg_lpm_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vg_deny_sources SEC(".maps");

/* slot . client prefix → allowed, for services with loadBalancerSourceRanges. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, VG_MAX_SOURCE_RANGES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vg_allow_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vg_allowed_sources SEC(".maps");

/* Per-slot packet/byte counters, per CPU so that cores never contend for a cache line. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VG_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct vg_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vg_counters SEC(".maps");

/* Node-wide settings (one entry): forwarding mode, SNAT addresses and port range. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vg_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vg_config SEC(".maps");

/* The attached interfaces' own MAC addresses, by ifindex, written by the agent at attach time. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VG_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct vg_iface);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vg_ifaces SEC(".maps");

/* Per-CPU totals by VG_STAT_*: shows whether VIP traffic takes the XDP path or the kernel's. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VG_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vg_stats SEC(".maps");

/* The "too big" answer limit (agent-written) and each CPU's bucket: see vipgate.h. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vg_icmp_limit);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vg_icmp_limit SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vg_icmp_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vg_icmp_state SEC(".maps");

/* `key` is stack space the caller no longer needs: the combined stack of the program and
 * forward() is within a few bytes of the verifier's 512-byte limit. */
static __always_inline void count(__u32 *key, __u32 what)
{
	*key = what;
	__u64 *n = bpf_map_lookup_elem(&vg_stats, key);
	if (n)
		*n += 1;
}

/* Per-CPU scratch for the reply-translation entry being built: the BPF stack (512 bytes for the
 * whole call chain) can't hold it next to the parsed packet and the FIB query. */
struct nat_scratch {
	struct vg_flow_key rkey;
	struct vg_reverse rev;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nat_scratch);
} vg_scratch SEC(".maps");

/* What the parser found; addresses point into the packet. */
struct pkt {
	void *l3;
	void *l4;
	void *end;        /* data_end: helpers re-check bounds, the verifier does not tie them to family */
	__u16 *l4_csum;   /* NULL: UDP over IPv4 without checksum */
	__u8 family;
	__u8 proto;
	__u16 l3_len;     /* bytes from the IP header on, for counters */
	struct vg_flow_key flow; /* 4-byte aligned: flow_hash reads its addresses as __u32 */
	__u8 closing;     /* TCP FIN or RST: the flow is ending */
	__u8 syn;         /* TCP SYN without ACK: a flow (re)starting */
	__u8 tagged;      /* one VLAN tag: l3 is 18 bytes in, not 14 */
	__u8 icmp;        /* an ICMP error about a VIP flow: l4 is the ICMP header, flow the reversed quote */
	__u8 snat;        /* nat: the flow is masqueraded (the service asks and an LB address is known) */
	void *inner;      /* icmp: the quoted IP header */
	void *inner_l4;   /* icmp: the quoted TCP/UDP header (at least its first 8 bytes are there) */
};

static __always_inline void map_v4(__u8 *dst, __be32 addr)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &addr, 4);
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), over the 16-bit words that changed. A loop, not
 * unrolled: unrolled, its loads spill, and every call chain's stack must fit in 512 bytes. Words
 * are read with memcpy: callers pass __be32 arrays and packet bytes, and a loop of __u16 loads
 * may be reordered around __be32 stores under strict aliasing (it was: wrong checksums). */
static __always_inline __u32 csum_words(__u32 sum, const void *old, const void *new, int words)
{
	const __u8 *o = old, *n = new;
#pragma nounroll
	for (int i = 0; i < 8; i++) {
		if (i >= words)
			break;
		__u16 a, b;
		__builtin_memcpy(&a, o + 2 * i, 2);
		__builtin_memcpy(&b, n + 2 * i, 2);
		sum += (__u16)~a;
		sum += b;
	}
	return sum;
}

static __always_inline __u16 csum_finish(__u16 old_csum, __u32 sum)
{
	sum += (__u16)~old_csum;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static __always_inline bool same_addr(const __u8 *a, const __u8 *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;
	return x[0] == y[0] && x[1] == y[1];
}

static __always_inline __u32 clock_ticks(void)
{
	return (__u32)(bpf_ktime_get_coarse_ns() >> VG_CLOCK_SHIFT);
}

/* The same client flow to the same VIP owns a reply entry. */
static __always_inline bool same_owner(const struct vg_reverse *a, const struct vg_reverse *b)
{
	return same_addr(a->client, b->client) && a->client_port == b->client_port && same_addr(a->vip, b->vip) &&
	       a->vip_port == b->vip_port;
}

/* A reply entry whose flow ended (FIN/RST) a while ago: its SNAT port may serve another flow.
 * Without this, every SNAT port ever used stays held until LRU pressure, and a busy
 * (backend, LB address) pair runs out of ports within minutes. */
static __always_inline bool released(const struct vg_reverse *r, __u32 after_ticks)
{
	return r->closing && clock_ticks() + 1 - r->closing >= after_ticks;
}

/* Marks the entry as ending on FIN/RST, and as open again when the same flow restarts (SYN). */
static __always_inline void note_state(struct vg_reverse *r, const struct pkt *p)
{
	if (p->closing && !r->closing)
		r->closing = clock_ticks() + 1;
	else if (p->syn)
		r->closing = 0;
}

static __always_inline __u32 mix32(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51;
	k = (k << 15) | (k >> 17);
	k *= 0x1b873593;
	h ^= k;
	h = (h << 13) | (h >> 19);
	return h * 5 + 0xe6546b64;
}

static __always_inline __u32 fmix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/* Same flow, same hash, on every LB node: this is what lets ECMP spread a flow anywhere. */
static __always_inline __u32 flow_hash(const struct vg_flow_key *k, bool client_only)
{
	const __u32 *src = (const __u32 *)k->src;
	__u32 h = 0x9747b28c;
	h = mix32(h, src[0]);
	h = mix32(h, src[1]);
	h = mix32(h, src[2]);
	h = mix32(h, src[3]);
	if (!client_only)
		h = mix32(h, ((__u32)k->sport << 16) | k->proto);
	return fmix32(h);
}

/* An ICMP "fragmentation needed" / ICMPv6 "packet too big" about a packet a VIP sent (to a
 * client): p->flow becomes the flow it is about, as the client sends it (client → VIP), so the
 * service and connection-table lookups are the forward path's. Anything else ICMP (echo
 * included) goes to the kernel, which owns the VIPs (docs/design/006-xdp-encap-icmp.md). */
static __always_inline int parse_icmp_error(struct pkt *p)
{
	void *end = p->end;
	__u8 *icmp = p->l4;
	void *inner_l4;

	if ((void *)(icmp + 8) > end)
		return -1;
	if (p->family == 4) {
		if (icmp[0] != 3 || icmp[1] != 4) /* destination unreachable, fragmentation needed (RFC 792) */
			return -1;
		struct iphdr *in = (void *)(icmp + 8);
		if ((void *)(in + 1) > end)
			return -1;
		/* A later fragment quotes no ports. */
		if (in->version != 4 || in->ihl < 5 || (in->frag_off & bpf_htons(0x1fff)))
			return -1;
		/* The quoted packet was sent by the VIP this error is addressed to. */
		if (in->saddr != *(__be32 *)(p->flow.dst + 12))
			return -1;
		inner_l4 = (void *)in + in->ihl * 4;
		p->proto = in->protocol;
		map_v4(p->flow.src, in->daddr);
		p->inner = in;
	} else {
		if (icmp[0] != 2 || icmp[1] != 0) /* packet too big (RFC 4443 §3.2) */
			return -1;
		struct ipv6hdr *in = (void *)(icmp + 8);
		if ((void *)(in + 1) > end)
			return -1;
		if (in->version != 6)
			return -1;
		/* 32 bits at a time: p->flow is only 4-byte aligned on the stack. */
		const __u32 *q = (const __u32 *)&in->saddr, *vip = (const __u32 *)p->flow.dst;
		if ((q[0] ^ vip[0]) | (q[1] ^ vip[1]) | (q[2] ^ vip[2]) | (q[3] ^ vip[3]))
			return -1;
		inner_l4 = in + 1;
		p->proto = in->nexthdr;
		__builtin_memcpy(p->flow.src, &in->daddr, 16);
		p->inner = in;
	}
	if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)
		return -1;
	/* RFC 792 guarantees 8 bytes of the quoted transport header: the ports are in them. */
	__be16 *ports = inner_l4;
	if ((void *)(ports + 4) > end)
		return -1;
	p->flow.sport = ports[1]; /* the client's port */
	p->flow.dport = ports[0]; /* the VIP's */
	p->flow.proto = p->proto;
	p->inner_l4 = inner_l4;
	p->l4_csum = NULL;
	p->icmp = 1;
	return 0;
}

static __always_inline int parse(struct xdp_md *ctx, struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *l3 = eth + 1;

	if (l3 > end)
		return -1;
	__be16 type = eth->h_proto;
	if (type == bpf_htons(ETH_P_8021Q) || type == bpf_htons(ETH_P_8021AD)) {
		/* One VLAN tag: TCI then the inner EtherType. */
		if (l3 + 4 > end)
			return -1;
		type = *(__be16 *)(l3 + 2);
		l3 += 4;
		p->tagged = 1;
	}
	p->l3 = l3;
	p->end = end;
	if (type == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;
		if ((void *)(ip + 1) > end)
			return -1;
		if (ip->version != 4 || ip->ihl < 5)
			return -1;
		/* Fragments: only the first carries ports; the kernel reassembles them (next: ICMP). */
		if (ip->frag_off & bpf_htons(0x3fff))
			return -1;
		p->l4 = l3 + ip->ihl * 4;
		p->family = 4;
		p->proto = ip->protocol;
		p->l3_len = bpf_ntohs(ip->tot_len);
		map_v4(p->flow.src, ip->saddr);
		map_v4(p->flow.dst, ip->daddr);
	} else if (type == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;
		if ((void *)(ip6 + 1) > end)
			return -1;
		if (ip6->version != 6)
			return -1;
		/* Extension headers are left to the kernel: VIP traffic does not carry them. */
		p->l4 = ip6 + 1;
		p->family = 6;
		p->proto = ip6->nexthdr;
		p->l3_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
		__builtin_memcpy(p->flow.src, &ip6->saddr, 16);
		__builtin_memcpy(p->flow.dst, &ip6->daddr, 16);
	} else {
		return -1;
	}
	p->flow.proto = p->proto;
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *tcp = p->l4;
		if ((void *)(tcp + 1) > end)
			return -1;
		p->flow.sport = tcp->source;
		p->flow.dport = tcp->dest;
		p->l4_csum = &tcp->check;
		p->closing = tcp->fin | tcp->rst;
		p->syn = tcp->syn & !tcp->ack;
	} else if (p->proto == IPPROTO_UDP) {
		struct udphdr *udp = p->l4;
		if ((void *)(udp + 1) > end)
			return -1;
		p->flow.sport = udp->source;
		p->flow.dport = udp->dest;
		/* RFC 768: zero means "no checksum" over IPv4 and must stay zero. */
		p->l4_csum = (p->family == 4 && udp->check == 0) ? NULL : &udp->check;
	} else if (p->proto == (p->family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6)) {
		return parse_icmp_error(p);
	} else {
		return -1;
	}
	return 0;
}

/* Rewrites addresses and ports in place, fixing the IPv4 header and L4 checksums incrementally. */
static __always_inline int rewrite(struct pkt *p, const __u8 *src, __be16 sport, const __u8 *dst, __be16 dport)
{
	__u32 l4sum = 0;
	__be16 *ports = p->l4; /* source then destination, for both TCP and UDP */

	if ((void *)(ports + 2) > p->end)
		return -1;
	if (p->family == 4) {
		struct iphdr *ip = p->l3;
		if ((void *)(ip + 1) > p->end)
			return -1;
		__be32 old[2] = { ip->saddr, ip->daddr };
		__be32 new[2];
		__builtin_memcpy(&new[0], src + 12, 4);
		__builtin_memcpy(&new[1], dst + 12, 4);
		__u32 sum = csum_words(0, (const __u16 *)old, (const __u16 *)new, 4);
		ip->check = csum_finish(ip->check, sum);
		ip->saddr = new[0];
		ip->daddr = new[1];
		l4sum = sum; /* the pseudo-header holds the same addresses */
	} else {
		struct ipv6hdr *ip6 = p->l3;
		if ((void *)(ip6 + 1) > p->end)
			return -1;
		l4sum = csum_words(l4sum, (const __u16 *)&ip6->saddr, (const __u16 *)src, 8);
		l4sum = csum_words(l4sum, (const __u16 *)&ip6->daddr, (const __u16 *)dst, 8);
		__builtin_memcpy(&ip6->saddr, src, 16);
		__builtin_memcpy(&ip6->daddr, dst, 16);
	}
	__be16 old_ports[2] = { ports[0], ports[1] };
	__be16 new_ports[2] = { sport, dport };
	l4sum = csum_words(l4sum, (const __u16 *)old_ports, (const __u16 *)new_ports, 2);
	__u16 *csum = p->l4_csum;
	if (csum && (void *)(csum + 1) > p->end)
		return -1;
	if (csum) {
		__u16 c = csum_finish(*csum, l4sum);
		/* UDP sends a computed zero as all ones (RFC 768). */
		if (c == 0 && p->proto == IPPROTO_UDP)
			c = 0xffff;
		*csum = c;
	}
	ports[0] = sport;
	ports[1] = dport;
	return 0;
}

static __always_inline void decrement_ttl(struct pkt *p)
{
	if (p->family == 4) {
		struct iphdr *ip = p->l3;
		if ((void *)(ip + 1) > p->end)
			return;
		/* TTL is the high byte of its 16-bit word with protocol: RFC 1624 on that word. */
		__u16 old = *(__u16 *)&ip->ttl;
		ip->ttl--;
		__u16 new = *(__u16 *)&ip->ttl;
		ip->check = csum_finish(ip->check, (__u16)~old + new);
	} else {
		struct ipv6hdr *ip6 = p->l3;
		if ((void *)(ip6 + 1) > p->end)
			return;
		ip6->hop_limit--;
	}
}

/* Sends the packet toward `dst` by the kernel's FIB, as a router would: `routed` (nat) means the
 * IP header is ours to age; in dsr-l2 the frame only changes hands on the same segment.
 *
 * Where the FIB can't finish the job the *translated* packet goes to the kernel, which forwards
 * it as it would any routed packet. That is the slow path that makes the fast one work: XDP
 * cannot resolve a neighbour, the kernel can, and does so by queueing this very packet until
 * the ARP/ND answer comes (nothing is lost). The next packets of the flow then find the
 * neighbour and stay in XDP. Handing over the *original* packet instead would not help: the
 * kernel would route it to the VIP, not toward the backend, so nothing would ever resolve the
 * backend's next hop. An SNATed IPv4 packet carries one of the node's own addresses as source,
 * which the kernel drops as martian unless the interface has accept_local=1; the agent sets
 * that on every interface it attaches to (docs/design/002-xdp-dataplane.md, "Slow path"). */
static __noinline int forward(struct xdp_md *ctx, struct pkt *p, const struct vg_config *cfg, const __u8 *dst, bool routed)
{
	struct bpf_fib_lookup fib = {};
	if (cfg->flags & VG_CFG_NO_FIB) {
		count(&fib.ifindex, VG_STAT_KERNEL_FIB);
		return XDP_PASS;
	}
	fib.ifindex = ctx->ingress_ifindex;
	if (p->family == 4) {
		struct iphdr *ip = p->l3;
		if ((void *)(ip + 1) > p->end)
			return XDP_DROP;
		if (routed && ip->ttl <= 1)
			return XDP_PASS; /* the kernel sends time-exceeded */
		fib.family = AF_INET;
		fib.tos = ip->tos;
		fib.l4_protocol = ip->protocol;
		fib.tot_len = bpf_ntohs(ip->tot_len);
		fib.ipv4_src = ip->saddr;
		__builtin_memcpy(&fib.ipv4_dst, dst + 12, 4);
	} else {
		struct ipv6hdr *ip6 = p->l3;
		if ((void *)(ip6 + 1) > p->end)
			return XDP_DROP;
		if (routed && ip6->hop_limit <= 1)
			return XDP_PASS;
		fib.family = AF_INET6;
		fib.l4_protocol = ip6->nexthdr;
		fib.tot_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
		__builtin_memcpy(fib.ipv6_src, &ip6->saddr, 16);
		__builtin_memcpy(fib.ipv6_dst, dst, 16);
	}
	long rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
		count(&fib.ifindex, rc == BPF_FIB_LKUP_RET_NO_NEIGH ? VG_STAT_KERNEL_NEIGH : VG_STAT_KERNEL_FIB);
		return XDP_PASS;
	}
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	if (routed)
		decrement_ttl(p);
	__u32 out = fib.ifindex;
	count(&fib.ifindex, VG_STAT_FORWARDED);
	if (out == ctx->ingress_ifindex)
		return XDP_TX;
	return bpf_redirect(out, 0);
}

/* A reply from a backend of a translated flow: make it come from the VIP, to the client. */
static __always_inline int reply(struct xdp_md *ctx, struct pkt *p, const struct vg_config *cfg)
{
	struct vg_reverse *r = bpf_map_lookup_elem(&vg_reverse, &p->flow);
	if (!r)
		return XDP_PASS;
	note_state(r, p);
	if (rewrite(p, r->vip, r->vip_port, r->client, r->client_port) < 0)
		return XDP_DROP;
	return forward(ctx, p, cfg, r->client, true);
}

static __always_inline bool source_denied(const struct pkt *p, const struct vg_service *svc)
{
	struct vg_lpm_key deny = { .prefixlen = 128 };
	__builtin_memcpy(deny.addr, p->flow.src, 16);
	if (bpf_map_lookup_elem(&vg_deny_sources, &deny))
		return true;
	if (!(svc->flags & VG_SVC_SOURCES_RESTRICTED))
		return false;
	struct vg_allow_key allow = { .prefixlen = 32 + 128, .slot = bpf_htonl(svc->slot) };
	__builtin_memcpy(allow.addr, p->flow.src, 16);
	return bpf_map_lookup_elem(&vg_allowed_sources, &allow) == NULL;
}

/* The backend for a flow: the one it already has while that backend exists, else the ring's. */
/* A unicast frame addressed to another host's MAC: a switch flooding an unknown destination, or
 * a bridge whose port to the host it was meant for is down. The kernel drops such frames
 * (PACKET_OTHERHOST); XDP sees them first, and serving them would make this node a second LB for
 * flows another node serves (in the demo, lb2 took lb1's flows the moment lb1's port went
 * down, before BGP had withdrawn lb1's route). Checked when a flow would start here, so an
 * established flow pays nothing; an interface the agent did not register is not checked. */
static __always_inline bool for_another_host(struct xdp_md *ctx, const struct pkt *p)
{
	__u32 ifindex = ctx->ingress_ifindex;
	const struct vg_iface *me = bpf_map_lookup_elem(&vg_ifaces, &ifindex);
	if (!me)
		return false;
	const __u8 *eth = (const __u8 *)(long)ctx->data;
	if ((const void *)(eth + 6) > p->end)
		return false;
	if (eth[0] & 1)
		return false; /* broadcast or multicast: not someone else's unicast */
	return eth[0] != me->mac[0] || eth[1] != me->mac[1] || eth[2] != me->mac[2] || eth[3] != me->mac[3] ||
	       eth[4] != me->mac[4] || eth[5] != me->mac[5];
}

/* Policy is decided when a flow starts (as in the nftables engine and kube-proxy's nftables mode):
 * a packet of an admitted flow skips the deny list and the source ranges — an LPM lookup or two
 * per packet — so narrowing them stops new flows, and open ones run out. */
static __always_inline struct vg_flow *choose(struct xdp_md *ctx, struct pkt *p, const struct vg_service *svc,
					      struct vg_backend **backend_out, bool *foreign, bool *denied)
{
	struct vg_flow *flow = bpf_map_lookup_elem(&vg_flows, &p->flow);
	if (flow) {
		__u32 idx = flow->backend;
		struct vg_backend *b = bpf_map_lookup_elem(&vg_backends, &idx);
		if (b && (b->flags & VG_BACKEND_PRESENT) && b->slot == svc->slot) {
			*backend_out = b;
			return flow;
		}
	} else if (for_another_host(ctx, p)) {
		*foreign = true;
		return NULL;
	}
	/* From here on the packet starts a flow (or moves one off a removed backend). */
	if (source_denied(p, svc)) {
		*denied = true;
		return NULL;
	}
	if (svc->ring_size == 0)
		return NULL;
	__u32 slot = svc->slot;
	void *ring = bpf_map_lookup_elem(&vg_rings, &slot);
	if (!ring)
		return NULL;
	__u32 pos = flow_hash(&p->flow, svc->flags & VG_SVC_AFFINITY_CLIENT_IP) % svc->ring_size;
	__u32 *idx = bpf_map_lookup_elem(ring, &pos);
	if (!idx)
		return NULL;
	__u32 chosen = *idx;
	struct vg_backend *b = bpf_map_lookup_elem(&vg_backends, &chosen);
	if (!b || !(b->flags & VG_BACKEND_PRESENT))
		return NULL;
	struct vg_flow fresh = { .backend = chosen };
	if (bpf_map_update_elem(&vg_flows, &p->flow, &fresh, BPF_ANY))
		return NULL;
	*backend_out = b;
	return bpf_map_lookup_elem(&vg_flows, &p->flow);
}

/* Picks the translated source port, probing a few neighbours so two live flows never share one
 * (backend, LB address, port) — their replies would be confused. A port whose flow ended
 * (FIN/RST, see released()) is free again. */
/* Not inlined: its unrolled probes spill registers, and the stack of every call chain must stay
 * within 512 bytes (it returns before forward() runs). */
#define VG_SNAT_PROBES 16

static __noinline int snat_port(struct pkt *p, const struct vg_config *cfg, struct vg_flow_key *rkey,
				const struct vg_reverse *rev)
{
	__u32 span = (__u32)cfg->snat_port_max - cfg->snat_port_min + 1;
	if (cfg->snat_port_max < cfg->snat_port_min)
		return -1;
	/* Start from the client's own port, offset per client address: one client's concurrent
	 * flows (distinct ports, handed out in sequence by its kernel) land on distinct SNAT ports
	 * and rarely need a probe; a hash of the whole 5-tuple would collide by the birthday bound. */
	__u32 h = flow_hash(&p->flow, true) + bpf_ntohs(p->flow.sport);
	/* The first probe is the port above; the others jump by a large odd stride, not to the next
	 * port: a client's ports come in sequence, so the ports next to a taken one are taken too
	 * once its sequence wraps around the span while older flows still hold theirs. Linear
	 * probes lost 2–5 of 8,000 new connections that way when one backend took all the load
	 * (test/xdp-walkthrough.test.ts, backend removal). */
	/* Two rounds. First only ports unused, or released longer ago than the backends' TIME_WAIT
	 * (60 s on Linux): a port reused sooner reaches a backend that still holds the old
	 * connection in TIME_WAIT, whose PAWS check drops the new SYN when the new client's TCP
	 * timestamps are behind the old one's (per-connection random offsets: half the time) — the
	 * walk-through's lost connections (TcpExtPAWSTimewait on the pod). Then, when the span is
	 * that busy, any port released a few seconds ago. */
#pragma unroll
	for (int round = 0; round < 2; round++) {
		__u32 after_ticks = round == 0 ? VG_SNAT_TIMEWAIT_TICKS : VG_SNAT_REUSE_TICKS;
#pragma unroll
		for (int i = 0; i < VG_SNAT_PROBES; i++) {
			__u16 port = cfg->snat_port_min + (h + i * 2617u) % span;
			rkey->dport = bpf_htons(port);
			struct vg_reverse *held = bpf_map_lookup_elem(&vg_reverse, rkey);
			if (held && !same_owner(held, rev) && !released(held, after_ticks))
				continue;
			if (bpf_map_update_elem(&vg_reverse, rkey, rev, BPF_ANY))
				return -1;
			return 0;
		}
	}
	return -1;
}

/* nat: DNAT to the backend, SNAT to the LB's address when p->snat. A function of its own so that
 * the program's own frame stays small: the encap and ICMP paths call two levels deeper. */
static __noinline int nat(struct xdp_md *ctx, struct pkt *p, const struct vg_config *cfg, const struct vg_backend *b,
			  struct vg_flow *flow)
{
	__u32 zero = 0;
	const __u8 *lb = p->family == 4 ? cfg->snat4 : cfg->snat6;
	const __u8 *new_src;
	__be16 new_sport;
	/* An established flow whose reply entry was found or written in this clock tick (~1 s)
	 * skips it: two hash operations saved per packet. Once a tick the lookup runs again, which
	 * keeps the entry recent in the LRU and puts back one that was evicted; SYN, FIN and RST
	 * always take the full path, where the entry's closing state is kept. */
	__u16 tick = (__u16)clock_ticks() | 1;
	bool confirmed = flow->reply_seen == tick && !p->syn && !p->closing;
	if (confirmed && (!p->snat || flow->snat_port)) {
		new_src = p->snat ? lb : p->flow.src;
		new_sport = p->snat ? flow->snat_port : p->flow.sport;
		if (rewrite(p, new_src, new_sport, b->addr, b->port) < 0)
			return XDP_DROP;
		return forward(ctx, p, cfg, b->addr, true);
	}
	flow->reply_seen = tick;
	struct nat_scratch *nat = bpf_map_lookup_elem(&vg_scratch, &zero);
	if (!nat)
		return XDP_DROP;
	struct vg_flow_key *rkey = &nat->rkey;
	struct vg_reverse *rev = &nat->rev;
	__builtin_memset(nat, 0, sizeof(*nat));
	__builtin_memcpy(rkey->src, b->addr, 16);
	rkey->sport = b->port;
	rkey->proto = p->proto;
	__builtin_memcpy(rev->client, p->flow.src, 16);
	__builtin_memcpy(rev->vip, p->flow.dst, 16);
	rev->client_port = p->flow.sport;
	rev->vip_port = p->flow.dport;
	if (p->snat) {
		__builtin_memcpy(rkey->dst, lb, 16);
		new_src = lb;
		struct vg_reverse *held = NULL;
		if (flow->snat_port) {
			rkey->dport = flow->snat_port;
			held = bpf_map_lookup_elem(&vg_reverse, rkey);
			/* Its port went to another flow after this one ended: choose afresh. */
			if (held && !same_owner(held, rev))
				held = NULL, flow->snat_port = 0;
		}
		if (held) {
			note_state(held, p); /* the lookup also keeps the entry recent in the LRU */
		} else if (flow->snat_port) {
			note_state(rev, p);
			bpf_map_update_elem(&vg_reverse, rkey, rev, BPF_ANY); /* evicted: put it back */
		} else if (snat_port(p, cfg, rkey, rev) < 0) {
			count(&zero, VG_STAT_DROPPED);
			return XDP_DROP; /* port range exhausted around this hash: the client retries */
		}
		flow->snat_port = rkey->dport;
		new_sport = rkey->dport;
	} else {
		__builtin_memcpy(rkey->dst, p->flow.src, 16);
		rkey->dport = p->flow.sport;
		new_src = rev->client;
		new_sport = p->flow.sport;
		/* An established flow finds its reply entry: the lookup keeps it recent in the LRU, and
		 * the update (a hash-bucket lock and an element copy, ~150 ns) is left to new flows. */
		struct vg_reverse *held = bpf_map_lookup_elem(&vg_reverse, rkey);
		if (held && same_owner(held, rev))
			note_state(held, p);
		else
			bpf_map_update_elem(&vg_reverse, rkey, rev, BPF_ANY);
	}
	if (rewrite(p, new_src, new_sport, b->addr, b->port) < 0)
		return XDP_DROP;
	return forward(ctx, p, cfg, b->addr, true);
}

#include "vg_encap_icmp.h"

SEC("xdp")
int vipgate_xdp(struct xdp_md *ctx)
{
	struct pkt p = {};
	if (parse(ctx, &p) < 0)
		return XDP_PASS;

	__u32 zero = 0;
	struct vg_config *cfg = bpf_map_lookup_elem(&vg_config, &zero);
	if (!cfg)
		return XDP_PASS;

	struct vg_service_key skey = { .port = p.flow.dport, .proto = p.proto };
	__builtin_memcpy(skey.addr, p.flow.dst, 16);
	struct vg_service *svc = bpf_map_lookup_elem(&vg_services, &skey);
	if (!svc) {
		if (cfg->mode == VG_MODE_NAT && !p.icmp)
			return reply(ctx, &p, cfg);
		return XDP_PASS;
	}
	/* An ICMP error comes from a router, not the client: no source checks, no counters, and it
	 * follows an existing flow only. */
	if (p.icmp)
		return icmp_error(ctx, &p, cfg, svc);
	struct vg_backend *b = NULL;
	bool foreign = false, denied = false;
	struct vg_flow *flow = choose(ctx, &p, svc, &b, &foreign, &denied);
	if (foreign)
		return XDP_PASS; /* the kernel drops it as another host's; not counted as ours */
	if (denied) {
		count(&zero, VG_STAT_DROPPED);
		return XDP_DROP;
	}

	__u32 slot = svc->slot;
	struct vg_counters *c = bpf_map_lookup_elem(&vg_counters, &slot);
	if (c) {
		c->packets++;
		c->bytes += p.l3_len;
	}
	if (!flow || !b || b->family != p.family) {
		count(&zero, VG_STAT_DROPPED); /* no backend for a new flow: nothing behind the VIP to answer */
		return XDP_DROP;
	}

	/* dsr-l2: the backend owns the VIP too; only the frame's destination changes. */
	if (cfg->mode == VG_MODE_DSR_L2)
		return forward(ctx, &p, cfg, b->addr, false);
	/* ipip/gue: the backend owns the VIP and gets the client's packet unchanged, in a tunnel. */
	if (cfg->mode == VG_MODE_IPIP || cfg->mode == VG_MODE_GUE) {
		int verdict = encap(ctx, &p, cfg, b->addr);
		return verdict == VG_ENCAP_READY ? forward(ctx, &p, cfg, b->addr, false) : verdict;
	}

	const __u8 *lb = p.family == 4 ? cfg->snat4 : cfg->snat6;
	/* An all-zero address means the agent knows none for this family: keep the client's. */
	p.snat = (svc->flags & VG_SVC_SNAT) && (((const __u64 *)lb)[0] | ((const __u64 *)lb)[1]);
	return nat(ctx, &p, cfg, b, flow);
}

char LICENSE[] SEC("license") = "GPL";
