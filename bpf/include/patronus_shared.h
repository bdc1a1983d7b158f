/* SPDX-License-Identifier: Apache-2.0 */
/*
 * patronus_shared.h — the ONE header shared by the BPF programs and user space.
 *
 * It holds the overlay header, every map key and value, and the drop-reason enum. The TypeScript mirror
 * (dataplane/xdp/maps.ts) is checked against this file by test/dataplane/bpf-layout.test.ts, which
 * compiles a small C program printing sizeof/offsetof of everything below.
 *
 * Conventions:
 *  - ids follow the bundle schema: site, path and segment ids are 16 bit, application classes 8 bit;
 *  - fields named *_be, addresses and ports on the wire are network byte order; everything else is host
 *    order (what user space writes with the CPU's endianness);
 *  - every struct is padded explicitly so that kernel and user space agree without compiler help.
 */
#ifndef PATRONUS_SHARED_H
#define PATRONUS_SHARED_H

#include <linux/types.h>
#include <linux/bpf.h>

/* ---- overlay ------------------------------------------------------------------------------------ */

/** Version carried in the high nibble of pt_overlay_hdr.ver_flags. */
#define PT_OVERLAY_VERSION 1
/** Default UDP destination port of the overlay (a load-time constant of the programs can change it). */
#define PT_OVERLAY_PORT_DEFAULT 4797
/** Bytes the overlay adds in front of the inner IP packet: outer IPv4 (20) + UDP (8) + Patronus (16). */
#define PT_OVERLAY_OVERHEAD 44

/* Flags: low nibble of ver_flags. */
/** dup_seq is valid: the receiver suppresses duplicates in the (site, class) window. */
#define PT_F_DUP 0x1
/** A path probe: the receiver passes it to the stack (the probe socket) untouched. */
#define PT_F_PROBE 0x2

/**
 * The Patronus header, after the outer UDP header (16 bytes, network byte order on the wire).
 * docs/overlay.md has the byte diagram.
 */
struct pt_overlay_hdr {
	__u8 ver_flags;   /* version << 4 | flags */
	__u8 class_id;    /* application class of the inner packet */
	__be16 segment;   /* segment (VRF) the inner packet belongs to */
	__be16 site;      /* sending site */
	__be16 path;      /* sending edge's path id */
	__be32 path_seq;  /* per-path sequence: passive loss / reorder on the receiver */
	__be32 dup_seq;   /* per-(destination site, class) sequence: duplicate suppression */
};

/* ---- drop reasons ------------------------------------------------------------------------------- */

/** Why a program dropped a packet; index of the per-CPU pt_drops array. Append only. */
enum pt_drop_reason {
	PT_DROP_NONE = 0,
	PT_DROP_MALFORMED = 1,       /* truncated or inconsistent headers */
	PT_DROP_NO_SEGMENT = 2,      /* ingress interface / VLAN (LAN) or segment (WAN) not configured */
	PT_DROP_NO_ROUTE = 3,        /* no route in the segment */
	PT_DROP_ROUTE_BLACKHOLE = 4, /* route of kind drop */
	PT_DROP_NO_STEERING = 5,     /* no steering entry for (site, class) */
	PT_DROP_NO_PATH = 6,         /* steering names no usable path */
	PT_DROP_TOO_BIG = 7,         /* oversized and no ICMP could be sent (no DF, or no source address) */
	PT_DROP_BAD_VERSION = 8,     /* overlay version unknown */
	PT_DROP_UNKNOWN_PEER = 9,    /* (site, path) not in pt_rx */
	PT_DROP_DUPLICATE = 10,      /* dup_seq already seen in the window */
	PT_DROP_STALE = 11,          /* dup_seq older than the window */
	PT_DROP_FRAGMENT = 12,       /* fragmented overlay packet (the overlay sets DF) */
	PT_DROP_HELPER = 13,         /* a kernel helper failed (adjust head/room, clone) */
	PT_DROP_MAX = 14,
};

/* ---- configuration ------------------------------------------------------------------------------ */

/** pt_config[0]: per-bundle settings that may change without reloading. */
struct pt_config {
	__u16 site;        /* this edge's site id */
	__u8 default_class; /* class when no rule matches */
	__u8 flags;        /* reserved, 0 */
};

/* ---- LAN side ----------------------------------------------------------------------------------- */

/** pt_segments key: the LAN ingress interface and VLAN id (0 = untagged). */
struct pt_seg_key {
	__u32 ifindex;
	__u16 vlan;
	__u16 pad;
};

/** pt_segments value. addr4/addr6 are this edge's address on that LAN: the source of ICMP errors. */
struct pt_seg_val {
	__u16 segment;
	__u16 flags;     /* reserved, 0 */
	__be32 addr4;    /* 0 = none */
	__u8 addr6[16];  /* all zero = none */
};

/** Route kinds (pt_route_val.kind), as in the bundle's BundleRoute.kind. */
enum pt_route_kind {
	PT_ROUTE_LOCAL = 1,    /* a LAN of this site: the kernel forwards */
	PT_ROUTE_REMOTE = 2,   /* another site: encapsulate */
	PT_ROUTE_INTERNET = 3, /* direct internet breakout: the kernel forwards (and NATs) */
	PT_ROUTE_DROP = 4,     /* blackhole */
};

/**
 * LPM keys of pt_routes4 / pt_routes6. The segment is part of the matched bits, so
 * prefixlen = 32 + the route's prefix length (16 bits segment + 16 bits zero pad).
 */
struct pt_route_key4 {
	__u32 prefixlen;
	__be16 segment;
	__u16 pad;
	__be32 addr;
};

struct pt_route_key6 {
	__u32 prefixlen;
	__be16 segment;
	__u16 pad;
	__u8 addr[16];
};

struct pt_route_val {
	__u8 kind;  /* enum pt_route_kind */
	__u8 flags; /* reserved, 0 */
	__u16 site; /* PT_ROUTE_REMOTE: the site to send to (a hub when backhauled) */
};

/** Maximum classifier rules (pt_class_rules entries); the scan stops at the first invalid one. */
#define PT_MAX_CLASS_RULES 64
#define PT_RULE_VALID 0x1

/**
 * One classifier rule, in priority order (entry 0 first). Zero fields match anything: proto 0, family 0,
 * plen 0, port range 0..0 means "any" (write 0..65535 to be explicit), dscp_mask 0. A set bit n of
 * dscp_mask matches DSCP n. Ports are host order; v4 prefixes use the first 4 bytes of src/dst.
 */
struct pt_class_rule {
	__u8 flags;    /* PT_RULE_VALID */
	__u8 class_id;
	__u8 proto;    /* IPPROTO_*, 0 = any */
	__u8 family;   /* 4, 6, 0 = any */
	__u8 src_plen;
	__u8 dst_plen;
	__u16 pad;
	__u16 sport_lo;
	__u16 sport_hi;
	__u16 dport_lo;
	__u16 dport_hi;
	__u64 dscp_mask;
	__u8 src[16];
	__u8 dst[16];
};

/** pt_steering key: (segment, destination site, application class); rules are per segment. */
struct pt_steer_key {
	__u16 segment;
	__u16 site;
	__u8 class_id;
	__u8 pad;
	__u16 pad2;
};

#define PT_STEER_MAX_PATHS 4
/** Send on paths[0] and paths[1] (tc program), with a dup_seq the receiver de-duplicates. */
#define PT_STEER_DUPLICATE 0x1
/** Pick a path per packet instead of pinning each flow. */
#define PT_STEER_PER_PACKET 0x2
/** WAN-opt class: its TCP packets go to the local stack (nftables TPROXY, the proxy) instead of the overlay. */
#define PT_STEER_LOCAL_TCP 0x4
/** FEC class: its UDP packets go to the local stack (the agent's FEC relay) instead of the overlay. */
#define PT_STEER_LOCAL_UDP 0x8

/**
 * skb->mark the tc LAN program sets on a packet it hands to the local stack (PT_STEER_LOCAL_*):
 * PT_LOCAL_MARK | class id, so nftables and policy routing can match the class (docs/wanopt.md).
 */
#define PT_LOCAL_MARK 0x7e000000
#define PT_LOCAL_MARK_MASK 0xffffff00

struct pt_steer_val {
	/* paths[0..n_paths): candidates for new flows, best first (per-flow hashing spreads over them);
	 * paths[n_paths..n_all): paths an existing flow may stay on (still compliant) but new flows avoid. */
	__u16 paths[PT_STEER_MAX_PATHS];
	__u8 n_paths;
	__u8 flags;                       /* PT_STEER_* */
	__u8 n_all;                       /* candidates + keepers; 0 is read as n_paths */
	__u8 pad;
};

/** The path is shaped: the XDP program leaves it to the tc program so the WAN qdisc applies. */
#define PT_PATH_SHAPED 0x1
/**
 * The path is encrypted (docs/overlay.md, "Encrypted paths"): ifindex is the path's WireGuard device and the
 * tc program redirects the inner packet into it as is (no overlay header); saddr/daddr/ports/MACs are unused.
 * The XDP program leaves such packets to tc.
 */
#define PT_PATH_WG 0x2
/** Bytes WireGuard adds on an IPv4 underlay: IPv4 20 + UDP 8 + WireGuard data header 16 + tag 16. */
#define PT_WG_OVERHEAD 60

/** pt_paths value, keyed by the 16-bit path id. */
struct pt_path {
	__u32 ifindex;   /* WAN device */
	__be32 saddr;    /* outer source */
	__be32 daddr;    /* outer destination (the peer edge) */
	__be16 sport;    /* outer UDP source port */
	__be16 dport;    /* outer UDP destination port */
	__u16 mtu;       /* underlay MTU of the path; inner packets may be mtu - PT_OVERLAY_OVERHEAD (PT_WG_OVERHEAD) */
	__u8 flags;      /* PT_PATH_* */
	__u8 pad;
	__u8 smac[6];    /* WAN device MAC */
	__u8 dmac[6];    /* next hop MAC */
};

/** pt_flows key: a flow within a segment (addresses v4 in the first 4 bytes). */
struct pt_flow_key {
	__u8 src[16];
	__u8 dst[16];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u16 segment;
};

struct pt_flow_val {
	__u16 path;
	__u8 class_id;
	__u8 pad;
	__u32 pad2;
	__u64 last_ns; /* bpf_ktime_get_ns() of the last packet */
};

/** pt_dup_tx key/value and pt_dup_rx key: (site, class). */
struct pt_dup_key {
	__u16 site;
	__u8 class_id;
	__u8 pad;
};

/* ---- WAN side ----------------------------------------------------------------------------------- */

/** pt_rx key: a peer's path as carried in the overlay header; only listed peers are accepted. */
struct pt_rx_key {
	__u16 site;
	__u16 path;
};

#define PT_RX_STARTED 0x1

/**
 * Passive receive state of one peer path. Loss = (highest_seq - first_seq + 1) - received (u32 wrap);
 * reordered counts packets that arrived below the highest sequence seen.
 */
struct pt_rx_state {
	struct bpf_spin_lock lock;
	__u32 flags;       /* PT_RX_* */
	__u32 first_seq;
	__u32 highest_seq;
	__u64 received;
	__u64 reordered;
	__u64 bytes;
};

/** Width of the duplicate window in sequence numbers. */
#define PT_DUP_WINDOW 64

/** Duplicate window of one (site, class): bit n of seen = highest - n was received. */
struct pt_dup_window {
	struct bpf_spin_lock lock;
	__u32 highest;
	__u64 seen;
};

/** Rewrite MACs and redirect to ifindex; without it the decapsulated packet goes to the stack. */
#define PT_LAN_STATIC_NEIGH 0x1

/** pt_lan_egress value, keyed by 16-bit segment id: where decapsulated packets of a segment go. */
struct pt_lan_egress {
	__u32 ifindex;
	__u16 vlan;   /* 0 = untagged */
	__u8 flags;   /* PT_LAN_* */
	__u8 pad;
	__u8 smac[6];
	__u8 dmac[6];
};

/* ---- WAN egress QoS ----------------------------------------------------------------------------- */

/** Entries of pt_qos_classes: one per application class id. */
#define PT_QOS_MAX_CLASSES 256

/**
 * pt_qos_config[0]: settings of the WAN egress classifier (wan_egress_qos.bpf.c), which returns the HTB
 * classid (major << 16 | minor) of a packet leaving a shaped WAN device, or 0 for the HTB default class.
 */
struct pt_qos_config {
	__u32 control_classid; /* the edge's own probes and BGP; 0 = default class */
	__u16 probe_port;      /* UDP port of the path probes (either direction), host order; 0 = none */
	__u16 flags;           /* reserved, 0 */
};

/** pt_qos_classes value, indexed by application class id: the HTB classid of its overlay packets (0 = default). */
struct pt_qos_class {
	__u32 classid;
};

/* ---- counters ----------------------------------------------------------------------------------- */

#define PT_DIR_TX 0
#define PT_DIR_RX 1

/** pt_counters key (per-CPU hash). */
struct pt_counter_key {
	__u16 path;
	__u8 class_id;
	__u8 dir; /* PT_DIR_* */
};

/** pt_counters and pt_drops value (per CPU; user space sums the CPUs). */
struct pt_counter {
	__u64 packets;
	__u64 bytes;
};

#endif /* PATRONUS_SHARED_H */
