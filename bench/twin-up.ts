/**
 * bench/twin-up.ts — how fast the netns twin comes up and goes away, against mininet in the same run.
 *
 * For labs/scale-50 and labs/scale-200: time from deploy() to every node ready (every edge agent answering
 * on its socket) and time to destroy, 3 runs each, median. Baseline: Debian's mininet building a 50-node
 * topology (linear LinuxBridge chain, a host per switch) inside private net/mount/pid namespaces with a
 * private /tmp, 3 runs, median. Goal: 50 nodes ≤ 10 s, 200 ≤ 40 s on a 2-core machine, and faster than
 * mininet per node. Mininet's nodes are bare shells and the scale labs' edges run agents with the overlay
 * data plane, so the bench also deploys, with the netns provider, a lab of the same size as mininet's
 * (50 plain nodes, 49 links, no agents) to compare the providers like for like.
 * The last line is one JSON object with the raw figures; a run that cannot measure
 * (mininet missing, a deploy failing, a ping failing) exits non-zero without printing figures.
 *
 * Run: npx tsx bench/twin-up.ts [--runs N]
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { getProvider, loadLab, parseLab, type Lab } from '../twin/index.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
const runs = Number(values.runs);
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
const log = (s: string) => process.stderr.write(`${s}\n`);
const p = getProvider('netns');

/** Deploy `lab`, check it forwards with `probe`, destroy; times of the deploy and of the destroy (s). */
async function timedRun(lab: Lab, probe: { node: string; to: string; what: string }): Promise<{ up: number; down: number }> {
  try {
    const t0 = performance.now();
    await p.deploy(lab);
    const up = (performance.now() - t0) / 1000;
    if ((await p.exec(lab.name, probe.node, ['ping', '-c1', '-W2', probe.to])).code !== 0) throw new Error(`${lab.name}: ${probe.what} after deploy`);
    const t1 = performance.now();
    await p.destroy(lab.name);
    return { up, down: (performance.now() - t1) / 1000 };
  } catch (e) {
    await p.destroy(lab.name);
    throw e;
  }
}

const twinRun = (nodes: number, run: number) => timedRun(loadLab(`labs/scale-${nodes}/lab.yaml`, { rename: `bench${nodes}-${process.pid}-${run}` }),
  { node: 'e1', to: '172.16.0.1', what: 'e1 cannot reach the hub over the MPLS cloud' });

/** 50 plain nodes in a chain (49 links): mininet's linear k=25 topology has the same node and link counts. */
function chainLab(name: string): string {
  const n = 50;
  const nodes = Array.from({ length: n }, (_, i) => `    n${i}: { kind: host }`);
  const links = Array.from({ length: n - 1 }, (_, i) =>
    `    - endpoints: [{ node: n${i}, interface: east, ipv4: 10.${Math.floor(i / 64)}.${(i % 64) * 4}.1/30 }, { node: n${i + 1}, interface: west, ipv4: 10.${Math.floor(i / 64)}.${(i % 64) * 4}.2/30 }]`);
  return `name: ${name}\ntopology:\n  nodes:\n${nodes.join('\n')}\n  links:\n${links.join('\n')}\n`;
}

const chainRun = (run: number) => timedRun(parseLab(chainLab(`benchchain-${process.pid}-${run}`), 'chain50.yaml'),
  { node: 'n0', to: '10.0.0.2', what: 'n0 cannot reach n1' });

function mininetRun(nodes: number): { up: number; down: number } {
  const r = spawnSync('unshare', ['--net', '--mount', '--pid', '--fork', '--mount-proc', 'sh', '-c',
    `mount -t tmpfs tmpfs /tmp && /usr/bin/python3 bench/mininet-baseline.py ${nodes}`], { encoding: 'utf8', timeout: 120_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let j: { up_s: number; down_s: number; ping_ok: boolean; nodes: number };
  try { j = JSON.parse(line); } catch { throw new Error(`mininet baseline failed (exit ${r.status}): ${r.stderr.slice(-500)}`); }
  if (!j.ping_ok || j.nodes !== nodes) throw new Error(`mininet baseline: ${line}`);
  return { up: j.up_s, down: j.down_s };
}

const result: Record<string, number | string> = { bench: 'twin-up', runs };
try {
  for (const nodes of [50, 200]) {
    const ups: number[] = [], downs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await twinRun(nodes, i);
      log(`netns ${nodes} nodes run ${i + 1}: up ${r.up.toFixed(2)} s, down ${r.down.toFixed(2)} s`);
      ups.push(r.up); downs.push(r.down);
    }
    result[`nodes${nodes}_s`] = +median(ups).toFixed(3);
    result[`nodes${nodes}_down_s`] = +median(downs).toFixed(3);
    result[`nodes${nodes}_up_runs_s`] = ups.map((x) => x.toFixed(3)).join(',');
  }
  const cups: number[] = [], cdowns: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await chainRun(i);
    log(`netns 50 plain nodes (chain) run ${i + 1}: up ${r.up.toFixed(2)} s, down ${r.down.toFixed(2)} s`);
    cups.push(r.up); cdowns.push(r.down);
  }
  result.netns_plain50_s = +median(cups).toFixed(3);
  result.netns_plain50_down_s = +median(cdowns).toFixed(3);
  const mups: number[] = [], mdowns: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = mininetRun(50);
    log(`mininet 50 nodes run ${i + 1}: up ${r.up.toFixed(2)} s, down ${r.down.toFixed(2)} s`);
    mups.push(r.up); mdowns.push(r.down);
  }
  result.mininet50_s = +median(mups).toFixed(3);
  result.mininet50_down_s = +median(mdowns).toFixed(3);
  result.per_node_ms_netns50 = +((result.nodes50_s as number) * 1000 / 50).toFixed(1);
  result.per_node_ms_netns200 = +((result.nodes200_s as number) * 1000 / 200).toFixed(1);
  result.per_node_ms_mininet50 = +((result.mininet50_s as number) * 1000 / 50).toFixed(1);
  result.per_node_ms_netns_plain50 = +((result.netns_plain50_s as number) * 1000 / 50).toFixed(1);
} catch (e) {
  log(`twin-up: cannot measure: ${(e as Error).message}`);
  process.exit(1);
}
console.log(JSON.stringify(result));
