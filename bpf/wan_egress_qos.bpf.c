/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tc classifier on the HTB root of a shaped WAN device (cls_bpf, classic mode — not direct-action): the
 * program's return value is the HTB classid (major << 16 | minor) of the packet, 0 = "no match", which
 * sends the packet to the HTB default class.
 *
 *  - overlay packets (outer IPv4/UDP to cfg_overlay_port): the application class byte of the Patronus
 *    header, through pt_qos_classes;
 *  - the edge's own path probes (UDP probe_port as source or destination) and BGP (TCP 179 either way),
 *    over IPv4 or IPv6: pt_qos_config.control_classid;
 *  - everything else (and fragments, truncated headers): 0.
 *
 * Why classic mode: in direct-action mode the program can only set the 16-bit minor (skb->tc_classid) and
 * the major comes from the filter's own classid, which libbpf's bpf_tc_attach cannot set; returning the
 * full classid needs no such coupling and makes the verdict the BPF_PROG_TEST_RUN return value.
 * Headers are read with bpf_skb_load_bytes, so paged (GSO) skbs need no pull.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lib/pt_consts.h"
#include "lib/pt_maps.h"

#define PT_BGP_PORT 179

/* The HTB classid of application class `class_id` (0: the default class). */
static __always_inline __u32 pt_qos_of_class(__u8 class_id)
{
	__u32 k = class_id;
	struct pt_qos_class *c = bpf_map_lookup_elem(&pt_qos_classes, &k);
	return c ? c->classid : 0;
}

SEC("tc")
int pt_wan_qos(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct pt_qos_config *cfg = bpf_map_lookup_elem(&pt_qos_config, &zero);
	if (!cfg)
		return 0;

	__u32 off = 12;
	__be16 eth_proto;
	if (bpf_skb_load_bytes(skb, off, &eth_proto, 2))
		return 0;
	off += 2;
	/* A tag still in the data (not hw-accel metadata) is skipped; the classes do not depend on it. */
	if (eth_proto == bpf_htons(PT_ETH_P_8021Q) || eth_proto == bpf_htons(PT_ETH_P_8021AD)) {
		if (bpf_skb_load_bytes(skb, off + 2, &eth_proto, 2))
			return 0;
		off += 4;
	}

	__u8 proto;
	if (eth_proto == bpf_htons(PT_ETH_P_IP)) {
		__u8 vihl;
		__be16 frag;
		if (bpf_skb_load_bytes(skb, off, &vihl, 1) || bpf_skb_load_bytes(skb, off + 6, &frag, 2) ||
		    bpf_skb_load_bytes(skb, off + 9, &proto, 1))
			return 0;
		if ((vihl >> 4) != 4 || (vihl & 0xf) < 5)
			return 0;
		/* Only a first fragment has ports; later ones go to the default class. */
		if (frag & bpf_htons(0x1fff))
			return 0;
		off += (vihl & 0xf) * 4;
	} else if (eth_proto == bpf_htons(PT_ETH_P_IPV6)) {
		/* No extension-header walk: probes and BGP from this edge carry none. */
		if (bpf_skb_load_bytes(skb, off + 6, &proto, 1))
			return 0;
		off += 40;
	} else {
		return 0;
	}

	__be16 ports[2];
	if (proto != PT_IPPROTO_UDP && proto != PT_IPPROTO_TCP)
		return 0;
	if (bpf_skb_load_bytes(skb, off, ports, 4))
		return 0;
	__u16 sport = bpf_ntohs(ports[0]), dport = bpf_ntohs(ports[1]);

	if (proto == PT_IPPROTO_TCP)
		return (sport == PT_BGP_PORT || dport == PT_BGP_PORT) ? cfg->control_classid : 0;

	if (dport == cfg_overlay_port && eth_proto == bpf_htons(PT_ETH_P_IP)) {
		__u8 hdr[2]; /* ver_flags, class_id */
		if (bpf_skb_load_bytes(skb, off + 8, hdr, 2))
			return 0;
		if ((hdr[0] >> 4) != PT_OVERLAY_VERSION)
			return 0;
		/* Overlay probes travel with the probes, in the control class. */
		if (hdr[0] & PT_F_PROBE)
			return cfg->control_classid;
		return pt_qos_of_class(hdr[1]);
	}
	if (cfg->probe_port && (sport == cfg->probe_port || dport == cfg->probe_port))
		return cfg->control_classid;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
