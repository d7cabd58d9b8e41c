/* The flow hash (MurmurHash3's 32-bit mixing): a flow's position on its service's Maglev ring, the
 * start of its SNAT port search, and its encapsulation's outer source port and flow label.
 * The packet tests predict it with a copy: flowHash in test/support/xdp-packets.ts. */
#ifndef VIPGATE_HASH_H
#define VIPGATE_HASH_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "vipgate.h"

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

#endif
