/* Map key/value layouts shared by the XDP program and the agent. Declared once here and mirrored
 * in src/dataplane/xdp/layout.ts; test/xdp-layout pins both against this object's BTF.
 * Byte order: addresses and ports are network order (as on the wire, so the program copies them
 * without swapping); everything else is host order. IPv4 addresses are stored IPv4-mapped
 * (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) so one 16-byte field serves both families. */
#ifndef VIPGATE_H
#define VIPGATE_H

#include <linux/types.h>

#define VG_MAX_SERVICES 65536
#define VG_MAX_BACKENDS 131072
#define VG_MAX_FLOWS 131072
#define VG_MAX_SOURCE_RANGES 65536

/* vg_service.flags */
#define VG_SVC_SOURCES_RESTRICTED 1u /* only clients in vg_allowed_sources for this slot */
#define VG_SVC_AFFINITY_CLIENT_IP 2u /* ring index from the client address alone */
#define VG_SVC_SNAT 4u               /* nat mode: source becomes the LB's address */

/* vg_backend.flags */
#define VG_BACKEND_PRESENT 1u /* cleared when removed: flows pinned to it choose again */

/* vg_config.mode */
#define VG_MODE_NAT 0u
#define VG_MODE_DSR_L2 1u
#define VG_MODE_IPIP 2u /* IPv4-in-IPv4 (protocol 4) / IPv6-in-IPv6 (next header 41) to the backend */
#define VG_MODE_GUE 3u  /* the same inside UDP to vg_config.gue_port: GUE variant 1 (no GUE header) */

/* vg_config.mtu of 0 (a config written by an agent from before the field): */
#define VG_MTU_DEFAULT 1500
/* vg_config.gue_port of 0: Katran's GUE port. */
#define VG_GUE_PORT_DEFAULT 6080

/* vg_stats indices: where packets for a VIP (or replies to one) went after translation. */
#define VG_STAT_FORWARDED 0u    /* sent by XDP_TX / redirect after a FIB hit */
#define VG_STAT_KERNEL_NEIGH 1u /* handed to the kernel translated: next hop's neighbour unresolved */
#define VG_STAT_KERNEL_FIB 2u   /* handed to the kernel translated: any other FIB answer (no route, MTU...) */
#define VG_STAT_DROPPED 3u      /* dropped: denied source, no backend, family mismatch, SNAT ports exhausted */
#define VG_STAT_COUNT 4u

/* ICMP "too big" answers to clients are limited by a token bucket per CPU, as the kernel limits
 * its own ICMP errors (net.ipv4.icmp_msgs_per_sec / icmp_msgs_burst): a flood of big DF packets
 * from spoofed sources must not turn the LB into an ICMP reflector at line rate. */
#define VG_ICMP_PER_SEC_DEFAULT 1000
#define VG_ICMP_BURST_DEFAULT 50

struct vg_icmp_limit { /* vg_icmp_limit[0], written by the agent; a 0 field means its default */
	__u32 per_sec; /* answers per second and CPU */
	__u32 burst;   /* answers in a row after a quiet time */
};

struct vg_icmp_state { /* vg_icmp_state[0], one per CPU */
	__u64 credit_ns; /* time credit: one answer costs 10^9 / per_sec ns, at most burst answers' worth */
	__u64 last_ns;   /* bpf_ktime_get_ns() of the last "too big" packet; 0: never */
	__u64 sent;      /* answers sent */
	__u64 limited;   /* packets dropped without an answer: over the rate */
};

/* vg_config.flags */
#define VG_CFG_NO_FIB 1u /* never forward by FIB lookup: always XDP_PASS after rewriting */

/* Frontend: VIP . port . protocol. */
struct vg_service_key {
	__u8 addr[16];  /* network order, v4-mapped */
	__be16 port;    /* network order */
	__u8 proto;     /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 pad;       /* zero */
};

struct vg_service {
	__u32 slot;      /* index into vg_rings, vg_counters, vg_allowed_sources keys */
	__u32 ring_size; /* entries of this slot's Maglev ring (prime); 0: no backend takes new flows */
	__u32 flags;     /* VG_SVC_* */
	__u32 pad;
	__u64 ring_hash; /* agent's digest of what built the ring, so a restarted agent can diff */
};

struct vg_backend {
	__u8 addr[16]; /* network order, v4-mapped */
	__be16 port;   /* network order */
	__u8 family;   /* 4 or 6 */
	__u8 flags;    /* VG_BACKEND_* */
	__u32 slot;    /* the service it serves: a flow keeps it only while it still serves that one */
};

/* A transport flow as seen on the wire (client→VIP, or backend→LB for replies). */
struct vg_flow_key {
	__u8 src[16];
	__u8 dst[16];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

/* Connection table entry: the backend a flow was given, and its translated source port. */
struct vg_flow {
	__u32 backend;     /* index into vg_backends */
	__be16 snat_port;  /* network order; 0 without SNAT */
	__u16 reply_seen;  /* nat: the clock tick (never 0) in which this flow's reply entry was
			    * last found or written; within that tick established packets skip it */
};

/* Reply translation (nat mode): what a backend's reply must look like to the client. */
struct vg_reverse {
	__u8 client[16];
	__u8 vip[16];
	__be16 client_port;
	__be16 vip_port;
	__u32 closing; /* 0 while open; else VG_CLOCK() + 1 when a FIN or RST was seen: the SNAT
			* port may go to another flow VG_SNAT_REUSE_TICKS later */
};

/* Coarse clock for SNAT port reuse: ~1.07 s ticks (ns >> 30). */
#define VG_CLOCK_SHIFT 30
#define VG_SNAT_REUSE_TICKS 2
/* Preferred: reuse a SNAT port only after the backend's TIME_WAIT (60 s) is surely over. */
#define VG_SNAT_TIMEWAIT_TICKS 60

struct vg_lpm_key {
	__u32 prefixlen; /* host order, as the LPM trie wants; v4 prefixes count the 96 mapped bits */
	__u8 addr[16];
};

struct vg_allow_key {
	__u32 prefixlen; /* 32 + address bits */
	__be32 slot;     /* network order: the trie matches bytes most significant first */
	__u8 addr[16];
};

struct vg_counters {
	__u64 packets;
	__u64 bytes;
};

/* An interface the program is attached to, by ifindex: its own MAC address. */
struct vg_iface {
	__u8 mac[6];
	__u16 pad;
};
#define VG_MAX_IFACES 64

struct vg_config {
	__u8 snat4[16];      /* v4-mapped LB address used as source toward backends; zero: none */
	__u8 snat6[16];
	__u32 mode;          /* VG_MODE_* */
	__u32 flags;         /* VG_CFG_* */
	__u16 snat_port_min; /* host order, inclusive */
	__u16 snat_port_max;
	/* Both in what was padding, so the value keeps its size and maps pinned by an older object
	 * stay compatible (they read 0: the defaults above). */
	__u16 mtu;           /* host order: egress MTU toward backends in ipip/gue; 0: VG_MTU_DEFAULT */
	__be16 gue_port;     /* network order: GUE destination port; 0: VG_GUE_PORT_DEFAULT */
};

#endif
