/* ipip/GUE encapsulation toward backends, and the ICMP "too big" answers to clients whose packet
 * no longer fits the MTU once encapsulated (rate-limited per CPU). Formats and choices:
 * docs/design/006-xdp-encap-icmp.md. */
#ifndef VIPGATE_ENCAP_H
#define VIPGATE_ENCAP_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "vipgate_maps.h"
#include "vipgate_csum.h"
#include "vipgate_parse.h"
#include "vipgate_hash.h"
#include "vipgate_forward.h"

#define VG_ENCAP_TTL 64
/* encap()'s answer when the packet is ready to go to the backend: the caller calls forward(), so
 * that forward()'s frame never stacks on encap()'s (512 bytes for the deepest call chain). */
#define VG_ENCAP_READY -1
/* Bytes of the offending packet an ICMP "too big" quotes. RFC 792 asks for the IP header and 8
 * bytes, RFC 4443 "as much as possible"; a fixed size keeps the checksum one bounded helper call
 * (bpf_csum_diff takes at most 512 bytes), and the packet is always longer (it was too big). */
#define VG_ICMP_QUOTE4 128
#define VG_ICMP_QUOTE6 256

static __always_inline bool nonzero16(const __u8 *a)
{
	const __u64 *x = (const __u64 *)a;
	return (x[0] | x[1]) != 0;
}

/* ICMP "fragmentation needed" / ICMPv6 "packet too big" back to the client, from the VIP, quoting
 * the start of its packet, out of the interface it came in on. V6 is a constant at each call. */
static __always_inline int too_big_as(struct xdp_md *ctx, struct pkt *p, __u32 mtu, const bool v6)
{
	const int hdr = v6 ? 40 + 8 : 20 + 8;
	const int quote = v6 ? VG_ICMP_QUOTE6 : VG_ICMP_QUOTE4;
	const bool tagged = p->tagged;
	const int off = tagged ? 18 : 14;
	int len = bpf_xdp_get_buff_len(ctx);

	if (len < off + quote)
		return XDP_DROP; /* not reached: a packet too big for the MTU is longer than the quote */
	if (bpf_xdp_adjust_tail(ctx, off + quote - len))
		return XDP_DROP;
	if (bpf_xdp_adjust_head(ctx, -hdr))
		return XDP_DROP;
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	if (data + off + hdr + quote > end)
		return XDP_DROP;
	/* The frame goes back where it came from: MACs swapped, VLAN tag and EtherType kept. */
	__u8 *eth = data, *old = data + hdr;
	__builtin_memcpy(eth, old + 6, 6);
	__builtin_memcpy(eth + 6, old, 6);
	if (tagged)
		__builtin_memcpy(eth + 12, old + 12, 6);
	else
		__builtin_memcpy(eth + 12, old + 12, 2);
	void *ip = data + off;
	__u64 sum;
	if (!v6) {
		struct iphdr *o = ip;
		__u8 *icmp = ip + 20;
		*(__u8 *)o = 0x45;
		o->tos = 0;
		o->tot_len = bpf_htons(hdr + quote);
		o->id = 0;
		o->frag_off = 0;
		o->ttl = VG_ENCAP_TTL;
		o->protocol = IPPROTO_ICMP;
		o->check = 0;
		__builtin_memcpy(&o->saddr, p->flow.dst + 12, 4); /* the VIP */
		__builtin_memcpy(&o->daddr, p->flow.src + 12, 4); /* the client */
		o->check = ~csum_fold16(csum_bytes(o, 20));
		icmp[0] = 3; /* destination unreachable */
		icmp[1] = 4; /* fragmentation needed and DF set; next-hop MTU (RFC 1191 §4) */
		*(__u16 *)(icmp + 2) = 0;
		*(__u16 *)(icmp + 4) = 0;
		*(__be16 *)(icmp + 6) = bpf_htons(mtu);
		sum = csum_bytes(icmp, 8 + quote);
		*(__u16 *)(icmp + 2) = ~csum_fold16(sum);
	} else {
		struct ipv6hdr *o = ip;
		__u8 *icmp = ip + 40;
		*(__be32 *)o = bpf_htonl(0x60000000);
		o->payload_len = bpf_htons(8 + quote);
		o->nexthdr = IPPROTO_ICMPV6;
		o->hop_limit = VG_ENCAP_TTL;
		__builtin_memcpy(&o->saddr, p->flow.dst, 16);
		__builtin_memcpy(&o->daddr, p->flow.src, 16);
		icmp[0] = 2; /* packet too big (RFC 4443 §3.2) */
		icmp[1] = 0;
		*(__u16 *)(icmp + 2) = 0;
		*(__be32 *)(icmp + 4) = bpf_htonl(mtu);
		/* Pseudo-header (RFC 8200 §8.1): addresses, upper-layer length, next header. */
		sum = csum_bytes(&o->saddr, 32) + bpf_htons(8 + quote) + bpf_htons(IPPROTO_ICMPV6);
		sum += csum_bytes(icmp, 8 + quote);
		*(__u16 *)(icmp + 2) = ~csum_fold16(sum);
	}
	return XDP_TX;
}

/* True when this CPU's bucket has an answer left (and takes it); counts either way. Time credit
 * rather than tokens: one subtraction per answer, refilled by the time since the last packet. */
static __always_inline bool icmp_answer_allowed(void)
{
	__u32 zero = 0;
	struct vg_icmp_state *s = bpf_map_lookup_elem(&vg_icmp_state, &zero);
	if (!s)
		return false;
	const struct vg_icmp_limit *l = bpf_map_lookup_elem(&vg_icmp_limit, &zero);
	__u64 per_sec = l && l->per_sec ? l->per_sec : VG_ICMP_PER_SEC_DEFAULT;
	__u64 burst = l && l->burst ? l->burst : VG_ICMP_BURST_DEFAULT;
	__u64 cost = 1000000000ull / per_sec;
	__u64 cap = burst * cost;
	__u64 now = bpf_ktime_get_ns();
	/* A bucket never used starts full, like the kernel's. */
	__u64 credit = s->last_ns == 0 ? cap : s->credit_ns + (now - s->last_ns);
	if (credit > cap)
		credit = cap;
	s->last_ns = now;
	if (credit < cost) {
		s->credit_ns = credit;
		s->limited += 1;
		return false;
	}
	s->credit_ns = credit - cost;
	s->sent += 1;
	return true;
}

static __noinline int too_big(struct xdp_md *ctx, struct pkt *p, __u32 mtu)
{
	/* Over the rate: dropped unanswered, as the kernel would (it can't send it either). */
	if (!icmp_answer_allowed())
		return XDP_DROP;
	if (p->family == 6)
		return too_big_as(ctx, p, mtu, true);
	return too_big_as(ctx, p, mtu, false);
}

/* Puts the outer header(s) in front of the client's packet: VG_ENCAP_READY for forward() to send it
 * to `backend`, or a verdict. V6 and GUE are constants at each call, so every header size below is
 * one (bounded for the verifier). */
static __always_inline int encap_as(struct xdp_md *ctx, struct pkt *p, const struct vg_config *cfg, const __u8 *backend,
				    const bool v6, const bool gue)
{
	const int hdr = (v6 ? 40 : 20) + (gue ? 8 : 0);
	__u32 key = 0;
	const __u8 *lb = v6 ? cfg->snat6 : cfg->snat4;
	if (!nonzero16(lb)) {
		count(&key, VG_STAT_DROPPED); /* no address of this family to send from */
		return XDP_DROP;
	}
	void *end = p->end;
	__u16 len = p->l3_len;
	if (p->l3 + len > end)
		return XDP_PASS; /* claims more than the frame holds: the kernel drops it */
	__u8 tos;
	bool df = false;
	__u64 inner = 0;
	if (v6) {
		struct ipv6hdr *in = p->l3;
		if ((void *)(in + 1) > end)
			return XDP_DROP;
		tos = (bpf_ntohl(*(__be32 *)in) >> 20) & 0xff;
		if (gue) {
			/* The inner transport checksum is valid, so its segment sums to the complement of
			 * its pseudo-header: the outer UDP checksum needs only the headers (design 006). */
			__u64 pseudo = csum_bytes(&in->saddr, 32) + in->payload_len + bpf_htons(in->nexthdr);
			inner = csum_bytes(in, sizeof(*in)) + (__u16)~csum_fold16(pseudo);
		}
	} else {
		struct iphdr *in = p->l3;
		if ((void *)(in + 1) > end)
			return XDP_DROP;
		tos = in->tos;
		df = (in->frag_off & bpf_htons(0x4000)) != 0;
	}
	__u32 mtu = cfg->mtu ? cfg->mtu : VG_MTU_DEFAULT;
	bool to_kernel = false;
	if ((__u32)len + hdr > mtu) {
		/* Never an ICMP error about an ICMP error (RFC 1122 §3.2.2). */
		if (!p->icmp && (v6 || df))
			return too_big(ctx, p, mtu - hdr);
		/* IPv4 without DF: the kernel fragments the outer packet, the backend reassembles. */
		to_kernel = true;
		df = false;
	}
	/* The hash Maglev uses: the same flow gets the same outer port and label on every LB node. */
	__u32 hash = flow_hash(&p->flow, false);
	const bool tagged = p->tagged;
	if (bpf_xdp_adjust_head(ctx, -hdr))
		return XDP_DROP;
	void *data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	/* The Ethernet header (and VLAN tag) moves to the new front. The EtherType stays: outer and
	 * inner are the same family. */
	if (data + hdr + 18 > end)
		return XDP_DROP;
	__builtin_memcpy(data, data + hdr, 14);
	void *outer = data + 14;
	if (tagged) {
		__builtin_memcpy(data + 14, data + hdr + 14, 4);
		outer = data + 18;
	}
	if (outer + hdr > end)
		return XDP_DROP;
	if (!v6) {
		struct iphdr *o = outer;
		*(__u8 *)o = 0x45;
		o->tos = tos; /* DSCP and ECN copied (RFC 6040 normal mode) */
		o->tot_len = bpf_htons(len + hdr);
		o->id = 0;
		o->frag_off = df ? bpf_htons(0x4000) : 0;
		o->ttl = VG_ENCAP_TTL;
		o->protocol = gue ? IPPROTO_UDP : IPPROTO_IPIP;
		o->check = 0;
		__builtin_memcpy(&o->saddr, lb + 12, 4);
		__builtin_memcpy(&o->daddr, backend + 12, 4);
		o->check = ~csum_fold16(csum_bytes(o, 20));
	} else {
		struct ipv6hdr *o = outer;
		/* Flow label from the flow hash (RFC 6438): routers on the way spread flows by it. */
		*(__be32 *)o = bpf_htonl(0x60000000 | ((__u32)tos << 20) | (hash & 0xfffff));
		o->payload_len = bpf_htons(len + (gue ? 8 : 0));
		o->nexthdr = gue ? IPPROTO_UDP : IPPROTO_IPV6;
		o->hop_limit = VG_ENCAP_TTL;
		__builtin_memcpy(&o->saddr, lb, 16);
		__builtin_memcpy(&o->daddr, backend, 16);
	}
	if (gue) {
		struct udphdr *u = outer + (v6 ? 40 : 20);
		/* Source port from the flow hash, in the dynamic range (RFC 6335): the backend's NIC
		 * spreads flows over its queues by RSS on the outer ports. */
		u->source = bpf_htons(0xc000 | (hash & 0x3fff));
		u->dest = cfg->gue_port ? cfg->gue_port : bpf_htons(VG_GUE_PORT_DEFAULT);
		u->len = bpf_htons(len + 8);
		u->check = 0; /* over IPv4: none (RFC 768) */
		if (v6) {
			struct ipv6hdr *o = outer;
			__u64 sum = csum_bytes(&o->saddr, 32) + u->len + bpf_htons(IPPROTO_UDP);
			sum += u->source + u->dest + u->len + inner;
			__u16 c = ~csum_fold16(sum);
			u->check = c ? c : 0xffff;
		}
	}
	p->l3 = outer;
	p->end = end;
	if (to_kernel) {
		count(&key, VG_STAT_KERNEL_FIB);
		return XDP_PASS;
	}
	return VG_ENCAP_READY;
}

static __noinline int encap(struct xdp_md *ctx, struct pkt *p, const struct vg_config *cfg, const __u8 *backend)
{
	bool gue = cfg->mode == VG_MODE_GUE;
	if (p->family == 6)
		return gue ? encap_as(ctx, p, cfg, backend, true, true) : encap_as(ctx, p, cfg, backend, true, false);
	return gue ? encap_as(ctx, p, cfg, backend, false, true) : encap_as(ctx, p, cfg, backend, false, false);
}

#endif
