/**
 * bench/bgp-fib.ts — how fast BGP routes reach (and leave) an edge's kernel FIB through the agent's route
 * merge, against the kernel floor measured in the same run.
 *
 * The bgp-edge lab (labs/bgp-edge) with the BIRD router originating N extra static prefixes (default 5000,
 * 10.128.0.0/24 upwards). After the session is up and the table installed, BIRD's session is disabled
 * (`birdc disable peer1`) and re-enabled; measured, polling `ip -j route show proto 250` in the edge every
 * 20 ms: withdrawMs (disable → none of the N left), learnMs (enable → all N installed; includes the BGP
 * session set-up and the UPDATE transfer). Baseline: the same N routes written into a scratch table of the
 * edge namespace by one `ip -batch` (ipBatchMs), i.e. the cost of the kernel write alone.
 * The last line is one JSON object with the raw figures.
 *
 * Run: npx tsx bench/bgp-fib.ts [--prefixes 5000]   (root, bird, the netns twin; run `node scripts/build.mjs` first)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { bringUp, prepareLab } from '../controller/cli/twin.ts';
import { getProvider, routerSocket } from '../twin/index.ts';

const { values } = parseArgs({ options: { prefixes: { type: 'string', default: '5000' } } });
const N = Number(values.prefixes);
if (!Number.isInteger(N) || N < 1 || N > 60000) { process.stderr.write('--prefixes: expected 1..60000\n'); process.exit(2); }

const p = getProvider('netns');
const lab = `bgf${process.pid}`;
const prefixes = Array.from({ length: N }, (_, i) => `10.${128 + (i >> 8)}.${i & 255}.0/24`);
const ns = `pt.${lab}.edge1`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const installed = (): number => {
  const out = execFileSync('ip', ['-n', ns, '-j', 'route', 'show', 'proto', '250'], { maxBuffer: 1 << 30 }).toString();
  const mine = new Set(prefixes);
  return (JSON.parse(out || '[]') as { dst: string }[]).filter((r) => mine.has(r.dst)).length;
};
async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
  return performance.now() - t0;
}

let code = 0;
try {
  const prepared = prepareLab('labs/bgp-edge/lab.yaml', { name: lab });
  prepared.lab.nodes.isp!.router!.networks.push(...prefixes);
  const sock = routerSocket(lab, prepared.lab.nodes.isp!);
  await bringUp(p, prepared, { out: new Writable({ write: (_c, _e, cb) => cb() }) });
  await until('initial table installed', () => installed() === N, 60_000);

  execFileSync('birdc', ['-s', sock, 'disable', 'peer1']);
  const withdrawMs = await until('table withdrawn', () => installed() === 0, 60_000);
  execFileSync('birdc', ['-s', sock, 'enable', 'peer1']);
  const learnMs = await until('table re-learned', () => installed() === N, 60_000);

  const batch = prefixes.map((x) => `route replace ${x} via 10.255.0.2 dev wan0 table 4242`).join('\n') + '\n';
  const t0 = performance.now();
  const r = spawnSync('ip', ['-n', ns, '-batch', '-'], { input: batch });
  const ipBatchMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`baseline ip -batch failed: ${r.stderr}`);
  const scratch = execFileSync('ip', ['-n', ns, '-j', 'route', 'show', 'table', '4242'], { maxBuffer: 1 << 30 }).toString();
  if ((JSON.parse(scratch) as unknown[]).length !== N) throw new Error('baseline table incomplete');

  console.log(JSON.stringify({ bench: 'bgp-fib', prefixes: N, withdrawMs: Math.round(withdrawMs), learnMs: Math.round(learnMs), ipBatchMs: Math.round(ipBatchMs), pollMs: 20 }));
} catch (e) {
  process.stderr.write(`bench/bgp-fib: cannot measure: ${(e as Error).message}\n`);
  code = 1;
} finally {
  await p.destroy(lab);
}
process.exit(code);
