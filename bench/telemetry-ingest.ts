/**
 * bench/telemetry-ingest.ts — how fast the scenario runner's own ingest module (scenarios/store.ts,
 * RunStore.append: row objects → data chunks → DuckDB appender) takes rows of the real probes schema
 * (`--table probes`, the default: one row per probe result, as scenarios/probes.ts makes them from the
 * agents' probe logs; or `--table path_state`, the 500 ms path summaries), against a bare appender
 * loop (appendVarchar/appendDouble/… per value, appendNull for NULL, endRow per row) over the same rows in
 * the same run, each into a fresh DuckDB file. Rows are as the runner writes them: `run_id` a UUID (36
 * bytes, too long for DuckDB's inline strings), node/peer/transport short names; probes: 4 edges × 3 paths
 * probed every 10 ms, RTTs with µs resolution, about 1 % lost (NULL RTT and one-way times), a few late.
 *
 * For context it also times DuckDB writing the first --native rows itself (`INSERT … SELECT` from an
 * in-memory temp table holding them, into a fresh file, close included): the ceiling no client reaches.
 *
 * Rows are generated deterministically in batches of --batch (the runner appends in batches too) outside
 * the timed sections, so both sides ingest identical rows and only ingest is timed (the final flush and
 * close included). Goal (issue 8): ≥ 2 M rows/s and ≥ 0.8× the bare appender.
 * The last line is one JSON object with the raw figures; exits non-zero instead when a side could not
 * ingest every row (counted back with SQL).
 *
 * Run: npx tsx bench/telemetry-ingest.ts [--table probes|path_state] [--rows 10000000] [--batch 100000] [--native 1000000]   (under flock /tmp/pt-heavy.lock)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance, type DuckDBAppender } from '@duckdb/node-api';
import { RunStore, TABLES, type Row } from '../scenarios/index.ts';

const { values } = parseArgs({ options: { table: { type: 'string', default: 'probes' }, rows: { type: 'string', default: '10000000' }, batch: { type: 'string', default: '100000' }, native: { type: 'string', default: '1000000' } } });
const N = Number(values.rows), B = Number(values.batch), NATIVE = Math.min(Number(values.native), N);
if (![N, B, NATIVE].every((x) => Number.isInteger(x) && x > 0)) { process.stderr.write('--rows, --batch and --native take positive integers\n'); process.exit(2); }
if (values.table !== 'probes' && values.table !== 'path_state') { process.stderr.write(`--table: expected probes or path_state, got ${JSON.stringify(values.table)}\n`); process.exit(2); }
const TABLE: 'probes' | 'path_state' = values.table;
/** A run_id as the runner makes them (randomUUID), fixed so every run ingests the same bytes. */
const RUN_ID = '3f6c2a1e-8b4d-4e7a-9c15-0d2e6b7f8a90';

const TRANSPORTS = ['mpls', 'inet', 'lte'];
const STATES = ['up', 'degraded', 'down'];
/** Batch `k` of path_state rows as the runner produces them: 4 edges × 3 paths sampled every 500 ms. */
function pathStateBatch(k: number): Row[] {
  const rows: Row[] = new Array(Math.min(B, N - k * B));
  for (let i = 0; i < rows.length; i++) {
    const n = k * B + i;
    const path = n % 12;
    rows[i] = {
      run_id: RUN_ID, t_ms: Math.floor(n / 12) * 500, node: `edge${(path >> 2) + 1}`, path_id: (path & 3) + 1, peer: `edge${((path >> 2) + 1) % 4 + 1}`,
      transport: TRANSPORTS[path % 3]!, state: STATES[n % 97 === 0 ? 1 : 0]!, rtt_p50_ms: 10 + (n % 13) * 0.25, rtt_p95_ms: 12 + (n % 17) * 0.5,
      jitter_ms: (n % 7) * 0.1, loss: n % 101 === 0 ? 0.02 : 0, compliant: n % 97 === 0 ? '' : 'voice',
    };
  }
  return rows;
}
/**
 * Batch `k` of probes rows as scenarios/probes.ts produces them: 4 edges × 3 paths probed every 10 ms
 * (sent times with µs resolution, RTTs around 10–40 ms), every 97th probe lost (NULL RTT and one-way
 * times), every 997th answered after its timeout (a second, late row for the same seq).
 */
function probesBatch(k: number): Row[] {
  const rows: Row[] = new Array(Math.min(B, N - k * B));
  for (let i = 0; i < rows.length; i++) {
    const n = k * B + i;
    const path = n % 12, seq = Math.floor(n / 12);
    const edge = (path >> 2) + 1, pid = (path & 3) + 1;
    const lost = n % 97 === 0, late = !lost && n % 997 === 0;
    const rtt = late ? 1200 + (n % 101) * 0.013 : 10 * pid + (n % 251) * 0.019;
    rows[i] = {
      run_id: RUN_ID, t_ms: seq * 10 + (n % 7) * 0.001, node: `edge${edge}`, path_id: pid, peer: `edge${edge % 4 + 1}`, transport: TRANSPORTS[path % 3]!, seq,
      rtt_ms: lost ? null : rtt, fwd_ms: lost ? null : rtt / 2 + 0.125, rev_ms: lost ? null : rtt / 2 - 0.125, lost, late, reordered: n % 1999 === 0,
    };
  }
  return rows;
}

const batch = TABLE === 'probes' ? probesBatch : pathStateBatch;
const batches = Math.ceil(N / B);
const COLS = TABLES[TABLE];

/** One row through the bare appender, value by value (NULL as appendNull). */
function bareProbeRow(a: DuckDBAppender, r: Row): void {
  a.appendVarchar(r.run_id as string); a.appendDouble(r.t_ms as number); a.appendVarchar(r.node as string); a.appendInteger(r.path_id as number);
  a.appendVarchar(r.peer as string); a.appendVarchar(r.transport as string); a.appendBigInt(BigInt(r.seq as number));
  if (r.rtt_ms === null) { a.appendNull(); a.appendNull(); a.appendNull(); } else { a.appendDouble(r.rtt_ms as number); a.appendDouble(r.fwd_ms as number); a.appendDouble(r.rev_ms as number); }
  a.appendBoolean(r.lost as boolean); a.appendBoolean(r.late as boolean); a.appendBoolean(r.reordered as boolean);
}

function barePathStateRow(a: DuckDBAppender, r: Row): void {
  a.appendVarchar(r.run_id as string); a.appendDouble(r.t_ms as number); a.appendVarchar(r.node as string); a.appendInteger(r.path_id as number);
  a.appendVarchar(r.peer as string); a.appendVarchar(r.transport as string); a.appendVarchar(r.state as string); a.appendDouble(r.rtt_p50_ms as number);
  a.appendDouble(r.rtt_p95_ms as number); a.appendDouble(r.jitter_ms as number); a.appendDouble(r.loss as number); a.appendVarchar(r.compliant as string);
}
const bareRow = TABLE === 'probes' ? bareProbeRow : barePathStateRow;

async function ours(file: string): Promise<number> {
  const s = await RunStore.create(file);
  let ms = 0;
  for (let k = 0; k < batches; k++) {
    const rows = batch(k);
    const t = performance.now();
    await s.append(TABLE, rows);
    ms += performance.now() - t;
  }
  const t = performance.now();
  s.close();
  return ms + performance.now() - t;
}

async function bare(file: string): Promise<number> {
  const inst = await DuckDBInstance.create(file);
  const c = await inst.connect();
  await c.run(`create table ${TABLE} (${COLS.map(([n, t]) => `"${n}" ${t}`).join(', ')})`);
  let ms = 0;
  for (let k = 0; k < batches; k++) {
    const rows = batch(k);
    const t = performance.now();
    const a = await c.createAppender(TABLE);
    for (const r of rows) {
      bareRow(a, r);
      a.endRow();
    }
    a.flushSync();
    a.closeSync();
    ms += performance.now() - t;
  }
  const t = performance.now();
  c.closeSync();
  inst.closeSync();
  return ms + performance.now() - t;
}

/** DuckDB alone: the first NATIVE rows of `from` copied into a temp table (untimed), then INSERT … SELECT into a fresh file + close (timed). */
async function native(from: string, file: string): Promise<number> {
  const inst = await DuckDBInstance.create(file);
  const c = await inst.connect();
  await c.run(`create table ${TABLE} (${COLS.map(([n, t]) => `"${n}" ${t}`).join(', ')})`);
  await c.run(`attach '${from}' as src (read_only)`);
  await c.run(`create temp table rows as select * from src.${TABLE} limit ${NATIVE}`);
  await c.run('detach src');
  const t = performance.now();
  await c.run(`insert into ${TABLE} select * from rows`);
  c.closeSync();
  inst.closeSync();
  return performance.now() - t;
}

async function count(file: string): Promise<number> {
  const inst = await DuckDBInstance.create(file);
  const c = await inst.connect();
  const n = Number((await c.runAndReadAll(`select count(*) from ${TABLE}`)).getRows()[0]![0]);
  c.closeSync();
  inst.closeSync();
  return n;
}

const dir = mkdtempSync(join(tmpdir(), 'pt-bench-ingest-'));
try {
  const load = loadavg()[0];
  // Bare first, then ours, so a warming page cache favours ours no more than it does the baseline.
  const bareMs = await bare(join(dir, 'bare.duckdb'));
  const oursMs = await ours(join(dir, 'ours.duckdb'));
  const nativeMs = await native(join(dir, 'ours.duckdb'), join(dir, 'native.duckdb'));
  const [nb, no, nn] = [await count(join(dir, 'bare.duckdb')), await count(join(dir, 'ours.duckdb')), await count(join(dir, 'native.duckdb'))];
  if (nb !== N || no !== N || nn !== NATIVE) { process.stderr.write(`rows ingested: bare ${nb}, ours ${no} (expected ${N}), native ${nn} (expected ${NATIVE})\n`); process.exit(1); }
  const rps = Math.round(N / (oursMs / 1000)), bareRps = Math.round(N / (bareMs / 1000));
  console.log(JSON.stringify({ bench: 'telemetry-ingest', table: TABLE, rows: N, batch: B, rows_per_s: rps, bare_rows_per_s: bareRps, ratio: +(rps / bareRps).toFixed(3),
    ours_ms: Math.round(oursMs), bare_ms: Math.round(bareMs), native_rows: NATIVE, native_rows_per_s: Math.round(NATIVE / (nativeMs / 1000)),
    load1_before: load, load1_after: loadavg()[0] }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
