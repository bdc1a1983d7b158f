/* SPDX-License-Identifier: Apache-2.0 */
/*
 * steer.h — segment, route and path selection for the LAN side: pt_segments (interface, VLAN) -> segment,
 * per-segment LPM (pt_routes4/6), pt_steering (site, class) -> candidate paths, and the LRU flow table
 * that keeps each flow on its path while that path stays a candidate.
 */
#ifndef PT_STEER_H
#define PT_STEER_H

#include <bpf/bpf_endian.h>
#include "pt_maps.h"
#include "pt_structs.h"

static __always_inline struct pt_route_val *pt_route_lookup(const struct pt_pkt *p, __u16 segment)
{
	if (p->family == 4) {
		struct pt_route_key4 k = { .prefixlen = 64, .segment = bpf_htons(segment) };
		__builtin_memcpy(&k.addr, p->dst, 4);
		return bpf_map_lookup_elem(&pt_routes4, &k);
	}
	struct pt_route_key6 k = { .prefixlen = 160, .segment = bpf_htons(segment) };
	__builtin_memcpy(k.addr, p->dst, 16);
	return bpf_map_lookup_elem(&pt_routes6, &k);
}

static __always_inline void pt_flow_key_of(const struct pt_pkt *p, __u16 segment, struct pt_flow_key *k)
{
	__builtin_memcpy(k->src, p->src, 16);
	__builtin_memcpy(k->dst, p->dst, 16);
	k->sport = p->sport | p->echo_id; /* ports, or the echo identifier (ICMP has no ports) */
	k->dport = p->dport;
	k->proto = p->proto;
	k->family = p->family;
	k->segment = segment;
}

/* A cheap deterministic mix of the flow key (same flow -> same path on every CPU and after restarts). */
static __always_inline __u32 pt_flow_hash(const struct pt_flow_key *k)
{
	const __u32 *w = (const __u32 *)k;
	__u32 h = 0x9e3779b9;
#pragma unroll
	for (int i = 0; i < (int)(sizeof(*k) / 4); i++) {
		h ^= w[i];
		h *= 0x01000193;
		h ^= h >> 15;
	}
	return h;
}

/* May a flow pinned to `path` stay there: a candidate, or a keeper (a path that still complies). */
static __always_inline int pt_steer_has(const struct pt_steer_val *s, __u16 path)
{
	__u8 n = s->n_all > s->n_paths ? s->n_all : s->n_paths;
#pragma unroll
	for (int i = 0; i < PT_STEER_MAX_PATHS; i++)
		if (i < n && s->paths[i] == path)
			return 1;
	return 0;
}

static __always_inline __u16 pt_steer_pick(const struct pt_steer_val *s, __u32 h)
{
	__u32 n = s->n_paths > PT_STEER_MAX_PATHS ? PT_STEER_MAX_PATHS : s->n_paths;
	__u32 i = n ? h % n : 0;
	/* clang drops a mask it can prove redundant; the verifier still needs to see it. */
	asm volatile("" : "+r"(i));
	return s->paths[i & (PT_STEER_MAX_PATHS - 1)];
}

/** The path for this packet: per packet, or the flow's pinned path while it remains a candidate. */
static __always_inline __u16 pt_choose_path(const struct pt_pkt *p, __u16 segment, __u8 class_id,
					    const struct pt_steer_val *s)
{
	if (s->flags & PT_STEER_PER_PACKET)
		return pt_steer_pick(s, bpf_get_prandom_u32());
	struct pt_flow_key k = {};
	pt_flow_key_of(p, segment, &k);
	__u64 now = bpf_ktime_get_ns();
	struct pt_flow_val *f = bpf_map_lookup_elem(&pt_flows, &k);
	if (f && pt_steer_has(s, f->path)) {
		f->last_ns = now;
		return f->path;
	}
	struct pt_flow_val v = { .path = pt_steer_pick(s, pt_flow_hash(&k)), .class_id = class_id, .last_ns = now };
	bpf_map_update_elem(&pt_flows, &k, &v, BPF_ANY);
	return v.path;
}

/** Next per-path sequence number (atomic: several CPUs send on one path). */
static __always_inline __u32 pt_next_path_seq(__u16 path)
{
	__u32 k = path;
	__u32 *s = bpf_map_lookup_elem(&pt_tx_seq, &k);
	return s ? __sync_fetch_and_add(s, 1) : 0;
}

static __always_inline __u32 pt_next_dup_seq(__u16 site, __u8 class_id)
{
	struct pt_dup_key k = { .site = site, .class_id = class_id };
	__u32 *s = bpf_map_lookup_elem(&pt_dup_tx, &k);
	if (!s) {
		__u32 zero = 0;
		bpf_map_update_elem(&pt_dup_tx, &k, &zero, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&pt_dup_tx, &k);
		if (!s)
			return 0;
	}
	return __sync_fetch_and_add(s, 1);
}

#endif
