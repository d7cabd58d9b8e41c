// SPDX-License-Identifier: GPL-2.0
/* The backend's side of the XDP engine's `ipip` and `gue` forwarding, for lab kernels without the
 * ipip/fou modules (docs/design/006-xdp-encap-icmp.md): on the pod's interface, strips the outer
 * header of IPv4-in-IPv4, IPv6-in-IPv6 and GUE variant 1 (UDP to GUE_PORT, the inner IP packet
 * right after the UDP header) and hands the client's own packet to the kernel, as a tunnel
 * device would. Anything else passes untouched. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef GUE_PORT
#define GUE_PORT 6080
#endif

/* Bytes of outer header after the Ethernet header, 0 when the frame is not encapsulated. */
static __always_inline int outer_length(void *l3, void *end, __u16 proto)
{
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;
		if ((void *)(ip + 1) > end || ip->ihl != 5)
			return 0;
		if (ip->protocol == IPPROTO_IPIP)
			return sizeof(*ip);
		struct udphdr *udp = (void *)(ip + 1);
		if (ip->protocol == IPPROTO_UDP && (void *)(udp + 1) <= end && udp->dest == bpf_htons(GUE_PORT))
			return sizeof(*ip) + sizeof(*udp);
		return 0;
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;
		if ((void *)(ip6 + 1) > end)
			return 0;
		if (ip6->nexthdr == IPPROTO_IPV6)
			return sizeof(*ip6);
		struct udphdr *udp = (void *)(ip6 + 1);
		if (ip6->nexthdr == IPPROTO_UDP && (void *)(udp + 1) <= end && udp->dest == bpf_htons(GUE_PORT))
			return sizeof(*ip6) + sizeof(*udp);
	}
	return 0;
}

SEC("xdp")
int backend_decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	int outer = outer_length(eth + 1, end, eth->h_proto);
	if (outer == 0)
		return XDP_PASS;
	/* The inner packet's family decides the EtherType (GUE may carry either). */
	__u8 *inner = (__u8 *)(eth + 1) + outer;
	if ((void *)(inner + 1) > end)
		return XDP_DROP;
	__u16 inner_proto = (*inner >> 4) == 6 ? bpf_htons(ETH_P_IPV6) : bpf_htons(ETH_P_IP);
	struct ethhdr copy = *eth;
	copy.h_proto = inner_proto;
	if (bpf_xdp_adjust_head(ctx, outer))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	__builtin_memcpy(eth, &copy, sizeof(copy));
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
