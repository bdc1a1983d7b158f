/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pt_xf_sink — the delivery counter of bench/xdp-forward.ts: a plain UDP socket (large receive buffer,
 * recvmmsg), so counting does not change the path the packets take (an XDP program on the sink's veth
 * would).
 *
 * It checks every datagram against the packet the sender built for that sequence number (xf_frame.h):
 *   mode=ovl    datagrams to the Patronus overlay port: 16-byte Patronus header (version 1) + inner IPv4
 *               packet, compared byte for byte with the sender's, TTL one lower (the edge routed it);
 *   mode=vxlan  datagrams to the VXLAN port: 8-byte VXLAN header (I flag, VNI vni=) + inner Ethernet
 *               (type IPv4) + the inner IPv4 packet, compared the same way;
 *   mode=plain  the inner datagram itself (plain forwarding): payload compared, source address and port
 *               checked (the kernel already verified the UDP checksum).
 * Distinct good sequence numbers in [seq0, seq0 + max) are "good"; repeats are "dup"; anything else "bad"
 * (the first reason is reported).
 *
 * Usage: pt_xf_sink mode=ovl|vxlan|plain port=N src=IP dst=IP sport=N dport=N flows=N size=N seq0=N
 *                   max=N [vni=N]
 * Prints "ready" once bound; on SIGTERM/SIGINT prints one JSON line
 * {"received":N,"good":N,"dup":N,"bad":N,"why":"..."} and exits 0. Exit 2 on bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>
#include "xf_frame.h"

#define BATCH 64
#define BUF 2048

static volatile sig_atomic_t stop;
static void on_signal(int s) { (void)s; stop = 1; }

#define arg(argc, argv, key, dflt) xf_arg("pt_xf_sink", argc, argv, key, dflt)

int main(int argc, char **argv)
{
	struct xf_spec sp = {0};
	const char *mode = arg(argc, argv, "mode", NULL);
	int m = !strcmp(mode, "ovl") ? 0 : !strcmp(mode, "vxlan") ? 1 : !strcmp(mode, "plain") ? 2 : -1;
	if (m < 0 || inet_pton(AF_INET, arg(argc, argv, "src", NULL), &sp.saddr) != 1 ||
	    inet_pton(AF_INET, arg(argc, argv, "dst", NULL), &sp.daddr) != 1) {
		fprintf(stderr, "pt_xf_sink: mode must be ovl, vxlan or plain; src/dst IPv4 addresses\n");
		return 2;
	}
	int port = atoi(arg(argc, argv, "port", NULL));
	sp.sport_base = (uint16_t)atoi(arg(argc, argv, "sport", "10000"));
	sp.dport = (uint16_t)atoi(arg(argc, argv, "dport", "9000"));
	sp.flows = (uint16_t)atoi(arg(argc, argv, "flows", "16"));
	long size = atol(arg(argc, argv, "size", "64"));
	uint64_t seq0 = strtoull(arg(argc, argv, "seq0", "0"), NULL, 10);
	uint64_t max = strtoull(arg(argc, argv, "max", NULL), NULL, 10);
	uint32_t vni = (uint32_t)atoi(arg(argc, argv, "vni", "0"));
	if (size < 8 || size > XF_MAX_PAYLOAD || port <= 0 || port > 65535 || !max || max > (1ull << 31) || !sp.flows) {
		fprintf(stderr, "pt_xf_sink: size 8..%d, port 1..65535, max 1..2^31, flows > 0\n", XF_MAX_PAYLOAD);
		return 2;
	}
	sp.payload = (uint16_t)size;
	uint8_t *seen = calloc((size_t)(max + 7) / 8, 1);
	if (!seen) {
		perror("pt_xf_sink: calloc");
		return 1;
	}

	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int rcvbuf = 256 << 20;
	/* FORCE lifts rmem_max (root); the plain call is the fallback for an unprivileged run. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	struct timeval tv = { 0, 50000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (bind(fd, (struct sockaddr *)&a, sizeof a)) {
		perror("pt_xf_sink: bind");
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("ready\n");
	fflush(stdout);

	static uint8_t bufs[BATCH][BUF];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	struct sockaddr_in from[BATCH];
	uint8_t want[XF_IP_LEN + XF_UDP_LEN + XF_MAX_PAYLOAD];
	size_t inner_len = XF_IP_LEN + XF_UDP_LEN + (size_t)size;
	size_t off = m == 0 ? 16 : m == 1 ? 8 + XF_ETH_LEN : 0;
	uint64_t received = 0, good = 0, dup = 0, bad = 0;
	const char *why = "";
	for (;;) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], BUF };
			msgs[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (stop)
				break;
			if (errno == EAGAIN || errno == EINTR)
				continue;
			perror("pt_xf_sink: recvmmsg");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			const uint8_t *d = bufs[i];
			size_t len = msgs[i].msg_len;
			received++;
			const char *err = NULL;
			uint64_t seq = 0;
			if (m == 2) {
				if (len != (size_t)size) err = "plain: wrong length";
				else {
					seq = xf_seq_of(d);
					xf_ip_packet(&sp, seq, XF_TTL, want);
					if (memcmp(d, want + XF_IP_LEN + XF_UDP_LEN, (size_t)size)) err = "plain: payload differs";
					else if (from[i].sin_addr.s_addr != sp.saddr || from[i].sin_port != htons((uint16_t)(want[20] << 8 | want[21])))
						err = "plain: wrong source address or port";
				}
			} else if (len != off + inner_len) {
				err = "encapsulated: wrong length";
			} else if (m == 0 && d[0] >> 4 != 1) {
				err = "ovl: Patronus header version is not 1";
			} else if (m == 1 && (d[0] != 0x08 || (uint32_t)(d[4] << 16 | d[5] << 8 | d[6]) != vni)) {
				err = "vxlan: wrong flags or VNI";
			} else if (m == 1 && (d[8 + 12] != 0x08 || d[8 + 13] != 0x00)) {
				err = "vxlan: inner Ethernet type is not IPv4";
			} else {
				seq = xf_seq_of(d + off + XF_IP_LEN + XF_UDP_LEN);
				xf_ip_packet(&sp, seq, XF_TTL - 1, want);
				if (memcmp(d + off, want, inner_len)) err = "encapsulated: inner packet differs from the one sent (TTL - 1)";
			}
			if (!err && (seq < seq0 || seq - seq0 >= max)) err = "sequence number out of range";
			if (err) {
				if (!bad) why = err;
				bad++;
				continue;
			}
			uint64_t k = seq - seq0;
			if (seen[k / 8] & (1u << (k % 8))) dup++;
			else { seen[k / 8] |= (uint8_t)(1u << (k % 8)); good++; }
		}
		if (stop)
			break;
	}
	printf("{\"received\":%llu,\"good\":%llu,\"dup\":%llu,\"bad\":%llu,\"why\":\"%s\"}\n", (unsigned long long)received,
	       (unsigned long long)good, (unsigned long long)dup, (unsigned long long)bad, why);
	return 0;
}
