// timeout: 120
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  BpfError, BpfMap, BpfObject, XDP, ensureBpffs, isBpfError, perCpuMap, possibleCpus, scalar, struct, typedMap, unpin,
} from '../../dataplane/xdp/index.ts';
import { bpfErrorOf, buildFixtures, counterLayout, flowKeyLayout, frame, openFds, tag, type Fixtures } from './xdp-fixtures.ts';

let fx: Fixtures;
const pinDir = `/sys/fs/bpf/patronus/pt-xdp-test-${tag}`;

test.before(() => {
  fx = buildFixtures();
  ensureBpffs();
});
test.after(() => {
  rmSync(pinDir, { recursive: true, force: true });
  try { rmdirSync('/sys/fs/bpf/patronus'); } catch { /* not empty: someone else's pins */ }
  fx?.cleanup();
});

const counter = counterLayout;
const flowKey = flowKeyLayout;

test('swaps the Ethernet addresses and returns XDP_TX in a test run', () => {
  const obj = BpfObject.open(fx.swap, { pinRoot: join(pinDir, 'default') });
  try {
    obj.load();
    assert.equal(obj.programs(), ['pt_swap', 'pt_tc_count']);
    const prog = obj.program('pt_swap');
    assert.ok(prog.fd > 2);
    assert.ok(prog.id > 0);
    const input = frame('02:00:00:00:00:02', '02:00:00:00:00:01');
    const r = prog.testRun({ data: input });
    assert.is(r.retval, XDP.TX);
    assert.is(r.data.length, input.length);
    assert.equal([...r.data.subarray(0, 12)], [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
    assert.ok(r.data.subarray(12).equals(input.subarray(12)), 'the rest of the frame is untouched');
  } finally {
    obj.close();
  }
});

test('load-time constants change the program before load and are frozen after it', () => {
  const obj = BpfObject.open(fx.swap, { pinRoot: join(pinDir, 'default') });
  try {
    assert.equal(obj.consts(), [{ name: 'cfg_verdict', size: 4 }]);
    obj.setConst('cfg_verdict', XDP.PASS);
    assert.match(bpfErrorOf(() => obj.setConst('cfg_nope', 1)).message, /no load-time constant "cfg_nope".*known: cfg_verdict/);
    assert.match(bpfErrorOf(() => obj.setConst('cfg_verdict', Buffer.alloc(2))).message, /is 4 bytes, got 2/);
    assert.is(bpfErrorOf(() => obj.setConst('cfg_verdict', -1)).code, 'EINVAL');
    obj.load();
    assert.is(obj.program('pt_swap').testRun({ data: frame('02:00:00:00:00:02', '02:00:00:00:00:01') }).retval, XDP.PASS);
    assert.is(bpfErrorOf(() => obj.setConst('cfg_verdict', XDP.TX)).code, 'EBUSY');
  } finally {
    obj.close();
  }
});

test('test input shorter than an Ethernet header is a typed error, not a crash', () => {
  const obj = BpfObject.open(fx.swap, { pinRoot: join(pinDir, 'default') });
  try {
    obj.load();
    // The kernel refuses XDP test input below ETH_HLEN.
    const e = bpfErrorOf(() => obj.program('pt_swap').testRun({ data: Buffer.alloc(10) }));
    assert.is(e.call, 'bpf_prog_test_run_opts');
    assert.is(e.code, 'EINVAL');
  } finally {
    obj.close();
  }
});

test('counts test runs in a per-CPU array and reads every CPU', () => {
  const obj = BpfObject.open(fx.swap, { pinRoot: join(pinDir, 'default') });
  try {
    obj.load();
    const m = obj.map('pt_counters');
    assert.ok(m.perCpu);
    assert.is(m.keySize, 4);
    assert.is(m.valueSize, 16);
    assert.is(m.maxEntries, 4);
    assert.is(m.typeName, 'percpu_array');
    assert.is(m.valueBytes, 16 * possibleCpus());
    const pkt = frame('02:00:00:00:00:02', '02:00:00:00:00:01', 86);
    obj.program('pt_swap').testRun({ data: pkt, repeat: 7 });
    obj.program('pt_swap').testRun({ data: pkt });
    const counters = perCpuMap(m, scalar('u32'), counter);
    const perCpu = counters.get(0)!;
    assert.is(perCpu.length, possibleCpus());
    const total = perCpu.reduce((a, c) => ({ packets: a.packets + c.packets, bytes: a.bytes + c.bytes }), { packets: 0n, bytes: 0n });
    assert.equal(total, { packets: 8n, bytes: 8n * BigInt(pkt.length) });
    assert.equal(counters.get(1)!.map((c) => c.packets), new Array(possibleCpus()).fill(0n));
    // Writes reach every CPU's slot.
    counters.setPerCpu(3, Array.from({ length: possibleCpus() }, (_, i) => ({ packets: BigInt(i + 1), bytes: 100n })));
    assert.equal(counters.get(3)!.map((c) => c.packets), Array.from({ length: possibleCpus() }, (_, i) => BigInt(i + 1)));
    assert.is(counters.entries().length, 4, 'array maps list every index');
  } finally {
    obj.close();
  }
});

test('creates, reads, updates, iterates and deletes hash map entries', () => {
  const obj = BpfObject.open(fx.swap, { pinRoot: join(pinDir, 'default') });
  try {
    obj.load();
    const m = obj.map('pt_flows');
    assert.is(m.keySize, 16);
    assert.not.ok(m.perCpu);
    const flows = typedMap(m, flowKey, scalar('u64'));
    const key = (i: number) => ({ saddr: `10.0.${i >> 8}.${i & 255}`, daddr: '192.0.2.1', sport: 1000 + i, dport: 443, proto: 6 });
    assert.is(flows.get(key(1)), undefined);
    for (let i = 0; i < 300; i++) flows.set(key(i), BigInt(i * 10), 'noexist');
    assert.is(flows.get(key(7)), 70n);
    assert.is(bpfErrorOf(() => flows.set(key(7), 1n, 'noexist')).code, 'EEXIST');
    assert.is(bpfErrorOf(() => flows.set(key(999), 1n, 'exist')).code, 'ENOENT');
    flows.set(key(7), 71n, 'exist');
    assert.is(flows.get(key(7)), 71n);
    // The raw bytes are in network order where the header says so.
    const raw = flowKey.encode(key(7));
    assert.equal([...raw.subarray(0, 4)], [10, 0, 0, 7]);
    assert.is(raw.readUInt16BE(8), 1007);
    assert.ok(m.lookup(raw)!.readBigUInt64LE(0) === 71n);
    const keys = flows.keys();
    assert.is(keys.length, 300);
    assert.equal(new Set(keys.map((k) => k.sport)).size, 300);
    const entries = flows.entries();
    assert.is(entries.length, 300);
    for (const [k, v] of entries) assert.is(v, BigInt((k.sport - 1000) * 10 + (k.sport === 1007 ? 1 : 0)));
    assert.ok(flows.delete(key(7)));
    assert.not.ok(flows.delete(key(7)), 'a second delete reports absence');
    assert.is(m.entries().length, 299);
    assert.is(m.keys().length, 299);
  } finally {
    obj.close();
  }
});

test('lists the entries of a map type without batch operations (LPM trie) by iteration', () => {
  const obj = BpfObject.open(fx.swap, { pinRoot: join(pinDir, 'default') });
  try {
    obj.load();
    const lpmKey = struct('pt_test_lpm_key', { prefixlen: 'u32', addr: 'ipv4' });
    const lpm = typedMap(obj.map('pt_lpm'), lpmKey, scalar('u32'));
    lpm.set({ prefixlen: 8, addr: '10.0.0.0' }, 1);
    lpm.set({ prefixlen: 16, addr: '10.1.0.0' }, 2);
    lpm.set({ prefixlen: 24, addr: '192.0.2.0' }, 3);
    // A lookup of a full-length key finds the longest match.
    assert.is(lpm.get({ prefixlen: 32, addr: '10.1.2.3' }), 2);
    assert.is(lpm.get({ prefixlen: 32, addr: '10.9.9.9' }), 1);
    assert.is(lpm.get({ prefixlen: 32, addr: '172.16.0.1' }), undefined);
    const all = lpm.entries().map(([k, v]) => `${k.addr}/${k.prefixlen}=${v}`).sort();
    assert.equal(all, ['10.0.0.0/8=1', '10.1.0.0/16=2', '192.0.2.0/24=3']);
  } finally {
    obj.close();
  }
});

test('rejects keys and values of the wrong size with a typed error', () => {
  const obj = BpfObject.open(fx.swap, { pinRoot: join(pinDir, 'default') });
  try {
    obj.load();
    const m = obj.map('pt_flows');
    const e = bpfErrorOf(() => m.lookup(Buffer.alloc(3)));
    assert.is(e.code, 'EINVAL');
    assert.match(e.message, /key is 3 bytes, the map expects 16/);
    assert.match(bpfErrorOf(() => m.update(Buffer.alloc(16), Buffer.alloc(4))).message, /value is 4 bytes, the map expects 8/);
    assert.match(bpfErrorOf(() => typedMap(m, scalar('u32'), scalar('u64'))).message, /key layout is 4 bytes, the map's keys 16/);
    assert.match(bpfErrorOf(() => typedMap(obj.map('pt_counters'), scalar('u32'), counter)).message, /per-CPU/);
    assert.is(bpfErrorOf(() => obj.map('pt_last').delete(Buffer.alloc(4))).code, 'EINVAL', 'array maps cannot delete');
  } finally {
    obj.close();
  }
});

test('pins maps by name under the pin root, pins programs, and reopens pinned maps', () => {
  const root = join(pinDir, 'root');
  const obj = BpfObject.open(fx.swap, { pinRoot: root });
  try {
    obj.load();
    assert.ok(existsSync(join(root, 'pt_last')), 'LIBBPF_PIN_BY_NAME map pinned at load');
    const k = Buffer.alloc(4);
    obj.map('pt_last').update(k, Buffer.from([42, 0, 0, 0, 0, 0, 0, 0]));
    const pinned = BpfMap.fromPinned(join(root, 'pt_last'));
    assert.is(pinned.name, 'pt_last');
    assert.is(pinned.maxEntries, 8);
    assert.is(pinned.lookup(k)!.readBigUInt64LE(0), 42n);
    pinned.close();
    assert.is(bpfErrorOf(() => pinned.lookup(k)).code, 'EBADF');

    // A second object with the same pin root reuses the pinned map: state survives a reload.
    const again = BpfObject.open(fx.swap, { pinRoot: root });
    again.load();
    assert.is(again.map('pt_last').lookup(k)!.readBigUInt64LE(0), 42n);
    again.close();

    const progPin = join(pinDir, 'progs', 'pt_swap');
    obj.program('pt_swap').pin(progPin);
    assert.ok(existsSync(progPin));
    assert.is(bpfErrorOf(() => BpfMap.fromPinned(progPin)).code, 'EINVAL', 'a pinned program is not a map');
    obj.program('pt_swap').unpin(progPin);
    assert.not.ok(existsSync(progPin));

    obj.map('pt_flows').pin(join(pinDir, 'flows'));
    assert.ok(existsSync(join(pinDir, 'flows')));
    obj.map('pt_flows').unpin(join(pinDir, 'flows'));
    unpin(join(root, 'pt_last'));
    assert.not.ok(existsSync(join(root, 'pt_last')));
    assert.is(bpfErrorOf(() => unpin(join(root, 'pt_last'))).code, 'ENOENT');
    assert.is(bpfErrorOf(() => BpfMap.fromPinned(join(root, 'nothing'))).call, 'bpf_obj_get');
    const notBpffs = bpfErrorOf(() => obj.map('pt_flows').pin('/run/pt-not-bpffs/flows'));
    assert.is(notBpffs.call, 'bpf_obj_pin');
    assert.match(notBpffs.message, /not on a BPF filesystem/);
  } finally {
    obj.close();
  }
});

test('a missing object file is a typed error naming the file', () => {
  const e = bpfErrorOf(() => BpfObject.open(join(fx.dir, 'nope.bpf.o')));
  assert.is(e.call, 'bpf_object__open_file');
  assert.is(e.errno, 2);
  assert.is(e.code, 'ENOENT');
  assert.match(e.message, /nope\.bpf\.o/);
  assert.match(e.log, /failed to open/);
});

test('a file that is not a BPF object is a typed error', () => {
  const junk = join(fx.dir, 'junk.o');
  writeFileSync(junk, 'not an ELF file at all');
  const e = bpfErrorOf(() => BpfObject.open(junk));
  assert.is(e.call, 'bpf_object__open_file');
  assert.ok(e.errno > 0);
});

test('a verifier rejection is a typed error carrying the verifier log', () => {
  const obj = BpfObject.open(fx.reject);
  try {
    const e = bpfErrorOf(() => obj.load());
    assert.is(e.call, 'bpf_object__load');
    assert.ok(e.code === 'EACCES' || e.code === 'EINVAL', e.code);
    assert.match(e.log, /invalid access to packet/);
    assert.match(e.message, /invalid access to packet/);
    assert.match(e.message, /pt_unchecked/);
    assert.is(bpfErrorOf(() => obj.program('pt_unchecked').fd).code, 'EBADF', 'no fd after a failed load');
  } finally {
    obj.close();
  }
});

test('unknown program and map names list the known ones', () => {
  const obj = BpfObject.open(fx.swap, { pinRoot: join(pinDir, 'default') });
  try {
    const p = bpfErrorOf(() => obj.program('pt_nope'));
    assert.is(p.code, 'ENOENT');
    assert.match(p.message, /known: pt_swap, pt_tc_count/);
    const m = bpfErrorOf(() => obj.map('pt_nope'));
    assert.match(m.message, /known: pt_counters, pt_flows, pt_last, pt_lpm, \S+\.rodata\)/);
    assert.match(bpfErrorOf(() => obj.map('pt_flows').fd).message, /not loaded/);
  } finally {
    obj.close();
  }
});

test('handles are unusable after close, with a typed error', () => {
  const obj = BpfObject.open(fx.swap, { pinRoot: join(pinDir, 'default') });
  obj.load();
  const prog = obj.program('pt_swap');
  const m = obj.map('pt_flows');
  obj.close();
  obj.close();
  assert.ok(obj.closed);
  assert.is(bpfErrorOf(() => prog.testRun({ data: Buffer.alloc(64) })).code, 'EBADF');
  assert.is(bpfErrorOf(() => m.keys()).code, 'EBADF');
  assert.is(bpfErrorOf(() => obj.programs()).code, 'EBADF');
  assert.is(bpfErrorOf(() => obj.load()).code, 'EBADF');
});

test('leaks no file descriptors through close() or through garbage collection', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const cycle = (explicit: boolean) => {
    const obj = BpfObject.open(fx.swap, { pinRoot: join(pinDir, 'gc') });
    obj.load();
    obj.program('pt_swap').testRun({ data: frame('02:00:00:00:00:02', '02:00:00:00:00:01') });
    const pinned = BpfMap.fromPinned(join(pinDir, 'gc', 'pt_last'));
    pinned.keys();
    if (explicit) { pinned.close(); obj.close(); }
  };
  cycle(true);
  gc();
  const before = openFds();
  for (let i = 0; i < 20; i++) cycle(true);
  assert.is(openFds(), before, 'close() frees everything');
  for (let i = 0; i < 20; i++) cycle(false);
  const leaked = openFds() - before;
  assert.ok(leaked > 0, 'unclosed handles hold fds until collected');
  // Node runs N-API finalizers after the collection, from the event loop.
  for (let i = 0; i < 20 && openFds() > before; i++) { gc(); await new Promise((r) => setTimeout(r, 10)); }
  assert.is(openFds(), before, 'finalizers free everything');
});

test.run();
