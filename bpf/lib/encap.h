/* SPDX-License-Identifier: Apache-2.0 */
/*
 * encap.h — overlay encapsulation: replaces the LAN L2 header with outer Ethernet + IPv4 + UDP + the
 * Patronus header (docs/overlay.md). The outer DSCP copies the inner one, DF is set (the LAN side already
 * enforced the path MTU) and the outer UDP checksum is zero (RFC 768 allows it for IPv4; the inner packet
 * carries its own checksums).
 */
#ifndef PT_ENCAP_H
#define PT_ENCAP_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "pt_consts.h"
#include "pt_structs.h"
#include "csum.h"

#define PT_ENCAP_HLEN (PT_ETH_HLEN + PT_OVERLAY_OVERHEAD)

/* Writes the outer headers for `path` at data (PT_ENCAP_HLEN bytes, bounds checked by the caller). */
static __always_inline void pt_write_outer(void *data, const struct pt_path *path, __u32 inner_len, __u8 tos,
					   const struct pt_overlay_hdr *h)
{
	struct ethhdr *eth = data;
	__builtin_memcpy(eth->h_dest, path->dmac, 6);
	__builtin_memcpy(eth->h_source, path->smac, 6);
	eth->h_proto = bpf_htons(PT_ETH_P_IP);

	struct iphdr *ip = data + PT_ETH_HLEN;
	ip->version = 4;
	ip->ihl = 5;
	ip->tos = tos & 0xfc;
	ip->tot_len = bpf_htons(inner_len + PT_OVERLAY_OVERHEAD);
	/* DF set: RFC 6864 lets atomic datagrams carry any id. */
	ip->id = 0;
	ip->frag_off = bpf_htons(PT_IP_DF);
	ip->ttl = cfg_outer_ttl;
	ip->protocol = PT_IPPROTO_UDP;
	ip->check = 0;
	ip->saddr = path->saddr;
	ip->daddr = path->daddr;
	ip->check = pt_csum_fold(pt_csum_words(ip, 10));

	struct udphdr *uh = (void *)(ip + 1);
	uh->source = path->sport;
	uh->dest = path->dport;
	uh->len = bpf_htons(inner_len + PT_UDP_HLEN + PT_OVL_HLEN);
	uh->check = 0;

	__builtin_memcpy((void *)(uh + 1), h, sizeof(*h));
}

/**
 * Encapsulates the parsed LAN packet p for path. Trims Ethernet padding first so the outer length is
 * exact. Returns 0 or a negative helper error.
 */
static __always_inline int pt_encap(PT_CTX *ctx, const struct pt_pkt *p, const struct pt_path *path,
				    const struct pt_overlay_hdr *h)
{
	__u32 l2 = p->l2_len;
	if (ctx_len(ctx) > l2 + p->ip_len && ctx_trim(ctx, l2 + p->ip_len))
		return -1;
	/* tc: tell the stack this is now a UDP tunnel (skb->protocol, inner offsets for GSO). */
	__u64 flags = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP | BPF_F_ADJ_ROOM_ENCAP_L2(PT_OVL_HLEN);
	if (ctx_resize_front(ctx, (int)PT_ENCAP_HLEN - (int)l2, flags))
		return -1;
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
	if (data + PT_ENCAP_HLEN > end)
		return -1;
	pt_write_outer(data, path, p->ip_len, p->tos, h);
	return 0;
}

/** Re-targets an already encapsulated packet to a second path (duplication): outer headers rewritten. */
static __always_inline int pt_encap_retarget(PT_CTX *ctx, const struct pt_pkt *p, const struct pt_path *path,
					     const struct pt_overlay_hdr *h)
{
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
	if (data + PT_ENCAP_HLEN > end)
		return -1;
	pt_write_outer(data, path, p->ip_len, p->tos, h);
	return 0;
}

#endif
