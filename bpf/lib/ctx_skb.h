/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctx_skb.h — the packet-context abstraction for tc (clsact) programs (struct __sk_buff); the same
 * functions as ctx_xdp.h. A bpf_redirect from tc goes through the target device's qdisc, which is why a
 * shaped WAN transport is served by the tc build of the same libraries.
 */
#ifndef PT_CTX_SKB_H
#define PT_CTX_SKB_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define PT_CTX struct __sk_buff
#define CTX_IS_XDP 0

#define CTX_PASS TC_ACT_OK
#define CTX_DROP TC_ACT_SHOT

static __always_inline void *ctx_data(struct __sk_buff *ctx) { return (void *)(long)ctx->data; }
static __always_inline void *ctx_data_end(struct __sk_buff *ctx) { return (void *)(long)ctx->data_end; }
static __always_inline __u32 ctx_len(struct __sk_buff *ctx) { return ctx->len; }
static __always_inline __u32 ctx_ifindex(struct __sk_buff *ctx) { return ctx->ifindex; }
/** Payload bytes per segment of a GSO skb (TSO from a local sender, GRO), 0 for a single packet. */
static __always_inline __u32 ctx_gso_size(struct __sk_buff *ctx) { return ctx->gso_size; }

/* Headers may sit in paged data (GRO); the parsers need them linear. */
static __always_inline int ctx_prepare(struct __sk_buff *ctx)
{
	__u32 want = ctx->len < 256 ? ctx->len : 256;
	return bpf_skb_pull_data(ctx, want);
}

/*
 * The stack keeps a received VLAN tag out of the data (hw-accel metadata); a test run leaves it inline.
 * Either way take it out so the libraries see an untagged frame, and return its id.
 */
static __always_inline __u16 ctx_vlan_take(struct __sk_buff *ctx)
{
	__u16 vid = 0;
	if (ctx->vlan_present) {
		vid = ctx->vlan_tci & 0xfff;
	} else if (ctx->protocol == bpf_htons(ETH_P_8021Q)) {
		void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
		if (data + 18 > end)
			return 0;
		vid = bpf_ntohs(*(__be16 *)(data + 14)) & 0xfff;
	} else {
		return 0;
	}
	if (bpf_skb_vlan_pop(ctx))
		return 0;
	return vid;
}

static __always_inline int ctx_resize_front(struct __sk_buff *ctx, int delta, __u64 skb_flags)
{
	return bpf_skb_adjust_room(ctx, delta, BPF_ADJ_ROOM_MAC, skb_flags);
}

static __always_inline int ctx_trim(struct __sk_buff *ctx, __u32 new_len)
{
	return bpf_skb_change_tail(ctx, new_len, 0);
}

/* Tags go back as metadata (bpf_skb_vlan_push), so the written L2 header is always 14 bytes. */
static __always_inline __u32 ctx_l2_len(__u16 vid) { return 14; }
static __always_inline int ctx_l2_finish(struct __sk_buff *ctx, __u16 vid)
{
	return vid ? bpf_skb_vlan_push(ctx, bpf_htons(ETH_P_8021Q), vid) : 0;
}

/* The helper knows about CHECKSUM_PARTIAL skbs, where the field holds only the pseudo-header sum. */
static __always_inline int ctx_l4_csum_replace2(struct __sk_buff *ctx, __u16 *sum, __u32 off, __be16 from, __be16 to,
						int pseudo)
{
	return bpf_l4_csum_replace(ctx, off, from, to, 2 | (pseudo ? BPF_F_PSEUDO_HDR : 0));
}

static __always_inline int ctx_redirect(struct __sk_buff *ctx, __u32 ifindex) { return bpf_redirect(ifindex, 0); }
static __always_inline int ctx_tx(struct __sk_buff *ctx) { return bpf_redirect(ctx->ifindex, 0); }
static __always_inline int ctx_clone_redirect(struct __sk_buff *ctx, __u32 ifindex)
{
	return bpf_clone_redirect(ctx, ifindex, 0);
}

#endif
