/* Internet checksums: incremental updates over the 16-bit words a rewrite changed (RFC 1624), and
 * whole sums by bpf_csum_diff for the headers the program writes itself. */
#ifndef VIPGATE_CSUM_H
#define VIPGATE_CSUM_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), over the 16-bit words that changed. A loop, not
 * unrolled: unrolled, its loads spill, and every call chain's stack must fit in 512 bytes. Words
 * are read with memcpy: callers pass __be32 arrays and packet bytes, and a loop of __u16 loads
 * may be reordered around __be32 stores under strict aliasing (it was: wrong checksums). */
static __always_inline __u32 csum_words(__u32 sum, const void *old, const void *new, int words)
{
	const __u8 *o = old, *n = new;
#pragma nounroll
	for (int i = 0; i < 8; i++) {
		if (i >= words)
			break;
		__u16 a, b;
		__builtin_memcpy(&a, o + 2 * i, 2);
		__builtin_memcpy(&b, n + 2 * i, 2);
		sum += (__u16)~a;
		sum += b;
	}
	return sum;
}

static __always_inline __u16 csum_finish(__u16 old_csum, __u32 sum)
{
	sum += (__u16)~old_csum;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* One's-complement fold of a 64-bit sum of 16-bit words (as read from memory) to 16 bits. */
static __always_inline __u16 csum_fold16(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* Sum of `len` bytes (a multiple of 4, at most 512) as 16-bit words; 0 if the helper refuses. */
static __always_inline __u64 csum_bytes(void *at, __u32 len)
{
	__s64 s = bpf_csum_diff(NULL, 0, at, len, 0);
	return s < 0 ? 0 : (__u64)(__u32)s;
}

#endif
