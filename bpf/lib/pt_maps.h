/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pt_maps.h — every map, pinned by name (LIBBPF_PIN_BY_NAME) under the loader's pin root so that all
 * programs of an edge share them and forwarding continues while the agent restarts. Keys and values are
 * the structs of include/patronus_shared.h; dataplane/xdp/maps.ts mirrors the names and sizes.
 */
#ifndef PT_MAPS_H
#define PT_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "patronus_shared.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pt_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pt_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct pt_seg_key);
	__type(value, struct pt_seg_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pt_segments SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__type(key, struct pt_route_key4);
	__type(value, struct pt_route_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pt_routes4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__type(key, struct pt_route_key6);
	__type(value, struct pt_route_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pt_routes6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PT_MAX_CLASS_RULES);
	__type(key, __u32);
	__type(value, struct pt_class_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pt_class_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct pt_steer_key);
	__type(value, struct pt_steer_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pt_steering SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u16);
	__type(value, struct pt_path);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pt_paths SEC(".maps");

/* Flows by (segment, addresses, protocol, ports); ICMP echo flows by their identifier in place of ports. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct pt_flow_key);
	__type(value, struct pt_flow_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pt_flows SEC(".maps");

/* Per-path transmit sequence, indexed by path id: a separate map so that rewriting a path keeps it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pt_tx_seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct pt_dup_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pt_dup_tx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct pt_rx_key);
	__type(value, struct pt_rx_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pt_rx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct pt_dup_key);
	__type(value, struct pt_dup_window);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pt_dup_rx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, struct pt_lan_egress);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pt_lan_egress SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct pt_counter_key);
	__type(value, struct pt_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pt_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PT_DROP_MAX);
	__type(key, __u32);
	__type(value, struct pt_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pt_drops SEC(".maps");

/* WAN egress QoS: the classifier's settings and the application class → HTB class table. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pt_qos_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pt_qos_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PT_QOS_MAX_CLASSES);
	__type(key, __u32);
	__type(value, struct pt_qos_class);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pt_qos_classes SEC(".maps");

#endif
