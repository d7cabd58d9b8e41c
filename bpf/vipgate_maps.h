/* Every map of the XDP program, each with a line on what it holds. Keys and values are declared in
 * vipgate.h (mirrored by src/dataplane/xdp/layout.ts); the agent finds the maps by these names
 * and pins them by name, so a map's name, type and layout are an interface: change them only
 * with the agent. */
#ifndef VIPGATE_MAPS_H
#define VIPGATE_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "vipgate.h"

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

/* The template of a Maglev ring (the inner maps of vg_rings): inner maps let every ring have its
 * own prime size, so memory follows each service's size instead of slots × 65,537, and a ring is
 * replaced by swapping in a new one, never seen half-written. BPF_F_MMAPABLE lets the agent fill a
 * fresh ring with one memcpy instead of a kernel step per entry (~30 µs vs ~230 µs a ring). Every
 * inner map must carry exactly these flags. Overridable only so a test can build the older
 * template (-DVG_RING_FLAGS=BPF_F_INNER_MAP). */
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

/* Slot → its Maglev ring (a struct vg_ring inner map of that slot's ring size). */
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

/* Node-wide settings (one entry): forwarding mode, SNAT addresses and port range, MTU, GUE port. */
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

/* The ICMP "too big" answer rate (one entry, agent-written; a 0 field means its default). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vg_icmp_limit);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vg_icmp_limit SEC(".maps");

/* Each CPU's "too big" answer bucket, and its totals of answers sent and refused. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vg_icmp_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vg_icmp_state SEC(".maps");

/* What nat() builds before writing it to vg_reverse: the BPF stack (512 bytes for the whole call
 * chain) can't hold it next to the parsed packet and the FIB query. */
struct nat_scratch {
	struct vg_flow_key rkey;
	struct vg_reverse rev;
};

/* Per-CPU scratch for the reply-translation entry nat() builds (one entry). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nat_scratch);
} vg_scratch SEC(".maps");

#endif
