/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctx_xdp.h — the packet-context abstraction for XDP programs (struct xdp_md).
 *
 * The libraries in lib/ are written against the ctx_* functions below; ctx_skb.h provides the same for tc
 * (struct __sk_buff), so one set of libraries builds both the XDP fast path and the tc path whose
 * redirects traverse the WAN qdisc (cilium's __ctx_buff pattern). Include exactly one ctx_*.h first.
 */
#ifndef PT_CTX_XDP_H
#define PT_CTX_XDP_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define PT_CTX struct xdp_md
/* A C constant, not a macro switch: code branches on it and the compiler drops the dead side. */
#define CTX_IS_XDP 1

#define CTX_PASS XDP_PASS
#define CTX_DROP XDP_DROP

static __always_inline void *ctx_data(struct xdp_md *ctx) { return (void *)(long)ctx->data; }
static __always_inline void *ctx_data_end(struct xdp_md *ctx) { return (void *)(long)ctx->data_end; }
static __always_inline __u32 ctx_len(struct xdp_md *ctx)
{
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
	/* Keeps clang from subtracting the raw 32-bit ctx fields, which the verifier rejects. */
	asm volatile("" : "+r"(data), "+r"(end));
	return end - data;
}
static __always_inline __u32 ctx_ifindex(struct xdp_md *ctx) { return ctx->ingress_ifindex; }
/* Without xdp.frags an XDP frame is always one packet. */
static __always_inline __u32 ctx_gso_size(struct xdp_md *ctx) { return 0; }

/* XDP sees the whole linear frame, VLAN tags included: nothing to pull, no tag to take out. */
static __always_inline int ctx_prepare(struct xdp_md *ctx) { return 0; }
static __always_inline __u16 ctx_vlan_take(struct xdp_md *ctx) { return 0; }

/**
 * Grows (delta > 0) or shrinks (delta < 0) the room in front of the payload. Afterwards the old byte at
 * offset o >= 14 is at o + delta; the caller rewrites everything before it.
 */
static __always_inline int ctx_resize_front(struct xdp_md *ctx, int delta, __u64 skb_flags)
{
	return bpf_xdp_adjust_head(ctx, -delta);
}

static __always_inline int ctx_trim(struct xdp_md *ctx, __u32 new_len)
{
	return bpf_xdp_adjust_tail(ctx, (int)new_len - (int)ctx_len(ctx));
}

/** Length of the L2 header the caller writes for VLAN vid: XDP writes tags inline. */
static __always_inline __u32 ctx_l2_len(__u16 vid) { return vid ? 18 : 14; }
static __always_inline int ctx_l2_finish(struct xdp_md *ctx, __u16 vid) { return 0; }

/* Incremental L4 checksum update of a 16-bit field (RFC 1624); pseudo: the field is in the pseudo header. */
static __always_inline int ctx_l4_csum_replace2(struct xdp_md *ctx, __u16 *sum, __u32 off, __be16 from, __be16 to,
						int pseudo)
{
	__u32 c = (__u16)~*sum;
	c += (__u16)~from;
	c += to;
	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	*sum = (__u16)~c;
	return 0;
}

static __always_inline int ctx_redirect(struct xdp_md *ctx, __u32 ifindex) { return bpf_redirect(ifindex, 0); }
/** Send back out the interface it came in on. */
static __always_inline int ctx_tx(struct xdp_md *ctx) { return XDP_TX; }
/** XDP cannot send a packet twice: callers leave duplication to the tc program. */
static __always_inline int ctx_clone_redirect(struct xdp_md *ctx, __u32 ifindex) { return -95; }

#endif
