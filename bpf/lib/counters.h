/* SPDX-License-Identifier: Apache-2.0 */
/* counters.h — per-CPU counters per (path, class, direction) and per drop reason. */
#ifndef PT_COUNTERS_H
#define PT_COUNTERS_H

#include "pt_maps.h"

/** Counts the packet under reason and returns the drop verdict, so call sites read `return pt_drop(...)`. */
static __always_inline int pt_drop(PT_CTX *ctx, __u32 reason)
{
	struct pt_counter *c = bpf_map_lookup_elem(&pt_drops, &reason);
	if (c) {
		c->packets++;
		c->bytes += ctx_len(ctx);
	}
	return CTX_DROP;
}

static __always_inline void pt_count(__u16 path, __u8 class_id, __u8 dir, __u32 bytes)
{
	struct pt_counter_key k = { .path = path, .class_id = class_id, .dir = dir };
	struct pt_counter *c = bpf_map_lookup_elem(&pt_counters, &k);
	if (!c) {
		struct pt_counter zero = {};
		bpf_map_update_elem(&pt_counters, &k, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&pt_counters, &k);
		if (!c)
			return;
	}
	c->packets++;
	c->bytes += bytes;
}

#endif
