/**
 * The TypeScript mirror of bpf/include/patronus_shared.h: struct layouts of every map key and value, the
 * overlay header, the drop-reason enum and the map catalogue (name, key, value, per-CPU) of the programs in
 * bpf/. test/dataplane/bpf-layout.test.ts checks every layout here against the header through the C
 * compilers, so the two cannot drift apart silently.
 *
 * Byte order: fields typed `be16`/`be32`/`ipv4`/`ipv6`/`mac`/`bytes` are network order, everything else
 * is host order, exactly as in the header. Ids follow the bundle schema: site, path and segment 16 bit,
 * application class 8 bit.
 *
 * @example
 *   const key = routeKey4.encode(routeKey4Of(3, '10.2.0.0/16'));
 *   const val = routeVal.encode({ kind: RouteKind.remote, flags: 0, site: 2 });
 *   obj.map('pt_routes4').update(key, val);
 */
import { array, bytes, ipv6Bytes, pad, scalar, struct, type Codec, type StructLayout } from './layout.ts';

/** Overlay version carried in the high nibble of the header's first byte. */
export const OVERLAY_VERSION = 1;
/** Default UDP destination port of the overlay (load-time constant `cfg_overlay_port` of the programs). */
export const OVERLAY_PORT_DEFAULT = 4797;
/** Bytes added in front of an inner IP packet: outer IPv4 20 + UDP 8 + Patronus header 16. */
export const OVERLAY_OVERHEAD = 44;
/** Overlay header flags (low nibble of the first byte). */
export const OverlayFlag = { dup: 0x1, probe: 0x2 } as const;
/** Width of the receiver's duplicate window, in sequence numbers. */
export const DUP_WINDOW = 64;
/** Entries of pt_class_rules; the programs stop at the first entry without {@link RULE_VALID}. */
export const MAX_CLASS_RULES = 64;
export const RULE_VALID = 0x1;
/** Paths per steering entry. */
export const STEER_MAX_PATHS = 4;
/** Steering flags; `localTcp` / `localUdp`: the class's TCP / UDP packets go to the local stack (WAN-opt / FEC). */
export const SteerFlag = { duplicate: 0x1, perPacket: 0x2, localTcp: 0x4, localUdp: 0x8 } as const;
/** skb->mark of a packet handed to the local stack: `LOCAL_MARK | classId` (matched with {@link LOCAL_MARK_MASK}). */
export const LOCAL_MARK = 0x7e000000;
export const LOCAL_MARK_MASK = 0xffffff00;
/** pt_path flags: `shaped` (tc serves it through the WAN qdisc), `wg` (encrypted: ifindex is the path's WireGuard device). */
export const PathFlag = { shaped: 0x1, wg: 0x2 } as const;
/** Bytes WireGuard adds on an IPv4 underlay (IPv4 20 + UDP 8 + data header 16 + tag 16): inner packets of an encrypted path may be mtu − 60. */
export const WG_OVERHEAD = 60;
export const LanFlag = { staticNeigh: 0x1 } as const;
export const RxFlag = { started: 0x1 } as const;
export const Dir = { tx: 0, rx: 1 } as const;

/** Route kinds as the programs store them (same names as BundleRoute.kind). */
export const RouteKind = { local: 1, remote: 2, internet: 3, drop: 4 } as const;
export type RouteKindName = keyof typeof RouteKind;

/** Drop reasons: index of the per-CPU `pt_drops` array (enum pt_drop_reason). */
export const DropReason = {
  none: 0,
  malformed: 1,
  noSegment: 2,
  noRoute: 3,
  routeBlackhole: 4,
  noSteering: 5,
  noPath: 6,
  tooBig: 7,
  badVersion: 8,
  unknownPeer: 9,
  duplicate: 10,
  stale: 11,
  fragment: 12,
  helper: 13,
} as const;
export type DropReasonName = keyof typeof DropReason;
/** PT_DROP_MAX: entries of pt_drops. */
export const DROP_MAX = 14;

/** The Patronus header after the outer UDP header (16 bytes). `ver_flags` = version << 4 | flags. */
export const overlayHdr = struct('pt_overlay_hdr', {
  ver_flags: 'u8', class_id: 'u8', segment: 'be16', site: 'be16', path: 'be16', path_seq: 'be32', dup_seq: 'be32',
});

/** pt_config[0]: this edge's site and the class of unclassified traffic. */
export const config = struct('pt_config', { site: 'u16', default_class: 'u8', flags: 'u8' });

/** pt_segments key: LAN ingress interface and VLAN (0 = untagged). */
export const segKey = struct('pt_seg_key', { ifindex: 'u32', vlan: 'u16', pad: pad(2, 2) });
/** pt_segments value: the segment, and this edge's LAN addresses used as the source of ICMP errors. */
export const segVal = struct('pt_seg_val', { segment: 'u16', flags: 'u16', addr4: 'ipv4', addr6: 'ipv6' });

/** LPM keys: prefixlen = 32 + the route's prefix length (the segment and a zero pad come first). */
export const routeKey4 = struct('pt_route_key4', { prefixlen: 'u32', segment: 'be16', pad: pad(2, 2), addr: 'ipv4' });
export const routeKey6 = struct('pt_route_key6', { prefixlen: 'u32', segment: 'be16', pad: pad(2, 2), addr: 'ipv6' });
export const routeVal = struct('pt_route_val', { kind: 'u8', flags: 'u8', site: 'u16' });

/** One classifier rule; zero fields match anything; ports host order; v4 prefixes in the first 4 bytes. */
export const classRule = struct('pt_class_rule', {
  flags: 'u8', class_id: 'u8', proto: 'u8', family: 'u8', src_plen: 'u8', dst_plen: 'u8', pad: pad(2, 2),
  sport_lo: 'u16', sport_hi: 'u16', dport_lo: 'u16', dport_hi: 'u16', dscp_mask: 'u64', src: bytes(16), dst: bytes(16),
});

export const steerKey = struct('pt_steer_key', { segment: 'u16', site: 'u16', class_id: 'u8', pad: pad(1), pad2: pad(2, 2) });
export const steerVal = struct('pt_steer_val', { paths: array('u16', 4), n_paths: 'u8', flags: 'u8', n_all: 'u8', pad: pad(1) });

/** pt_paths value (key: u16 path id). */
export const path = struct('pt_path', {
  ifindex: 'u32', saddr: 'ipv4', daddr: 'ipv4', sport: 'be16', dport: 'be16', mtu: 'u16', flags: 'u8', pad: pad(1),
  smac: 'mac', dmac: 'mac',
});

export const flowKey = struct('pt_flow_key', {
  src: bytes(16), dst: bytes(16), sport: 'be16', dport: 'be16', proto: 'u8', family: 'u8', segment: 'u16',
});
export const flowVal = struct('pt_flow_val', { path: 'u16', class_id: 'u8', pad: pad(1), pad2: pad(4, 4), last_ns: 'u64' });

export const dupKey = struct('pt_dup_key', { site: 'u16', class_id: 'u8', pad: pad(1) });
export const rxKey = struct('pt_rx_key', { site: 'u16', path: 'u16' });

/** `struct bpf_spin_lock` (linux/bpf.h): user space reads it as an opaque word. */
export const spinLock = struct('bpf_spin_lock', { val: 'u32' });

/** Receive state of a peer path; see {@link rxLoss}. */
export const rxState = struct('pt_rx_state', {
  lock: spinLock, flags: 'u32', first_seq: 'u32', highest_seq: 'u32', received: 'u64', reordered: 'u64', bytes: 'u64',
});
export const dupWindow = struct('pt_dup_window', { lock: spinLock, highest: 'u32', seen: 'u64' });
export const lanEgress = struct('pt_lan_egress', { ifindex: 'u32', vlan: 'u16', flags: 'u8', pad: pad(1), smac: 'mac', dmac: 'mac' });

/** Entries of pt_qos_classes: one per application class id. */
export const QOS_MAX_CLASSES = 256;
/** pt_qos_config[0]: HTB classid of the edge's own probes and BGP (0 = default class), probe UDP port (host order). */
export const qosConfig = struct('pt_qos_config', { control_classid: 'u32', probe_port: 'u16', flags: 'u16' });
/** pt_qos_classes value (key: u32 application class id): HTB classid, major << 16 | minor; 0 = default class. */
export const qosClass = struct('pt_qos_class', { classid: 'u32' });

export const counterKey = struct('pt_counter_key', { path: 'u16', class_id: 'u8', dir: 'u8' });
export const counter = struct('pt_counter', { packets: 'u64', bytes: 'u64' });

/** Every struct of the shared header mirrored here (the layout test checks them all). */
export const sharedLayouts: StructLayout<any>[] = [
  overlayHdr, config, segKey, segVal, routeKey4, routeKey6, routeVal, classRule, steerKey, steerVal, path, flowKey,
  flowVal, dupKey, rxKey, rxState, dupWindow, lanEgress, counterKey, counter, qosConfig, qosClass,
];

const u16 = scalar('u16');
const u32 = scalar('u32');

/** Map catalogue: every pinned map of the programs with its key and value codecs. */
export const MAPS = {
  pt_config: { key: u32, value: config, perCpu: false },
  pt_segments: { key: segKey, value: segVal, perCpu: false },
  pt_routes4: { key: routeKey4, value: routeVal, perCpu: false },
  pt_routes6: { key: routeKey6, value: routeVal, perCpu: false },
  pt_class_rules: { key: u32, value: classRule, perCpu: false },
  pt_steering: { key: steerKey, value: steerVal, perCpu: false },
  pt_paths: { key: u16, value: path, perCpu: false },
  pt_flows: { key: flowKey, value: flowVal, perCpu: false },
  pt_tx_seq: { key: u32, value: u32, perCpu: false },
  pt_dup_tx: { key: dupKey, value: u32, perCpu: false },
  pt_rx: { key: rxKey, value: rxState, perCpu: false },
  pt_dup_rx: { key: dupKey, value: dupWindow, perCpu: false },
  pt_lan_egress: { key: u16, value: lanEgress, perCpu: false },
  pt_counters: { key: counterKey, value: counter, perCpu: true },
  pt_drops: { key: u32, value: counter, perCpu: true },
  pt_qos_config: { key: u32, value: qosConfig, perCpu: false },
  pt_qos_classes: { key: u32, value: qosClass, perCpu: false },
} as const satisfies Record<string, { key: Codec<any>; value: Codec<any>; perCpu: boolean }>;
export type MapName = keyof typeof MAPS;

/**
 * The programs: object file (under bpf/build/) and program (C function) name. `wanQos` is the classic-mode
 * cls_bpf classifier on a shaped WAN device's HTB root (its return value is the HTB classid).
 */
export const PROGRAMS = {
  lanXdp: { object: 'lan_ingress.bpf.o', program: 'pt_lan_xdp' },
  lanTc: { object: 'lan_ingress_tc.bpf.o', program: 'pt_lan_tc' },
  wanXdp: { object: 'wan_ingress.bpf.o', program: 'pt_wan_xdp' },
  wanTc: { object: 'wan_ingress_tc.bpf.o', program: 'pt_wan_tc' },
  wanQos: { object: 'wan_egress_qos.bpf.o', program: 'pt_wan_qos' },
} as const;

/** Splits `10.1.0.0/16` or `2001:db8::/32` into family, 16 address bytes (v4 in the first 4) and length. */
export function parsePrefix(prefix: string): { family: 4 | 6; addr: Buffer; plen: number } {
  const [a, l] = prefix.split('/');
  const v6 = a!.includes(':');
  const plen = l === undefined ? (v6 ? 128 : 32) : Number(l);
  const addr = Buffer.alloc(16);
  if (v6) ipv6Bytes(a!).copy(addr);
  else a!.split('.').forEach((o, i) => { addr[i] = Number(o); });
  return { family: v6 ? 6 : 4, addr, plen };
}

/** The pt_routes4 key of `prefix` (an IPv4 prefix) in `segment`. */
export function routeKey4Of(segment: number, prefix: string) {
  const p = parsePrefix(prefix);
  return { prefixlen: 32 + p.plen, segment, addr: [...p.addr.subarray(0, 4)].join('.') };
}

/** The pt_routes6 key of `prefix` (an IPv6 prefix) in `segment`. */
export function routeKey6Of(segment: number, prefix: string) {
  const p = parsePrefix(prefix);
  return { prefixlen: 32 + p.plen, segment, addr: prefix.split('/')[0]! };
}

/** Packets a peer path lost (sequence gaps not yet filled), from its receive state. */
export function rxLoss(s: { flags: number; first_seq: number; highest_seq: number; received: bigint }): bigint {
  if (!(s.flags & RxFlag.started)) return 0n;
  const expected = BigInt(((s.highest_seq - s.first_seq) >>> 0) + 1);
  return expected > s.received ? expected - s.received : 0n;
}

/** Sum of a per-CPU counter's values. */
export function sumCounters(values: { packets: bigint; bytes: bigint }[]): { packets: bigint; bytes: bigint } {
  return values.reduce((a, v) => ({ packets: a.packets + v.packets, bytes: a.bytes + v.bytes }), { packets: 0n, bytes: 0n });
}
