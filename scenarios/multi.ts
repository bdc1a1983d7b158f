/**
 * Several runs of one scenario: `--seeds N` (the same intent on N lab seeds, each metric with its spread)
 * and `--baseline INTENT` (old and new intent on the same seeds, interleaved seed by seed so slow drift of
 * the host hits both alike, compared metric by metric in compare.ts). Each run boots its own lab and writes
 * its own DuckDB file into one folder, with a Markdown report beside them.
 *
 * Example:
 *   const m = await runSeries('scenarios/isp-cut.yaml', { seeds: 3, dir: 'runs/isp-cut-3' });
 *   m.verdict       // → 'pass' when every seed passed (suiteVerdict over the runs)
 *   m.report        // → runs/isp-cut-3/report.md
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadScenario } from './load.ts';
import { runScenario, type RunOptions, type RunResult } from './runner.ts';
import { suiteVerdict } from './report.ts';
import { compareMarkdown, compareRuns, fmtMetric, seedList, seedSpread, spreadText, type CompareRow, type SpreadRow } from './compare.ts';

export interface SeriesOptions extends Omit<RunOptions, 'seed' | 'out'> {
  /** How many seeds (default 1): the scenario's `seeds`, continued with the next integers. */
  seeds?: number;
  /** Old intent to compare against (`--baseline`); the candidate is `intent` or the scenario's own. */
  baseline?: string;
  /** Folder for the run files and report.md; default runs/<scenario>-<time>/. */
  dir?: string;
}

export interface SeriesResult {
  dir: string;
  /** Markdown report path. */
  report: string;
  seeds: number[];
  /** The candidate's runs (the intent judged), one per seed. */
  runs: RunResult[];
  /** The baseline's runs when `baseline` was given. */
  baselineRuns?: RunResult[];
  /** Metrics of the candidate across seeds. */
  spread: SpreadRow[];
  /** Baseline vs candidate when `baseline` was given. */
  compare?: CompareRow[];
  /** The candidate's verdict over its seeds: any failed seed fails, else any invalid seed makes it invalid. */
  verdict: 'pass' | 'fail' | 'invalid';
  exitCode: 0 | 1 | 3;
  /** Plain-text summary: per seed verdicts, then spreads or the comparison. */
  summary: string;
}

/** Run a scenario over N seeds, optionally against a baseline intent; see the module comment. */
export async function runSeries(file: string, opts: SeriesOptions = {}): Promise<SeriesResult> {
  const s = loadScenario(file, { intent: opts.intent });
  if (opts.baseline) loadScenario(file, { intent: opts.baseline });
  const seeds = seedList(s.doc.seeds, opts.seeds ?? 1);
  const dir = resolve(opts.dir ?? `runs/${s.name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  const log = opts.log ?? (() => {});
  const runs: RunResult[] = [], baselineRuns: RunResult[] = [];
  for (const seed of seeds) {
    for (const side of opts.baseline ? (['baseline', 'candidate'] as const) : (['candidate'] as const)) {
      if (opts.signal?.aborted) break;
      const intent = side === 'baseline' ? opts.baseline : opts.intent;
      log(`== ${opts.baseline ? `${side} ` : ''}seed ${seed}`);
      const r = await runScenario(file, { ...opts, intent, seed, out: join(dir, `${opts.baseline ? `${side}-` : ''}seed${seed}.duckdb`) });
      (side === 'baseline' ? baselineRuns : runs).push(r);
      log(`   ${r.verdict.toUpperCase()}${r.invalidReasons.length ? ` (${r.invalidReasons.join('; ')})` : ''}`);
    }
  }
  // Only trustworthy runs count towards spreads and deltas: an overloaded run measured the host, not the intent.
  const valid = (rs: RunResult[]) => rs.filter((r) => r.verdict !== 'invalid').map((r) => r.metrics);
  const spread = seedSpread(valid(runs));
  const compare = opts.baseline ? compareRuns(valid(baselineRuns), valid(runs)) : undefined;
  const v = suiteVerdict(runs);
  const candName = opts.intent ?? s.intentFile ?? 'scenario intent';
  const lines = [`scenario ${s.name}, ${seeds.length} seed${seeds.length > 1 ? 's' : ''} (${seeds.join(', ')}): ${v.verdict.toUpperCase()}`];
  const perSeed = (rs: RunResult[]) => rs.map((r) => `seed ${r.seed} ${r.verdict.toUpperCase()}`).join(', ');
  if (opts.baseline) lines.push(`  baseline ${opts.baseline}: ${perSeed(baselineRuns)}`, `  candidate ${candName}: ${perSeed(runs)}`);
  else lines.push(`  ${perSeed(runs)}`);
  for (const r of [...baselineRuns, ...runs]) if (r.invalidReasons.length) lines.push(`  seed ${r.seed} not trustworthy: ${r.invalidReasons.join('; ')}`);
  if (compare) {
    lines.push('baseline → candidate (median; delta; beyond run-to-run noise?):');
    for (const c of compare) {
      const held = c.baseOk !== undefined ? ` [held ${c.baseOk}/${c.baseRuns} → ${c.candOk}/${c.candRuns}]` : '';
      lines.push(`  ${c.label}${held}: ${fmtMetric(c.base.median, c.unit)} → ${fmtMetric(c.cand.median, c.unit)}; delta ${c.delta === null ? '-' : fmtMetric(c.delta, c.unit)}; ${c.beyondNoise === null ? 'noise unknown' : c.beyondNoise ? `BEYOND noise ${fmtMetric(c.noise, c.unit)}` : `within noise ${fmtMetric(c.noise, c.unit)}`}`);
    }
  } else {
    lines.push('across seeds (min, median, max):', ...spreadText(spread));
  }
  const summary = lines.join('\n') + '\n';
  const md = [`# ${s.name}: ${v.verdict.toUpperCase()}`, '', `Seeds ${seeds.join(', ')}; run files in this folder.`, ''];
  if (compare) md.push(`Baseline \`${opts.baseline}\` vs candidate \`${candName}\`. Noise is the larger min…max range across seeds of the two sides; a delta beyond it is a change the seeds alone do not explain.`, '', compareMarkdown(compare, { base: opts.baseline!, cand: candName }));
  else md.push('| metric | held | min | median | max |', '| --- | --- | --- | --- | --- |',
    ...spread.map((r) => `| ${r.label.replace(/\|/g, '\\|')} | ${r.ok !== undefined ? `${r.ok}/${r.runs}` : ''} | ${fmtMetric(r.spread.min, r.unit)} | ${fmtMetric(r.spread.median, r.unit)} | ${fmtMetric(r.spread.max, r.unit)} |`), '');
  for (const r of [...baselineRuns, ...runs]) {
    md.push(`## ${r.file.split('/').pop()}: ${r.verdict.toUpperCase()}`, '', '```', r.summary.trimEnd(), '```', '');
    if (r.charts) md.push(...r.charts.files.map((f) => `![${f.split('/').pop()}](${f.split('/').pop()})`), '', r.charts.legend, '');
  }
  const report = join(dir, 'report.md');
  writeFileSync(report, md.join('\n'));
  return { dir, report, seeds, runs, baselineRuns: opts.baseline ? baselineRuns : undefined, spread, compare, ...v, summary };
}
