/**
 * bench/xdp-addon.ts — costs of the libbpf addon, each against a baseline measured in the same run.
 *
 * - test run: BPF_PROG_TEST_RUN of the fixture XDP program (swap MACs, XDP_TX) on a 64-byte frame; the
 *   kernel's per-run time (repeat 100000) is the baseline for the wall time of one testRun() call from JS,
 *   so `testrun_call_overhead` = call time / in-kernel time;
 * - map dump: a 10 000-entry hash map read with entries() (one BPF_MAP_LOOKUP_BATCH pass) against the
 *   baseline keys() + one lookup() per key, giving `batch_speedup`;
 * - single-element lookup() and update() wall time per call.
 * Medians of 5 rounds. The last line is one JSON object.
 *
 * Run: npx tsx bench/xdp-addon.ts
 */
import { rmSync } from 'node:fs';
import { BpfObject, ensureBpffs, scalar, typedMap } from '../dataplane/xdp/index.ts';
import { buildFixtures, flowKeyLayout, frame } from '../test/dataplane/xdp-fixtures.ts';

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
const fx = buildFixtures();
ensureBpffs();
const pinRoot = `/sys/fs/bpf/patronus/pt-xdp-bench-${process.pid}`;
const obj = BpfObject.open(fx.swap, { pinRoot });
try {
  obj.load();
  const prog = obj.program('pt_swap');
  const pkt = frame('02:00:00:00:00:02', '02:00:00:00:00:01', 50);
  const kernelNs: number[] = [], callNs: number[] = [];
  for (let r = 0; r < 5; r++) {
    kernelNs.push(prog.testRun({ data: pkt, repeat: 100_000 }).durationNs);
    const n = 20_000, t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) prog.testRun({ data: pkt });
    callNs.push(Number(process.hrtime.bigint() - t0) / n);
  }

  const flows = typedMap(obj.map('pt_flows'), flowKeyLayout, scalar('u64'));
  const m = obj.map('pt_flows');
  // The fixture map holds 1024 entries: fill it and dump it repeatedly to reach 10 000 entries read.
  const keys = Array.from({ length: 1024 }, (_, i) => flowKeyLayout.encode({ saddr: `10.0.${i >> 8}.${i & 255}`, daddr: '192.0.2.1', sport: i, dport: 443, proto: 6 }));
  const value = scalar('u64').encode(1n);
  const updNs: number[] = [], lookNs: number[] = [], batchMs: number[] = [], iterMs: number[] = [];
  for (let r = 0; r < 5; r++) {
    let t0 = process.hrtime.bigint();
    for (const k of keys) m.update(k, value);
    updNs.push(Number(process.hrtime.bigint() - t0) / keys.length);
    t0 = process.hrtime.bigint();
    for (const k of keys) m.lookup(k);
    lookNs.push(Number(process.hrtime.bigint() - t0) / keys.length);
    const rounds = Math.ceil(10_000 / keys.length);
    t0 = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) if (m.entries().length !== keys.length) throw new Error('batch dump lost entries');
    batchMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    t0 = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) { const ks = m.keys(); for (const k of ks) m.lookup(k); }
    iterMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  if (flows.keys().length !== keys.length) throw new Error('map lost entries');
  const kernel = median(kernelNs), call = median(callNs);
  console.log(JSON.stringify({
    bench: 'xdp-addon',
    testrun_kernel_ns_per_pkt: kernel,
    testrun_call_ns: Math.round(call),
    testrun_call_overhead: Number((call / Math.max(kernel, 1)).toFixed(1)),
    map_update_ns: Math.round(median(updNs)),
    map_lookup_ns: Math.round(median(lookNs)),
    dump_10k_batch_ms: Number(median(batchMs).toFixed(2)),
    dump_10k_iterate_ms: Number(median(iterMs).toFixed(2)),
    batch_speedup: Number((median(iterMs) / median(batchMs)).toFixed(1)),
  }));
} finally {
  obj.close();
  rmSync(pinRoot, { recursive: true, force: true });
  fx.cleanup();
}
