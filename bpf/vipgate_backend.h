/* A flow's backend: the connection table's (vg_flows) while that backend still serves the service;
 * for a flow that starts here, the source policy first, then the service's Maglev ring. */
#ifndef VIPGATE_BACKEND_H
#define VIPGATE_BACKEND_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "vipgate_maps.h"
#include "vipgate_parse.h"
#include "vipgate_hash.h"

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

/* The backend for a flow: the one it already has while that backend exists, else the ring's.
 * Policy is decided when a flow starts (as in the nftables engine and kube-proxy's nftables mode):
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

#endif
