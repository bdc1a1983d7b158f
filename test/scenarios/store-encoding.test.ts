// timeout: 60
// How RunStore.append writes vectors (scenarios/store.ts): short strings inline from JS memory, long ones
// once per chunk through DuckDB's string heap, numbers as typed arrays, NULLs as validity bits — every
// path checked by reading the rows back, after the file is closed and reopened, against the values given
// and against DuckDB's own per-value appender.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { RunStore, type Row } from '../../scenarios/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'pt-store-encoding-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** Append `rows` to `table` of a fresh run file, close it, reopen it and return `sql`'s rows. */
async function roundTrip(table: Parameters<RunStore['append']>[0], rows: Row[], sql: string): Promise<Record<string, unknown>[]> {
  const f = join(dir, `f${files++}.duckdb`);
  let s = await RunStore.create(f);
  await s.append(table, rows);
  s.close();
  s = await RunStore.create(f);
  try {
    return await s.query(sql);
  } finally {
    s.close();
  }
}

/** What DuckDB's own appender stores for these strings (the reference for UTF-8 edge cases). */
async function bareStrings(values: readonly string[]): Promise<string[]> {
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  try {
    await c.run('create table t (i integer, s varchar)');
    const a = await c.createAppender('t');
    values.forEach((v, i) => { a.appendInteger(i); a.appendVarchar(v); a.endRow(); });
    a.flushSync();
    a.closeSync();
    return (await c.runAndReadAll('select s from t order by i')).getRows().map((r) => r[0] as string);
  } finally {
    c.closeSync();
    inst.closeSync();
  }
}

const ODD = ['', 'a', 'exactly12byt', 'thirteen byte', 'éééééé' /* 12 bytes */, 'ééééééé' /* 14 bytes, 7 units */, '中文字符', '中文字符串' /* 15 bytes */,
  '🙂', '🙂🙂🙂', '🙂🙂🙂🙂' /* 16 bytes */, 'a\0b', 'tab\there', "quote'\"", '\uD800 lone', 'x'.repeat(5000), '6f1c1b9e-0a8e-4c53-9d1e-2b2a4f0d7c11'];

test('odd strings round-trip as DuckDB\'s own appender stores them: empty, 12/13-byte boundary, multi-byte, NUL, lone surrogate, very long', async () => {
  // Each value several times and across a chunk boundary, so first occurrences and reused ones are both read back.
  const values = Array.from({ length: 4100 }, (_, i) => ODD[(i * 7) % ODD.length]!);
  const got = (await roundTrip('events', values.map((v, i) => ({ run_id: v, t_ms: i })), 'select run_id from events order by t_ms')).map((r) => r.run_id);
  assert.equal(got, await bareStrings(values));
  assert.ok(got.includes('\uFFFD lone'), 'a lone surrogate becomes U+FFFD, as with the plain appender');
  assert.equal([...new Set(got.filter((v, i) => v !== values[i]))], ['\uFFFD lone'], 'nothing else differs from the JS value');
});

test('NULL and undefined are NULL in every column type, at word and chunk edges, and a later chunk without NULLs has none', async () => {
  const at = new Set([0, 31, 32, 63, 64, 2047, 2048, 4000]);
  const rows: Row[] = Array.from({ length: 6200 }, (_, i) => at.has(i)
    ? { run_id: 'r', flow: i % 2 ? null : undefined, class: null, interval: null, t_ms: null, active: null, sent: null }
    : { run_id: 'r', flow: `f${i % 3}`, class: 'a-class-name-longer-than-12', interval: i, t_ms: i * 0.5, active: i % 2 === 0, sent: i * 1000 });
  const got = await roundTrip('flows', rows, 'select interval, flow, class, t_ms, active, sent from flows order by rowid');
  assert.is(got.length, rows.length);
  for (const [i, r] of got.entries()) {
    const want = at.has(i) ? { interval: null, flow: null, class: null, t_ms: null, active: null, sent: null }
      : { interval: i, flow: `f${i % 3}`, class: 'a-class-name-longer-than-12', t_ms: i * 0.5, active: i % 2 === 0, sent: i * 1000 };
    assert.equal(r, want, `row ${i}`);
  }
});

test('very many distinct strings in one batch (past the dictionary and one native call per long value) all read back', async () => {
  // 20 000 distinct short strings overflow a column's dictionary (8192); 6000 distinct long ones fill chunks.
  const rows: Row[] = Array.from({ length: 20000 }, (_, i) => ({ run_id: 'r', t_ms: i, metric: `m${i}`, subject: i < 6000 ? `subject-number-${i}-of-many` : 'short', value: i }));
  const got = await roundTrip('overload', rows, 'select metric, subject from overload order by t_ms');
  assert.equal(got, rows.map((r) => ({ metric: r.metric, subject: r.subject })));
  const again = await roundTrip('overload', rows.slice(0, 3000), 'select count(distinct metric) as m, count(distinct subject) as s from overload');
  assert.equal(again, [{ m: 3000, s: 3000 }]);
});

test('numbers: BIGINT rounds and keeps sign and high words, INTEGER and DOUBLE as given, strings and booleans converted as before', async () => {
  const big = [0, 1, -1, 2 ** 31, -(2 ** 31) - 1, 2 ** 32 + 7, -(2 ** 40) - 3, 2 ** 53 - 1, -(2 ** 53) + 1, 2.5, -2.5, 1e15 + 0.4];
  const rows: Row[] = big.map((b, i) => ({ run_id: 'r', t_ms: i, node: 7 as unknown as string, path_id: -i * 1000, class_id: '5' as unknown as number, dir: true as unknown as string, packets: b, bytes: String(b) }));
  const got = await roundTrip('counters', rows, 'select node, path_id, class_id, dir, packets, bytes from counters order by t_ms');
  assert.equal(got, big.map((b, i) => ({ node: '7', path_id: -i * 1000, class_id: 5, dir: 'true', packets: Math.round(b), bytes: Math.round(b) })));
});

test('a BIGINT value that is not a finite number is refused naming table, column and row, and nothing of that call is appended', async () => {
  const s = await RunStore.create(join(dir, 'bad.duckdb'));
  try {
    const rows: Row[] = Array.from({ length: 5000 }, (_, i) => ({ run_id: 'r', t_ms: i, node: 'edge1', packets: i === 4500 ? Number.NaN : i, bytes: 1 }));
    try {
      await s.append('counters', rows);
      assert.unreachable('NaN is not a BIGINT');
    } catch (e) {
      assert.instance(e, RangeError);
      assert.match((e as Error).message, 'counters.packets: row 4500: NaN is not a finite number');
    }
    assert.equal(await s.query('select count(*) as n from counters'), [{ n: 0 }]);
  } finally {
    s.close();
  }
});

test.run();
