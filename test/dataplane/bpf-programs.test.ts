// timeout: 120
/**
 * Fixture tables for the BPF programs through BPF_PROG_TEST_RUN: {description, input frame, expected verdict,
 * expected output bytes (or drop reason)}. All four programs (LAN/WAN ingress, XDP and tc builds) are loaded
 * with one pin root, so they share their maps exactly as on an edge. Expected frames are built independently
 * with test/dataplane/packets.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TC_ACT, XDP, perCpuMap, scalar, typedMap, type BpfProgram } from '../../dataplane/xdp/index.ts';
import { bpfLoader } from './xdp-fixtures.ts';
import * as M from '../../dataplane/xdp/maps.ts';
import {
  ETH_P_ARP, IPPROTO, TCP, echoRequest, ether, hex, icmp4, icmp6, ipBytes, ipv4, ipv6, overlayFrame, tcp, tcpOpt, udp,
} from './packets.ts';

const bpf = bpfLoader('ptb2');
test.after(bpf.close);
const load = bpf.load;

const lanXdpObj = load(M.PROGRAMS.lanXdp.object);
const lanTcObj = load(M.PROGRAMS.lanTc.object);
const wanXdpObj = load(M.PROGRAMS.wanXdp.object);
const wanTcObj = load(M.PROGRAMS.wanTc.object);
const lanXdp = lanXdpObj.program(M.PROGRAMS.lanXdp.program);
const lanTc = lanTcObj.program(M.PROGRAMS.lanTc.program);
const wanXdp = wanXdpObj.program(M.PROGRAMS.wanXdp.program);
const wanTc = wanTcObj.program(M.PROGRAMS.wanTc.program);

const map = <N extends M.MapName>(n: N) => typedMap(lanXdpObj.map(n), M.MAPS[n].key as any, M.MAPS[n].value as any);
const drops = perCpuMap(lanXdpObj.map('pt_drops'), scalar('u32'), M.counter);
const counters = perCpuMap(lanXdpObj.map('pt_counters'), M.counterKey, M.counter);
const txSeq = typedMap(lanXdpObj.map('pt_tx_seq'), scalar('u32'), scalar('u32'));
const rx = typedMap(lanXdpObj.map('pt_rx'), M.rxKey, M.rxState);

// --- the edge under test: site 1; LAN on ifindex 1 (lo, what a test run's packets arrive on) -------------
const LO = 1;
const HOST_MAC = '02:00:00:00:0a:0a', EDGE_LAN_MAC = '02:00:00:00:0a:01';
const WAN_A_MAC = '02:00:00:00:01:01', GW_A_MAC = '02:00:00:00:01:fe';
const WAN_B_MAC = '02:00:00:00:02:01', GW_B_MAC = '02:00:00:00:02:fe';
const PORT = M.OVERLAY_PORT_DEFAULT;
const VOICE = 5, WEB = 3, BULK = 0;

map('pt_config').set(0, { site: 1, default_class: BULK, flags: 0 });
map('pt_segments').set({ ifindex: LO, vlan: 0 }, { segment: 10, flags: 0, addr4: '10.1.0.1', addr6: '2001:db8:1::1' });
map('pt_segments').set({ ifindex: LO, vlan: 20 }, { segment: 20, flags: 0, addr4: '10.1.0.1', addr6: '::' });
const r4 = (seg: number, p: string, kind: M.RouteKindName, site = 0) =>
  map('pt_routes4').set(M.routeKey4Of(seg, p), { kind: M.RouteKind[kind], flags: 0, site });
r4(10, '10.2.0.0/16', 'remote', 2);
r4(10, '10.1.0.0/16', 'local');
r4(10, '10.66.0.0/16', 'drop');
r4(10, '0.0.0.0/0', 'internet');
r4(20, '10.2.0.0/16', 'remote', 3);
map('pt_routes6').set(M.routeKey6Of(10, '2001:db8:2::/48'), { kind: M.RouteKind.remote, flags: 0, site: 2 });

const rule = (i: number, r: Partial<Record<string, unknown>>) =>
  map('pt_class_rules').set(i, { flags: M.RULE_VALID, class_id: 0, proto: 0, family: 0, src_plen: 0, dst_plen: 0, sport_lo: 0, sport_hi: 0,
    dport_lo: 0, dport_hi: 0, dscp_mask: 0n, src: Buffer.alloc(16), dst: Buffer.alloc(16), ...r } as any);
rule(0, { class_id: VOICE, proto: IPPROTO.udp, dport_lo: 5060, dport_hi: 5061 });
rule(1, { class_id: VOICE, dscp_mask: 1n << 46n });
rule(2, { class_id: WEB, proto: IPPROTO.tcp, dport_lo: 443, dport_hi: 443 });
// Prefix rules: an IPv6 destination /64 and an IPv4 source /28 (bits beyond the first word, and a partial word).
rule(3, { class_id: WEB, family: 6, dst_plen: 64, dst: M.parsePrefix('2001:db8:2:77::/64').addr });
rule(4, { class_id: WEB, family: 4, src_plen: 28, src: M.parsePrefix('10.1.0.32/28').addr });

/** `keep`: paths a pinned flow may stay on while new flows take `paths` only. */
const steer = (site: number, cls: number, paths: number[], flags = 0, segment = site === 3 ? 20 : 10, keep: number[] = []) =>
  map('pt_steering').set({ segment, site, class_id: cls }, { paths: [...paths, ...keep, 0, 0, 0, 0].slice(0, 4), n_paths: paths.length, flags, n_all: paths.length + keep.length });
steer(2, BULK, [1]);
steer(2, VOICE, [1, 2], M.SteerFlag.duplicate);
steer(2, WEB, [2]);
steer(3, BULK, [3]);

const PATHS = {
  1: { ifindex: LO, saddr: '192.0.2.1', daddr: '198.51.100.2', sport: PORT, dport: PORT, mtu: 1500, flags: 0, smac: WAN_A_MAC, dmac: GW_A_MAC },
  2: { ifindex: LO, saddr: '203.0.113.1', daddr: '203.0.113.2', sport: PORT, dport: PORT, mtu: 1400, flags: 0, smac: WAN_B_MAC, dmac: GW_B_MAC },
  3: { ifindex: LO, saddr: '192.0.2.1', daddr: '198.51.100.3', sport: PORT, dport: PORT, mtu: 1500, flags: 0, smac: WAN_A_MAC, dmac: GW_A_MAC },
} as const;
for (const [id, p] of Object.entries(PATHS)) map('pt_paths').set(Number(id), p);

// WAN side: peers (site 2, path 7), (site 1, path 1) for the round trip; segment 10 to a static neighbour.
map('pt_rx').set({ site: 2, path: 7 }, { lock: { val: 0 }, flags: 0, first_seq: 0, highest_seq: 0, received: 0n, reordered: 0n, bytes: 0n });
map('pt_rx').set({ site: 1, path: 1 }, { lock: { val: 0 }, flags: 0, first_seq: 0, highest_seq: 0, received: 0n, reordered: 0n, bytes: 0n });
map('pt_lan_egress').set(10, { ifindex: LO, vlan: 0, flags: M.LanFlag.staticNeigh, smac: EDGE_LAN_MAC, dmac: HOST_MAC });
map('pt_lan_egress').set(20, { ifindex: LO, vlan: 0, flags: 0, smac: '00:00:00:00:00:00', dmac: '00:00:00:00:00:00' });

// --- helpers ---------------------------------------------------------------------------------------------
type Verdict = 'pass' | 'drop' | 'tx' | 'redirect';
const XDP_V: Record<Verdict, number> = { pass: XDP.PASS, drop: XDP.DROP, tx: XDP.TX, redirect: XDP.REDIRECT };
const TC_V: Record<Verdict, number> = { pass: TC_ACT.OK, drop: TC_ACT.SHOT, tx: TC_ACT.REDIRECT, redirect: TC_ACT.REDIRECT };

const dropCount = (r: M.DropReasonName) => M.sumCounters(drops.get(M.DropReason[r])!).packets;
const seqOf = (path: number) => txSeq.get(path)!;

interface Fixture {
  description: string;
  input: Buffer;
  verdict: Verdict;
  /** Expected output frame; a function so it can read sequence state just before the run. */
  output?: Buffer | (() => Buffer);
  reason?: M.DropReasonName;
  /** The kernel's skb test run refuses this input (it validates an IPv4 header before the program runs). */
  xdpOnly?: boolean;
}

function runFixture(prog: BpfProgram, tc: boolean, f: Fixture): void {
  if (tc && f.xdpOnly) return;
  const expected = typeof f.output === 'function' ? f.output() : f.output;
  const before = f.reason ? dropCount(f.reason) : 0n;
  let r;
  try {
    r = prog.testRun({ data: f.input });
  } catch (e) {
    throw new Error(`${f.description}: ${(e as Error).message}`, { cause: e });
  }
  const want = (tc ? TC_V : XDP_V)[f.verdict];
  assert.is(r.retval, want, `${f.description}: verdict ${r.retval}, expected ${f.verdict} (${want})`);
  if (expected) assert.is(hex(r.data), hex(expected), `${f.description}: output bytes`);
  if (f.reason) assert.is(dropCount(f.reason), before + 1n, `${f.description}: drop reason ${f.reason} counted`);
}

const lanFrame = (l3: Buffer, vlan?: number) => ether({ src: HOST_MAC, dst: EDGE_LAN_MAC, ...(vlan ? { vlan } : {}) }, l3);
const udp4 = (src: string, dst: string, dport: number, o: { ttl?: number; tos?: number; size?: number; df?: boolean } = {}) =>
  ipv4({ src, dst, proto: IPPROTO.udp, ttl: o.ttl, tos: o.tos, df: o.df,
    payload: udp(src, dst, 40000, dport, Buffer.alloc(o.size ?? 32, 0xab)) });
const encapsulated = (pathId: 1 | 2 | 3, hdr: { classId: number; segment: number; flags?: number; dupSeq?: number }, inner: Buffer,
  seq = seqOf(pathId)) => {
  const p = PATHS[pathId];
  return overlayFrame({ smac: p.smac, dmac: p.dmac, saddr: p.saddr, daddr: p.daddr, sport: p.sport, dport: p.dport,
    tos: inner[0]! >> 4 === 4 ? inner[1]! : ((inner.readUInt16BE(0) >> 4) & 0xff),
    hdr: { site: 1, path: pathId, pathSeq: seq, ...hdr }, inner });
};

// --- LAN ingress -----------------------------------------------------------------------------------------
const V4_BIG = 1500 - 44 + 4; // 4 bytes over the inner limit of a 1500-byte path
const bigDf = udp4('10.1.0.10', '10.2.0.10', 9000, { size: V4_BIG - 28 });
const big6 = ipv6({ src: '2001:db8:1::10', dst: '2001:db8:2::10', nh: IPPROTO.tcp,
  payload: tcp('2001:db8:1::10', '2001:db8:2::10', { sport: 40001, dport: 443, flags: TCP.ACK, data: Buffer.alloc(1360 - 20, 1) }) });
const syn = (mss: number, ttl = 64) => ipv4({ src: '10.1.0.10', dst: '10.2.0.10', proto: IPPROTO.tcp, ttl,
  payload: tcp('10.1.0.10', '10.2.0.10', { sport: 40002, dport: 443, flags: TCP.SYN, options: [tcpOpt.mss(mss), tcpOpt.sackOk(), tcpOpt.nop(), tcpOpt.wscale(7)] }) });
/** The MSS option after others, at an odd offset (NOP, window scale) — the option walk, not a fixed slot. */
const synLateMss = (mss: number, ttl = 64) => ipv4({ src: '10.1.0.10', dst: '10.2.0.10', proto: IPPROTO.tcp, ttl,
  payload: tcp('10.1.0.10', '10.2.0.10', { sport: 40003, dport: 443, flags: TCP.SYN, options: [tcpOpt.nop(), tcpOpt.wscale(7), tcpOpt.mss(mss), tcpOpt.sackOk(), tcpOpt.nop(), tcpOpt.nop()] }) });

const ping = ipv4({ src: '10.1.0.10', dst: '10.1.0.1', proto: IPPROTO.icmp, payload: echoRequest('10.1.0.10', '10.1.0.1', 1, 1, Buffer.alloc(8)) });

const lanFixtures: Fixture[] = [
  {
    description: 'encapsulates IPv4 UDP to a remote site byte-exact (TTL decremented, class default, path 1)',
    input: lanFrame(udp4('10.1.0.10', '10.2.0.10', 9000)),
    verdict: 'redirect',
    output: () => encapsulated(1, { classId: BULK, segment: 10 }, udp4('10.1.0.10', '10.2.0.10', 9000, { ttl: 63 })),
  },
  {
    description: 'copies the inner DSCP to the outer header and classifies EF by DSCP (web path via rule order)',
    input: lanFrame(ipv4({ src: '10.1.0.10', dst: '10.2.0.10', proto: IPPROTO.tcp, tos: 26 << 2,
      payload: tcp('10.1.0.10', '10.2.0.10', { sport: 40003, dport: 443, flags: TCP.ACK }) })),
    verdict: 'redirect',
    output: () => encapsulated(2, { classId: WEB, segment: 10 }, ipv4({ src: '10.1.0.10', dst: '10.2.0.10', proto: IPPROTO.tcp, tos: 26 << 2, ttl: 63,
      payload: tcp('10.1.0.10', '10.2.0.10', { sport: 40003, dport: 443, flags: TCP.ACK }) })),
  },
  {
    description: 'encapsulates an IPv6 inner packet (hop limit decremented)',
    input: lanFrame(ipv6({ src: '2001:db8:1::10', dst: '2001:db8:2::10', nh: IPPROTO.udp, payload: udp('2001:db8:1::10', '2001:db8:2::10', 40000, 9000, Buffer.alloc(20, 7)) })),
    verdict: 'redirect',
    output: () => encapsulated(1, { classId: BULK, segment: 10 }, ipv6({ src: '2001:db8:1::10', dst: '2001:db8:2::10', nh: IPPROTO.udp, hopLimit: 63,
      payload: udp('2001:db8:1::10', '2001:db8:2::10', 40000, 9000, Buffer.alloc(20, 7)) })),
  },
  {
    description: 'classifies by an IPv6 destination prefix (web class, path 2)',
    input: lanFrame(ipv6({ src: '2001:db8:1::10', dst: '2001:db8:2:77::5', nh: IPPROTO.udp, payload: udp('2001:db8:1::10', '2001:db8:2:77::5', 1, 9, Buffer.alloc(4)) })),
    verdict: 'redirect',
    output: () => encapsulated(2, { classId: WEB, segment: 10 }, ipv6({ src: '2001:db8:1::10', dst: '2001:db8:2:77::5', nh: IPPROTO.udp, hopLimit: 63,
      payload: udp('2001:db8:1::10', '2001:db8:2:77::5', 1, 9, Buffer.alloc(4)) })),
  },
  {
    description: 'an IPv6 destination just outside that prefix stays in the default class (path 1)',
    input: lanFrame(ipv6({ src: '2001:db8:1::10', dst: '2001:db8:2:78::5', nh: IPPROTO.udp, payload: udp('2001:db8:1::10', '2001:db8:2:78::5', 1, 9, Buffer.alloc(4)) })),
    verdict: 'redirect',
    output: () => encapsulated(1, { classId: BULK, segment: 10 }, ipv6({ src: '2001:db8:1::10', dst: '2001:db8:2:78::5', nh: IPPROTO.udp, hopLimit: 63,
      payload: udp('2001:db8:1::10', '2001:db8:2:78::5', 1, 9, Buffer.alloc(4)) })),
  },
  {
    description: 'classifies by an IPv4 source /28 (10.1.0.47 inside, web class)',
    input: lanFrame(udp4('10.1.0.47', '10.2.0.10', 9000)), verdict: 'redirect',
    output: () => encapsulated(2, { classId: WEB, segment: 10 }, udp4('10.1.0.47', '10.2.0.10', 9000, { ttl: 63 })),
  },
  {
    description: 'an IPv4 source outside the /28 (10.1.0.48) stays in the default class',
    input: lanFrame(udp4('10.1.0.48', '10.2.0.10', 9000)), verdict: 'redirect',
    output: () => encapsulated(1, { classId: BULK, segment: 10 }, udp4('10.1.0.48', '10.2.0.10', 9000, { ttl: 63 })),
  },
  {
    description: 'keeps segments apart: the same destination on VLAN 20 goes to site 3 in segment 20',
    input: lanFrame(udp4('10.1.0.10', '10.2.0.10', 9000), 20),
    verdict: 'redirect',
    output: () => encapsulated(3, { classId: BULK, segment: 20 }, udp4('10.1.0.10', '10.2.0.10', 9000, { ttl: 63 })),
  },
  { description: 'drops a destination without a route in its segment', input: lanFrame(udp4('10.1.0.10', '10.9.9.9', 9000), 20), verdict: 'drop', reason: 'noRoute' },
  { description: 'drops a blackholed destination', input: lanFrame(udp4('10.1.0.10', '10.66.1.1', 9000)), verdict: 'drop', reason: 'routeBlackhole' },
  { description: 'drops traffic of an unconfigured VLAN', input: lanFrame(udp4('10.1.0.10', '10.2.0.10', 9000), 99), verdict: 'drop', reason: 'noSegment' },
  {
    description: 'passes a local destination to the stack unchanged',
    input: lanFrame(ping), verdict: 'pass', output: lanFrame(ping),
  },
  {
    description: 'passes direct-internet traffic to the stack unchanged',
    input: lanFrame(udp4('10.1.0.10', '8.8.8.8', 53)), verdict: 'pass', output: lanFrame(udp4('10.1.0.10', '8.8.8.8', 53)),
  },
  {
    description: 'passes ARP unchanged',
    input: ether({ src: HOST_MAC, dst: 'ff:ff:ff:ff:ff:ff', type: ETH_P_ARP }, Buffer.alloc(28, 1)), verdict: 'pass',
    output: ether({ src: HOST_MAC, dst: 'ff:ff:ff:ff:ff:ff', type: ETH_P_ARP }, Buffer.alloc(28, 1)),
  },
  {
    description: 'passes a packet whose TTL expires here (the stack answers time-exceeded)',
    input: lanFrame(udp4('10.1.0.10', '10.2.0.10', 9000, { ttl: 1 })), verdict: 'pass', output: lanFrame(udp4('10.1.0.10', '10.2.0.10', 9000, { ttl: 1 })),
  },
  // (A frame shorter than an Ethernet header never reaches a program: the kernel's test run refuses it too.)
  { description: 'drops a truncated VLAN tag', input: lanFrame(udp4('10.1.0.10', '10.2.0.10', 9000), 20).subarray(0, 16), verdict: 'drop', reason: 'malformed' },
  { description: 'drops a truncated IPv4 header', input: lanFrame(udp4('10.1.0.10', '10.2.0.10', 9000)).subarray(0, 14 + 12), verdict: 'drop', reason: 'malformed', xdpOnly: true },
  {
    description: 'drops a TCP header cut short',
    input: lanFrame(syn(1460)).subarray(0, 14 + 20 + 10), verdict: 'drop', reason: 'malformed',
  },
  {
    description: 'drops an IPv4 packet whose total length exceeds the frame',
    input: lanFrame(udp4('10.1.0.10', '10.2.0.10', 9000)).subarray(0, 14 + 30), verdict: 'drop', reason: 'malformed',
  },
  {
    description: 'drops a frame with an IPv4 header length below 5',
    input: (() => { const f = lanFrame(udp4('10.1.0.10', '10.2.0.10', 9000)); f[14] = 0x44; return f; })(), verdict: 'drop', reason: 'malformed',
  },
  {
    description: 'answers an oversized DF packet with ICMP fragmentation-needed carrying the path MTU',
    input: lanFrame(bigDf), verdict: 'tx',
    output: ether({ src: EDGE_LAN_MAC, dst: HOST_MAC }, ipv4({ src: '10.1.0.1', dst: '10.1.0.10', proto: IPPROTO.icmp, tos: 0xc0, ttl: 64, df: false,
      payload: icmp4(3, 4, Buffer.from([0, 0, (1456 >> 8) & 0xff, 1456 & 0xff]), bigDf.subarray(0, 28)) })),
  },
  {
    description: 'answers an oversized IPv6 packet with ICMPv6 packet-too-big carrying the path MTU',
    input: lanFrame(big6), verdict: 'tx',
    output: ether({ src: EDGE_LAN_MAC, dst: HOST_MAC }, ipv6({ src: '2001:db8:1::1', dst: '2001:db8:1::10', nh: IPPROTO.icmpv6, hopLimit: 64,
      payload: icmp6('2001:db8:1::1', '2001:db8:1::10', 2, 0, Buffer.from([0, 0, (1356 >> 8) & 0xff, 1356 & 0xff]), big6.subarray(0, 48)) })),
  },
  {
    description: 'drops (counted) an oversized packet without DF: no silent loss',
    input: lanFrame(udp4('10.1.0.10', '10.2.0.10', 9000, { size: V4_BIG - 28, df: false })), verdict: 'drop', reason: 'tooBig',
  },
  {
    description: 'clamps the MSS of a SYN to the path MTU (1400 - 44 - 40) with a correct TCP checksum',
    input: lanFrame(syn(1460)), verdict: 'redirect',
    output: () => encapsulated(2, { classId: WEB, segment: 10 }, syn(1316, 63)),
  },
  {
    description: 'finds and clamps an MSS option that follows other options at an odd offset',
    input: lanFrame(synLateMss(1460)), verdict: 'redirect',
    output: () => encapsulated(2, { classId: WEB, segment: 10 }, synLateMss(1316, 63)),
  },
  {
    description: 'leaves a smaller MSS alone',
    input: lanFrame(syn(1200)), verdict: 'redirect',
    output: () => encapsulated(2, { classId: WEB, segment: 10 }, syn(1200, 63)),
  },
];

test('LAN ingress (XDP) fixture table', () => {
  for (const f of lanFixtures) runFixture(lanXdp, false, f);
});

test('LAN ingress (tc build of the same libraries) fixture table', () => {
  for (const f of lanFixtures) runFixture(lanTc, true, f);
});

test('a flow stays on its path while that path remains a candidate, and moves when it is withdrawn', () => {
  steer(2, BULK, [1, 3]);
  const frame = lanFrame(udp4('10.1.0.10', '10.2.0.77', 9100));
  const first = lanXdp.testRun({ data: frame });
  const chosen = first.data.readUInt16BE(14 + 20 + 8 + 6);
  for (let i = 0; i < 5; i++) assert.is(lanXdp.testRun({ data: frame }).data.readUInt16BE(14 + 20 + 8 + 6), chosen);
  const other = chosen === 1 ? 3 : 1;
  steer(2, BULK, [other]);
  assert.is(lanXdp.testRun({ data: frame }).data.readUInt16BE(14 + 20 + 8 + 6), other);
  steer(2, BULK, [1, other]);
  assert.is(lanXdp.testRun({ data: frame }).data.readUInt16BE(14 + 20 + 8 + 6), other, 'pinned to its new path');
  steer(2, BULK, [1]);
});

test('a flow pinned to a path that is only kept (still compliant) stays there; new flows take the candidate', () => {
  const pathOf = (sport: number) => lanXdp.testRun({ data: lanFrame(udp4('10.1.0.10', '10.2.0.77', sport)) }).data.readUInt16BE(14 + 20 + 8 + 6);
  steer(2, BULK, [3]);
  assert.is(pathOf(9200), 3, 'the running flow starts on path 3');
  steer(2, BULK, [1], 0, 10, [3]);
  assert.is(pathOf(9200), 3, 'and stays on it while 3 is kept');
  for (let sport = 9201; sport < 9209; sport++) assert.is(pathOf(sport), 1, `a new flow (port ${sport}) takes the candidate`);
  steer(2, BULK, [1]);
  assert.is(pathOf(9200), 1, 'once 3 is no longer kept the running flow moves');
});

test('pings are flows by their echo identifier: a running ping keeps its kept path, a new ping takes the candidate', () => {
  const pingOn = (id: number) => {
    const pkt = ipv4({ src: '10.1.0.10', dst: '10.2.0.77', proto: IPPROTO.icmp, payload: echoRequest('10.1.0.10', '10.2.0.77', id, 1, Buffer.alloc(8)) });
    return lanXdp.testRun({ data: lanFrame(pkt) }).data.readUInt16BE(14 + 20 + 8 + 6);
  };
  steer(2, BULK, [3]);
  assert.is(pingOn(0x1111), 3, 'the first ping starts on path 3');
  steer(2, BULK, [1], 0, 10, [3]);
  assert.is(pingOn(0x1111), 3, 'and stays on it while 3 is kept');
  assert.is(pingOn(0x2222), 1, 'a second ping with its own identifier is a new flow and takes the candidate');
  steer(2, BULK, [1]);
});

test('a duplicated class: XDP leaves it to tc; tc sends one copy per path with the same dup sequence', () => {
  const voice = udp4('10.1.0.10', '10.2.0.10', 5060);
  runFixture(lanXdp, false, { description: 'XDP passes a duplicated class up to tc', input: lanFrame(voice), verdict: 'pass', output: lanFrame(voice) });
  const c1 = counters.get({ path: 1, class_id: VOICE, dir: M.Dir.tx }), c2 = counters.get({ path: 2, class_id: VOICE, dir: M.Dir.tx });
  const n1 = c1 ? M.sumCounters(c1).packets : 0n, n2 = c2 ? M.sumCounters(c2).packets : 0n;
  const dupSeq = typedMap(lanXdpObj.map('pt_dup_tx'), M.dupKey, scalar('u32')).get({ site: 2, class_id: VOICE }) ?? 0;
  const s1 = seqOf(1), s2 = seqOf(2);
  runFixture(lanTc, true, {
    description: 'tc re-targets the frame to path 2 after cloning it to path 1', input: lanFrame(voice), verdict: 'redirect',
    output: encapsulated(2, { classId: VOICE, segment: 10, flags: M.OverlayFlag.dup, dupSeq }, udp4('10.1.0.10', '10.2.0.10', 5060, { ttl: 63 }), s2),
  });
  assert.is(seqOf(1), s1 + 1, 'path 1 sent a copy');
  assert.is(M.sumCounters(counters.get({ path: 1, class_id: VOICE, dir: M.Dir.tx })!).packets, n1 + 1n);
  assert.is(M.sumCounters(counters.get({ path: 2, class_id: VOICE, dir: M.Dir.tx })!).packets, n2 + 1n);
});

test('a shaped path is left to tc by XDP and encapsulated by tc', () => {
  map('pt_paths').set(3, { ...PATHS[3], flags: M.PathFlag.shaped });
  const f = lanFrame(udp4('10.1.0.10', '10.2.0.10', 9000), 20);
  runFixture(lanXdp, false, { description: 'XDP passes', input: f, verdict: 'pass', output: f });
  runFixture(lanTc, true, { description: 'tc encapsulates', input: f, verdict: 'redirect',
    output: () => encapsulated(3, { classId: BULK, segment: 20 }, udp4('10.1.0.10', '10.2.0.10', 9000, { ttl: 63 })) });
  map('pt_paths').set(3, PATHS[3]);
});

// --- WAN ingress -----------------------------------------------------------------------------------------
const PEER = { smac: GW_A_MAC, dmac: WAN_A_MAC, saddr: '198.51.100.2', daddr: '192.0.2.1', sport: PORT, dport: PORT };
const inner4 = udp4('10.2.0.10', '10.1.0.10', 9000, { ttl: 63 });
const inner6 = ipv6({ src: '2001:db8:2::10', dst: '2001:db8:1::10', nh: IPPROTO.udp, hopLimit: 63, payload: udp('2001:db8:2::10', '2001:db8:1::10', 1, 2, Buffer.alloc(9, 3)) });
const fromPeer = (hdr: Partial<Parameters<typeof overlayFrame>[0]['hdr']>, inner = inner4) =>
  overlayFrame({ ...PEER, hdr: { classId: BULK, segment: 10, site: 2, path: 7, pathSeq: 1, ...hdr }, inner });
const toLan = (inner: Buffer) => ether({ src: EDGE_LAN_MAC, dst: HOST_MAC }, inner);

const wanFixtures = (base: number): Fixture[] => [
  { description: 'decapsulates to the segment\'s LAN neighbour', input: fromPeer({ pathSeq: base }), verdict: 'redirect', output: toLan(inner4) },
  { description: 'decapsulates an IPv6 inner packet', input: fromPeer({ pathSeq: base + 1 }, inner6), verdict: 'redirect', output: toLan(inner6) },
  {
    description: 'hands a segment without a static neighbour to the stack, decapsulated',
    input: fromPeer({ pathSeq: base + 2, segment: 20 }), verdict: 'pass', output: ether({ src: GW_A_MAC, dst: WAN_A_MAC }, inner4),
  },
  { description: 'drops a segment this site does not have', input: fromPeer({ pathSeq: base + 3, segment: 77 }), verdict: 'drop', reason: 'noSegment' },
  { description: 'drops an unknown peer path', input: fromPeer({ path: 99 }), verdict: 'drop', reason: 'unknownPeer' },
  { description: 'drops an unknown overlay version', input: fromPeer({ version: 2 }), verdict: 'drop', reason: 'badVersion' },
  { description: 'drops a truncated overlay packet', input: fromPeer({}).subarray(0, 14 + 20 + 8 + 10), verdict: 'drop', reason: 'malformed' },
  { description: 'drops an overlay packet cut short inside the inner packet', input: fromPeer({}).subarray(0, 80), verdict: 'drop', reason: 'malformed' },
  {
    description: 'drops an inner length that disagrees with the UDP length',
    input: (() => { const f = fromPeer({}); f.writeUInt16BE(f.readUInt16BE(14 + 20 + 24 + 2) + 1, 14 + 20 + 24 + 2); return f; })(), verdict: 'drop', reason: 'malformed',
  },
  { description: 'passes a probe to the stack', input: fromPeer({ flags: M.OverlayFlag.probe }), verdict: 'pass', output: fromPeer({ flags: M.OverlayFlag.probe }) },
  {
    description: 'passes BGP to the stack',
    input: ether({ src: GW_A_MAC, dst: WAN_A_MAC }, ipv4({ src: '198.51.100.2', dst: '192.0.2.1', proto: IPPROTO.tcp, payload: tcp('198.51.100.2', '192.0.2.1', { sport: 40000, dport: 179, flags: TCP.SYN }) })),
    verdict: 'pass',
    output: ether({ src: GW_A_MAC, dst: WAN_A_MAC }, ipv4({ src: '198.51.100.2', dst: '192.0.2.1', proto: IPPROTO.tcp, payload: tcp('198.51.100.2', '192.0.2.1', { sport: 40000, dport: 179, flags: TCP.SYN }) })),
  },
  {
    description: 'passes UDP to other ports (management) to the stack',
    input: ether({ src: GW_A_MAC, dst: WAN_A_MAC }, udp4('198.51.100.2', '192.0.2.1', 22)), verdict: 'pass',
    output: ether({ src: GW_A_MAC, dst: WAN_A_MAC }, udp4('198.51.100.2', '192.0.2.1', 22)),
  },
  {
    description: 'drops a fragmented overlay packet',
    input: (() => { const f = fromPeer({}); f.writeUInt16BE(0x2000, 14 + 6); f.writeUInt16BE(0, 14 + 10); return f; })(), verdict: 'drop', reason: 'fragment',
  },
];

test('WAN ingress (XDP) fixture table', () => {
  for (const f of wanFixtures(1000)) runFixture(wanXdp, false, f);
});

test('WAN ingress (tc build) fixture table', () => {
  for (const f of wanFixtures(2000)) runFixture(wanTc, true, f);
});

test('suppresses duplicates in the (site, class) window and refuses sequences older than the window', () => {
  for (const [prog, tc, base] of [[wanXdp, false, 10_000], [wanTc, true, 20_000]] as const) {
    const dup = (seq: number) => fromPeer({ classId: VOICE, flags: M.OverlayFlag.dup, dupSeq: seq, pathSeq: seq });
    runFixture(prog, tc, { description: 'first copy', input: dup(base), verdict: 'redirect', output: toLan(inner4) });
    runFixture(prog, tc, { description: 'second copy', input: dup(base), verdict: 'drop', reason: 'duplicate' });
    runFixture(prog, tc, { description: 'a later one', input: dup(base + 5), verdict: 'redirect' });
    runFixture(prog, tc, { description: 'a missing earlier one inside the window', input: dup(base + 2), verdict: 'redirect' });
    runFixture(prog, tc, { description: 'its duplicate', input: dup(base + 2), verdict: 'drop', reason: 'duplicate' });
    runFixture(prog, tc, { description: 'older than the window', input: dup(base + 5 - M.DUP_WINDOW), verdict: 'drop', reason: 'stale' });
  }
});

test('measures loss and reordering per peer path from its sequence numbers', () => {
  map('pt_rx').set({ site: 2, path: 7 }, { lock: { val: 0 }, flags: 0, first_seq: 0, highest_seq: 0, received: 0n, reordered: 0n, bytes: 0n });
  for (const s of [100, 101, 103, 102, 106]) assert.is(wanXdp.testRun({ data: fromPeer({ pathSeq: s }) }).retval, XDP.REDIRECT);
  const st = rx.get({ site: 2, path: 7 })!;
  assert.is(st.first_seq, 100);
  assert.is(st.highest_seq, 106);
  assert.is(st.received, 5n);
  assert.is(st.reordered, 1n);
  assert.is(M.rxLoss(st), 2n, '104 and 105 missing');
  assert.is(st.bytes, BigInt(5 * inner4.length));
});

test('what the LAN side encapsulates, the WAN side of the peer decapsulates to the same inner packet', () => {
  const sent = lanXdp.testRun({ data: lanFrame(udp4('10.1.0.10', '10.2.0.10', 9000)) });
  assert.is(sent.retval, XDP.REDIRECT);
  const got = wanXdp.testRun({ data: sent.data });
  assert.is(got.retval, XDP.REDIRECT);
  assert.is(hex(got.data), hex(toLan(udp4('10.1.0.10', '10.2.0.10', 9000, { ttl: 63 }))));
  assert.ok(ipBytes('10.1.0.10').equals(got.data.subarray(14 + 12, 14 + 16)));
});

test.run();
