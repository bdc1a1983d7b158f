// timeout: 90
/**
 * The programs forwarding real traffic: host1 — edge1 — edge2 — host2 in four fresh network namespaces
 * (pt.ptb2<x><pid>.*), no kernel route between the sites on the edges, so a reply can only come back
 * through encapsulation and decapsulation. Twice: with the XDP builds attached natively to the edges'
 * veths, and with the tc builds on clsact ingress. Everything is removed afterwards, also on failure.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BpfObject, ifindex, perCpuMap, typedMap } from '../../dataplane/xdp/index.ts';
import * as M from '../../dataplane/xdp/maps.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
type Mode = 'xdp' | 'tc';
const labOf = (mode: Mode) => `ptb2${mode === 'xdp' ? 'x' : 't'}${process.pid}`;
let lab = labOf('xdp');
const ns = (n: string) => `pt.${lab}.${n}`;
const objs: BpfObject[] = [];
const nodes = ['h1', 'e1', 'e2', 'h2'];
const procs: ChildProcess[] = [];

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const nsx = (n: string, ...cmd: string[]) => execFileSync('ip', ['netns', 'exec', ns(n), ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** Removes one topology: programs closed, namespaces deleted (which detaches everything), pins removed. */
function teardown(mode: Mode): void {
  for (const p of procs.splice(0)) p.kill('SIGKILL');
  for (const o of objs.splice(0)) o.close();
  const l = labOf(mode);
  for (const n of nodes) spawnSync('ip', ['netns', 'del', `pt.${l}.${n}`]);
  rmSync(`/sys/fs/bpf/patronus/${l}`, { recursive: true, force: true });
}

test.after(() => {
  teardown('xdp');
  teardown('tc');
});

const MAC = {
  h1: '02:b2:00:00:01:10', e1lan: '02:b2:00:00:01:01', e1wan: '02:b2:00:00:00:01',
  e2wan: '02:b2:00:00:00:02', e2lan: '02:b2:00:00:02:01', h2: '02:b2:00:00:02:10',
};

/** A veth pair between namespaces a and b with fixed names and MACs. */
function veth(a: string, aIf: string, aMac: string, b: string, bIf: string, bMac: string): void {
  ip('link', 'add', 'ptb2tmp', 'address', aMac, 'netns', ns(a), 'type', 'veth', 'peer', 'name', 'ptb2tmpp', 'address', bMac, 'netns', ns(b));
  nsx(a, 'ip', 'link', 'set', 'ptb2tmp', 'name', aIf);
  nsx(b, 'ip', 'link', 'set', 'ptb2tmpp', 'name', bIf);
}

/** Loads the edge's LAN and WAN programs (XDP or tc build) under its own pin root, programs the maps, attaches. */
function edge(mode: Mode, name: 'e1' | 'e2', site: number, peerSite: number, o: {
  lanNet: string; remoteNet: string; wanAddr: string; peerAddr: string; wanMac: string; peerMac: string; hostMac: string; lanMac: string;
}) {
  const pins = `/sys/fs/bpf/patronus/${lab}/${name}`;
  const progs = mode === 'xdp' ? [M.PROGRAMS.lanXdp, M.PROGRAMS.wanXdp] : [M.PROGRAMS.lanTc, M.PROGRAMS.wanTc];
  const lan = BpfObject.open(`${root}bpf/build/${progs[0]!.object}`, { pinRoot: pins });
  const wan = BpfObject.open(`${root}bpf/build/${progs[1]!.object}`, { pinRoot: pins });
  objs.push(lan, wan);
  lan.load();
  wan.load();
  const m = (n: M.MapName) => typedMap(lan.map(n), M.MAPS[n].key as any, M.MAPS[n].value as any);
  const lanIdx = ifindex('lan0', ns(name)), wanIdx = ifindex('wan0', ns(name));
  m('pt_config').set(0, { site, default_class: 0, flags: 0 });
  m('pt_segments').set({ ifindex: lanIdx, vlan: 0 }, { segment: 1, flags: 0, addr4: o.lanNet.replace(/0\/24$/, '1'), addr6: '::' });
  m('pt_routes4').set(M.routeKey4Of(1, o.lanNet), { kind: M.RouteKind.local, flags: 0, site: 0 });
  m('pt_routes4').set(M.routeKey4Of(1, o.remoteNet), { kind: M.RouteKind.remote, flags: 0, site: peerSite });
  m('pt_steering').set({ segment: 1, site: peerSite, class_id: 0 }, { paths: [1, 0, 0, 0], n_paths: 1, flags: 0, n_all: 1 });
  m('pt_paths').set(1, { ifindex: wanIdx, saddr: o.wanAddr, daddr: o.peerAddr, sport: M.OVERLAY_PORT_DEFAULT, dport: M.OVERLAY_PORT_DEFAULT,
    mtu: 1500, flags: 0, smac: o.wanMac, dmac: o.peerMac });
  m('pt_rx').set({ site: peerSite, path: 1 }, { lock: { val: 0 }, flags: 0, first_seq: 0, highest_seq: 0, received: 0n, reordered: 0n, bytes: 0n });
  m('pt_lan_egress').set(1, { ifindex: lanIdx, vlan: 0, flags: M.LanFlag.staticNeigh, smac: o.lanMac, dmac: o.hostMac });
  if (mode === 'xdp') {
    lan.program(progs[0]!.program).attachXdp('lan0', { mode: 'native', netns: ns(name) });
    wan.program(progs[1]!.program).attachXdp('wan0', { mode: 'native', netns: ns(name) });
  } else {
    lan.program(progs[0]!.program).attachTc('lan0', { direction: 'ingress', netns: ns(name) });
    wan.program(progs[1]!.program).attachTc('wan0', { direction: 'ingress', netns: ns(name) });
  }
  return {
    counters: perCpuMap(lan.map('pt_counters'), M.counterKey, M.counter),
    drops: perCpuMap(lan.map('pt_drops'), M.MAPS.pt_drops.key, M.counter),
    rx: typedMap(lan.map('pt_rx'), M.rxKey, M.rxState),
  };
}

for (const mode of ['xdp', 'tc'] as const) {
  test(`${mode}: ping between two sites crosses the overlay through the programs only`, () => {
    lab = labOf(mode);
    for (const n of nodes) ip('netns', 'add', ns(n));
    veth('h1', 'eth0', MAC.h1, 'e1', 'lan0', MAC.e1lan);
    veth('e1', 'wan0', MAC.e1wan, 'e2', 'wan0', MAC.e2wan);
    veth('e2', 'lan0', MAC.e2lan, 'h2', 'eth0', MAC.h2);
    const addr = (n: string, dev: string, a: string) => { nsx(n, 'ip', 'addr', 'add', a, 'dev', dev); nsx(n, 'ip', 'link', 'set', dev, 'up'); };
    for (const n of nodes) nsx(n, 'ip', 'link', 'set', 'lo', 'up');
    addr('h1', 'eth0', '10.1.0.10/24'); addr('e1', 'lan0', '10.1.0.1/24'); addr('e1', 'wan0', '192.0.2.1/24');
    addr('e2', 'wan0', '192.0.2.2/24'); addr('e2', 'lan0', '10.2.0.1/24'); addr('h2', 'eth0', '10.2.0.10/24');
    nsx('h1', 'ip', 'route', 'add', 'default', 'via', '10.1.0.1');
    nsx('h2', 'ip', 'route', 'add', 'default', 'via', '10.2.0.1');
    // A veth only receives XDP_REDIRECTed frames when its peer runs NAPI: GRO on the hosts' ends turns it on.
    nsx('h1', 'ethtool', '-K', 'eth0', 'gro', 'on');
    nsx('h2', 'ethtool', '-K', 'eth0', 'gro', 'on');

    // Without the programs the sites cannot reach each other (no route on the edges, forwarding off).
    const before = spawnSync('ip', ['netns', 'exec', ns('h1'), 'ping', '-c', '1', '-W', '1', '10.2.0.10']);
    assert.is.not(before.status, 0, 'no path without the overlay');

    const e1 = edge(mode, 'e1', 1, 2, { lanNet: '10.1.0.0/24', remoteNet: '10.2.0.0/24', wanAddr: '192.0.2.1', peerAddr: '192.0.2.2', wanMac: MAC.e1wan, peerMac: MAC.e2wan, hostMac: MAC.h1, lanMac: MAC.e1lan });
    const e2 = edge(mode, 'e2', 2, 1, { lanNet: '10.2.0.0/24', remoteNet: '10.1.0.0/24', wanAddr: '192.0.2.2', peerAddr: '192.0.2.1', wanMac: MAC.e2wan, peerMac: MAC.e1wan, hostMac: MAC.h2, lanMac: MAC.e2lan });

    const out = nsx('h1', 'ping', '-c', '5', '-i', '0.2', '-W', '2', '10.2.0.10');
    assert.match(out, /5 received/);
    const tx1 = M.sumCounters(e1.counters.get({ path: 1, class_id: 0, dir: M.Dir.tx })!).packets;
    const rx2 = M.sumCounters(e2.counters.get({ path: 1, class_id: 0, dir: M.Dir.rx })!).packets;
    const tx2 = M.sumCounters(e2.counters.get({ path: 1, class_id: 0, dir: M.Dir.tx })!).packets;
    assert.ok(tx1 >= 5n && rx2 >= 5n && tx2 >= 5n, `counters: e1 tx ${tx1}, e2 rx ${rx2}, e2 tx ${tx2}`);
    const st = e2.rx.get({ site: 1, path: 1 })!;
    assert.is(M.rxLoss(st), 0n, 'no sequence gaps on the path');
    assert.is(st.received, tx1);
  });

  test(`${mode}: bulk TCP crosses the overlay`, () => {
    lab = labOf(mode);
    // XDP sees no CHECKSUM_PARTIAL metadata: a veth sender that leaves the TCP checksum to "hardware" would
    // deliver broken segments through an XDP redirect (measured: not even the SYN gets through). Real NICs
    // receive complete checksums; veth hosts in front of XDP need tx checksum offload off. The tc build keeps
    // the skb's checksum state and GSO, so there the hosts keep their offloads.
    if (mode === 'xdp') {
      nsx('h1', 'ethtool', '-K', 'eth0', 'tx', 'off');
      nsx('h2', 'ethtool', '-K', 'eth0', 'tx', 'off');
    }
    const srv = spawn('ip', ['netns', 'exec', ns('h2'), 'iperf3', '-s', '-1', '-B', '10.2.0.10'], { stdio: 'ignore' });
    procs.push(srv);
    // Wait until the server listens (the machine is shared; start-up time varies).
    for (let i = 0; i < 50 && !/:5201\b/.test(nsx('h2', 'ss', '-ltn')); i++) execFileSync('sleep', ['0.1']);
    const r = spawnSync('ip', ['netns', 'exec', ns('h1'), 'iperf3', '-c', '10.2.0.10', '-n', '20M', '-J', '--connect-timeout', '3000'],
      { encoding: 'utf8', timeout: 30_000 });
    srv.kill('SIGKILL');
    const j = JSON.parse(r.stdout || '{}') as { end?: { sum_received?: { bytes: number; bits_per_second: number } }; error?: string };
    assert.is(j.error, undefined, `iperf3: ${r.stderr}`);
    // iperf3's receiver total is taken when the sender has sent its 20 MB, possibly before all arrived.
    assert.ok((j.end?.sum_received?.bytes ?? 0) >= 1e6, `received ${j.end?.sum_received?.bytes} bytes`);
    console.log(JSON.stringify({ mode, overlayTcpBitsPerSecond: Math.round(j.end!.sum_received!.bits_per_second) }));
  });
  test(`${mode}: clean-up`, () => teardown(mode));
}

test.run();
