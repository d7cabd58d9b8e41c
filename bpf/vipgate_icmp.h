/* ICMP errors about VIP flows (recognised by parse_icmp_error() in vipgate_parse.h): sent on to the
 * backend that serves the flow, as its mode delivers the flow's own packets, translated in nat
 * mode. Formats and choices: docs/design/006-xdp-encap-icmp.md. */
#ifndef VIPGATE_ICMP_H
#define VIPGATE_ICMP_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include "vipgate_maps.h"
#include "vipgate_csum.h"
#include "vipgate_parse.h"
#include "vipgate_forward.h"
#include "vipgate_encap.h"

/* nat: the backend must see the error as one about its own packet (backend:port → LB:SNAT port,
 * or → client:port without SNAT): the quoted header is translated as the forward path translates
 * the flow, the outer destination becomes the backend (and the outer source the LB when SNATed).
 * Every checksum that covers a changed word is fixed incrementally (RFC 1624). */
/* Not inlined: its checksum loops spill, and it returns before forward() runs. */
static __noinline int icmp_nat(struct pkt *p, const struct vg_config *cfg, const struct vg_backend *b,
				    const struct vg_flow *flow)
{
	void *end = p->end;
	const bool snat = flow->snat_port != 0;
	const __u8 *lb = p->family == 4 ? cfg->snat4 : cfg->snat6;
	__be16 *ports = p->inner_l4;
	__u16 *icmp_check = p->l4 + 2;
	__u32 addr;    /* change of the quoted addresses: its IPv4 header and transport pseudo-header */
	__u32 msg = 0; /* change of every word the ICMP checksum covers */

	/* Set whenever p->icmp is, but the verifier can't see that through the stack. */
	if (!ports || !p->inner)
		return -1;
	if ((void *)(ports + 4) > end || (void *)(icmp_check + 1) > end)
		return -1;
	if (p->family == 4) {
		struct iphdr *ip = p->l3, *in = p->inner;
		if ((void *)(ip + 1) > end || (void *)(in + 1) > end)
			return -1;
		__be32 old[2] = { in->saddr, in->daddr };
		__be32 new[2] = { 0, in->daddr };
		__builtin_memcpy(&new[0], b->addr + 12, 4);
		if (snat)
			__builtin_memcpy(&new[1], lb + 12, 4);
		addr = csum_words(0, (const __u16 *)old, (const __u16 *)new, 4);
		in->saddr = new[0];
		in->daddr = new[1];
		__u16 old_check = in->check;
		in->check = csum_finish(old_check, addr);
		msg = addr + (__u16)~old_check + in->check;

		/* ICMPv4's checksum has no pseudo-header: the outer addresses are the IP header's business. */
		__be32 oold[2] = { ip->saddr, ip->daddr };
		__be32 onew[2] = { ip->saddr, 0 };
		if (snat)
			__builtin_memcpy(&onew[0], lb + 12, 4);
		__builtin_memcpy(&onew[1], b->addr + 12, 4);
		ip->check = csum_finish(ip->check, csum_words(0, (const __u16 *)oold, (const __u16 *)onew, 4));
		ip->saddr = onew[0];
		ip->daddr = onew[1];
	} else {
		struct ipv6hdr *ip6 = p->l3, *in = p->inner;
		if ((void *)(ip6 + 1) > end || (void *)(in + 1) > end)
			return -1;
		addr = csum_words(0, (const __u16 *)&in->saddr, (const __u16 *)b->addr, 8);
		__builtin_memcpy(&in->saddr, b->addr, 16);
		if (snat) {
			addr = csum_words(addr, (const __u16 *)&in->daddr, (const __u16 *)lb, 8);
			__builtin_memcpy(&in->daddr, lb, 16);
		}
		/* ICMPv6's checksum covers the outer addresses too (pseudo-header). */
		msg = addr + csum_words(0, (const __u16 *)&ip6->daddr, (const __u16 *)b->addr, 8);
		__builtin_memcpy(&ip6->daddr, b->addr, 16);
		if (snat) {
			msg = csum_words(msg, (const __u16 *)&ip6->saddr, (const __u16 *)lb, 8);
			__builtin_memcpy(&ip6->saddr, lb, 16);
		}
	}
	__be16 old_ports[2] = { ports[0], ports[1] };
	__be16 new_ports[2] = { b->port, snat ? flow->snat_port : ports[1] };
	__u32 port = csum_words(0, (const __u16 *)old_ports, (const __u16 *)new_ports, 2);
	ports[0] = new_ports[0];
	ports[1] = new_ports[1];
	msg += port;
	/* The quoted transport checksum, where the quote holds it (a TCP one needs 18 bytes; nf_nat
	 * makes the same check). A zero UDP checksum over IPv4 means none and stays zero. */
	__u16 *l4_check = p->proto == IPPROTO_UDP ? (__u16 *)(ports + 3) : (__u16 *)(ports + 8);
	if ((void *)(l4_check + 1) <= end && !(p->proto == IPPROTO_UDP && p->family == 4 && *l4_check == 0)) {
		__u16 old = *l4_check;
		__u16 c = csum_finish(old, addr + port);
		if (c == 0 && p->proto == IPPROTO_UDP)
			c = 0xffff;
		*l4_check = c;
		msg += (__u16)~old + c;
	}
	*icmp_check = csum_finish(*icmp_check, msg);
	return 0;
}

/* An ICMP frag-needed / packet-too-big about a VIP flow (parse_icmp_error): to the backend that
 * serves the flow, as that mode delivers the flow's own packets. Only an existing flow: an error
 * never creates one. Without one the kernel gets it (it owns the VIP, and ignores it). */
static __noinline int icmp_error(struct xdp_md *ctx, struct pkt *p, const struct vg_config *cfg, const struct vg_service *svc)
{
	struct vg_flow *flow = bpf_map_lookup_elem(&vg_flows, &p->flow);
	if (!flow)
		return XDP_PASS;
	__u32 idx = flow->backend;
	struct vg_backend *b = bpf_map_lookup_elem(&vg_backends, &idx);
	if (!b || !(b->flags & VG_BACKEND_PRESENT) || b->slot != svc->slot || b->family != p->family)
		return XDP_PASS;
	if (cfg->mode == VG_MODE_DSR_L2)
		return forward(ctx, p, cfg, b->addr, false);
	if (cfg->mode == VG_MODE_IPIP || cfg->mode == VG_MODE_GUE) {
		int verdict = encap(ctx, p, cfg, b->addr);
		return verdict == VG_ENCAP_READY ? forward(ctx, p, cfg, b->addr, false) : verdict;
	}
	if (icmp_nat(p, cfg, b, flow) < 0)
		return XDP_PASS;
	return forward(ctx, p, cfg, b->addr, true);
}

#endif
