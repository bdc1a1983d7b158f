/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lan_ingress.h — the LAN ingress pipeline, built for XDP (lan_ingress.bpf.c) and tc
 * (lan_ingress_tc.bpf.c): parse -> segment -> LPM route -> classify -> steer -> MTU -> encapsulate ->
 * redirect to the WAN device.
 *
 * What XDP cannot do it passes up to the tc program attached to the same device: duplicated classes (one
 * frame cannot be sent twice from XDP) and shaped paths (XDP_REDIRECT bypasses the WAN qdisc).
 * Local and direct-internet routes, non-IP, link-local and TTL-expiring packets go to the kernel, and so do
 * the TCP / UDP packets of WAN-opt / FEC classes (steering flags PT_STEER_LOCAL_*, marked in the tc build).
 * A packet steered onto an encrypted path (PT_PATH_WG) goes, without overlay header, into that path's
 * WireGuard device (wg_steer.h; tc build only).
 */
#ifndef PT_LAN_INGRESS_H
#define PT_LAN_INGRESS_H

#include "pt_consts.h"
#include "pt_structs.h"
#include "pt_maps.h"
#include "counters.h"
#include "parse.h"
#include "classify.h"
#include "steer.h"
#include "mtu.h"
#include "encap.h"
#include "wg_steer.h"

/*
 * WAN-opt (TCP) and FEC (UDP) classes are served by the edge's own stack: the tc build marks the packet with
 * its class for nftables / policy routing; the XDP build cannot mark, so it passes the packet up to the tc
 * program on the same device (the agent attaches it whenever the bundle has such classes), which marks it.
 */
static __always_inline int pt_local_service(PT_CTX *ctx, const struct pt_pkt *p, const struct pt_steer_val *sv, __u8 class_id)
{
	__u8 want = p->proto == PT_IPPROTO_TCP ? PT_STEER_LOCAL_TCP : p->proto == PT_IPPROTO_UDP ? PT_STEER_LOCAL_UDP : 0;
	if (!(sv->flags & want))
		return -1;
#if !CTX_IS_XDP
	ctx->mark = PT_LOCAL_MARK | class_id;
#endif
	return CTX_PASS;
}

static __always_inline int pt_lan_ingress(PT_CTX *ctx)
{
	if (ctx_prepare(ctx))
		return pt_drop(ctx, PT_DROP_MALFORMED);
	__u16 tag = ctx_vlan_take(ctx);
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
	struct pt_pkt p = {};
	int rc = pt_parse(data, end, ctx_len(ctx), &p);
	if (rc == PT_PARSE_NOT_IP)
		return CTX_PASS;
	if (rc != PT_PARSE_OK)
		return pt_drop(ctx, PT_DROP_MALFORMED);
	if (tag)
		p.vlan = tag;
	if (pt_is_link_scope(&p))
		return CTX_PASS;

	struct pt_seg_key sk = { .ifindex = ctx_ifindex(ctx), .vlan = p.vlan };
	struct pt_seg_val *seg = bpf_map_lookup_elem(&pt_segments, &sk);
	if (!seg)
		return pt_drop(ctx, PT_DROP_NO_SEGMENT);
	__u16 segment = seg->segment;

	struct pt_route_val *rt = pt_route_lookup(&p, segment);
	if (!rt)
		return pt_drop(ctx, PT_DROP_NO_ROUTE);
	if (rt->kind == PT_ROUTE_DROP)
		return pt_drop(ctx, PT_DROP_ROUTE_BLACKHOLE);
	if (rt->kind != PT_ROUTE_REMOTE)
		return CTX_PASS;
	__u16 site = rt->site;

	__u32 zero = 0;
	struct pt_config *cfg = bpf_map_lookup_elem(&pt_config, &zero);
	if (!cfg)
		return pt_drop(ctx, PT_DROP_HELPER);
	__u8 class_id = pt_classify(&p, cfg->default_class);

	struct pt_steer_key stk = { .segment = segment, .site = site, .class_id = class_id };
	struct pt_steer_val *sv = bpf_map_lookup_elem(&pt_steering, &stk);
	if (!sv)
		return pt_drop(ctx, PT_DROP_NO_STEERING);
	int local = pt_local_service(ctx, &p, sv, class_id);
	if (local >= 0)
		return local;
	if (!sv->n_paths)
		return pt_drop(ctx, PT_DROP_NO_PATH);
	int dup = (sv->flags & PT_STEER_DUPLICATE) && sv->n_paths >= 2;
	if (CTX_IS_XDP && dup)
		return CTX_PASS;

	__u16 path_id = dup ? sv->paths[0] : pt_choose_path(&p, segment, class_id, sv);
	struct pt_path *path = bpf_map_lookup_elem(&pt_paths, &path_id);
	if (!path)
		return pt_drop(ctx, PT_DROP_NO_PATH);
	__u16 path2_id = sv->paths[1];
	struct pt_path *path2 = 0;
	if (dup) {
		path2 = bpf_map_lookup_elem(&pt_paths, &path2_id);
		if (!path2)
			return pt_drop(ctx, PT_DROP_NO_PATH);
	}
	if (CTX_IS_XDP && (path->flags & (PT_PATH_SHAPED | PT_PATH_WG)))
		return CTX_PASS;
	/* The stack sends time-exceeded. */
	if (p.ttl <= 1)
		return CTX_PASS;
	/* Encrypted paths carry no overlay header, so no duplicate sequence: one copy, on the first path. */
	if (path->flags & PT_PATH_WG)
		return pt_wg_send(ctx, &p, seg, path_id, class_id, path);
	if (path2 && (path2->flags & PT_PATH_WG)) {
		dup = 0;
		path2 = 0;
	}

	__u32 mtu = path->mtu;
	if (path2 && path2->mtu < mtu)
		mtu = path2->mtu;
	__u32 limit = mtu > PT_OVERLAY_OVERHEAD ? mtu - PT_OVERLAY_OVERHEAD : 0;
	/* A GSO skb leaves as segments of gso_size payload each: judge one segment, not the aggregate. */
	__u32 gso = ctx_gso_size(ctx);
	__u32 wire_len = gso ? (p.l4_off - p.l2_len) + p.l4_hlen + gso : p.ip_len;
	if (wire_len > limit)
		return pt_too_big(ctx, &p, seg, limit);
	if (p.proto == PT_IPPROTO_TCP && (p.tcp_flags & PT_TCP_SYN) && !p.frag) {
		__u32 l3l4 = p.family == 4 ? PT_IP4_HLEN + 20 : PT_IP6_HLEN + 20;
		pt_clamp_mss(ctx, &p, limit > l3l4 ? limit - l3l4 : 0);
	}
	pt_dec_ttl(ctx, &p);

	struct pt_overlay_hdr h = {
		.ver_flags = (PT_OVERLAY_VERSION << 4) | (dup ? PT_F_DUP : 0),
		.class_id = class_id,
		.segment = bpf_htons(segment),
		.site = bpf_htons(cfg->site),
		.path = bpf_htons(path_id),
		.path_seq = bpf_htonl(pt_next_path_seq(path_id)),
		.dup_seq = dup ? bpf_htonl(pt_next_dup_seq(site, class_id)) : 0,
	};
	if (pt_encap(ctx, &p, path, &h))
		return pt_drop(ctx, PT_DROP_HELPER);
	pt_count(path_id, class_id, PT_DIR_TX, p.ip_len + PT_OVERLAY_OVERHEAD);
	if (!dup)
		return ctx_redirect(ctx, path->ifindex);

	/* First copy out of path 1, then the frame itself re-targeted to path 2. */
	if (ctx_clone_redirect(ctx, path->ifindex))
		pt_drop(ctx, PT_DROP_HELPER);
	h.path = bpf_htons(path2_id);
	h.path_seq = bpf_htonl(pt_next_path_seq(path2_id));
	if (pt_encap_retarget(ctx, &p, path2, &h))
		return pt_drop(ctx, PT_DROP_HELPER);
	pt_count(path2_id, class_id, PT_DIR_TX, p.ip_len + PT_OVERLAY_OVERHEAD);
	return ctx_redirect(ctx, path2->ifindex);
}

#endif
