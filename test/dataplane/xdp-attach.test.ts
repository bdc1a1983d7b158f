// timeout: 120
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { rmdirSync, rmSync, statSync } from 'node:fs';
import {
  BpfError, BpfObject, detachTc, detachXdp, ensureBpffs, ifindex, isBpfError, perCpuMap, scalar, tcQuery, xdpQuery, type BpfProgram,
} from '../../dataplane/xdp/index.ts';
import { bpfErrorOf, buildFixtures, counterLayout, frame, ip, tag, type Fixtures } from './xdp-fixtures.ts';

const ns = `pt.xdp-${tag}.n1`, ns2 = `pt.xdp-${tag}.n2`;
// The fixture pins pt_last by name: keep it in a directory of our own (libbpf's default is /sys/fs/bpf).
const pinRoot = `/sys/fs/bpf/patronus/pt-xdp-attach-${tag}`;
let fx: Fixtures;
let obj: BpfObject;
let swap: BpfProgram, tcCount: BpfProgram;

const counter = counterLayout;
const hostNetns = () => statSync('/proc/self/ns/net').ino;
let hostIno = 0;

test.before(() => {
  hostIno = hostNetns();
  fx = buildFixtures();
  ensureBpffs();
  // pt-v0 in ns, pt-v1 in ns2, static neighbours: every ping is one frame out of pt-v0 into pt-v1.
  ip('netns', 'add', ns);
  ip('netns', 'add', ns2);
  ip('-n', ns, 'link', 'add', 'pt-v0', 'type', 'veth', 'peer', 'name', 'pt-v1', 'netns', ns2);
  ip('-n', ns, 'addr', 'add', '10.99.0.1/24', 'dev', 'pt-v0');
  ip('-n', ns2, 'addr', 'add', '10.99.0.2/24', 'dev', 'pt-v1');
  for (const [n, d] of [[ns, 'lo'], [ns, 'pt-v0'], [ns2, 'lo'], [ns2, 'pt-v1']] as const) ip('-n', n, 'link', 'set', d, 'up');
  const mac = (n: string, d: string) => (JSON.parse(ip('-j', '-n', n, 'link', 'show', d)) as { address: string }[])[0]!.address;
  ip('-n', ns, 'neigh', 'replace', '10.99.0.2', 'lladdr', mac(ns2, 'pt-v1'), 'dev', 'pt-v0', 'nud', 'permanent');
  ip('-n', ns2, 'neigh', 'replace', '10.99.0.1', 'lladdr', mac(ns, 'pt-v0'), 'dev', 'pt-v1', 'nud', 'permanent');
  obj = BpfObject.open(fx.swap, { pinRoot });
  obj.load();
  swap = obj.program('pt_swap');
  tcCount = obj.program('pt_tc_count');
});
test.after(() => {
  try { obj?.close(); } catch { /* already closed */ }
  for (const n of [ns, ns2]) try { ip('netns', 'del', n); } catch { /* never created */ }
  fx?.cleanup();
  rmSync(pinRoot, { recursive: true, force: true });
  try { rmdirSync('/sys/fs/bpf/patronus'); } catch { /* not empty: someone else's pins */ }
});

/** Packets counted at counters[idx], summed over CPUs. */
function packets(idx: number): bigint {
  return perCpuMap(obj.map('pt_counters'), scalar('u32'), counter).get(idx)!.reduce((a, c) => a + c.packets, 0n);
}

/** Send three ICMP echo requests out of pt-v0 into pt-v1 (their fate does not matter, only their arrival). */
function traffic(): void {
  try {
    execFileSync('ip', ['netns', 'exec', ns, 'ping', '-c', '3', '-i', '0.05', '-W', '0.2', '10.99.0.2'], { stdio: 'ignore' });
  } catch { /* XDP_TX bounces frames, so replies may never come */ }
}

test('looks up interface indexes inside a namespace', () => {
  const idx = ifindex('pt-v1', ns2);
  assert.ok(idx > 1);
  assert.is(ifindex('lo', ns), 1);
  assert.is(hostNetns(), hostIno, 'back in the original namespace');
});

for (const mode of ['native', 'generic'] as const) {
  test(`attaches and detaches XDP in ${mode} mode on a veth inside a namespace, and packets reach it`, () => {
    assert.is(xdpQuery('pt-v1', ns2).mode, 'none');
    swap.attachXdp('pt-v1', { mode, netns: ns2 });
    assert.is(hostNetns(), hostIno, 'back in the original namespace');
    const q = xdpQuery('pt-v1', ns2);
    assert.is(q.mode, mode);
    assert.is(mode === 'native' ? q.nativeProgId : q.genericProgId, swap.id);
    assert.is(bpfErrorOf(() => swap.attachXdp('pt-v1', { mode, netns: ns2, exclusive: true })).code, 'EBUSY');

    const before = packets(0);
    traffic();
    assert.ok(packets(0) >= before + 3n, `the ${mode} XDP program saw the three echo requests`);
    const last = obj.map('pt_last').lookup(Buffer.alloc(4))!;
    assert.is(Number(last.readBigUInt64LE(0)), ifindex('pt-v1', ns2), 'xdp_md.ingress_ifindex is the veth');

    swap.detachXdp('pt-v1', { mode, netns: ns2 });
    assert.is(xdpQuery('pt-v1', ns2).mode, 'none');
    const after = packets(0);
    traffic();
    assert.is(packets(0), after, 'detached: no more packets');
  });
}

test('detaching another program fails; detachXdp removes whatever is attached', () => {
  const other = BpfObject.open(fx.swap, { pinRoot });
  try {
    other.load();
    other.program('pt_swap').attachXdp('pt-v0', { mode: 'generic', netns: ns });
    const e = bpfErrorOf(() => swap.detachXdp('pt-v0', { mode: 'generic', netns: ns }));
    assert.is(e.call, 'bpf_xdp_detach');
    assert.is(e.code, 'EEXIST');
    assert.is(xdpQuery('pt-v0', ns).genericProgId, other.program('pt_swap').id, 'still attached');
    detachXdp('pt-v0', { mode: 'generic', netns: ns });
    assert.is(xdpQuery('pt-v0', ns).mode, 'none');
  } finally {
    other.close();
  }
});

test('attaches and detaches tc programs on clsact ingress and egress inside a namespace', () => {
  assert.is(tcQuery('pt-v0', { direction: 'egress', netns: ns }), undefined);
  tcCount.attachTc('pt-v0', { direction: 'egress', netns: ns });
  tcCount.attachTc('pt-v1', { direction: 'ingress', netns: ns2, priority: 7 });
  assert.is(hostNetns(), hostIno);
  assert.is(tcQuery('pt-v0', { direction: 'egress', netns: ns }), tcCount.id);
  assert.is(tcQuery('pt-v1', { direction: 'ingress', netns: ns2, priority: 7 }), tcCount.id);
  assert.is(tcQuery('pt-v1', { direction: 'ingress', netns: ns2 }), undefined, 'nothing at priority 1');

  const [ing, eg] = [packets(1), packets(2)];
  traffic();
  assert.ok(packets(2) >= eg + 3n, 'egress program saw the three echo requests');
  assert.ok(packets(1) >= ing + 3n, 'ingress program saw the three echo requests');

  assert.is(bpfErrorOf(() => tcCount.attachTc('pt-v0', { direction: 'egress', netns: ns })).code, 'EEXIST');
  tcCount.attachTc('pt-v0', { direction: 'egress', netns: ns, replace: true });
  const other = BpfObject.open(fx.swap, { pinRoot });
  try {
    other.load();
    other.program('pt_tc_count').attachTc('pt-v0', { direction: 'ingress', netns: ns });
    assert.is(bpfErrorOf(() => tcCount.detachTc('pt-v0', { direction: 'ingress', netns: ns })).code, 'EBUSY');
    detachTc('pt-v0', { direction: 'ingress', netns: ns });
    assert.is(tcQuery('pt-v0', { direction: 'ingress', netns: ns }), undefined);
    assert.is(bpfErrorOf(() => detachTc('pt-v0', { direction: 'ingress', netns: ns })).code, 'ENOENT');
  } finally {
    other.close();
  }

  tcCount.detachTc('pt-v0', { direction: 'egress', netns: ns });
  tcCount.detachTc('pt-v1', { direction: 'ingress', netns: ns2, priority: 7 });
  assert.is(tcQuery('pt-v0', { direction: 'egress', netns: ns }), undefined);
  assert.is(bpfErrorOf(() => tcCount.detachTc('pt-v0', { direction: 'egress', netns: ns })).code, 'ENOENT');
  const e2 = packets(2);
  traffic();
  assert.is(packets(2), e2, 'detached: no more packets');
  assert.is(bpfErrorOf(() => tcCount.attachTc('pt-v0', { direction: 'sideways' as 'egress', netns: ns })).code, 'EINVAL');
});

test('an unknown interface is a typed error naming it and the namespace', () => {
  for (const fn of [
    () => swap.attachXdp('pt-nope', { netns: ns }),
    () => swap.detachXdp('pt-nope', { netns: ns }),
    () => tcCount.attachTc('pt-nope', { direction: 'ingress', netns: ns }),
    () => ifindex('pt-nope', ns),
  ]) {
    const e = bpfErrorOf(fn);
    assert.is(e.code, 'ENODEV');
    assert.match(e.message, /no interface "pt-nope" in network namespace "pt\.xdp-/);
    assert.is(hostNetns(), hostIno, 'back in the original namespace after the error');
  }
  // pt-v0 exists only inside the namespace.
  assert.is(bpfErrorOf(() => swap.attachXdp('pt-v0', { mode: 'generic' })).code, 'ENODEV');
  assert.is(bpfErrorOf(() => ifindex('x'.repeat(20))).code, 'EINVAL');
});

test('a missing namespace is a typed error naming it', () => {
  const missing = `pt.xdp-${tag}.missing`;
  for (const fn of [
    () => swap.attachXdp('pt-v0', { netns: missing }),
    () => tcCount.attachTc('pt-v0', { direction: 'egress', netns: missing }),
    () => xdpQuery('lo', missing),
    () => ifindex('lo', missing),
    () => swap.testRun({ data: frame('02:00:00:00:00:02', '02:00:00:00:00:01'), netns: missing }),
  ]) {
    const e = bpfErrorOf(fn);
    assert.is(e.code, 'ENOENT');
    assert.match(e.message, new RegExp(`network namespace "${missing.replace(/\./g, '\\.')}" not found`));
    assert.is(hostNetns(), hostIno);
  }
  assert.is(bpfErrorOf(() => ifindex('lo', '../etc')).code, 'EINVAL');
});

test('test runs with an ingress interface resolve it inside the namespace', () => {
  const idx = ifindex('pt-v1', ns2);
  const r = swap.testRun({ data: frame('02:00:00:00:00:02', '02:00:00:00:00:01'), ingressIfindex: idx, netns: ns });
  assert.is(r.retval, 3);
  assert.is(Number(obj.map('pt_last').lookup(Buffer.alloc(4))!.readBigUInt64LE(0)), idx);
  assert.is(hostNetns(), hostIno);
});

test.run();
