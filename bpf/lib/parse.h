/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parse.h — Ethernet / 802.1Q / IPv4 / IPv6 / TCP / UDP parsing of a LAN frame into struct pt_pkt.
 * Every read is bounds-checked against data_end; offsets are kept small and masked so the verifier can
 * follow them.
 */
#ifndef PT_PARSE_H
#define PT_PARSE_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "pt_consts.h"
#include "pt_structs.h"

enum pt_parse_result {
	PT_PARSE_OK = 0,
	PT_PARSE_NOT_IP = 1,    /* ARP, LLDP, ...: not ours */
	PT_PARSE_MALFORMED = 2, /* truncated or inconsistent */
};

/** Parses the L2 header; returns the ethertype (host order) and sets l2_len / vlan, or 0 if truncated. */
static __always_inline __u16 pt_parse_l2(void *data, void *end, struct pt_pkt *p)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return 0;
	__u16 proto = bpf_ntohs(eth->h_proto);
	p->l2_len = PT_ETH_HLEN;
	if (proto == PT_ETH_P_8021Q || proto == PT_ETH_P_8021AD) {
		__be16 *tag = data + PT_ETH_HLEN;
		if ((void *)(tag + 2) > end)
			return 0;
		p->vlan = bpf_ntohs(tag[0]) & 0xfff;
		proto = bpf_ntohs(tag[1]);
		p->l2_len = PT_ETH_HLEN + PT_VLAN_HLEN;
	}
	return proto;
}

static __always_inline int pt_parse_ports(void *data, void *end, struct pt_pkt *p)
{
	if (p->frag == 2)
		return PT_PARSE_OK;
	__u32 off = p->l4_off & 0xff;
	if (p->proto == PT_IPPROTO_TCP) {
		struct tcphdr *th = data + off;
		if ((void *)(th + 1) > end)
			return PT_PARSE_MALFORMED;
		if (th->doff < 5)
			return PT_PARSE_MALFORMED;
		p->sport = th->source;
		p->dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
		p->l4_hlen = th->doff * 4;
	} else if (p->proto == PT_IPPROTO_UDP) {
		struct udphdr *uh = data + off;
		if ((void *)(uh + 1) > end)
			return PT_PARSE_MALFORMED;
		p->sport = uh->source;
		p->dport = uh->dest;
		p->l4_hlen = PT_UDP_HLEN;
	} else if (p->proto == PT_IPPROTO_ICMP || p->proto == PT_IPPROTO_ICMPV6) {
		/* Echo request/reply (ICMP 8/0, ICMPv6 128/129): type, code, checksum, identifier, sequence. */
		__u8 *ih = data + off;
		if ((void *)(ih + 8) > end)
			return PT_PARSE_OK;
		__u8 t = ih[0];
		if (p->proto == PT_IPPROTO_ICMP ? (t == 8 || t == 0) : (t == 128 || t == 129))
			p->echo_id = *(__be16 *)(ih + 4);
	}
	return PT_PARSE_OK;
}

/**
 * Parses a LAN frame. frame_len is the whole frame (ctx_len): for an skb the headers are linear but the
 * payload may sit in pages beyond data_end. ctx_vlan_take()'s tag (tc) is merged into p->vlan by the caller.
 */
static __always_inline int pt_parse(void *data, void *end, __u32 frame_len, struct pt_pkt *p)
{
	__u16 proto = pt_parse_l2(data, end, p);
	if (!proto)
		return PT_PARSE_MALFORMED;
	__u32 l3 = p->l2_len;

	if (proto == PT_ETH_P_IP) {
		struct iphdr *ip = data + l3;
		if ((void *)(ip + 1) > end)
			return PT_PARSE_MALFORMED;
		if (ip->version != 4 || ip->ihl < 5)
			return PT_PARSE_MALFORMED;
		__u32 ihl = ip->ihl * 4;
		__u32 tot = bpf_ntohs(ip->tot_len);
		if (tot < ihl || l3 + tot > frame_len)
			return PT_PARSE_MALFORMED;
		p->family = 4;
		p->ip_len = tot;
		p->proto = ip->protocol;
		p->tos = ip->tos;
		p->ttl = ip->ttl;
		__u16 fo = bpf_ntohs(ip->frag_off);
		p->df = !!(fo & PT_IP_DF);
		if (fo & PT_IP_OFFMASK)
			p->frag = 2;
		else if (fo & PT_IP_MF)
			p->frag = 1;
		__builtin_memcpy(p->src, &ip->saddr, 4);
		__builtin_memcpy(p->dst, &ip->daddr, 4);
		p->l4_off = l3 + ihl;
		return pt_parse_ports(data, end, p);
	}
	if (proto == PT_ETH_P_IPV6) {
		struct ipv6hdr *ip6 = data + l3;
		if ((void *)(ip6 + 1) > end)
			return PT_PARSE_MALFORMED;
		if (ip6->version != 6)
			return PT_PARSE_MALFORMED;
		__u32 tot = bpf_ntohs(ip6->payload_len) + PT_IP6_HLEN;
		if (l3 + tot > frame_len)
			return PT_PARSE_MALFORMED;
		p->family = 6;
		p->ip_len = tot;
		p->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
		p->ttl = ip6->hop_limit;
		p->df = 1;
		__builtin_memcpy(p->src, &ip6->saddr, 16);
		__builtin_memcpy(p->dst, &ip6->daddr, 16);
		/* Walk up to four extension headers (hop-by-hop, routing, destination options, fragment). */
		__u8 nh = ip6->nexthdr;
		__u32 off = l3 + PT_IP6_HLEN;
#pragma unroll
		for (int i = 0; i < 4; i++) {
			if (nh != 0 && nh != 43 && nh != 60 && nh != 44)
				break;
			__u8 *eh = data + (off & 0x1ff);
			if ((void *)(eh + 8) > end)
				return PT_PARSE_MALFORMED;
			if (nh == 44) {
				__u16 fo = bpf_ntohs(*(__be16 *)(eh + 2));
				p->frag = (fo & 0xfff8) ? 2 : 1;
				nh = eh[0];
				off += 8;
			} else {
				nh = eh[0];
				off += (eh[1] + 1) * 8;
			}
		}
		p->proto = nh;
		p->l4_off = off;
		return pt_parse_ports(data, end, p);
	}
	return PT_PARSE_NOT_IP;
}

/** Multicast, broadcast and IPv6 link-local destinations are the stack's business (ND, DHCP, ...). */
static __always_inline int pt_is_link_scope(const struct pt_pkt *p)
{
	if (p->family == 4)
		return (p->dst[0] & 0xf0) == 0xe0 || (p->dst[0] == 255 && p->dst[1] == 255 && p->dst[2] == 255 && p->dst[3] == 255);
	return p->dst[0] == 0xff || (p->dst[0] == 0xfe && (p->dst[1] & 0xc0) == 0x80);
}

#endif
