/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mtu.h — MTU done right on the LAN side: TCP MSS clamped to what the chosen path carries, and oversized
 * packets answered with ICMP "fragmentation needed" (IPv4, DF set) or ICMPv6 "packet too big", sent back
 * out of the ingress interface from this edge's LAN address. An oversized IPv4 packet without DF, or one
 * on a segment with no LAN address to answer from, is dropped with PT_DROP_TOO_BIG (counted, not silent).
 */
#ifndef PT_MTU_H
#define PT_MTU_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include "pt_consts.h"
#include "pt_structs.h"
#include "csum.h"
#include "counters.h"

/*
 * pt_clamp_mss and pt_too_big below are global (non-static, not inlined): the verifier checks a global
 * function once on its own instead of once per path that reaches it, which keeps the LAN program far below
 * the verifier's instruction budget. Their pointer arguments must therefore be NULL-checked.
 */

/* State of the TCP option walk of pt_clamp_mss, shared with its bpf_loop callback. */
struct pt_mss_walk {
	PT_CTX *ctx;
	__u32 l4;      /* TCP header offset in the frame (< 256) */
	__u32 optlen;  /* option bytes after the 20-byte base header (<= 40) */
	__u32 i;       /* offset of the next option from the end of the base header */
	__u32 found;   /* 1 when i is the offset of an MSS option */
};

/*
 * One TCP option per bpf_loop iteration. An open-coded loop costs the verifier a state per iteration and
 * per NOP / non-NOP outcome (the option offset is a different range on every path); the callback is
 * checked once. It only reads: the rewrite happens in the caller with fresh bounds checks.
 */
static long pt_mss_step(__u32 n, void *arg)
{
	struct pt_mss_walk *w = arg;
	__u32 i = w->i;
	if (i >= w->optlen || i >= 40)
		return 1;
	void *data = ctx_data(w->ctx), *end = ctx_data_end(w->ctx);
	__u8 *o = data + ((w->l4 + 20 + i) & 0x1ff);
	if ((void *)(o + 1) > end)
		return 1;
	if (o[0] == PT_TCPOPT_EOL)
		return 1;
	if (o[0] == PT_TCPOPT_NOP) {
		w->i = i + 1;
		return 0;
	}
	if ((void *)(o + 2) > end || o[1] < 2)
		return 1;
	if (o[0] == PT_TCPOPT_MSS && o[1] == 4) {
		w->found = 1;
		return 1;
	}
	w->i = i + o[1];
	return 0;
}

/** Lowers the MSS option of a TCP SYN to mss_max; the checksum is updated incrementally. */
__attribute__((noinline)) int pt_clamp_mss(PT_CTX *ctx, const struct pt_pkt *p, __u16 mss_max)
{
	if (!p)
		return 0;
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
	__u32 l4 = p->l4_off & 0xff;
	struct tcphdr *th = data + l4;
	if ((void *)(th + 1) > end)
		return 0;
	__u32 optlen = th->doff * 4;
	struct pt_mss_walk w = { .ctx = ctx, .l4 = l4, .optlen = optlen > 20 ? optlen - 20 : 0 };
	bpf_loop(40, pt_mss_step, &w, 0);
	if (!w.found)
		return 0;
	__u32 i = w.i & 0x3f;
	data = ctx_data(ctx);
	end = ctx_data_end(ctx);
	th = data + l4;
	if ((void *)(th + 1) > end)
		return 0;
	__u8 *o = data + ((l4 + 20 + i) & 0x1ff);
	if ((void *)(o + 4) > end)
		return 0;
	__u16 mss = (o[2] << 8) | o[3];
	if (mss <= mss_max)
		return 0;
	__be16 from, to = bpf_htons(mss_max);
	__builtin_memcpy(&from, o + 2, 2);
	__builtin_memcpy(o + 2, &to, 2);
	/* The MSS word sits at an even offset from the TCP header only when i is even; the sum is
	 * over 16-bit words of the segment, so an odd offset swaps the bytes of both values. */
	if (i & 1) {
		from = (__be16)((from >> 8) | (from << 8));
		to = (__be16)((to >> 8) | (to << 8));
	}
	ctx_l4_csum_replace2(ctx, &th->check, l4 + 16, from, to, 0);
	return 1;
}

/** Decrements the inner TTL / hop limit (the edge is a router hop); caller checked it is > 1. */
static __always_inline void pt_dec_ttl(PT_CTX *ctx, const struct pt_pkt *p)
{
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
	__u32 l3 = p->l2_len & 0x1f;
	if (p->family == 4) {
		struct iphdr *ip = data + l3;
		if ((void *)(ip + 1) > end)
			return;
		__u16 old = *(__u16 *)&ip->ttl;
		ip->ttl--;
		pt_csum_replace2(&ip->check, old, *(__u16 *)&ip->ttl);
	} else {
		struct ipv6hdr *ip6 = data + l3;
		if ((void *)(ip6 + 1) > end)
			return;
		ip6->hop_limit--;
	}
}

/* The Ethernet (and 802.1Q, when l2 is 18 bytes) header of a reply sent back to the LAN host. */
static __always_inline void pt_write_l2(void *data, __u32 l2, const __u8 *dst, const __u8 *src, __u16 vid, __u16 proto)
{
	struct ethhdr *eth = data;

	__builtin_memcpy(eth->h_dest, dst, 6);
	__builtin_memcpy(eth->h_source, src, 6);
	if (l2 == 18) {
		eth->h_proto = bpf_htons(PT_ETH_P_8021Q);
		*(__be16 *)(data + 14) = bpf_htons(vid);
		*(__be16 *)(data + 16) = bpf_htons(proto);
	} else {
		eth->h_proto = bpf_htons(proto);
	}
}

/* Sum of the n_bytes (multiple of 2, <= 2 * max_words) quoted bytes at off. */
static __always_inline __u32 pt_csum_span(void *data, void *end, __u32 off, __u32 n_bytes)
{
	__u32 s = 0;
	for (int i = 0; i < PT_ICMP4_QUOTE_MAX / 2; i++) {
		if ((__u32)i * 2 >= n_bytes)
			break;
		__u16 *w = data + ((off + i * 2) & 0x1ff);
		if ((void *)(w + 1) > end)
			break;
		s += *w;
	}
	return s;
}

/**
 * Answers an oversized packet with ICMP fragmentation-needed / ICMPv6 packet-too-big advertising `limit`
 * (the largest inner packet the path carries) and sends it back to the sender.
 */
__attribute__((noinline)) int pt_too_big(PT_CTX *ctx, const struct pt_pkt *p, const struct pt_seg_val *seg, __u32 limit)
{
	if (!p || !seg)
		return CTX_DROP;
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return pt_drop(ctx, PT_DROP_MALFORMED);
	__u8 peer_mac[6], own_mac[6];
	__builtin_memcpy(peer_mac, eth->h_source, 6);
	__builtin_memcpy(own_mac, eth->h_dest, 6);
	__u16 vid = p->vlan;
	__u32 l2 = ctx_l2_len(vid);
	__u32 old_l2 = p->l2_len & 0x1f;

	if (p->family == 4) {
		__be32 src4 = seg->addr4;
		if (!p->df || !src4 || limit < 68)
			return pt_drop(ctx, PT_DROP_TOO_BIG);
		__u32 quote = (p->l4_off - p->l2_len) + 8;
		if (quote > PT_ICMP4_QUOTE_MAX)
			return pt_drop(ctx, PT_DROP_MALFORMED);
		if (ctx_trim(ctx, old_l2 + quote))
			return pt_drop(ctx, PT_DROP_HELPER);
		if (ctx_resize_front(ctx, (int)(l2 + PT_IP4_HLEN + PT_ICMP_HLEN) - (int)old_l2, 0))
			return pt_drop(ctx, PT_DROP_HELPER);
		data = ctx_data(ctx);
		end = ctx_data_end(ctx);
		l2 &= 0x1f;
		if (data + l2 + PT_IP4_HLEN + PT_ICMP_HLEN + 28 > end)
			return pt_drop(ctx, PT_DROP_HELPER);
		pt_write_l2(data, l2, peer_mac, own_mac, vid, PT_ETH_P_IP);
		struct iphdr *ip = data + l2;
		struct iphdr *orig = (void *)(ip + 1) + PT_ICMP_HLEN;
		ip->version = 4;
		ip->ihl = 5;
		ip->tos = 0xc0;
		ip->tot_len = bpf_htons(PT_IP4_HLEN + PT_ICMP_HLEN + quote);
		ip->id = 0;
		ip->frag_off = 0;
		ip->ttl = 64;
		ip->protocol = PT_IPPROTO_ICMP;
		ip->check = 0;
		ip->saddr = src4;
		ip->daddr = orig->saddr;
		ip->check = pt_csum_fold(pt_csum_words(ip, 10));
		__u8 *icmp = (void *)(ip + 1);
		icmp[0] = 3; /* destination unreachable */
		icmp[1] = 4; /* fragmentation needed and DF set */
		*(__u16 *)(icmp + 2) = 0;
		*(__u16 *)(icmp + 4) = 0;
		*(__be16 *)(icmp + 6) = bpf_htons(limit);
		__u32 s = pt_csum_words(icmp, 4) + pt_csum_span(data, end, l2 + PT_IP4_HLEN + PT_ICMP_HLEN, quote);
		*(__u16 *)(icmp + 2) = pt_csum_fold(s);
	} else {
		if (limit < PT_IPV6_MIN_MTU)
			return pt_drop(ctx, PT_DROP_TOO_BIG);
		__u8 src6[16];
		__builtin_memcpy(src6, seg->addr6, 16);
		if (!(src6[0] | src6[1] | src6[2] | src6[3] | src6[8] | src6[15]) &&
		    !(src6[4] | src6[5] | src6[6] | src6[7] | src6[9] | src6[10] | src6[11] | src6[12] | src6[13] | src6[14]))
			return pt_drop(ctx, PT_DROP_TOO_BIG);
		if (ctx_trim(ctx, old_l2 + PT_ICMP6_QUOTE))
			return pt_drop(ctx, PT_DROP_HELPER);
		if (ctx_resize_front(ctx, (int)(l2 + PT_IP6_HLEN + PT_ICMP_HLEN) - (int)old_l2, 0))
			return pt_drop(ctx, PT_DROP_HELPER);
		data = ctx_data(ctx);
		end = ctx_data_end(ctx);
		l2 &= 0x1f;
		if (data + l2 + PT_IP6_HLEN + PT_ICMP_HLEN + PT_ICMP6_QUOTE > end)
			return pt_drop(ctx, PT_DROP_HELPER);
		pt_write_l2(data, l2, peer_mac, own_mac, vid, PT_ETH_P_IPV6);
		struct ipv6hdr *ip6 = data + l2;
		struct ipv6hdr *orig = (void *)(ip6 + 1) + PT_ICMP_HLEN;
		*(__be32 *)ip6 = bpf_htonl(0x60000000);
		ip6->payload_len = bpf_htons(PT_ICMP_HLEN + PT_ICMP6_QUOTE);
		ip6->nexthdr = PT_IPPROTO_ICMPV6;
		ip6->hop_limit = 64;
		__builtin_memcpy(&ip6->saddr, src6, 16);
		__builtin_memcpy(&ip6->daddr, &orig->saddr, 16);
		__u8 *icmp = (void *)(ip6 + 1);
		icmp[0] = 2; /* packet too big */
		icmp[1] = 0;
		*(__u16 *)(icmp + 2) = 0;
		*(__be32 *)(icmp + 4) = bpf_htonl(limit);
		/* Pseudo header: addresses, upper-layer length, next header. */
		__u32 s = pt_csum_words(&ip6->saddr, 16) + bpf_htons(PT_ICMP_HLEN + PT_ICMP6_QUOTE) +
			  bpf_htons(PT_IPPROTO_ICMPV6);
		s += pt_csum_words(icmp, 4) + pt_csum_words(icmp + PT_ICMP_HLEN, PT_ICMP6_QUOTE / 2);
		*(__u16 *)(icmp + 2) = pt_csum_fold(s);
	}
	if (ctx_l2_finish(ctx, vid))
		return pt_drop(ctx, PT_DROP_HELPER);
	return ctx_tx(ctx);
}

#endif
