/* SPDX-License-Identifier: Apache-2.0 */
/* pt_structs.h — structs private to the programs (parsed packet state); map structs are in the shared header. */
#ifndef PT_STRUCTS_H
#define PT_STRUCTS_H

#include <linux/types.h>

/** What the parser learnt about a LAN frame; offsets are from the start of the frame. */
struct pt_pkt {
	__u32 l2_len;   /* 14, or 18 with an inline VLAN tag */
	__u32 l4_off;
	__u32 ip_len;   /* inner IP packet length from its header (IPv4 total length, IPv6 payload + 40) */
	__u16 vlan;     /* VLAN id, 0 = untagged */
	__u8 family;    /* 4 or 6 */
	__u8 proto;     /* L4 protocol (IPv6: after skipping known extension headers) */
	__u8 tos;       /* IPv4 TOS / IPv6 traffic class */
	__u8 ttl;
	__u8 tcp_flags;
	__u8 frag;      /* a fragment: 1 first, 2 later (no ports) */
	__u8 df;        /* IPv4 DF (IPv6: always, routers never fragment) */
	__u8 l4_hlen;   /* TCP header with options, UDP 8, else 0 */
	__be16 echo_id; /* ICMP/ICMPv6 echo identifier: tells concurrent pings apart in the flow table */
	__be16 sport;
	__be16 dport;
	__u8 src[16];
	__u8 dst[16];
};

#endif
