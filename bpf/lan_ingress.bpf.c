/* SPDX-License-Identifier: Apache-2.0 */
/* XDP program for a LAN device's ingress: the fast path of lib/lan_ingress.h. */
#include "lib/ctx_xdp.h"
#include "lib/lan_ingress.h"

SEC("xdp")
int pt_lan_xdp(struct xdp_md *ctx)
{
	return pt_lan_ingress(ctx);
}

char LICENSE[] SEC("license") = "GPL";
