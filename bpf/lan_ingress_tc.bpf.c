/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tc (clsact ingress) program for a LAN device: the same pipeline as lan_ingress.bpf.c, for what XDP
 * leaves to it — shaped paths (bpf_redirect from tc traverses the WAN qdisc) and duplicated classes.
 */
#include "lib/ctx_skb.h"
#include "lib/lan_ingress.h"

SEC("tc")
int pt_lan_tc(struct __sk_buff *ctx)
{
	return pt_lan_ingress(ctx);
}

char LICENSE[] SEC("license") = "GPL";
