// timeout: 60
/**
 * The WAN egress QoS classifier (bpf/wan_egress_qos.bpf.c) through BPF_PROG_TEST_RUN: a fixture table
 * {description, frame, expected HTB classid}. The classifier runs in classic cls_bpf mode, so its return
 * value is the classid (0 = the HTB default class). Maps are pinned under a private root and removed after.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BpfObject, scalar, typedMap } from '../../dataplane/xdp/index.ts';
import * as M from '../../dataplane/xdp/maps.ts';
import { ETH_P_8021Q, IPPROTO, TCP, ether, ipv4, ipv6, overlayFrame, tcp, udp } from './packets.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pinRoot = `/sys/fs/bpf/patronus/ptq-${process.pid}`;
const obj = BpfObject.open(`${root}bpf/build/${M.PROGRAMS.wanQos.object}`, { pinRoot });
obj.load();
const prog = obj.program(M.PROGRAMS.wanQos.program);

test.after(() => {
  obj.close();
  rmSync(pinRoot, { recursive: true, force: true });
});

const cfg = typedMap(obj.map('pt_qos_config'), scalar('u32'), M.qosConfig);
const classes = typedMap(obj.map('pt_qos_classes'), scalar('u32'), M.qosClass);

const CONTROL = 0x10002, VOICE_Q = 0x10011, BULK_Q = 0x10012;
const VOICE = 5, BULK = 0, UNMAPPED = 9;
const PROBE_PORT = 4784;

const WAN = '02:00:00:00:01:01', GW = '02:00:00:00:01:fe';
const A = '172.16.0.1', B = '172.16.0.2';
const inner = ipv4({ src: '10.1.0.10', dst: '10.2.0.10', proto: IPPROTO.udp, payload: udp('10.1.0.10', '10.2.0.10', 20000, 20000, Buffer.alloc(40)) });
const overlay = (classId: number, o: { flags?: number; version?: number; dport?: number } = {}) => overlayFrame({
  smac: WAN, dmac: GW, saddr: A, daddr: B, sport: M.OVERLAY_PORT_DEFAULT, dport: o.dport ?? M.OVERLAY_PORT_DEFAULT,
  hdr: { classId, segment: 1, site: 1, path: 1, pathSeq: 7, flags: o.flags, version: o.version }, inner,
});
const v4 = (proto: number, payload: Buffer, extra: { fragOffset?: number; mf?: boolean } = {}) =>
  ether({ dst: GW, src: WAN, type: 0x0800 }, ipv4({ src: A, dst: B, proto, payload, ...extra }));
const udp4 = (sport: number, dport: number) => v4(IPPROTO.udp, udp(A, B, sport, dport, Buffer.alloc(24)));
const tcp4 = (sport: number, dport: number) => v4(IPPROTO.tcp, tcp(A, B, { sport, dport, flags: TCP.ACK }));

function classify(frame: Buffer): number {
  return prog.testRun({ data: frame }).retval >>> 0;
}

function configure() {
  cfg.set(0, { control_classid: CONTROL, probe_port: PROBE_PORT, flags: 0 });
  classes.set(VOICE, { classid: VOICE_Q });
  classes.set(BULK, { classid: BULK_Q });
  classes.set(UNMAPPED, { classid: 0 });
}

const fixtures: { description: string; frame: Buffer; classid: number }[] = [
  { description: 'an overlay packet of the voice class goes to the voice HTB class', frame: overlay(VOICE), classid: VOICE_Q },
  { description: 'an overlay packet of class 0 (default application class) goes to its mapped class', frame: overlay(BULK), classid: BULK_Q },
  { description: 'an overlay packet of a class without a QoS class goes to the HTB default class', frame: overlay(UNMAPPED), classid: 0 },
  { description: 'an overlay probe (probe flag) goes to the control class whatever its class byte', frame: overlay(BULK, { flags: M.OverlayFlag.probe }), classid: CONTROL },
  { description: 'an unknown overlay version is not trusted: default class', frame: overlay(VOICE, { version: 2 }), classid: 0 },
  { description: 'UDP to another port with a voice-like byte at the class offset: default class', frame: overlay(VOICE, { dport: 4798 }), classid: 0 },
  { description: 'a path probe to the probe port goes to the control class', frame: udp4(40000, PROBE_PORT), classid: CONTROL },
  { description: 'a probe reply from the probe port goes to the control class', frame: udp4(PROBE_PORT, 40000), classid: CONTROL },
  { description: 'BGP towards a peer (TCP dport 179) goes to the control class', frame: tcp4(50000, 179), classid: CONTROL },
  { description: 'BGP from the local speaker (TCP sport 179) goes to the control class', frame: tcp4(179, 50000), classid: CONTROL },
  {
    description: 'BGP over IPv6 goes to the control class',
    frame: ether({ dst: GW, src: WAN }, ipv6({ src: '2001:db8::1', dst: '2001:db8::2', nh: IPPROTO.tcp, payload: tcp('2001:db8::1', '2001:db8::2', { sport: 50000, dport: 179, flags: TCP.SYN }) })),
    classid: CONTROL,
  },
  { description: 'other TCP (e.g. SSH to the edge) goes to the default class', frame: tcp4(22, 50000), classid: 0 },
  { description: 'other UDP goes to the default class', frame: udp4(53, 53), classid: 0 },
  { description: 'a non-first IPv4 fragment has no ports: default class', frame: v4(IPPROTO.udp, Buffer.alloc(32, 0x12), { fragOffset: 100 }), classid: 0 },
  { description: 'an ARP frame goes to the default class', frame: ether({ dst: 'ff:ff:ff:ff:ff:ff', src: WAN, type: 0x0806 }, Buffer.alloc(28)), classid: 0 },
  // (The test run itself refuses frames shorter than an IPv4 header, so the cut is in the UDP header.)
  { description: 'a frame cut inside the UDP header goes to the default class', frame: udp4(40000, PROBE_PORT).subarray(0, 14 + 20 + 3), classid: 0 },
  {
    description: 'a VLAN-tagged overlay packet (tag in the data) is classified by its class byte',
    frame: (() => { const f = overlay(VOICE); return Buffer.concat([ether({ dst: GW, src: WAN, vlan: 7, type: 0x0800 }, f.subarray(14))]); })(),
    classid: VOICE_Q,
  },
];

configure();
for (const f of fixtures) {
  test(f.description, () => {
    assert.is(classify(f.frame).toString(16), f.classid.toString(16));
  });
}

test('a tagged frame really carries the 802.1Q type (the VLAN fixture tests what it says)', () => {
  const f = ether({ dst: GW, src: WAN, vlan: 7, type: 0x0800 }, Buffer.alloc(20));
  assert.is(f.readUInt16BE(12), ETH_P_8021Q);
});

test('without a control class probes and BGP fall to the default class, and remapping a class takes effect at once', () => {
  cfg.set(0, { control_classid: 0, probe_port: PROBE_PORT, flags: 0 });
  assert.is(classify(tcp4(50000, 179)), 0);
  assert.is(classify(udp4(40000, PROBE_PORT)), 0);
  classes.set(VOICE, { classid: BULK_Q });
  assert.is(classify(overlay(VOICE)), BULK_Q);
  configure();
  assert.is(classify(overlay(VOICE)), VOICE_Q);
});

test('probe port 0 means no probe class (UDP 0 is not matched)', () => {
  cfg.set(0, { control_classid: CONTROL, probe_port: 0, flags: 0 });
  assert.is(classify(udp4(0, 0)), 0);
  configure();
});

test.run();
