/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pt_consts.h — load-time constants (.rodata, set by the loader before load, folded by the verifier) and
 * compile-time limits private to the programs. Anything user space must agree on lives in
 * include/patronus_shared.h instead.
 */
#ifndef PT_CONSTS_H
#define PT_CONSTS_H

#include "patronus_shared.h"

/** UDP port of the overlay, host order (default PT_OVERLAY_PORT_DEFAULT). */
const volatile __u16 cfg_overlay_port = PT_OVERLAY_PORT_DEFAULT;
/** TTL of the outer IPv4 header. */
const volatile __u8 cfg_outer_ttl = 64;

#define PT_ETH_HLEN 14
#define PT_VLAN_HLEN 4
#define PT_IP4_HLEN 20
#define PT_IP6_HLEN 40
#define PT_UDP_HLEN 8
#define PT_ICMP_HLEN 8
#define PT_OVL_HLEN 16

#define PT_ETH_P_IP 0x0800
#define PT_ETH_P_IPV6 0x86DD
#define PT_ETH_P_8021Q 0x8100
#define PT_ETH_P_8021AD 0x88A8

#define PT_IPPROTO_ICMP 1
#define PT_IPPROTO_TCP 6
#define PT_IPPROTO_UDP 17
#define PT_IPPROTO_ICMPV6 58

#define PT_IP_DF 0x4000
#define PT_IP_MF 0x2000
#define PT_IP_OFFMASK 0x1fff

#define PT_TCP_SYN 0x02
#define PT_TCPOPT_EOL 0
#define PT_TCPOPT_NOP 1
#define PT_TCPOPT_MSS 2

/* Quoted bytes of the offending packet in an ICMP error: IPv4 header + 8 (RFC 792), IPv6 40 + 8. */
#define PT_ICMP4_QUOTE_MAX 68
#define PT_ICMP6_QUOTE 48
/* IPv6 links carry at least 1280 bytes (RFC 8200); never advertise less. */
#define PT_IPV6_MIN_MTU 1280
#define PT_IPV4_MIN_MTU 576

/* bpf_skb_adjust_room decap flags (kernel 6.3+); the distribution's uapi header predates them. */
#define PT_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#define PT_ADJ_ROOM_DECAP_L3_IPV6 (1ULL << 8)

#endif
