// SPDX-License-Identifier: GPL-2.0
/* vipgate's XDP load balancer: VIP . proto . port → Maglev ring → backend, with a connection
 * table so established flows keep their backend. Anything that is not for a VIP (or a reply to a
 * translated flow) is passed to the kernel untouched: the LB node stays a normal host.
 * Heavy work (Maglev tables, diffing) is done by the agent; this program only looks things up. */
#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "vipgate.h"         /* map keys and values, shared with the agent */
#include "vipgate_maps.h"    /* every map */
#include "vipgate_parse.h"   /* struct pkt, parse() */
#include "vipgate_backend.h" /* choose(): connection table, source policy, Maglev ring */
#include "vipgate_forward.h" /* forward() by FIB or to the kernel, count() into vg_stats */
#include "vipgate_nat.h"     /* nat(), reply(): nat mode */
#include "vipgate_encap.h"   /* encap(): ipip/gue, ICMP "too big" answers */
#include "vipgate_icmp.h"    /* icmp_error(): ICMP errors about VIP flows */

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
