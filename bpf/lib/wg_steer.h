/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wg_steer.h — steering into an encrypted path (PT_PATH_WG): the inner packet leaves as is through the
 * path's WireGuard device, which encrypts it and sends it on the path's underlay; no overlay header
 * (docs/overlay.md, "Encrypted paths"). The edge is still a router hop: the MTU rule (path mtu − 60),
 * MSS clamping and the TTL decrement apply exactly as for the plaintext overlay. tc build only: a
 * redirect into a layer-3 device (TUN or the kernel's wireguard) needs an skb, so the XDP build passes
 * these packets up to the tc program on the same device.
 */
#ifndef PT_WG_STEER_H
#define PT_WG_STEER_H

#include "pt_consts.h"
#include "pt_structs.h"
#include "counters.h"
#include "mtu.h"

/** Sends the parsed LAN packet p into the WireGuard device of `path` (id path_id); returns the verdict. */
static __always_inline int pt_wg_send(PT_CTX *ctx, struct pt_pkt *p, struct pt_seg_val *seg, __u16 path_id, __u8 class_id,
				      const struct pt_path *path)
{
	__u32 limit = path->mtu > PT_WG_OVERHEAD ? path->mtu - PT_WG_OVERHEAD : 0;
	/* A GSO skb leaves as segments of gso_size payload each: judge one segment, not the aggregate. */
	__u32 gso = ctx_gso_size(ctx);
	__u32 wire_len = gso ? (p->l4_off - p->l2_len) + p->l4_hlen + gso : p->ip_len;
	if (wire_len > limit)
		return pt_too_big(ctx, p, seg, limit);
	if (p->proto == PT_IPPROTO_TCP && (p->tcp_flags & PT_TCP_SYN) && !p->frag) {
		__u32 l3l4 = p->family == 4 ? PT_IP4_HLEN + 20 : PT_IP6_HLEN + 20;
		pt_clamp_mss(ctx, p, limit > l3l4 ? limit - l3l4 : 0);
	}
	pt_dec_ttl(ctx, p);
	/* Ethernet padding would be encrypted and delivered as trailing garbage. */
	__u32 l2 = p->l2_len;
	if (ctx_len(ctx) > l2 + p->ip_len && ctx_trim(ctx, l2 + p->ip_len))
		return pt_drop(ctx, PT_DROP_HELPER);
	pt_count(path_id, class_id, PT_DIR_TX, p->ip_len);
	/* The device has no link-layer header: the kernel strips the Ethernet header on redirect. */
	return ctx_redirect(ctx, path->ifindex);
}

#endif
