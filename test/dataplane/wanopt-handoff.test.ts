// timeout: 60
/**
 * The LAN program's hand-off of WAN-opt / FEC classes to the local stack (docs/wanopt.md), through
 * BPF_PROG_TEST_RUN on both builds: a class flagged PT_STEER_LOCAL_TCP passes its TCP packets up unchanged
 * (not encapsulated, TTL untouched) while its other packets are still encapsulated; PT_STEER_LOCAL_UDP does
 * the same for UDP; and fibEntries() sets those flags from a bundle's `wanopt` section. The mark the tc
 * build sets is checked end to end by test/labs/wanopt.test.ts (nftables matches it).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TC_ACT, XDP, typedMap, type BpfProgram } from '../../dataplane/xdp/index.ts';
import { bpfLoader } from './xdp-fixtures.ts';
import { fibEntries, localServiceFlags } from '../../dataplane/xdp/fib.ts';
import * as M from '../../dataplane/xdp/maps.ts';
import { IPPROTO, TCP, ether, hex, ipv4, tcp, udp } from './packets.ts';
import { edge1Bundle } from './bundle-fixture.ts';

const bpf = bpfLoader('ptwh');
test.after(bpf.close);
const load = bpf.load;
const xdpObj = load(M.PROGRAMS.lanXdp.object);
const tcObj = load(M.PROGRAMS.lanTc.object);
const progs: [string, BpfProgram, boolean][] = [
  ['xdp', xdpObj.program(M.PROGRAMS.lanXdp.program), false],
  ['tc', tcObj.program(M.PROGRAMS.lanTc.program), true],
];
const map = <N extends M.MapName>(n: N) => typedMap(xdpObj.map(n), M.MAPS[n].key as any, M.MAPS[n].value as any);

// Site 1, LAN on lo (ifindex 1, where test runs arrive), remote 10.2.0.0/16 at site 2 over path 1.
const WANOPT = 7, FEC = 8, BULK = 0;
map('pt_config').set(0, { site: 1, default_class: BULK, flags: 0 });
map('pt_segments').set({ ifindex: 1, vlan: 0 }, { segment: 10, flags: 0, addr4: '10.1.0.1', addr6: '::' });
map('pt_routes4').set(M.routeKey4Of(10, '10.2.0.0/16'), { kind: M.RouteKind.remote, flags: 0, site: 2 });
const rule = (i: number, r: Record<string, unknown>) =>
  map('pt_class_rules').set(i, { flags: M.RULE_VALID, class_id: 0, proto: 0, family: 0, src_plen: 0, dst_plen: 0, sport_lo: 0, sport_hi: 0,
    dport_lo: 0, dport_hi: 0, dscp_mask: 0n, src: Buffer.alloc(16), dst: Buffer.alloc(16), ...r } as any);
rule(0, { class_id: WANOPT, dport_lo: 445, dport_hi: 445 }); // TCP and UDP to port 445
rule(1, { class_id: FEC, dport_lo: 5004, dport_hi: 5004 });
const steer = (cls: number, flags: number, paths = [1]) =>
  map('pt_steering').set({ segment: 10, site: 2, class_id: cls }, { paths: [...paths, 0, 0, 0, 0].slice(0, 4), n_paths: paths.length, flags, n_all: paths.length });
steer(BULK, 0);
steer(WANOPT, M.SteerFlag.localTcp);
steer(FEC, M.SteerFlag.localUdp);
map('pt_paths').set(1, { ifindex: 1, saddr: '192.0.2.1', daddr: '198.51.100.2', sport: M.OVERLAY_PORT_DEFAULT, dport: M.OVERLAY_PORT_DEFAULT,
  mtu: 1500, flags: 0, smac: '02:00:00:00:01:01', dmac: '02:00:00:00:01:fe' });

const frame = (l3: Buffer) => ether({ src: '02:00:00:00:0a:0a', dst: '02:00:00:00:0a:01' }, l3);
const tcp4 = (dport: number, flags: number = TCP.SYN) => frame(ipv4({ src: '10.1.0.10', dst: '10.2.0.10', proto: IPPROTO.tcp,
  payload: tcp('10.1.0.10', '10.2.0.10', { sport: 40000, dport, flags }) }));
const udp4 = (dport: number) => frame(ipv4({ src: '10.1.0.10', dst: '10.2.0.10', proto: IPPROTO.udp,
  payload: udp('10.1.0.10', '10.2.0.10', 40000, dport, Buffer.alloc(40, 0x5a)) }));

const fixtures: { description: string; input: Buffer; local: boolean }[] = [
  { description: 'a TCP SYN of the WAN-opt class goes to the local stack unchanged', input: tcp4(445), local: true },
  { description: 'TCP data of the WAN-opt class goes to the local stack unchanged', input: tcp4(445, TCP.ACK | TCP.PSH), local: true },
  { description: 'UDP of the WAN-opt class (TCP-only hand-off) is encapsulated', input: udp4(445), local: false },
  { description: 'UDP of the FEC class goes to the local stack unchanged', input: udp4(5004), local: true },
  { description: 'TCP of the FEC class (UDP-only hand-off) is encapsulated', input: tcp4(5004), local: false },
  { description: 'TCP of a class without hand-off is encapsulated', input: tcp4(80), local: false },
];

for (const [name, prog, isTc] of progs) {
  test(`the ${name} build hands WAN-opt TCP and FEC UDP to the stack and encapsulates the rest`, () => {
    for (const f of fixtures) {
      const r = prog.testRun({ data: f.input });
      const want = f.local ? (isTc ? TC_ACT.OK : XDP.PASS) : (isTc ? TC_ACT.REDIRECT : XDP.REDIRECT);
      assert.is(r.retval, want, `${f.description}: verdict ${r.retval}, expected ${want}`);
      if (f.local) assert.is(hex(r.data), hex(f.input), `${f.description}: bytes unchanged`);
      else assert.is(r.data.length, f.input.length + M.OVERLAY_OVERHEAD, `${f.description}: encapsulated`);
    }
  });
}

test('a hand-off class needs no usable path (the proxy reaches the peer itself)', () => {
  steer(WANOPT, M.SteerFlag.localTcp, []);
  try {
    for (const [, prog, isTc] of progs) assert.is(prog.testRun({ data: tcp4(445) }).retval, isTc ? TC_ACT.OK : XDP.PASS);
  } finally {
    steer(WANOPT, M.SteerFlag.localTcp);
  }
});

test('fibEntries sets the local-service steering flags from the bundle wanopt section', () => {
  const b = edge1Bundle();
  b.classifier = [
    { appClass: 'bulk', classId: 2, priority: 1, protocol: 'tcp', srcPorts: [], dstPorts: [[445, 445]], srcPrefixes: [], dstPrefixes: [], dscp: [] },
    { appClass: 'voip', classId: 1, priority: 2, protocol: 'udp', srcPorts: [], dstPorts: [[5004, 5004]], srcPrefixes: [], dstPrefixes: [], dscp: [] },
  ];
  b.rules = ['bulk', 'voip', 'default'].map((app) => ({ name: app, segment: 'default', appClass: app, service: 'overlay' as const, strategy: 'preference' as const, preferred: ['inet', 'mpls'], perPacket: false }));
  b.wanopt = { interceptPort: 7770, sessionPort: 7771, fecPort: 7772, classes: [{ appClass: 'bulk', classId: 2 }], fec: [{ appClass: 'voip', classId: 1, k: 8, m: 2, holdMs: 50, interleave: 1 }] };
  assert.equal([...localServiceFlags(b)].sort(), [[1, M.SteerFlag.localUdp], [2, M.SteerFlag.localTcp]]);
  const env = { ifindex: () => 3, mac: () => '02:00:00:00:00:01', neighbour: () => '02:00:00:00:00:02' };
  const flags = new Map(fibEntries(b, env).maps.pt_steering.map((e) => [M.steerKey.decode(e.key).class_id, M.steerVal.decode(e.value).flags]));
  assert.equal([...flags].sort(), [[0, 0], [1, M.SteerFlag.localUdp], [2, M.SteerFlag.localTcp]]);
  b.wanopt = {};
  assert.equal(fibEntries(b, env).maps.pt_steering.map((e) => M.steerVal.decode(e.value).flags), [0, 0, 0]);
});

test.run();
