// timeout: 60
/**
 * dataplane/xdp/fib.ts: a bundle becomes map entries; programmed into the real maps, the LAN program then
 * forwards as the bundle says.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BpfObject, XDP } from '../../dataplane/xdp/index.ts';
import { FibError, classRules, fibEntries, type FibEnv } from '../../dataplane/xdp/fib.ts';
import * as M from '../../dataplane/xdp/maps.ts';
import { edge1Bundle } from './bundle-fixture.ts';
import { IPPROTO, ether, hex, ipv4, overlayFrame, udp } from './packets.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pinRoot = `/sys/fs/bpf/patronus/ptb2-fib-${process.pid}`;
let obj: BpfObject | undefined;
test.after(() => {
  obj?.close();
  rmSync(pinRoot, { recursive: true, force: true });
});

const MACS: Record<string, string> = { lan0: '02:00:00:00:0a:01', wan0: '02:00:00:00:00:10', wan1: '02:00:00:00:00:11' };
const NEIGH: Record<string, string> = { '100.64.0.1': '02:00:00:00:00:fe', '172.16.0.2': '02:00:00:00:00:22' };
const env = (over: Partial<FibEnv> = {}): FibEnv => ({
  ifindex: () => 1, mac: (n) => MACS[n]!, neighbour: (a) => NEIGH[a], ...over,
});

test('routes, segments, paths and steering come from the bundle', () => {
  const e = fibEntries(edge1Bundle(), env());
  assert.equal(e.unresolved, []);
  const routes = e.maps.pt_routes4.map(({ key, value }) => [M.routeKey4.decode(key), M.routeVal.decode(value)]);
  assert.equal(routes, [
    [{ prefixlen: 56, segment: 1, addr: '10.1.0.0' }, { kind: M.RouteKind.local, flags: 0, site: 0 }],
    [{ prefixlen: 56, segment: 1, addr: '10.2.0.0' }, { kind: M.RouteKind.remote, flags: 0, site: 2 }],
    [{ prefixlen: 48, segment: 1, addr: '10.66.0.0' }, { kind: M.RouteKind.drop, flags: 0, site: 0 }],
  ]);
  assert.equal(M.segVal.decode(e.maps.pt_segments[0]!.value), { segment: 1, flags: 0, addr4: '10.1.0.1', addr6: '::' });
  assert.is(e.maps.pt_paths.length, 2);
  const p1 = M.path.decode(e.maps.pt_paths[0]!.value);
  assert.equal({ ...p1 }, { ifindex: 1, saddr: '100.64.0.2', daddr: '100.64.0.6', sport: 4797, dport: 4797, mtu: 1500, flags: 0, smac: MACS.wan1, dmac: NEIGH['100.64.0.1'] });
  assert.is(e.maps.pt_steering.length, 1);
  assert.equal(M.steerKey.decode(e.maps.pt_steering[0]!.key), { segment: 1, site: 2, class_id: 0 });
  assert.equal(M.steerVal.decode(e.maps.pt_steering[0]!.value), { paths: [1, 0, 0, 0], n_paths: 1, flags: 0, n_all: 1 }, 'inet preferred');
  assert.is(e.maps.pt_rx.length, 0, 'no peer path ids given');
});

test('an unresolved next hop leaves its path out and steering falls to the next preference', () => {
  const e = fibEntries(edge1Bundle(), env({ neighbour: (a) => (a === '100.64.0.1' ? undefined : NEIGH[a]) }));
  assert.equal(e.unresolved, [1]);
  assert.equal(M.steerVal.decode(e.maps.pt_steering[0]!.value).paths, [2, 0, 0, 0]);
});

test('duplicate and load-balance strategies, shaped interfaces and peer path ids', () => {
  const b = edge1Bundle();
  b.rules = [{ ...b.rules[0]!, strategy: 'duplicate', perPacket: true }];
  const e = fibEntries(b, env({ shaped: new Set(['wan0']), peerPathIds: new Map([[1, 5], [2, 6]]) }));
  assert.equal(M.steerVal.decode(e.maps.pt_steering[0]!.value), { paths: [1, 2, 0, 0], n_paths: 2, flags: M.SteerFlag.duplicate | M.SteerFlag.perPacket, n_all: 2 });
  assert.is(M.path.decode(e.maps.pt_paths[1]!.value).flags, M.PathFlag.shaped);
  assert.equal(e.maps.pt_rx.map((x) => M.rxKey.decode(x.key)), [{ site: 2, path: 5 }, { site: 2, path: 6 }]);
  b.rules = [{ ...b.rules[0]!, strategy: 'load-balance', perPacket: false }];
  assert.equal(M.steerVal.decode(fibEntries(b, env()).maps.pt_steering[0]!.value).n_paths, 2);
});

test('expands the classifier per protocol family, port range and prefix, in priority order', () => {
  const b = edge1Bundle();
  const base = { srcPorts: [], dstPorts: [], srcPrefixes: [], dstPrefixes: [], dscp: [] };
  b.classifier = [
    { ...base, appClass: 'web', classId: 3, priority: 2, protocol: 'tcp', dstPorts: [[80, 80], [443, 443]] },
    { ...base, appClass: 'voice', classId: 5, priority: 1, protocol: 'udp', dstPorts: [[5060, 5061]], dscp: [46], dstPrefixes: ['10.2.0.0/24'] },
    { ...base, appClass: 'ping', classId: 7, priority: 3, protocol: 'icmp' },
  ];
  const rules = classRules(b).map((x) => M.classRule.decode(x));
  assert.equal(rules.map((r) => [r.class_id, r.family, r.proto, r.dport_lo, r.dport_hi, r.dst_plen]), [
    [5, 4, 17, 5060, 5061, 24],
    [3, 4, 6, 80, 80, 0], [3, 4, 6, 443, 443, 0], [3, 6, 6, 80, 80, 0], [3, 6, 6, 443, 443, 0],
    [7, 4, 1, 0, 0, 0], [7, 6, 58, 0, 0, 0],
  ]);
  assert.is(rules[0]!.dscp_mask, 1n << 46n);
  b.classifier = [{ ...base, appClass: 'x', classId: 9, priority: 1, protocol: 'any', dstPorts: Array.from({ length: 65 }, (_, i) => [i, i] as [number, number]) }];
  assert.throws(() => classRules(b), (e: unknown) => e instanceof FibError && /65 entries/.test((e as Error).message));
});

test('programmed into the maps, the LAN program forwards the way the bundle says', () => {
  obj = BpfObject.open(`${root}bpf/build/${M.PROGRAMS.lanXdp.object}`, { pinRoot });
  obj.load();
  const e = fibEntries(edge1Bundle(), env());
  for (const [name, entries] of Object.entries(e.maps)) for (const { key, value } of entries) obj.map(name).update(key, value);
  const inner = (ttl: number) => ipv4({ src: '10.1.0.10', dst: '10.2.0.10', proto: IPPROTO.udp, ttl, payload: udp('10.1.0.10', '10.2.0.10', 1, 2, Buffer.alloc(10)) });
  const r = obj.program(M.PROGRAMS.lanXdp.program).testRun({ data: ether({ src: '02:00:00:00:0a:0a', dst: MACS.lan0! }, inner(64)) });
  assert.is(r.retval, XDP.REDIRECT);
  assert.is(hex(r.data), hex(overlayFrame({ smac: MACS.wan1!, dmac: NEIGH['100.64.0.1']!, saddr: '100.64.0.2', daddr: '100.64.0.6', sport: 4797, dport: 4797,
    hdr: { classId: 0, segment: 1, site: 1, path: 1, pathSeq: 0 }, inner: inner(63) })));
  const drop = obj.program(M.PROGRAMS.lanXdp.program).testRun({ data: ether({ src: '02:00:00:00:0a:0a', dst: MACS.lan0! },
    ipv4({ src: '10.1.0.10', dst: '10.66.0.1', proto: IPPROTO.udp, payload: udp('10.1.0.10', '10.66.0.1', 1, 2, Buffer.alloc(4)) })) });
  assert.is(drop.retval, XDP.DROP, 'the bundle\'s blackhole route');
});

test.run();
