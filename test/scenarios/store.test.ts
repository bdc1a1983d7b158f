// The run's DuckDB file (scenarios/store.ts): rows through the appender, reopened and queried, several run
// files queried together, and assertions judged by SQL over hand-made flows and gaps rows.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore, queryRuns, evaluateAssertions, loadScenario, type Row } from '../../scenarios/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'pt-scenario-store-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Per-interval voice rows: `lost[i]` packets of 50 lost in interval i, p95 latency `lat[i]` ms. */
function voiceRows(runId: string, lost: number[], lat: number[]): Row[] {
  return lost.map((l, i) => ({ run_id: runId, flow: 'call', class: 'voice', profile: 'voice', interval: i, t_ms: i * 1000, active: true, sent: 50, received: 50 - l, lost: l,
    duplicates: 0, lat_p50_ms: lat[i]! / 2, lat_p95_ms: lat[i], lat_p99_ms: lat[i], jitter_ms: 1, max_gap_ms: 20, goodput_bps: null }));
}

test('rows written through the appender read back after the file is reopened, more than one chunk of them', async () => {
  const f = join(dir, 'a.duckdb');
  let s = await RunStore.create(f);
  const rows: Row[] = Array.from({ length: 5000 }, (_, i) => ({ run_id: 'r1', t_ms: i, metric: i % 2 ? 'load1' : 'procs_running', value: i / 10 }));
  await s.append('overload', rows);
  await s.append('events', [{ run_id: 'r1', t_ms: 6000, fired_ms: 6002.5, kind: 'cut', target: 'mpls:p2', detail: '', error: null }]);
  await s.append('counters', [{ run_id: 'r1', t_ms: 1, node: 'edge1', path_id: 2, class_id: 1, dir: 'tx', packets: 2 ** 40, bytes: 3 }]);
  s.close();
  s = await RunStore.create(f);
  assert.equal(await s.query('select count(*) as n, sum(value) as v from overload'), [{ n: 5000, v: rows.reduce((a, r) => a + Number(r.value), 0) }]);
  assert.equal(await s.query('select kind, target, fired_ms, error from events'), [{ kind: 'cut', target: 'mpls:p2', fired_ms: 6002.5, error: null }]);
  assert.equal((await s.query('select packets from counters'))[0], { packets: 2 ** 40 });
  s.close();
});

test('a query spans several run files, each table a union over them', async () => {
  for (const [i, verdict] of ['pass', 'fail'].entries()) {
    const s = await RunStore.create(join(dir, `run${i}.duckdb`));
    await s.append('runs', [{ run_id: `r${i}`, scenario: 'isp-cut', verdict, seed: 1 }]);
    await s.append('flows', voiceRows(`r${i}`, [0, i * 5], [10, 20]));
    s.close();
  }
  const r = await queryRuns('select verdict, sum(lost) as lost from runs join flows using (run_id) group by verdict order by verdict', [join(dir, 'run0.duckdb'), join(dir, 'run1.duckdb')]);
  assert.equal(r.columns, ['verdict', 'lost']);
  assert.equal(r.rows, [{ verdict: 'fail', lost: 5 }, { verdict: 'pass', lost: 0 }]);
  try {
    await queryRuns('select 1', [join(dir, 'missing', 'x.duckdb')]);
    assert.unreachable('a missing run file is an error');
  } catch (e) {
    assert.match((e as Error).message, 'x.duckdb: cannot open as a DuckDB run file');
  }
});

test('assertions are judged by SQL over the flows and gaps tables', async () => {
  const scenario = loadScenario('scenarios/isp-cut.yaml');
  const s = await RunStore.create(join(dir, 'judge.duckdb'));
  // 20 intervals: two lose 10 packets, one has 200 ms p95 latency → 17 of 20 within the voice SLA (85 %).
  const lost = Array.from({ length: 20 }, (_, i) => (i === 6 || i === 7 ? 10 : 0));
  const lat = Array.from({ length: 20 }, (_, i) => (i === 12 ? 200 : 10));
  await s.append('flows', voiceRows('r', lost, lat));
  await s.append('flows', Array.from({ length: 20 }, (_, i) => ({ run_id: 'r', flow: 'backup', class: 'bulk', profile: 'bulk', interval: i, t_ms: i * 1000, active: true,
    sent: 0, received: 0, lost: 0, goodput_bps: i < 10 ? 2e6 : 0 })));
  await s.append('gaps', [{ run_id: 'r', flow: 'call', class: 'voice', start_ms: 6000, end_ms: 6450, gap_ms: 450, lost: 20 }]);
  const r = await evaluateAssertions(s, 'r', scenario);
  s.close();
  assert.equal(r.map((a) => [a.kind, a.ok, a.measured]), [['sla', true, 0.85], ['failoverGap', true, 450], ['loss', true, 20 / 1000], ['goodput', true, 1e6]]);
  const s2 = await RunStore.create(join(dir, 'judge2.duckdb'));
  await s2.append('flows', voiceRows('r', lost.map((l) => l + 1), lat));
  await s2.append('gaps', [{ run_id: 'r', flow: 'call', class: 'voice', start_ms: 6000, end_ms: 9500, gap_ms: 3500, lost: 175 }]);
  const r2 = await evaluateAssertions(s2, 'r', scenario);
  s2.close();
  assert.equal(r2.map((a) => [a.kind, a.ok]), [['sla', false], ['failoverGap', false], ['loss', true], ['goodput', false]]);
  assert.is(r2[0]!.measured, 0, 'every interval loses 1 of 50 (2 %) > the 1 % of the voice class');
  assert.match(r2[3]!.detail, 'none', 'no bulk rows: no goodput');
});

test.run();
