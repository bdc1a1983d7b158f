// timeout: 60
/**
 * The LAN program's redirect decision for encrypted paths (PT_PATH_WG, bpf/lib/wg_steer.h) through
 * BPF_PROG_TEST_RUN: the XDP build leaves such packets to tc; the tc build sends the inner packet as is
 * (TTL decremented, padding trimmed, MSS clamped to mtu − 60 − 40, ICMP too-big above mtu − 60) into the
 * path's device, counts it, and takes no overlay sequence; a duplicated class whose second path is
 * encrypted sends one plaintext copy. Expected frames are built independently with test/dataplane/packets.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TC_ACT, XDP, perCpuMap, scalar, typedMap } from '../../dataplane/xdp/index.ts';
import { bpfLoader } from './xdp-fixtures.ts';
import * as M from '../../dataplane/xdp/maps.ts';
import { IPPROTO, TCP, ether, hex, icmp4, ipv4, overlayFrame, tcp, tcpOpt, udp } from './packets.ts';

const bpf = bpfLoader('ptwg');
test.after(bpf.close);
const lanXdpObj = bpf.load(M.PROGRAMS.lanXdp.object);
const lanTcObj = bpf.load(M.PROGRAMS.lanTc.object);
const lanXdp = lanXdpObj.program(M.PROGRAMS.lanXdp.program);
const lanTc = lanTcObj.program(M.PROGRAMS.lanTc.program);
const map = <N extends M.MapName>(n: N) => typedMap(lanXdpObj.map(n), M.MAPS[n].key as any, M.MAPS[n].value as any);
const counters = perCpuMap(lanXdpObj.map('pt_counters'), M.counterKey, M.counter);
const txSeq = typedMap(lanXdpObj.map('pt_tx_seq'), scalar('u32'), scalar('u32'));

const LO = 1;
const HOST_MAC = '02:00:00:00:0a:0a', EDGE_LAN_MAC = '02:00:00:00:0a:01';
const WAN_MAC = '02:00:00:00:01:01', GW_MAC = '02:00:00:00:01:fe';
const PORT = M.OVERLAY_PORT_DEFAULT;
const BULK = 0, VOICE = 5, WEB = 3;
const WG = 4, PLAIN = 1;

map('pt_config').set(0, { site: 1, default_class: BULK, flags: 0 });
map('pt_segments').set({ ifindex: LO, vlan: 0 }, { segment: 10, flags: 0, addr4: '10.1.0.1', addr6: '::' });
map('pt_routes4').set(M.routeKey4Of(10, '10.2.0.0/16'), { kind: M.RouteKind.remote, flags: 0, site: 2 });
const rule = (i: number, r: Record<string, unknown>) =>
  map('pt_class_rules').set(i, { flags: M.RULE_VALID, class_id: 0, proto: 0, family: 0, src_plen: 0, dst_plen: 0, sport_lo: 0, sport_hi: 0,
    dport_lo: 0, dport_hi: 0, dscp_mask: 0n, src: Buffer.alloc(16), dst: Buffer.alloc(16), ...r } as any);
rule(0, { class_id: VOICE, proto: IPPROTO.udp, dport_lo: 5060, dport_hi: 5060 });
rule(1, { class_id: WEB, proto: IPPROTO.tcp, dport_lo: 443, dport_hi: 443 });
const steer = (cls: number, paths: number[], flags = 0) =>
  map('pt_steering').set({ segment: 10, site: 2, class_id: cls }, { paths: [...paths, 0, 0, 0, 0].slice(0, 4), n_paths: paths.length, flags, n_all: paths.length });
steer(BULK, [WG]);
steer(WEB, [WG]);
steer(VOICE, [PLAIN, WG], M.SteerFlag.duplicate);
const PLAIN_PATH = { ifindex: LO, saddr: '192.0.2.1', daddr: '198.51.100.2', sport: PORT, dport: PORT, mtu: 1500, flags: 0, smac: WAN_MAC, dmac: GW_MAC };
// An encrypted path: only ifindex (the WireGuard device), mtu and the flag matter.
const WG_PATH = { ifindex: LO, saddr: '0.0.0.0', daddr: '0.0.0.0', sport: 0, dport: 0, mtu: 1500, flags: M.PathFlag.wg, smac: '00:00:00:00:00:00', dmac: '00:00:00:00:00:00' };
map('pt_paths').set(PLAIN, PLAIN_PATH);
map('pt_paths').set(WG, WG_PATH);

const lanFrame = (l3: Buffer) => ether({ src: HOST_MAC, dst: EDGE_LAN_MAC }, l3);
const udp4 = (dport: number, o: { ttl?: number; size?: number; df?: boolean } = {}) =>
  ipv4({ src: '10.1.0.10', dst: '10.2.0.10', proto: IPPROTO.udp, ttl: o.ttl, df: o.df,
    payload: udp('10.1.0.10', '10.2.0.10', 40000, dport, Buffer.alloc(o.size ?? 32, 0xab)) });
const syn = (mss: number, ttl = 64) => ipv4({ src: '10.1.0.10', dst: '10.2.0.10', proto: IPPROTO.tcp, ttl,
  payload: tcp('10.1.0.10', '10.2.0.10', { sport: 40002, dport: 443, flags: TCP.SYN, options: [tcpOpt.mss(mss), tcpOpt.sackOk()] }) });
const txPackets = (path: number, cls: number) => { const c = counters.get({ path, class_id: cls, dir: M.Dir.tx }); return c ? M.sumCounters(c).packets : 0n; };

test('the XDP build leaves a packet steered onto an encrypted path to tc, untouched', () => {
  const f = lanFrame(udp4(9000));
  const r = lanXdp.testRun({ data: f });
  assert.is(r.retval, XDP.PASS);
  assert.is(hex(r.data), hex(f));
});

test('tc redirects the inner packet as is (TTL decremented, no overlay header) and counts it on the path', () => {
  const seq = txSeq.get(WG) ?? 0;
  const before = txPackets(WG, BULK);
  const r = lanTc.testRun({ data: lanFrame(udp4(9000)) });
  assert.is(r.retval, TC_ACT.REDIRECT);
  assert.is(hex(r.data), hex(lanFrame(udp4(9000, { ttl: 63 }))));
  assert.is(txPackets(WG, BULK), before + 1n);
  assert.is(txSeq.get(WG) ?? 0, seq, 'no overlay sequence is taken');
});

test('tc trims Ethernet padding before the packet enters the tunnel', () => {
  const inner = udp4(9000, { size: 2 });
  const padded = Buffer.concat([lanFrame(inner), Buffer.alloc(60 - 14 - inner.length)]);
  const r = lanTc.testRun({ data: padded });
  assert.is(r.retval, TC_ACT.REDIRECT);
  assert.is(hex(r.data), hex(lanFrame(udp4(9000, { size: 2, ttl: 63 }))));
});

test('tc clamps a SYN\'s MSS to mtu − 60 − 40 for an encrypted path', () => {
  const r = lanTc.testRun({ data: lanFrame(syn(1460)) });
  assert.is(r.retval, TC_ACT.REDIRECT);
  assert.is(hex(r.data), hex(lanFrame(syn(1400, 63))));
});

test('tc answers a DF packet above mtu − 60 with fragmentation-needed advertising 1440', () => {
  const big = udp4(9000, { size: 1441 - 28 });
  const r = lanTc.testRun({ data: lanFrame(big) });
  assert.is(r.retval, TC_ACT.REDIRECT, 'sent back out of the LAN device');
  assert.is(hex(r.data), hex(ether({ src: EDGE_LAN_MAC, dst: HOST_MAC }, ipv4({ src: '10.1.0.1', dst: '10.1.0.10', proto: IPPROTO.icmp, tos: 0xc0, ttl: 64, df: false,
    payload: icmp4(3, 4, Buffer.from([0, 0, 1440 >> 8, 1440 & 0xff]), big.subarray(0, 28)) }))));
  // Exactly the limit passes.
  const fits = lanTc.testRun({ data: lanFrame(udp4(9000, { size: 1440 - 28 })) });
  assert.is(fits.retval, TC_ACT.REDIRECT);
  assert.is(fits.data.length, 14 + 1440);
});

test('a duplicated class whose second path is encrypted is sent once, plaintext, without the dup flag', () => {
  const seq = txSeq.get(PLAIN) ?? 0;
  const wgBefore = txPackets(WG, VOICE);
  const r = lanTc.testRun({ data: lanFrame(udp4(5060)) });
  assert.is(r.retval, TC_ACT.REDIRECT);
  assert.is(hex(r.data), hex(overlayFrame({ ...PLAIN_PATH, hdr: { classId: VOICE, segment: 10, site: 1, path: PLAIN, pathSeq: seq }, inner: udp4(5060, { ttl: 63 }) })));
  assert.is(txPackets(WG, VOICE), wgBefore, 'nothing went into the tunnel');
});

test('with the encrypted path first, the duplicated class goes once into the tunnel', () => {
  steer(VOICE, [WG, PLAIN], M.SteerFlag.duplicate);
  const seq = txSeq.get(PLAIN) ?? 0;
  const r = lanTc.testRun({ data: lanFrame(udp4(5060)) });
  assert.is(r.retval, TC_ACT.REDIRECT);
  assert.is(hex(r.data), hex(lanFrame(udp4(5060, { ttl: 63 }))));
  assert.is(txSeq.get(PLAIN) ?? 0, seq, 'no copy on the plaintext path');
});

test.run();
