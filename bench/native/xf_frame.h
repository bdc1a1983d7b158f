/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xf_frame.h — the test frames of bench/xdp-forward.ts, shared by the sender (pt_xf_send.c) and the sink
 * (pt_xf_sink.c) so that the sink can rebuild, from the sequence number alone, the exact inner IPv4 packet
 * the sender put on the wire and compare it byte for byte.
 *
 * Frame: Ethernet (14) + IPv4 (20, DF, TTL 64) + UDP (8) + payload. Payload: the 64-bit sequence number
 * (big-endian) then bytes (seq * 7 + i) & 0xff, so every packet's content differs. Flow f = seq % flows
 * uses UDP source port sport_base + f.
 */
#ifndef XF_FRAME_H
#define XF_FRAME_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#define XF_ETH_LEN 14
#define XF_IP_LEN 20
#define XF_UDP_LEN 8
#define XF_TTL 64
#define XF_MAX_PAYLOAD 1400

struct xf_spec {
	uint8_t dmac[6], smac[6];
	uint32_t saddr, daddr; /* network order */
	uint16_t sport_base, dport, flows, payload;
};

static inline uint16_t xf_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static inline uint32_t xf_sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

/* Writes the inner IPv4 packet of sequence `seq` with TTL `ttl` at `ip`; returns its length. */
static inline size_t xf_ip_packet(const struct xf_spec *sp, uint64_t seq, uint8_t ttl, uint8_t *ip)
{
	size_t tot = XF_IP_LEN + XF_UDP_LEN + sp->payload;
	uint8_t *udp = ip + XF_IP_LEN, *pl = udp + XF_UDP_LEN;
	uint16_t sport = (uint16_t)(sp->sport_base + seq % (sp->flows ? sp->flows : 1));
	memset(ip, 0, XF_IP_LEN + XF_UDP_LEN);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8); ip[3] = (uint8_t)tot;
	ip[6] = 0x40; /* DF */
	ip[8] = ttl;
	ip[9] = 17;
	memcpy(ip + 12, &sp->saddr, 4);
	memcpy(ip + 16, &sp->daddr, 4);
	uint16_t c = xf_fold(xf_sum(ip, XF_IP_LEN, 0));
	ip[10] = (uint8_t)(c >> 8); ip[11] = (uint8_t)c;
	udp[0] = (uint8_t)(sport >> 8); udp[1] = (uint8_t)sport;
	udp[2] = (uint8_t)(sp->dport >> 8); udp[3] = (uint8_t)sp->dport;
	uint16_t ulen = (uint16_t)(XF_UDP_LEN + sp->payload);
	udp[4] = (uint8_t)(ulen >> 8); udp[5] = (uint8_t)ulen;
	for (int i = 0; i < 8; i++)
		pl[i] = (uint8_t)(seq >> (56 - 8 * i));
	for (size_t i = 8; i < sp->payload; i++)
		pl[i] = (uint8_t)((seq * 7 + i) & 0xff);
	/* UDP checksum over the pseudo-header (addresses, protocol, length) and the datagram. */
	uint32_t s = xf_sum(ip + 12, 8, 0) + 17 + ulen;
	uint16_t u = xf_fold(xf_sum(udp, ulen, s));
	if (!u)
		u = 0xffff;
	udp[6] = (uint8_t)(u >> 8); udp[7] = (uint8_t)u;
	return tot;
}

/* The sequence number carried by a payload (its first 8 bytes). */
static inline uint64_t xf_seq_of(const uint8_t *pl)
{
	uint64_t s = 0;
	for (int i = 0; i < 8; i++)
		s = s << 8 | pl[i];
	return s;
}

static inline int xf_parse_mac(const char *s, uint8_t *mac)
{
	unsigned m[6];
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)m[i];
	return 0;
}

/* The value of a `key=value` argument; without one, `dflt`, or (dflt NULL) exit 2 naming the program. */
static inline const char *xf_arg(const char *prog, int argc, char **argv, const char *key, const char *dflt)
{
	size_t n = strlen(key);
	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], key, n) && argv[i][n] == '=')
			return argv[i] + n + 1;
	if (!dflt) {
		fprintf(stderr, "%s: missing argument %s=...\n", prog, key);
		exit(2);
	}
	return dflt;
}

#endif
