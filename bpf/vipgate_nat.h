/* nat mode: the client's packet is rewritten toward the backend (DNAT, and SNAT to the LB's address
 * when the service asks: nat()), and the backend's reply back into what the client expects
 * (reply()). vg_flows keeps a flow's backend and SNAT port, vg_reverse the way back; checksums
 * are updated incrementally (RFC 1624). */
#ifndef VIPGATE_NAT_H
#define VIPGATE_NAT_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "vipgate_maps.h"
#include "vipgate_csum.h"
#include "vipgate_parse.h"
#include "vipgate_hash.h"
#include "vipgate_forward.h"

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

#endif
