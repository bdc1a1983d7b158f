/**
 * Runs across seeds and differential runs (`--seeds N`, `--baseline INTENT`): every run yields the same
 * list of metrics ({@link runMetrics}: each assertion's measured value and per-flow loss, latency, silence,
 * goodput); {@link seedSpread} reduces the runs of one intent to min / median / max per metric, and
 * {@link compareRuns} puts a baseline's and a candidate's spreads side by side with the delta of the
 * medians and whether it exceeds run-to-run noise — the larger of the two min…max ranges across seeds.
 * With one seed per side there is no measure of noise and `beyondNoise` is null. Pure functions except
 * runMetrics, which is SQL over a run file.
 *
 * Example:
 *   const rows = compareRuns(baselineResults, candidateResults);
 *   rows[0]   // → { key: 'assert:0', label: 'voice keeps its SLA', unit: 'fraction',
 *             //     base: { n: 3, min: 0.55, median: 0.6, max: 0.65 }, cand: { n: 3, min: 0.95, median: 1, max: 1 },
 *             //     delta: 0.4, noise: 0.1, beyondNoise: true, baseOk: 0, candOk: 3 }
 */
import type { RunStore } from './store.ts';
import type { AssertionResult } from './runner.ts';

/** What a metric's numbers are: ms, a fraction 0…1, or bit/s. */
export type MetricUnit = 'ms' | 'fraction' | 'bps';

/**
 * One number measured by one run. `key` is stable across runs of the same scenario (`assert:<index>`,
 * `flow:<name>:<what>`); `value` is null when nothing was measured (e.g. no packet arrived).
 */
export interface Metric { key: string; label: string; unit: MetricUnit; value: number | null; ok?: boolean }

/** min / median / max of a metric over the runs that measured it (`n` of them). All null when n = 0. */
export interface Spread { n: number; min: number | null; median: number | null; max: number | null }

/** One metric across the seeds of one intent, and for assertions how many runs held. */
export interface SpreadRow { key: string; label: string; unit: MetricUnit; spread: Spread; ok?: number; runs: number }

/** One metric of a differential run: baseline vs candidate. */
export interface CompareRow {
  key: string;
  label: string;
  unit: MetricUnit;
  base: Spread;
  cand: Spread;
  /** cand.median − base.median; null when either side measured nothing. */
  delta: number | null;
  /** Run-to-run noise: the larger min…max range of the two sides (0 with one seed). */
  noise: number | null;
  /** |delta| > noise; null with fewer than two runs on either side (no measure of noise) or no delta. */
  beyondNoise: boolean | null;
  /** For assertions: runs in which it held, per side. */
  baseOk?: number;
  candOk?: number;
  /** Runs per side. */
  baseRuns: number;
  candRuns: number;
}

/** min / median / max of the non-null values. Example: `spread([3, null, 1, 2])` → `{ n: 3, min: 1, median: 2, max: 3 }`. */
export function spread(values: readonly (number | null)[]): Spread {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return { n: 0, min: null, median: null, max: null };
  const m = v.length >> 1;
  return { n: v.length, min: v[0]!, median: v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2, max: v[v.length - 1]! };
}

/** Reduce runs (each a metric list) to one row per metric key, in first-seen order. */
export function seedSpread(runs: readonly (readonly Metric[])[]): SpreadRow[] {
  const order: string[] = [];
  const by = new Map<string, Metric[]>();
  for (const r of runs) for (const m of r) {
    if (!by.has(m.key)) { by.set(m.key, []); order.push(m.key); }
    by.get(m.key)!.push(m);
  }
  return order.map((key) => {
    const ms = by.get(key)!;
    const row: SpreadRow = { key, label: ms[0]!.label, unit: ms[0]!.unit, spread: spread(ms.map((m) => m.value)), runs: runs.length };
    if (ms.some((m) => m.ok !== undefined)) row.ok = ms.filter((m) => m.ok).length;
    return row;
  });
}

/** Baseline vs candidate, metric by metric (keys of either side; a key one side lacks has n = 0 there). */
export function compareRuns(base: readonly (readonly Metric[])[], cand: readonly (readonly Metric[])[]): CompareRow[] {
  const b = new Map(seedSpread(base).map((r) => [r.key, r]));
  const c = new Map(seedSpread(cand).map((r) => [r.key, r]));
  const keys = [...new Set([...b.keys(), ...c.keys()])];
  const none: Spread = { n: 0, min: null, median: null, max: null };
  return keys.map((key) => {
    const x = b.get(key), y = c.get(key);
    const bs = x?.spread ?? none, cs = y?.spread ?? none;
    const delta = bs.median !== null && cs.median !== null ? cs.median - bs.median : null;
    const range = (s: Spread) => (s.n ? s.max! - s.min! : 0);
    const noise = bs.n && cs.n ? Math.max(range(bs), range(cs)) : null;
    const row: CompareRow = { key, label: (x ?? y)!.label, unit: (x ?? y)!.unit, base: bs, cand: cs, delta, noise, baseRuns: base.length, candRuns: cand.length,
      beyondNoise: delta === null || noise === null || bs.n < 2 || cs.n < 2 ? null : Math.abs(delta) > noise };
    if (x?.ok !== undefined || y?.ok !== undefined) { row.baseOk = x?.ok ?? 0; row.candOk = y?.ok ?? 0; }
    return row;
  });
}

/** The seeds to run: the scenario's list, continued with the next integers after its largest when `n` is longer. Example: `seedList([1, 7], 4)` → `[1, 7, 8, 9]`. */
export function seedList(seeds: readonly number[], n: number): number[] {
  const out = seeds.slice(0, n);
  let next = Math.max(...seeds) + 1;
  while (out.length < n) out.push(next++);
  return out;
}

/** A metric value for people: ms, %, or Mbit/s. */
export function fmtMetric(v: number | null, unit: MetricUnit): string {
  if (v === null) return '-';
  if (unit === 'fraction') return `${+(v * 100).toFixed(2)}%`;
  if (unit === 'bps') return `${+(v / 1e6).toFixed(2)}mbit`;
  return `${+v.toFixed(1)}ms`;
}

const unitOfAssertion = (a: AssertionResult): MetricUnit => (a.kind === 'sla' || a.kind === 'loss' ? 'fraction' : a.kind === 'goodput' ? 'bps' : 'ms');

/** The metrics of one run: every assertion's measured value, then per flow loss, median latency, worst p95, longest silence, goodput (bulk). */
export async function runMetrics(store: RunStore, runId: string, assertions: readonly AssertionResult[]): Promise<Metric[]> {
  const out: Metric[] = assertions.map((a) => ({ key: `assert:${a.idx}`, label: a.name, unit: unitOfAssertion(a), value: a.measured, ok: a.ok }));
  const rows = await store.query(`select flow, profile, sum(sent) as sent, sum(lost) as lost, median(lat_p50_ms) as p50, max(lat_p95_ms) filter (where active) as p95,
      avg(goodput_bps) filter (where active) as goodput, (select coalesce(max(gap_ms), 0) from gaps g where g.run_id = f.run_id and g.flow = f.flow) as gap
    from flows f where run_id = $1 group by all order by flow`, [runId]);
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  for (const r of rows) {
    const f = String(r.flow);
    if (r.profile === 'bulk') out.push({ key: `flow:${f}:goodput`, label: `${f} goodput`, unit: 'bps', value: num(r.goodput) });
    else {
      out.push({ key: `flow:${f}:loss`, label: `${f} loss`, unit: 'fraction', value: num(r.sent) ? Number(r.lost) / Number(r.sent) : null });
      out.push({ key: `flow:${f}:p50`, label: `${f} median latency`, unit: 'ms', value: num(r.p50) });
      out.push({ key: `flow:${f}:p95`, label: `${f} worst interval p95`, unit: 'ms', value: num(r.p95) });
    }
    out.push({ key: `flow:${f}:gap`, label: `${f} longest silence`, unit: 'ms', value: num(r.gap) });
  }
  return out;
}

/** A plain-text table of one intent's runs across seeds: metric, runs held (assertions), min, median, max. */
export function spreadText(rows: readonly SpreadRow[]): string[] {
  return rows.map((r) => `  ${r.label}${r.ok !== undefined ? ` [held ${r.ok}/${r.runs}]` : ''}: min ${fmtMetric(r.spread.min, r.unit)}, median ${fmtMetric(r.spread.median, r.unit)}, max ${fmtMetric(r.spread.max, r.unit)}`);
}

/** A Markdown table of a differential run. */
export function compareMarkdown(rows: readonly CompareRow[], names: { base: string; cand: string }): string {
  const sp = (s: Spread, u: MetricUnit) => (s.n > 1 ? `${fmtMetric(s.median, u)} (${fmtMetric(s.min, u)}…${fmtMetric(s.max, u)})` : fmtMetric(s.median, u));
  const signed = (d: number | null, u: MetricUnit) => (d === null ? '-' : `${d > 0 ? '+' : d < 0 ? '−' : '±'}${fmtMetric(Math.abs(d), u)}`);
  const out = [`| metric | baseline \`${names.base}\` | candidate \`${names.cand}\` | delta | beyond noise |`, '| --- | --- | --- | --- | --- |'];
  for (const r of rows) {
    const held = (ok: number | undefined, runs: number) => (ok === undefined ? '' : ` — held ${ok}/${runs}`);
    out.push(`| ${r.label.replace(/\|/g, '\\|')} | ${sp(r.base, r.unit)}${held(r.baseOk, r.baseRuns)} | ${sp(r.cand, r.unit)}${held(r.candOk, r.candRuns)} | ${signed(r.delta, r.unit)} | ${r.beyondNoise === null ? (r.delta === null ? '-' : 'n/a (1 seed)') : r.beyondNoise ? `**yes** (noise ${fmtMetric(r.noise, r.unit)})` : `no (noise ${fmtMetric(r.noise, r.unit)})`} |`);
  }
  return out.join('\n') + '\n';
}
