// pt-probe: raw Ethernet probes for measuring a twin link (calibration and tests).
//
// The sender writes frames of a local-experimental EtherType (0x88b5) carrying a tag, a sequence number and
// the CLOCK_MONOTONIC send time; the receiver, in another namespace of the same host (one clock), prints
// one line per frame: "seq tx_ns rx_ns len". Raw frames need no addresses on the link, so any link can be
// measured, whatever sits on its endpoints (bridge ports, routers, hosts).
//
//   pt-probe send IF --count N [--interval-us U] [--size BYTES] [--tag T]
//   pt-probe recv IF [--tag T] [--count N] [--idle-ms M] [--timeout-ms M]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ETH_P_PT 0x88b5
#define MAGIC 0x50545052u // "PTPR"

struct probe {
	uint32_t magic, tag, seq, pad;
	uint64_t tx_ns;
} __attribute__((packed));

static uint64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int open_if(const char *ifname, int proto, int *ifindex) {
	int fd = socket(AF_PACKET, SOCK_RAW, htons(proto));
	if (fd < 0) { perror("pt-probe: socket"); exit(1); }
	*ifindex = (int)if_nametoindex(ifname);
	if (!*ifindex) { fprintf(stderr, "pt-probe: interface %s: %s\n", ifname, strerror(errno)); exit(1); }
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(proto), .sll_ifindex = *ifindex};
	if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) { perror("pt-probe: bind"); exit(1); }
	return fd;
}

static void usage(void) {
	fprintf(stderr, "usage: pt-probe send IF --count N [--interval-us U] [--size BYTES] [--tag T]\n"
	                "       pt-probe recv IF [--tag T] [--count N] [--idle-ms M] [--timeout-ms M]\n");
	exit(2);
}

int main(int argc, char **argv) {
	if (argc < 3) usage();
	const char *mode = argv[1], *ifname = argv[2];
	unsigned long long count = 0, interval_us = 1000, size = 100, tag = 1, idle_ms = 500, timeout_ms = 10000;
	for (int i = 3; i < argc; i++) {
		if (i + 1 >= argc) usage();
		unsigned long long v = strtoull(argv[i + 1], NULL, 10);
		if (!strcmp(argv[i], "--count")) count = v;
		else if (!strcmp(argv[i], "--interval-us")) interval_us = v;
		else if (!strcmp(argv[i], "--size")) size = v;
		else if (!strcmp(argv[i], "--tag")) tag = v;
		else if (!strcmp(argv[i], "--idle-ms")) idle_ms = v;
		else if (!strcmp(argv[i], "--timeout-ms")) timeout_ms = v;
		else usage();
		i++;
	}
	prctl(PR_SET_TIMERSLACK, 1UL);
	if (!strcmp(mode, "send")) {
		if (!count) usage();
		if (size < 14 + sizeof(struct probe)) size = 14 + sizeof(struct probe);
		if (size > 9000) size = 9000;
		int ifindex;
		int fd = open_if(ifname, 0, &ifindex);
		int sz = 16 << 20;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz);
		unsigned char frame[9000] = {0};
		memset(frame, 0xff, 6); // broadcast: no neighbour needed, the far end's tap sees it whatever its MAC
		frame[6] = 0x02; frame[7] = 'p'; frame[8] = 't';
		frame[12] = ETH_P_PT >> 8; frame[13] = ETH_P_PT & 0xff;
		uint64_t t0 = now_ns(), sent = 0;
		for (unsigned long long s = 0; s < count; s++) {
			uint64_t at = t0 + s * interval_us * 1000ull;
			struct timespec ts = {.tv_sec = (time_t)(at / 1000000000ull), .tv_nsec = (long)(at % 1000000000ull)};
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
			struct probe p = {.magic = MAGIC, .tag = (uint32_t)tag, .seq = (uint32_t)s, .tx_ns = now_ns()};
			memcpy(frame + 14, &p, sizeof p);
			if (send(fd, frame, size, 0) == (ssize_t)size) sent++;
			else if (errno != ENOBUFS) { perror("pt-probe: send"); return 1; }
		}
		printf("{\"sent\":%llu,\"ns\":%llu}\n", (unsigned long long)sent, (unsigned long long)(now_ns() - t0));
		return 0;
	}
	if (!strcmp(mode, "recv")) {
		int ifindex;
		// ETH_P_ALL, not ETH_P_PT: on a bridge port the bridge consumes a frame before protocol-specific
		// packet sockets see it (only the catch-all taps run first), so the EtherType is checked here.
		int fd = open_if(ifname, ETH_P_ALL, &ifindex);
		int sz = 32 << 20;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz);
		// Ready marker: the caller starts the sender only after this line, so nothing is missed.
		printf("ready\n");
		fflush(stdout);
		uint64_t start = now_ns(), last = 0, got = 0;
		unsigned char buf[9100];
		for (;;) {
			uint64_t now = now_ns();
			if (now - start > timeout_ms * 1000000ull) break;
			if (last && now - last > idle_ms * 1000000ull) break;
			struct pollfd pfd = {.fd = fd, .events = POLLIN};
			if (poll(&pfd, 1, 20) <= 0) continue;
			struct sockaddr_ll from;
			socklen_t fl = sizeof from;
			ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
			uint64_t rx = now_ns();
			if (n < (ssize_t)(14 + sizeof(struct probe))) continue;
			if (from.sll_pkttype == PACKET_OUTGOING || buf[12] != (ETH_P_PT >> 8) || buf[13] != (ETH_P_PT & 0xff)) continue;
			struct probe p;
			memcpy(&p, buf + 14, sizeof p);
			if (p.magic != MAGIC || p.tag != tag) continue;
			printf("%u %llu %llu %zd\n", p.seq, (unsigned long long)p.tx_ns, (unsigned long long)rx, n);
			last = rx;
			if (count && ++got >= count) break;
		}
		printf("end\n");
		return 0;
	}
	usage();
	return 2;
}
