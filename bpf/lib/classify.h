/* SPDX-License-Identifier: Apache-2.0 */
/*
 * classify.h — application classification: the first valid rule of pt_class_rules (priority order) that
 * matches protocol, port ranges, prefixes and DSCP gives the class; else pt_config.default_class.
 */
#ifndef PT_CLASSIFY_H
#define PT_CLASSIFY_H

#include <bpf/bpf_endian.h>
#include "pt_maps.h"
#include "pt_structs.h"

/** Whether the first plen bits of addr (16 bytes, network order) equal those of pfx. */
static __always_inline int pt_prefix_match(const __u8 *addr, const __u8 *pfx, __u32 plen)
{
	const __u32 *a = (const __u32 *)addr, *p = (const __u32 *)pfx;
	for (int w = 0; w < 4; w++) {
		if (plen == 0)
			return 1;
		__u32 bits = plen > 32 ? 32 : plen;
		__u32 mask = bpf_htonl(bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits));
		__u32 av, pv;
		__builtin_memcpy(&av, &a[w], 4);
		__builtin_memcpy(&pv, &p[w], 4);
		if ((av ^ pv) & mask)
			return 0;
		plen -= bits;
	}
	return 1;
}

static __always_inline int pt_port_in(__u16 port, __u16 lo, __u16 hi)
{
	return (lo == 0 && hi == 0) || (port >= lo && port <= hi);
}

static __always_inline int pt_rule_matches(const struct pt_class_rule *r, const struct pt_pkt *p)
{
	if (r->family && r->family != p->family)
		return 0;
	if (r->proto && r->proto != p->proto)
		return 0;
	if (r->dscp_mask && !((r->dscp_mask >> (p->tos >> 2)) & 1))
		return 0;
	if (!pt_port_in(bpf_ntohs(p->sport), r->sport_lo, r->sport_hi))
		return 0;
	if (!pt_port_in(bpf_ntohs(p->dport), r->dport_lo, r->dport_hi))
		return 0;
	if (r->src_plen && !pt_prefix_match(p->src, r->src, r->src_plen > 128 ? 128 : r->src_plen))
		return 0;
	if (r->dst_plen && !pt_prefix_match(p->dst, r->dst, r->dst_plen > 128 ? 128 : r->dst_plen))
		return 0;
	return 1;
}

struct pt_classify_ctx {
	const struct pt_pkt *p;
	__u32 class_id;
	__u32 found;
};

/* One rule per bpf_loop iteration: the verifier checks the body once, not once per rule. */
static long pt_classify_step(__u32 i, void *arg)
{
	struct pt_classify_ctx *c = arg;
	__u32 k = i;
	struct pt_class_rule *r = bpf_map_lookup_elem(&pt_class_rules, &k);
	if (!r || !(r->flags & PT_RULE_VALID))
		return 1;
	if (pt_rule_matches(r, c->p)) {
		c->class_id = r->class_id;
		c->found = 1;
		return 1;
	}
	return 0;
}

static __always_inline __u8 pt_classify(const struct pt_pkt *p, __u8 default_class)
{
	struct pt_classify_ctx c = { .p = p, .class_id = default_class };
	bpf_loop(PT_MAX_CLASS_RULES, pt_classify_step, &c, 0);
	return c.class_id;
}

#endif
