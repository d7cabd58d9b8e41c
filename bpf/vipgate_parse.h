/* Packet parsing into struct pkt, which every later step works from: Ethernet with at most one
 * VLAN tag, IPv4 (no fragments) or IPv6 (no extension headers), then TCP, UDP, or an ICMP error
 * about a VIP flow. parse() < 0: not ours, the kernel gets the packet untouched. */
#ifndef VIPGATE_PARSE_H
#define VIPGATE_PARSE_H

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

#endif
