/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decap.h — receive side of the overlay: per-path passive sequence state (loss, reorder) and the
 * per-(site, class) duplicate window for duplicated classes.
 */
#ifndef PT_DECAP_H
#define PT_DECAP_H

#include "pt_maps.h"

static __always_inline void pt_rx_update(struct pt_rx_state *rx, __u32 seq, __u32 bytes)
{
	bpf_spin_lock(&rx->lock);
	if (!(rx->flags & PT_RX_STARTED)) {
		rx->flags |= PT_RX_STARTED;
		rx->first_seq = seq;
		rx->highest_seq = seq;
	} else if ((__s32)(seq - rx->highest_seq) > 0) {
		rx->highest_seq = seq;
	} else {
		rx->reordered++;
	}
	rx->received++;
	rx->bytes += bytes;
	bpf_spin_unlock(&rx->lock);
}

enum pt_dup_verdict { PT_DUP_NEW = 0, PT_DUP_SEEN = 1, PT_DUP_STALE = 2 };

/** Records seq in the (site, class) window; tells whether it is new, already seen, or too old to know. */
static __always_inline int pt_dup_check(__u16 site, __u8 class_id, __u32 seq)
{
	struct pt_dup_key k = { .site = site, .class_id = class_id };
	struct pt_dup_window *w = bpf_map_lookup_elem(&pt_dup_rx, &k);
	if (!w) {
		struct pt_dup_window nw = { .highest = seq, .seen = 1 };
		if (!bpf_map_update_elem(&pt_dup_rx, &k, &nw, BPF_NOEXIST))
			return PT_DUP_NEW;
		/* Another CPU created it first: fall through to the common path. */
		w = bpf_map_lookup_elem(&pt_dup_rx, &k);
		if (!w)
			return PT_DUP_NEW;
	}
	int verdict = PT_DUP_NEW;
	bpf_spin_lock(&w->lock);
	__s32 d = (__s32)(seq - w->highest);
	if (d > 0) {
		w->seen = d >= PT_DUP_WINDOW ? 1 : (w->seen << d) | 1;
		w->highest = seq;
	} else {
		__u32 back = (__u32)(-d);
		if (back >= PT_DUP_WINDOW)
			verdict = PT_DUP_STALE;
		else if ((w->seen >> back) & 1)
			verdict = PT_DUP_SEEN;
		else
			w->seen |= 1ULL << back;
	}
	bpf_spin_unlock(&w->lock);
	return verdict;
}

#endif
