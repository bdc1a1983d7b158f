/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pt_xf_send — the rate-capped frame sender of bench/xdp-forward.ts (no pktgen on this kernel).
 *
 * Writes sequence-numbered UDP frames (xf_frame.h) to one interface through AF_PACKET, batched with
 * sendmmsg and bypassing the qdisc, capped at `pps` by a token bucket (0 = as fast as it can). It sleeps
 * between batches instead of spinning: on a shared 2-core machine a spinning sender would steal the cycles
 * the forwarding path under test needs.
 *
 * Usage: pt_xf_send ifname=IF dmac=MAC smac=MAC src=IP dst=IP sport=N dport=N flows=N size=N pps=N
 *                   seconds=S [seq0=N]
 * Prints one JSON line: {"sent":accepted frames,"failed":frames the kernel refused,"elapsed_ns":N,"seq0":N}
 * Exit 2 on bad arguments, 1 on a socket error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "xf_frame.h"

#define BATCH_MAX 64

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

#define arg(argc, argv, key, dflt) xf_arg("pt_xf_send", argc, argv, key, dflt)

int main(int argc, char **argv)
{
	struct xf_spec sp = {0};
	const char *ifname = arg(argc, argv, "ifname", NULL);
	if (xf_parse_mac(arg(argc, argv, "dmac", NULL), sp.dmac) || xf_parse_mac(arg(argc, argv, "smac", NULL), sp.smac) ||
	    inet_pton(AF_INET, arg(argc, argv, "src", NULL), &sp.saddr) != 1 || inet_pton(AF_INET, arg(argc, argv, "dst", NULL), &sp.daddr) != 1) {
		fprintf(stderr, "pt_xf_send: dmac/smac must be MACs, src/dst IPv4 addresses\n");
		return 2;
	}
	sp.sport_base = (uint16_t)atoi(arg(argc, argv, "sport", "10000"));
	sp.dport = (uint16_t)atoi(arg(argc, argv, "dport", "9000"));
	sp.flows = (uint16_t)atoi(arg(argc, argv, "flows", "16"));
	long size = atol(arg(argc, argv, "size", "64"));
	double pps = atof(arg(argc, argv, "pps", "0"));
	double seconds = atof(arg(argc, argv, "seconds", "1"));
	uint64_t seq = strtoull(arg(argc, argv, "seq0", "0"), NULL, 10);
	if (size < 8 || size > XF_MAX_PAYLOAD || pps < 0 || seconds <= 0 || !sp.flows) {
		fprintf(stderr, "pt_xf_send: size must be 8..%d, pps >= 0, seconds > 0, flows > 0\n", XF_MAX_PAYLOAD);
		return 2;
	}
	sp.payload = (uint16_t)size;
	unsigned idx = if_nametoindex(ifname);
	if (!idx) {
		fprintf(stderr, "pt_xf_send: interface %s: %s\n", ifname, strerror(errno));
		return 2;
	}
	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		perror("pt_xf_send: socket(AF_PACKET)");
		return 1;
	}
	int one = 1;
	/* Best effort: the veth has no queue anyway, the bypass only saves the qdisc lookup. */
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = (int)idx, .sll_halen = 6 };
	memcpy(to.sll_addr, sp.dmac, 6);

	static uint8_t frames[BATCH_MAX][XF_ETH_LEN + XF_IP_LEN + XF_UDP_LEN + XF_MAX_PAYLOAD];
	struct iovec iov[BATCH_MAX];
	struct mmsghdr msgs[BATCH_MAX];
	size_t flen = XF_ETH_LEN + XF_IP_LEN + XF_UDP_LEN + (size_t)size;
	for (int i = 0; i < BATCH_MAX; i++) {
		memcpy(frames[i], sp.dmac, 6);
		memcpy(frames[i] + 6, sp.smac, 6);
		frames[i][12] = 0x08; frames[i][13] = 0x00;
		iov[i] = (struct iovec){ .iov_base = frames[i], .iov_len = flen };
		msgs[i].msg_hdr = (struct msghdr){ .msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	/* Batch size grows with the rate so that the sender wakes up at most every ~100 us. */
	int batch = pps > 0 ? (int)(pps / 10000) : BATCH_MAX;
	if (batch < 1) batch = 1;
	if (batch > BATCH_MAX) batch = BATCH_MAX;
	uint64_t seq0 = seq, sent = 0, failed = 0;
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(seconds * 1e9), last = t0;
	double tokens = batch;
	int built = 0; /* frames[0..built) hold seq .. seq+built-1, not yet accepted */
	for (;;) {
		uint64_t t = now_ns();
		if (t >= end)
			break;
		int n = batch;
		if (pps > 0) {
			tokens += (double)(t - last) * pps / 1e9;
			if (tokens > 2 * BATCH_MAX) tokens = 2 * BATCH_MAX;
			last = t;
			if (tokens < 1) {
				uint64_t wait = (uint64_t)((batch - tokens) * 1e9 / pps);
				struct timespec ts = { (time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull) };
				nanosleep(&ts, NULL);
				continue;
			}
			if (tokens < n) n = (int)tokens;
		}
		for (int i = built; i < n; i++)
			xf_ip_packet(&sp, seq + (uint64_t)i, XF_TTL, frames[i] + XF_ETH_LEN);
		if (built < n) built = n;
		int r = sendmmsg(fd, msgs, (unsigned)n, 0);
		if (r < 0) {
			if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
				perror("pt_xf_send: sendmmsg");
				return 1;
			}
			failed += (uint64_t)n;
			r = 0;
			sched_yield();
		}
		if (r > 0) {
			sent += (uint64_t)r;
			seq += (uint64_t)r;
			if (pps > 0) tokens -= r;
			/* Unsent frames keep their sequence numbers: move them to the front. */
			for (int i = r; i < built; i++)
				memcpy(frames[i - r], frames[i], flen);
			built -= r;
		}
	}
	uint64_t el = now_ns() - t0;
	printf("{\"sent\":%llu,\"failed\":%llu,\"elapsed_ns\":%llu,\"seq0\":%llu}\n", (unsigned long long)sent,
	       (unsigned long long)failed, (unsigned long long)el, (unsigned long long)seq0);
	close(fd);
	return 0;
}
