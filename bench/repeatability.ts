/**
 * bench/repeatability.ts — how repeatable a scenario's answer is: the same scenario with the same seed run
 * --runs times (default 3) on fresh labs, one after the other; reports each run's per-class SLA compliance
 * (the `sla` assertions' measured share of intervals) and failover gap (each flow's longest silence), and
 * their spread (min / median / max, and max − min). The spread is the run-to-run noise that `--baseline`
 * compares deltas against. Not a unit test; nothing is judged.
 *
 * The last line is one JSON object with the raw figures; exits 1 instead when a run is invalid (the twin
 * could not be trusted, so its figures would measure the host).
 *
 * Run: flock /tmp/pt-heavy.lock npx tsx bench/repeatability.ts [--scenario scenarios/isp-cut.yaml] [--runs 3] [--seed 1]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runScenario, spread, type RunResult } from '../scenarios/index.ts';

const { values } = parseArgs({ options: { scenario: { type: 'string', default: 'scenarios/isp-cut.yaml' }, runs: { type: 'string', default: '3' }, seed: { type: 'string', default: '1' } } });
const runs = Number(values.runs), seed = Number(values.seed);
if (!(Number.isInteger(runs) && runs >= 2 && Number.isInteger(seed) && seed >= 0)) { process.stderr.write('--runs takes an integer ≥ 2, --seed an integer ≥ 0\n'); process.exit(2); }

const dir = mkdtempSync(join(tmpdir(), 'pt-repeat-'));
const load1Before = loadavg()[0]!;
const results: RunResult[] = [];
try {
  for (let i = 0; i < runs; i++) {
    const t = Date.now();
    const r = await runScenario(values.scenario, { seed, out: join(dir, `run${i}.duckdb`), labName: `rp${process.pid}` });
    process.stderr.write(`run ${i + 1}/${runs}: ${r.verdict} in ${((Date.now() - t) / 1000).toFixed(1)} s${r.invalidReasons.length ? ` (${r.invalidReasons.join('; ')})` : ''}\n`);
    results.push(r);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const invalid = results.filter((r) => r.verdict === 'invalid');
if (invalid.length) {
  process.stderr.write(`cannot measure: ${invalid.length} of ${runs} runs invalid: ${invalid.map((r) => r.invalidReasons.join('; ')).join(' | ')}\n`);
  process.exit(1);
}
// Per-class compliance: every sla assertion's measured share; failover gap: every flow's longest silence.
const figures: Record<string, { values: (number | null)[]; min: number | null; median: number | null; max: number | null; range: number | null }> = {};
const keys = results[0]!.metrics.filter((m) => (m.key.startsWith('assert:') && results[0]!.assertions[Number(m.key.slice(7))]?.kind === 'sla') || m.key.endsWith(':gap'));
for (const k of keys) {
  const vs = results.map((r) => r.metrics.find((m) => m.key === k.key)?.value ?? null);
  const s = spread(vs);
  const name = k.key.startsWith('assert:') ? `sla ${results[0]!.assertions[Number(k.key.slice(7))]!.target}` : `gap_ms ${k.key.split(':')[1]}`;
  figures[name] = { values: vs, min: s.min, median: s.median, max: s.max, range: s.n ? s.max! - s.min! : null };
}
for (const [k, f] of Object.entries(figures)) process.stderr.write(`${k}: ${f.values.map((v) => (v === null ? '-' : +v.toFixed(4))).join(', ')} (range ${f.range === null ? '-' : +f.range.toFixed(4)})\n`);
process.stdout.write(JSON.stringify({ bench: 'repeatability', scenario: results[0]!.scenario, runs, seed, verdicts: results.map((r) => r.verdict), figures, load1_before: load1Before, load1_after: loadavg()[0] }) + '\n');
