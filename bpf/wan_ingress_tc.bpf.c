/* SPDX-License-Identifier: Apache-2.0 */
/* tc (clsact ingress) build of lib/wan_ingress.h, for WAN devices where XDP cannot attach. */
#include "lib/ctx_skb.h"
#include "lib/wan_ingress.h"

SEC("tc")
int pt_wan_tc(struct __sk_buff *ctx)
{
	return pt_wan_ingress(ctx);
}

char LICENSE[] SEC("license") = "GPL";
