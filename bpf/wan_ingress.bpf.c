/* SPDX-License-Identifier: Apache-2.0 */
/* XDP program for a WAN device's ingress: lib/wan_ingress.h. */
#include "lib/ctx_xdp.h"
#include "lib/wan_ingress.h"

SEC("xdp")
int pt_wan_xdp(struct xdp_md *ctx)
{
	return pt_wan_ingress(ctx);
}

char LICENSE[] SEC("license") = "GPL";
