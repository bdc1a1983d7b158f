/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wan_ingress.h — the WAN ingress pipeline, built for XDP (wan_ingress.bpf.c) and tc
 * (wan_ingress_tc.bpf.c): validate an overlay packet, update the peer path's receive state, suppress
 * duplicates, decapsulate and redirect to the segment's LAN device (or hand the inner packet to the
 * kernel when the segment has no static neighbour). Everything that is not overlay data — probes,
 * BGP, management, ARP, IPv6 underlay — goes to the stack untouched.
 */
#ifndef PT_WAN_INGRESS_H
#define PT_WAN_INGRESS_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "pt_consts.h"
#include "pt_structs.h"
#include "pt_maps.h"
#include "counters.h"
#include "parse.h"
#include "decap.h"

static __always_inline int pt_wan_ingress(PT_CTX *ctx)
{
	if (ctx_prepare(ctx))
		return CTX_PASS;
	ctx_vlan_take(ctx);
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
	struct pt_pkt p = {};
	if (pt_parse_l2(data, end, &p) != PT_ETH_P_IP)
		return CTX_PASS;
	__u32 l2 = p.l2_len & 0x1f;
	struct iphdr *ip = data + l2;
	if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl < 5 || ip->protocol != PT_IPPROTO_UDP)
		return CTX_PASS;
	__u32 ihl = (ip->ihl * 4) & 0x3f;
	__u16 fo = bpf_ntohs(ip->frag_off);
	/* A later fragment shows no port: only the stack can tell whose it is. */
	if (fo & PT_IP_OFFMASK)
		return CTX_PASS;
	struct udphdr *uh = data + l2 + ihl;
	if ((void *)(uh + 1) > end || uh->dest != bpf_htons(cfg_overlay_port))
		return CTX_PASS;
	if (fo & PT_IP_MF)
		return pt_drop(ctx, PT_DROP_FRAGMENT);
	struct pt_overlay_hdr *ovl = (void *)(uh + 1);
	if ((void *)(ovl + 1) > end)
		return pt_drop(ctx, PT_DROP_MALFORMED);
	if ((ovl->ver_flags >> 4) != PT_OVERLAY_VERSION)
		return pt_drop(ctx, PT_DROP_BAD_VERSION);
	__u8 flags = ovl->ver_flags & 0xf;
	if (flags & PT_F_PROBE)
		return CTX_PASS;

	/* The inner packet must fill the UDP payload exactly and lie within the frame. */
	__u8 *inner = (void *)(ovl + 1);
	if ((void *)(inner + PT_IP4_HLEN) > end)
		return pt_drop(ctx, PT_DROP_MALFORMED);
	__u32 udp_len = bpf_ntohs(uh->len);
	__u32 tot = bpf_ntohs(ip->tot_len);
	if (udp_len < PT_UDP_HLEN + PT_OVL_HLEN + PT_IP4_HLEN || tot != ihl + udp_len)
		return pt_drop(ctx, PT_DROP_MALFORMED);
	__u32 inner_len = udp_len - PT_UDP_HLEN - PT_OVL_HLEN;
	__u32 outer_hdrs = l2 + ihl + PT_UDP_HLEN + PT_OVL_HLEN;
	if (outer_hdrs + inner_len > ctx_len(ctx))
		return pt_drop(ctx, PT_DROP_MALFORMED);
	__u8 inner_v = inner[0] >> 4;
	if (inner_v == 4) {
		struct iphdr *iip = (void *)inner;
		if ((iip->ihl < 5) || bpf_ntohs(iip->tot_len) != inner_len)
			return pt_drop(ctx, PT_DROP_MALFORMED);
	} else if (inner_v == 6) {
		struct ipv6hdr *iip6 = (void *)inner;
		if ((void *)(iip6 + 1) > end || bpf_ntohs(iip6->payload_len) + PT_IP6_HLEN != inner_len)
			return pt_drop(ctx, PT_DROP_MALFORMED);
	} else {
		return pt_drop(ctx, PT_DROP_MALFORMED);
	}

	__u16 site = bpf_ntohs(ovl->site);
	__u16 path_id = bpf_ntohs(ovl->path);
	__u16 segment = bpf_ntohs(ovl->segment);
	__u8 class_id = ovl->class_id;
	__u32 path_seq = bpf_ntohl(ovl->path_seq);
	__u32 dup_seq = bpf_ntohl(ovl->dup_seq);

	struct pt_rx_key rk = { .site = site, .path = path_id };
	struct pt_rx_state *rx = bpf_map_lookup_elem(&pt_rx, &rk);
	if (!rx)
		return pt_drop(ctx, PT_DROP_UNKNOWN_PEER);
	struct pt_lan_egress *eg = bpf_map_lookup_elem(&pt_lan_egress, &segment);
	if (!eg)
		return pt_drop(ctx, PT_DROP_NO_SEGMENT);
	/* The path delivered this packet whether or not it is a duplicate: count it before suppressing. */
	pt_rx_update(rx, path_seq, inner_len);
	if (flags & PT_F_DUP) {
		int v = pt_dup_check(site, class_id, dup_seq);
		if (v == PT_DUP_SEEN)
			return pt_drop(ctx, PT_DROP_DUPLICATE);
		if (v == PT_DUP_STALE)
			return pt_drop(ctx, PT_DROP_STALE);
	}

	struct ethhdr *eth = data;
	__u8 dmac[6], smac[6];
	__builtin_memcpy(dmac, eth->h_dest, 6);
	__builtin_memcpy(smac, eth->h_source, 6);
	int to_lan = eg->flags & PT_LAN_STATIC_NEIGH;
	__u16 vid = to_lan ? eg->vlan : 0;
	if (to_lan) {
		__builtin_memcpy(dmac, eg->dmac, 6);
		__builtin_memcpy(smac, eg->smac, 6);
	}
	__u32 ifindex = eg->ifindex;
	__u32 new_l2 = ctx_l2_len(vid) & 0x1f;

	if (ctx_len(ctx) > outer_hdrs + inner_len && ctx_trim(ctx, outer_hdrs + inner_len))
		return pt_drop(ctx, PT_DROP_HELPER);
	__u64 dflags = inner_v == 6 ? PT_ADJ_ROOM_DECAP_L3_IPV6 : PT_ADJ_ROOM_DECAP_L3_IPV4;
	if (ctx_resize_front(ctx, (int)new_l2 - (int)outer_hdrs, dflags))
		return pt_drop(ctx, PT_DROP_HELPER);
	data = ctx_data(ctx);
	end = ctx_data_end(ctx);
	if (data + new_l2 > end)
		return pt_drop(ctx, PT_DROP_HELPER);
	eth = data;
	__builtin_memcpy(eth->h_dest, dmac, 6);
	__builtin_memcpy(eth->h_source, smac, 6);
	__u16 etype = inner_v == 6 ? PT_ETH_P_IPV6 : PT_ETH_P_IP;
	if (new_l2 == 18) {
		if (data + 18 > end)
			return pt_drop(ctx, PT_DROP_HELPER);
		eth->h_proto = bpf_htons(PT_ETH_P_8021Q);
		*(__be16 *)(data + 14) = bpf_htons(vid);
		*(__be16 *)(data + 16) = bpf_htons(etype);
	} else {
		eth->h_proto = bpf_htons(etype);
	}
	if (ctx_l2_finish(ctx, vid))
		return pt_drop(ctx, PT_DROP_HELPER);
	pt_count(path_id, class_id, PT_DIR_RX, inner_len);
	return to_lan ? ctx_redirect(ctx, ifindex) : CTX_PASS;
}

#endif
