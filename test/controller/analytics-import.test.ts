// timeout: 120
/**
 * Scenario run files into the controller's analytics store: idempotent by run id, a corrupt or foreign file
 * refused with exit 2 naming it and nothing imported (not even the good files of the same command), and
 * `patronus analytics query` directly on the file when no controller runs. Run files are written by the
 * scenario runner's own RunStore.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { RunStore } from '../../scenarios/index.ts';
import { AnalyticsStore } from '../../controller/analytics/index.ts';
import { isInputError } from '../../dataplane/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'pt-analytics-import-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const cli = (state: string, ...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'controller/cli/main.ts', 'analytics', ...args, '--state', state], { encoding: 'utf8', env: { ...process.env, PATRONUS_TOKEN: '' } });

/** A finished run file with `flows` rows per run, written through the runner's RunStore. */
async function runFile(name: string, runs: { id: string; flows: number; verdict?: string }[]): Promise<string> {
  const file = join(dir, name);
  const s = await RunStore.create(file);
  for (const r of runs) {
    await s.append('runs', [{ run_id: r.id, scenario: `sc-${r.id}`, seed: 1, verdict: r.verdict ?? 'pass', valid: true, exit_code: 0, duration_ms: 1000 }]);
    await s.append('flows', Array.from({ length: r.flows }, (_, i) => ({ run_id: r.id, flow: 'call', class: 'voice', interval: i, t_ms: i * 100, sent: 10, received: 10 - (i % 2), lost: i % 2 })));
    await s.append('events', [{ run_id: r.id, t_ms: 500, fired_ms: 501, kind: 'cut', target: 'isp-a:p1', detail: '{}', error: null }]);
    await s.append('assertions', [{ run_id: r.id, idx: 0, name: 'voice sla', kind: 'sla', target: 'voice', expected: '>= 99%', measured: 0.995, ok: true, detail: '' }]);
  }
  s.close();
  return file;
}

async function counts(a: AnalyticsStore) {
  const r = await a.query('select (select count(*) from runs) runs, (select count(*) from flows) flows, (select count(*) from events) events, (select count(*) from run_imports) imports');
  return r.rows[0] as { runs: number; flows: number; events: number; imports: number };
}

test('importing a run file twice adds its rows once; a file with a known and a new run adds only the new one', async () => {
  const a = await AnalyticsStore.open(join(dir, 'idem.duckdb'));
  try {
    const f1 = await runFile('one.duckdb', [{ id: 'r1', flows: 30 }, { id: 'r2', flows: 12 }]);
    const first = await a.importRun(f1);
    assert.equal(first.runs.map((r) => [r.runId, r.imported, r.rows]), [['r1', true, 1 + 30 + 1 + 1], ['r2', true, 1 + 12 + 1 + 1]]);
    assert.equal(await counts(a), { runs: 2, flows: 42, events: 2, imports: 2 });
    const again = await a.importRun(f1);
    assert.equal(again.runs.map((r) => r.imported), [false, false]);
    assert.equal(await counts(a), { runs: 2, flows: 42, events: 2, imports: 2 });
    const f2 = await runFile('two.duckdb', [{ id: 'r2', flows: 12 }, { id: 'r3', flows: 5 }]);
    const mixed = await a.importRun(f2);
    assert.equal(mixed.runs.map((r) => [r.runId, r.imported]), [['r2', false], ['r3', true]]);
    assert.equal(await counts(a), { runs: 3, flows: 47, events: 3, imports: 3 });
    // The imported rows are the run's rows, column for column.
    const lost = await a.query(`select sum(lost) lost, max("interval") last_interval from flows where run_id = 'r1'`);
    assert.equal(lost.rows[0], { lost: 15, last_interval: 29 });
  } finally { await a.close(); }
});

test('a corrupt file, a foreign DuckDB file and an unfinished run are refused naming the file, and nothing of the batch is imported', async () => {
  const a = await AnalyticsStore.open(join(dir, 'bad.duckdb'));
  try {
    const good = await runFile('good.duckdb', [{ id: 'g1', flows: 3 }]);
    const corrupt = join(dir, 'corrupt.duckdb');
    writeFileSync(corrupt, randomBytes(64 * 1024));
    const foreign = join(dir, 'foreign.duckdb');
    const inst = await DuckDBInstance.create(foreign);
    const c = await inst.connect();
    await c.run('create table measurements (t double, v double)');
    c.closeSync(); inst.closeSync();
    const unfinished = await runFile('unfinished.duckdb', [{ id: 'u1', flows: 2, verdict: 'running' }]);
    for (const [file, why] of [[corrupt, /not a DuckDB database file/], [foreign, /not a Patronus scenario run file: it has no table "runs" \(tables: measurements\)/], [unfinished, /run u1 is unfinished/]] as const) {
      try {
        await a.importRuns([good, file]);
        assert.unreachable(`${file} was imported`);
      } catch (e) {
        assert.ok(isInputError(e), String(e));
        assert.ok((e as Error).message.startsWith(file), (e as Error).message);
        assert.match((e as Error).message, why);
      }
      assert.equal(await counts(a), { runs: 0, flows: 0, events: 0, imports: 0 }, `after ${file}`);
    }
    await a.importRuns([good]);
    assert.equal((await counts(a)).runs, 1);
  } finally { await a.close(); }
});

test('a viewer-style query may only read: other statements and file access are refused', async () => {
  const a = await AnalyticsStore.open(join(dir, 'ro.duckdb'));
  try {
    await a.importRun(await runFile('ro-run.duckdb', [{ id: 'x1', flows: 1 }]));
    assert.equal((await a.query('select count(*) n from runs', { readOnlyStatements: true })).rows, [{ n: 1 }]);
    for (const [sql, why] of [['delete from runs', /only SELECT/], ['select 1; select 2', /exactly one SQL statement/], ["copy runs to '/tmp/pt-x.csv'", /disabled by configuration|only SELECT/],
      ["select * from read_csv('/etc/passwd')", /disabled by configuration/], ["attach '/tmp/pt-y.duckdb' as y", /only SELECT/]] as const) {
      try { await a.query(sql, { readOnlyStatements: true }); assert.unreachable(sql); } catch (e) { assert.match((e as Error).message, why, sql); }
    }
    assert.equal((await a.query('select count(*) n from runs')).rows, [{ n: 1 }]);
    const big = await a.query('select * from range(20)', { maxRows: 5 });
    assert.is(big.rows.length, 5);
    assert.ok(big.truncated);
  } finally { await a.close(); }
});

test('patronus analytics import is idempotent, exits 2 on a corrupt file creating nothing, and query reads the store', async () => {
  const state = join(dir, 'state');
  const corrupt = join(dir, 'corrupt-cli.duckdb');
  writeFileSync(corrupt, 'not a database at all\n'.repeat(100));
  const bad = cli(state, 'import', corrupt);
  assert.is(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, new RegExp(`^${corrupt}: \\(top level\\): not a DuckDB database file`));
  const missing = cli(state, 'import', join(dir, 'nope.duckdb'));
  assert.is(missing.status, 2, missing.stderr);
  assert.match(missing.stderr, /no such run file/);
  const f = await runFile('cli-run.duckdb', [{ id: 'c1', flows: 7 }, { id: 'c2', flows: 3 }]);
  const one = cli(state, 'import', f, '--json');
  assert.is(one.status, 0, one.stderr);
  assert.equal(JSON.parse(one.stdout)[0].runs.map((r: { imported: boolean }) => r.imported), [true, true]);
  const two = cli(state, 'import', f);
  assert.is(two.status, 0, two.stderr);
  assert.match(two.stdout, /c1\s+sc-c1\s+already there/);
  const q = cli(state, 'query', 'select run_id, count(*) n from flows group by 1 order by 1', '--json');
  assert.is(q.status, 0, q.stderr);
  assert.equal(JSON.parse(q.stdout), { columns: ['run_id', 'n'], rows: [{ run_id: 'c1', n: 7 }, { run_id: 'c2', n: 3 }], truncated: false });
  const text = cli(state, 'query', 'select scenario, verdict from runs order by 1');
  assert.is(text.stdout, 'SCENARIO  VERDICT\nsc-c1     pass\nsc-c2     pass\n');
  const err = cli(state, 'query', 'select nope from runs');
  assert.is(err.status, 1);
  assert.match(err.stderr, /nope/);
  assert.ok(existsSync(join(state, 'analytics.duckdb')));
});

test.run();
