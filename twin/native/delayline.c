// pt-delayline: the twin's WAN impairment engine for kernels without netem.
//
// Runs inside a link namespace (pt.<lab>._l<index>) holding two veths, one facing each endpoint of the link,
// and bridges them with AF_PACKET. Each direction has its own thread, its own FIFO queue and its own
// parameters: one-way delay, jitter (uniform in [delay-jitter, delay+jitter], but a packet never departs
// before the one ahead of it, so order within a flow is kept), loss (uniform, or Gilbert–Elliott with
// p, r, loss-in-good, loss-in-bad) drawn from a seeded xorshift64* generator so that a seed reproduces the
// same loss pattern, and down (drop everything). Rate with a buffer depth is a TBF qdisc on the veth the
// direction sends on: AF_PACKET sends go through the qdisc (PACKET_QDISC_BYPASS stays off), and this
// program installs/changes it with tc(8), so the control channel is the one place that sets everything.
//
// Control: a unix stream socket, one request line in, one reply line out (see README.md). Schedules are
// lists of timed "set" steps the control thread applies itself, so a time series needs no other process.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define SLOT 65536
#define MAX_CLIENTS 16
#define DEFAULT_QUEUE_LIMIT (64u << 20)
// Lateness histogram (how long after its due time a packet actually leaves): buckets in microseconds,
// exact below 8 µs, then four linear sub-buckets per power of two (bucket upper bounds 2^m·(1 + (s+1)/4)),
// the last bucket open-ended. scenarios/trust.ts decodes the same layout (lateBucketUpperUs).
#define LATE_BUCKETS 128

extern char **environ;

enum loss_kind { LOSS_NONE, LOSS_UNIFORM, LOSS_GE };

struct params {
	uint64_t delay_ns, jitter_ns;
	int loss_kind;
	double p, r, loss_good, loss_bad; // uniform uses p only
	int down;
	uint64_t rate_bps, buffer_bytes;
};

struct pkt {
	struct pkt *next;
	uint64_t due;
	uint32_t len;
	unsigned char data[];
};

struct step {
	uint64_t at_ns;
	struct params p;
};

struct dir {
	int idx;
	int rx, tx;
	char rx_if[IF_NAMESIZE], tx_if[IF_NAMESIZE];
	pthread_mutex_t mu; // guards p, rng, ge_bad, last_due
	struct params p;
	uint64_t rng;
	int ge_bad;
	uint64_t last_due;
	struct pkt *head, *tail; // owned by the direction thread
	uint64_t qbytes;
	uint64_t rx_pkts, rx_bytes, tx_pkts, tx_bytes, drop_loss, drop_down, drop_queue, drop_tx, max_qbytes; // atomics
	uint64_t late_hist[LATE_BUCKETS], late_max_ns; // atomics; written by the direction thread only
	struct step *steps;
	size_t nsteps, cap;
	size_t next_step;
	pthread_t thr;
};

static struct dir dirs[2];
static uint64_t queue_limit = DEFAULT_QUEUE_LIMIT;
static uint64_t sched_start, sched_period;
static int sched_running;
static const char *ctl_path;
static uint64_t t_boot;

static uint64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "pt-delayline: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

// splitmix64 spreads a small seed over 64 bits; xorshift64* then must never see 0.
static uint64_t splitmix64(uint64_t x) {
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void seed_dir(struct dir *d, uint64_t seed) {
	d->rng = splitmix64(seed * 2 + (uint64_t)d->idx);
	if (!d->rng) d->rng = 1;
	d->ge_bad = 0;
}

static double rnd(struct dir *d) {
	uint64_t x = d->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	d->rng = x;
	return (double)((x * 0x2545f4914f6cdd1dull) >> 11) * 0x1.0p-53;
}

// One draw per packet for uniform loss; for Gilbert–Elliott one draw for the loss decision in the current
// state and one for the state transition, so the pattern depends only on the seed and packet count.
static int lose(struct dir *d) {
	struct params *p = &d->p;
	if (p->loss_kind == LOSS_UNIFORM) return rnd(d) < p->p;
	if (p->loss_kind == LOSS_GE) {
		int lost = rnd(d) < (d->ge_bad ? p->loss_bad : p->loss_good);
		double u = rnd(d);
		if (d->ge_bad) { if (u < p->r) d->ge_bad = 0; }
		else if (u < p->p) d->ge_bad = 1;
		return lost;
	}
	return 0;
}

static int open_if(const char *ifname, int proto, int rcvbuf) {
	int fd = socket(AF_PACKET, SOCK_RAW, htons(proto));
	if (fd < 0) die("socket: %s", strerror(errno));
	unsigned idx = if_nametoindex(ifname);
	if (!idx) die("interface %s: %s", ifname, strerror(errno));
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(proto), .sll_ifindex = (int)idx};
	if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) die("bind %s: %s", ifname, strerror(errno));
	if (proto) {
		int one = 1;
		// Our own sends on this interface (the other direction) must not come back in.
		if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) die("PACKET_IGNORE_OUTGOING: %s", strerror(errno));
		struct packet_mreq mr = {.mr_ifindex = (int)idx, .mr_type = PACKET_MR_PROMISC};
		setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr);
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	} else {
		int sz = 64 << 20;
		// Packets held by the TBF qdisc stay charged to this socket: room for the deepest buffer.
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) < 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
		int zero = 0;
		setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &zero, sizeof zero);
	}
	return fd;
}

static unsigned late_bucket(uint64_t late_ns) {
	uint64_t us = late_ns / 1000;
	if (us < 8) return (unsigned)us;
	unsigned msb = 63u - (unsigned)__builtin_clzll(us);
	unsigned idx = 8u + (msb - 3u) * 4u + (unsigned)((us >> (msb - 2u)) & 3u);
	return idx < LATE_BUCKETS ? idx : LATE_BUCKETS - 1;
}

// A packet leaves at `now` (the wake-up that found it due): its lateness is the twin's own error, which a
// scenario run judges (an overloaded host wakes the line late and adds delay nobody configured).
static void note_late(struct dir *d, uint64_t due, uint64_t now) {
	uint64_t late = now > due ? now - due : 0;
	__atomic_add_fetch(&d->late_hist[late_bucket(late)], 1, __ATOMIC_RELAXED);
	if (late > __atomic_load_n(&d->late_max_ns, __ATOMIC_RELAXED)) __atomic_store_n(&d->late_max_ns, late, __ATOMIC_RELAXED);
}

static void flush_due(struct dir *d, uint64_t now) {
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	while (d->head && d->head->due <= now) {
		int n = 0;
		for (struct pkt *p = d->head; p && p->due <= now && n < BATCH; p = p->next, n++) {
			note_late(d, p->due, now);
			iov[n].iov_base = p->data;
			iov[n].iov_len = p->len;
			memset(&m[n], 0, sizeof m[n]);
			m[n].msg_hdr.msg_iov = &iov[n];
			m[n].msg_hdr.msg_iovlen = 1;
		}
		int i = 0;
		while (i < n) {
			int r = sendmmsg(d->tx, m + i, (unsigned)(n - i), MSG_DONTWAIT);
			if (r > 0) {
				for (int k = 0; k < r; k++) {
					__atomic_add_fetch(&d->tx_pkts, 1, __ATOMIC_RELAXED);
					__atomic_add_fetch(&d->tx_bytes, iov[i + k].iov_len, __ATOMIC_RELAXED);
				}
				i += r;
			} else {
				// ENOBUFS: the rate qdisc's buffer is full (a tail drop, as on a real bottleneck); anything
				// else (EMSGSIZE, EAGAIN) is counted the same way rather than stalling the line.
				__atomic_add_fetch(&d->drop_tx, 1, __ATOMIC_RELAXED);
				i++;
			}
		}
		for (int k = 0; k < n; k++) {
			struct pkt *p = d->head;
			d->head = p->next;
			d->qbytes -= p->len;
			free(p);
		}
		if (!d->head) d->tail = NULL;
	}
}

static unsigned char (*rxbuf[2])[SLOT];

static void rx_batch(struct dir *d) {
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = rxbuf[d->idx][i];
		iov[i].iov_len = SLOT;
		memset(&m[i], 0, sizeof m[i]);
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
	}
	int n = recvmmsg(d->rx, m, BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0) return;
	uint64_t now = now_ns();
	pthread_mutex_lock(&d->mu);
	for (int i = 0; i < n; i++) {
		uint32_t len = m[i].msg_len;
		__atomic_add_fetch(&d->rx_pkts, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&d->rx_bytes, len, __ATOMIC_RELAXED);
		if (d->p.down) { __atomic_add_fetch(&d->drop_down, 1, __ATOMIC_RELAXED); continue; }
		if (lose(d)) { __atomic_add_fetch(&d->drop_loss, 1, __ATOMIC_RELAXED); continue; }
		if (d->qbytes + len > queue_limit) { __atomic_add_fetch(&d->drop_queue, 1, __ATOMIC_RELAXED); continue; }
		int64_t delay = (int64_t)d->p.delay_ns;
		if (d->p.jitter_ns) delay += (int64_t)((2.0 * rnd(d) - 1.0) * (double)d->p.jitter_ns);
		if (delay < 0) delay = 0;
		uint64_t due = now + (uint64_t)delay;
		// FIFO: jitter may shorten a packet's delay, never let it overtake the one ahead.
		if (due < d->last_due) due = d->last_due;
		d->last_due = due;
		struct pkt *p = malloc(sizeof *p + len);
		if (!p) { __atomic_add_fetch(&d->drop_queue, 1, __ATOMIC_RELAXED); continue; }
		p->next = NULL;
		p->due = due;
		p->len = len;
		memcpy(p->data, rxbuf[d->idx][i], len);
		if (d->tail) d->tail->next = p; else d->head = p;
		d->tail = p;
		d->qbytes += len;
	}
	pthread_mutex_unlock(&d->mu);
	if (d->qbytes > __atomic_load_n(&d->max_qbytes, __ATOMIC_RELAXED)) __atomic_store_n(&d->max_qbytes, d->qbytes, __ATOMIC_RELAXED);
}

static void *dir_thread(void *arg) {
	struct dir *d = arg;
	prctl(PR_SET_TIMERSLACK, 1UL);
	struct pollfd pfd = {.fd = d->rx, .events = POLLIN};
	for (;;) {
		uint64_t now = now_ns();
		flush_due(d, now);
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 100000000};
		if (d->head) {
			uint64_t w = d->head->due > now ? d->head->due - now : 0;
			ts.tv_sec = (time_t)(w / 1000000000ull);
			ts.tv_nsec = (long)(w % 1000000000ull);
		}
		int r = ppoll(&pfd, 1, &ts, NULL);
		if (r > 0 && (pfd.revents & POLLIN)) {
			// Drain what is there, but come back to the queue between batches so departures stay on time.
			for (int k = 0; k < 4; k++) {
				rx_batch(d);
				struct pollfd q = {.fd = d->rx, .events = POLLIN};
				if (poll(&q, 1, 0) <= 0) break;
			}
		}
	}
	return NULL;
}

// Runs tc(8) for this direction's rate: TBF on the veth it sends on, or no root qdisc when rate is 0.
static int apply_rate(struct dir *d, const struct params *np, char *err, size_t errlen) {
	char rate[32], burst[32], limit[32];
	const char *argv_del[] = {"tc", "qdisc", "del", "dev", d->tx_if, "root", NULL};
	const char *argv_tbf[] = {"tc", "qdisc", "replace", "dev", d->tx_if, "root", "tbf", "rate", rate, "burst", burst, "limit", limit, NULL};
	const char **argv = argv_del;
	if (np->rate_bps) {
		// Burst: one millisecond at the rate but at least two full frames, so TBF's hrtimer pacing rules
		// the rate rather than the burst; limit: the buffer depth (the bottleneck's queue).
		uint64_t b = np->rate_bps / 8 / 1000;
		if (b < 3028) b = 3028;
		uint64_t l = np->buffer_bytes ? np->buffer_bytes : np->rate_bps / 8 / 20; // default 50 ms
		if (l < 3028) l = 3028;
		snprintf(rate, sizeof rate, "%llubit", (unsigned long long)np->rate_bps);
		snprintf(burst, sizeof burst, "%llu", (unsigned long long)b);
		snprintf(limit, sizeof limit, "%llu", (unsigned long long)l);
		argv = argv_tbf;
	}
	pid_t pid;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1, 0);
	int rc = posix_spawnp(&pid, "tc", &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) { snprintf(err, errlen, "cannot run tc: %s", strerror(rc)); return -1; }
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
	if (np->rate_bps && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) { snprintf(err, errlen, "tc qdisc replace dev %s root tbf failed", d->tx_if); return -1; }
	return 0;
}

static int apply(struct dir *d, const struct params *np, char *err, size_t errlen) {
	if (np->rate_bps != d->p.rate_bps || np->buffer_bytes != d->p.buffer_bytes) {
		if (apply_rate(d, np, err, errlen)) return -1;
	}
	pthread_mutex_lock(&d->mu);
	int was_ge = d->p.loss_kind == LOSS_GE;
	d->p = *np;
	if (!was_ge) d->ge_bad = 0;
	pthread_mutex_unlock(&d->mu);
	return 0;
}

// Parses "key=value ..." tokens of a set/sched-add request into params (missing keys: no impairment).
static int parse_params(char *s, struct params *p, int *dirmask, uint64_t *at_ns, char *err, size_t errlen) {
	memset(p, 0, sizeof *p);
	*dirmask = 3;
	for (char *tok = strtok(s, " \t"); tok; tok = strtok(NULL, " \t")) {
		char *eq = strchr(tok, '=');
		if (!eq) { snprintf(err, errlen, "expected key=value, got \"%s\"", tok); return -1; }
		*eq = 0;
		const char *k = tok, *v = eq + 1;
		char *end = NULL;
		if (!strcmp(k, "dir")) {
			if (!strcmp(v, "0")) *dirmask = 1; else if (!strcmp(v, "1")) *dirmask = 2; else if (!strcmp(v, "both")) *dirmask = 3;
			else { snprintf(err, errlen, "dir: expected 0, 1 or both"); return -1; }
			continue;
		}
		if (!strcmp(k, "loss")) {
			if (!strcmp(v, "none")) { p->loss_kind = LOSS_NONE; continue; }
			if (!strncmp(v, "uniform:", 8)) { p->loss_kind = LOSS_UNIFORM; p->p = strtod(v + 8, &end); }
			else if (!strncmp(v, "ge:", 3)) {
				p->loss_kind = LOSS_GE;
				if (sscanf(v + 3, "%lf:%lf:%lf:%lf", &p->p, &p->r, &p->loss_good, &p->loss_bad) != 4) {
					snprintf(err, errlen, "loss: expected ge:P:R:LOSS_GOOD:LOSS_BAD"); return -1;
				}
				continue;
			} else { snprintf(err, errlen, "loss: expected none, uniform:P or ge:P:R:LG:LB"); return -1; }
			if (!end || *end) { snprintf(err, errlen, "loss: bad number"); return -1; }
			continue;
		}
		unsigned long long n = strtoull(v, &end, 10);
		if (!*v || *end) { snprintf(err, errlen, "%s: expected an unsigned integer, got \"%s\"", k, v); return -1; }
		if (!strcmp(k, "delay_ns")) p->delay_ns = n;
		else if (!strcmp(k, "jitter_ns")) p->jitter_ns = n;
		else if (!strcmp(k, "down")) p->down = n != 0;
		else if (!strcmp(k, "rate_bps")) p->rate_bps = n;
		else if (!strcmp(k, "buffer_bytes")) p->buffer_bytes = n;
		else if (!strcmp(k, "at_ns") && at_ns) *at_ns = n;
		else { snprintf(err, errlen, "unknown key \"%s\"", k); return -1; }
	}
	return 0;
}

static size_t dir_json(struct dir *d, char *out, size_t len) {
	pthread_mutex_lock(&d->mu);
	struct params p = d->p;
	int bad = d->ge_bad;
	pthread_mutex_unlock(&d->mu);
#define L(f) (unsigned long long)__atomic_load_n(&d->f, __ATOMIC_RELAXED)
	int w = snprintf(out, len,
		"{\"dir\":%d,\"rx_if\":\"%s\",\"tx_if\":\"%s\",\"rx_pkts\":%llu,\"rx_bytes\":%llu,\"tx_pkts\":%llu,\"tx_bytes\":%llu,"
		"\"drop_loss\":%llu,\"drop_down\":%llu,\"drop_queue\":%llu,\"drop_tx\":%llu,\"max_queue_bytes\":%llu,"
		"\"delay_ns\":%llu,\"jitter_ns\":%llu,\"loss_kind\":%d,\"p\":%.9g,\"r\":%.9g,\"loss_good\":%.9g,\"loss_bad\":%.9g,"
		"\"ge_bad\":%d,\"down\":%d,\"rate_bps\":%llu,\"buffer_bytes\":%llu,\"steps\":%zu,\"late_max_ns\":%llu,\"late_hist\":[",
		d->idx, d->rx_if, d->tx_if, L(rx_pkts), L(rx_bytes), L(tx_pkts), L(tx_bytes), L(drop_loss), L(drop_down), L(drop_queue),
		L(drop_tx), L(max_qbytes), (unsigned long long)p.delay_ns, (unsigned long long)p.jitter_ns, p.loss_kind, p.p, p.r,
		p.loss_good, p.loss_bad, bad, p.down, (unsigned long long)p.rate_bps, (unsigned long long)p.buffer_bytes, d->nsteps, L(late_max_ns));
	size_t n = w < 0 ? 0 : (size_t)w;
	// Sparse: [bucket, count] pairs of the non-empty buckets only.
	int first = 1;
	for (int i = 0; i < LATE_BUCKETS && n < len; i++) {
		unsigned long long c = L(late_hist[i]);
		if (!c) continue;
		w = snprintf(out + n, len - n, "%s[%d,%llu]", first ? "" : ",", i, c);
		n += w < 0 ? 0 : (size_t)w;
		first = 0;
	}
	if (n < len) { w = snprintf(out + n, len - n, "]}"); n += w < 0 ? 0 : (size_t)w; }
#undef L
	return n < len ? n : len - 1;
}

// The control thread owns schedules: it applies due steps between requests and returns when the next is due.
// With a period the step lists repeat: a new cycle starts once both lists are used up and the period ends.
static uint64_t run_schedule(void) {
	if (!sched_running) return UINT64_MAX;
	char err[160];
	for (;;) {
		uint64_t now = now_ns(), next = UINT64_MAX;
		int exhausted = 1;
		for (int i = 0; i < 2; i++) {
			struct dir *d = &dirs[i];
			while (d->next_step < d->nsteps) {
				struct step *s = &d->steps[d->next_step];
				if (sched_start + s->at_ns > now) { if (sched_start + s->at_ns < next) next = sched_start + s->at_ns; break; }
				if (apply(d, &s->p, err, sizeof err)) fprintf(stderr, "pt-delayline: schedule step: %s\n", err);
				d->next_step++;
			}
			if (d->next_step < d->nsteps) exhausted = 0;
		}
		if (sched_period && exhausted) {
			if (now >= sched_start + sched_period) {
				sched_start += sched_period;
				dirs[0].next_step = dirs[1].next_step = 0;
				continue;
			}
			next = sched_start + sched_period;
		}
		return next;
	}
}

static int cmp_step(const void *a, const void *b) {
	const struct step *x = a, *y = b;
	return x->at_ns < y->at_ns ? -1 : x->at_ns > y->at_ns;
}

static void handle(char *line, char *out, size_t outlen) {
	char err[200] = "";
	char *sp = strchr(line, ' ');
	char *args = sp ? sp + 1 : line + strlen(line);
	if (sp) *sp = 0;
	if (!strcmp(line, "ping")) { snprintf(out, outlen, "ok"); return; }
	if (!strcmp(line, "stats")) {
		size_t n = (size_t)snprintf(out, outlen, "{\"uptime_ns\":%llu,\"schedule\":%d,\"dirs\":[", (unsigned long long)(now_ns() - t_boot), sched_running);
		n += dir_json(&dirs[0], out + n, outlen - n);
		n += (size_t)snprintf(out + n, outlen - n, ",");
		n += dir_json(&dirs[1], out + n, outlen - n);
		snprintf(out + n, outlen - n, "]}");
		return;
	}
	if (!strcmp(line, "set") || !strcmp(line, "sched-add")) {
		struct params p;
		int mask;
		uint64_t at = 0;
		int sched = line[1] == 'c';
		if (parse_params(args, &p, &mask, sched ? &at : NULL, err, sizeof err)) { snprintf(out, outlen, "error %s", err); return; }
		for (int i = 0; i < 2; i++) {
			if (!(mask & (1 << i))) continue;
			struct dir *d = &dirs[i];
			if (sched) {
				if (d->nsteps == d->cap) {
					d->cap = d->cap ? d->cap * 2 : 64;
					d->steps = realloc(d->steps, d->cap * sizeof *d->steps);
					if (!d->steps) die("out of memory");
				}
				d->steps[d->nsteps++] = (struct step){.at_ns = at, .p = p};
			} else if (apply(d, &p, err, sizeof err)) { snprintf(out, outlen, "error %s", err); return; }
		}
		snprintf(out, outlen, "ok");
		return;
	}
	if (!strcmp(line, "sched-clear")) {
		int mask = 3;
		if (!strcmp(args, "dir=0")) mask = 1;
		else if (!strcmp(args, "dir=1")) mask = 2;
		else if (*args && strcmp(args, "dir=both")) { snprintf(out, outlen, "error expected dir=0|1|both"); return; }
		for (int i = 0; i < 2; i++) if (mask & (1 << i)) { dirs[i].nsteps = 0; dirs[i].next_step = 0; }
		if (!dirs[0].nsteps && !dirs[1].nsteps) sched_running = 0;
		snprintf(out, outlen, "ok");
		return;
	}
	if (!strcmp(line, "sched-start")) {
		unsigned long long period = 0;
		if (*args && sscanf(args, "period_ns=%llu", &period) != 1) { snprintf(out, outlen, "error expected period_ns=N"); return; }
		for (int i = 0; i < 2; i++) {
			qsort(dirs[i].steps, dirs[i].nsteps, sizeof *dirs[i].steps, cmp_step);
			dirs[i].next_step = 0;
		}
		sched_period = period;
		sched_start = now_ns();
		sched_running = 1;
		run_schedule();
		snprintf(out, outlen, "ok");
		return;
	}
	if (!strcmp(line, "seed")) {
		unsigned long long v;
		int mask = 3;
		char which[8] = "both";
		if (sscanf(args, "value=%llu dir=%7s", &v, which) < 1) { snprintf(out, outlen, "error expected value=N [dir=0|1|both]"); return; }
		if (!strcmp(which, "0")) mask = 1; else if (!strcmp(which, "1")) mask = 2;
		for (int i = 0; i < 2; i++) {
			if (!(mask & (1 << i))) continue;
			pthread_mutex_lock(&dirs[i].mu);
			seed_dir(&dirs[i], v);
			pthread_mutex_unlock(&dirs[i].mu);
		}
		snprintf(out, outlen, "ok");
		return;
	}
	snprintf(out, outlen, "error unknown command \"%s\" (known: ping, stats, set, seed, sched-clear, sched-add, sched-start)", line);
}

static void on_term(int sig) {
	(void)sig;
	if (ctl_path) unlink(ctl_path);
	_exit(0);
}

struct client { int fd; size_t used; char buf[4096]; };

static void control_loop(int lfd) {
	struct client cl[MAX_CLIENTS];
	for (int i = 0; i < MAX_CLIENTS; i++) cl[i].fd = -1;
	static char out[16384];
	for (;;) {
		struct pollfd pfd[MAX_CLIENTS + 1];
		int map[MAX_CLIENTS + 1], n = 0;
		pfd[n] = (struct pollfd){.fd = lfd, .events = POLLIN};
		map[n++] = -1;
		for (int i = 0; i < MAX_CLIENTS; i++) if (cl[i].fd >= 0) { pfd[n] = (struct pollfd){.fd = cl[i].fd, .events = POLLIN}; map[n++] = i; }
		uint64_t next = run_schedule(), now = now_ns();
		struct timespec ts = {0, 0};
		if (next != UINT64_MAX) { uint64_t w = next > now ? next - now : 0; ts.tv_sec = (time_t)(w / 1000000000ull); ts.tv_nsec = (long)(w % 1000000000ull); }
		if (ppoll(pfd, (nfds_t)n, next == UINT64_MAX ? NULL : &ts, NULL) <= 0) continue;
		if (pfd[0].revents & POLLIN) {
			int fd = accept(lfd, NULL, NULL);
			if (fd >= 0) {
				int i = 0;
				while (i < MAX_CLIENTS && cl[i].fd >= 0) i++;
				if (i == MAX_CLIENTS) close(fd); else { cl[i].fd = fd; cl[i].used = 0; }
			}
		}
		for (int k = 1; k < n; k++) {
			if (!pfd[k].revents) continue;
			struct client *c = &cl[map[k]];
			ssize_t r = read(c->fd, c->buf + c->used, sizeof c->buf - 1 - c->used);
			if (r <= 0) { close(c->fd); c->fd = -1; continue; }
			c->used += (size_t)r;
			char *nl;
			while ((nl = memchr(c->buf, '\n', c->used))) {
				*nl = 0;
				handle(c->buf, out, sizeof out - 1);
				size_t ol = strlen(out);
				out[ol++] = '\n';
				if (write(c->fd, out, ol) < 0) { /* client gone: the next read closes it */ }
				size_t rest = c->used - (size_t)(nl + 1 - c->buf);
				memmove(c->buf, nl + 1, rest);
				c->used = rest;
			}
			if (c->used == sizeof c->buf - 1) { close(c->fd); c->fd = -1; } // a line longer than the buffer
		}
	}
}

static void usage(void) {
	fprintf(stderr, "usage: pt-delayline --a IF0 --b IF1 --control SOCKET [--seed N] [--queue-limit BYTES]\n"
	                "  bridges IF0 and IF1; direction 0 is IF0 -> IF1, direction 1 is IF1 -> IF0\n");
	exit(2);
}

int main(int argc, char **argv) {
	const char *a = NULL, *b = NULL;
	uint64_t seed = 1;
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc) usage();
		if (!strcmp(argv[i], "--a")) a = argv[++i];
		else if (!strcmp(argv[i], "--b")) b = argv[++i];
		else if (!strcmp(argv[i], "--control")) ctl_path = argv[++i];
		else if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--queue-limit")) queue_limit = strtoull(argv[++i], NULL, 10);
		else usage();
	}
	if (!a || !b || !ctl_path) usage();
	if (strlen(a) >= IF_NAMESIZE || strlen(b) >= IF_NAMESIZE) die("interface name too long");
	t_boot = now_ns();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	const char *ifs[2] = {a, b};
	for (int i = 0; i < 2; i++) {
		struct dir *d = &dirs[i];
		d->idx = i;
		snprintf(d->rx_if, sizeof d->rx_if, "%s", ifs[i]);
		snprintf(d->tx_if, sizeof d->tx_if, "%s", ifs[1 - i]);
		d->rx = open_if(ifs[i], ETH_P_ALL, 16 << 20);
		d->tx = open_if(ifs[1 - i], 0, 0);
		pthread_mutex_init(&d->mu, NULL);
		seed_dir(d, seed);
		rxbuf[i] = malloc((size_t)BATCH * SLOT);
		if (!rxbuf[i]) die("out of memory");
	}
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(ctl_path) >= sizeof sun.sun_path) die("control socket path too long");
	strcpy(sun.sun_path, ctl_path);
	unlink(ctl_path);
	if (bind(lfd, (struct sockaddr *)&sun, sizeof sun) < 0 || listen(lfd, 8) < 0) die("control socket %s: %s", ctl_path, strerror(errno));
	for (int i = 0; i < 2; i++) pthread_create(&dirs[i].thr, NULL, dir_thread, &dirs[i]);
	fprintf(stderr, "pt-delayline: bridging %s <-> %s, control %s, seed %llu\n", a, b, ctl_path, (unsigned long long)seed);
	control_loop(lfd);
	return 0;
}
