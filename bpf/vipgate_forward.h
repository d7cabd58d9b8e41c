/* Where a translated packet goes: out by the kernel's FIB (XDP_TX or a redirect), or to the kernel
 * (the slow path), and count(), which tallies in vg_stats which of those (or a drop) it was. */
#ifndef VIPGATE_FORWARD_H
#define VIPGATE_FORWARD_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "vipgate_maps.h"
#include "vipgate_csum.h"
#include "vipgate_parse.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* `key` is stack space the caller no longer needs: the combined stack of the program and
 * forward() is within a few bytes of the verifier's 512-byte limit. */
static __always_inline void count(__u32 *key, __u32 what)
{
	*key = what;
	__u64 *n = bpf_map_lookup_elem(&vg_stats, key);
	if (n)
		*n += 1;
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

#endif
