/* SPDX-License-Identifier: Apache-2.0 */
/* csum.h — Internet checksum helpers (RFC 1071 sums, RFC 1624 incremental updates). */
#ifndef PT_CSUM_H
#define PT_CSUM_H

#include <linux/types.h>

static __always_inline __u16 pt_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/** One's-complement sum of n 16-bit words at p (p must be valid for 2n bytes; n a constant). */
static __always_inline __u32 pt_csum_words(const void *p, int n)
{
	const __u16 *w = p;
	__u32 s = 0;
#pragma unroll
	for (int i = 0; i < n; i++)
		s += w[i];
	return s;
}

/** Updates a checksum field after a 16-bit word of the covered data changed from `from` to `to`. */
static __always_inline void pt_csum_replace2(__u16 *sum, __u16 from, __u16 to)
{
	__u32 c = (__u16)~*sum;
	c += (__u16)~from;
	c += to;
	*sum = pt_csum_fold(c);
}

#endif
