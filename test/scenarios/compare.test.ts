// timeout: 30
// Spreads across seeds and baseline-vs-candidate comparison (scenarios/compare.ts): medians, ranges, deltas,
// and whether a delta exceeds the run-to-run noise; seeds continued past the scenario's list.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compareMarkdown, compareRuns, seedList, seedSpread, spread, type Metric } from '../../scenarios/index.ts';

const sla = (v: number | null, ok: boolean): Metric => ({ key: 'assert:0', label: 'voice keeps its SLA', unit: 'fraction', value: v, ok });
const gap = (v: number): Metric => ({ key: 'flow:call:gap', label: 'call longest silence', unit: 'ms', value: v });

test('a spread is min, median and max of the measured values; nothing measured gives nulls', () => {
  assert.equal(spread([3, null, 1, 2]), { n: 3, min: 1, median: 2, max: 3 });
  assert.equal(spread([4, 1, 2, 3]), { n: 4, min: 1, median: 2.5, max: 4 });
  assert.equal(spread([null, Number.NaN]), { n: 0, min: null, median: null, max: null });
});

test('runs across seeds reduce to one row per metric with the runs an assertion held in', () => {
  const rows = seedSpread([[sla(0.9, true), gap(300)], [sla(0.7, false), gap(500)], [sla(0.95, true), gap(200)]]);
  assert.equal(rows.map((r) => [r.key, r.spread, r.ok, r.runs]), [
    ['assert:0', { n: 3, min: 0.7, median: 0.9, max: 0.95 }, 2, 3],
    ['flow:call:gap', { n: 3, min: 200, median: 300, max: 500 }, undefined, 3],
  ]);
});

test('a delta beyond the larger seed range is beyond noise, one within it is not, one seed gives no verdict', () => {
  const base = [[sla(0.5, false), gap(5000)], [sla(0.6, false), gap(5200)], [sla(0.55, false), gap(4000)]];
  const cand = [[sla(0.95, true), gap(4800)], [sla(1, true), gap(4500)], [sla(0.9, true), gap(5100)]];
  const [s, g] = compareRuns(base, cand);
  assert.is(s!.key, 'assert:0');
  assert.ok(Math.abs(s!.delta! - 0.4) < 1e-9, String(s!.delta));
  assert.ok(Math.abs(s!.noise! - 0.1) < 1e-9, String(s!.noise));
  assert.is(s!.beyondNoise, true);
  assert.equal([s!.baseOk, s!.candOk, s!.baseRuns, s!.candRuns], [0, 3, 3, 3]);
  // Silence: medians 5000 → 4800 (−200) against a range of 1200 on the baseline side.
  assert.equal([g!.delta, g!.noise, g!.beyondNoise], [-200, 1200, false]);
  const one = compareRuns([[gap(5000)]], [[gap(100)]]);
  assert.equal([one[0]!.delta, one[0]!.noise, one[0]!.beyondNoise], [-4900, 0, null]);
});

test('a metric only one side measured has no delta', () => {
  const [r] = compareRuns([[sla(null, false)]], [[sla(0.9, true)], [sla(0.8, true)]]);
  assert.equal([r!.base.n, r!.cand.n, r!.delta, r!.beyondNoise, r!.baseOk, r!.candOk], [0, 2, null, null, 0, 2]);
});

test('the Markdown table shows both sides with spreads, the signed delta and the noise verdict', () => {
  const md = compareMarkdown(compareRuns([[sla(0.5, false)], [sla(0.6, false)]], [[sla(1, true)], [sla(0.9, true)]]), { base: 'old.yaml', cand: 'new.yaml' });
  assert.match(md, '| metric | baseline `old.yaml` | candidate `new.yaml` | delta | beyond noise |');
  assert.match(md, '| voice keeps its SLA | 55% (50%…60%) — held 0/2 | 95% (90%…100%) — held 2/2 | +40% | **yes** (noise 10%) |');
});

test('seeds come from the scenario, then continue after its largest', () => {
  assert.equal(seedList([1], 3), [1, 2, 3]);
  assert.equal(seedList([5, 2, 9], 2), [5, 2]);
  assert.equal(seedList([5, 2, 9], 5), [5, 2, 9, 10, 11]);
});

test.run();
