/**
 * A scenario run's telemetry in its own DuckDB file (@duckdb/node-api). The tables are declared once in
 * {@link TABLES} (documented column by column in docs/telemetry.md); rows go in through DuckDB's
 * appender in data chunks of up to 2048 rows, and everything the runner concludes (assertions, the report)
 * is SQL over these tables. Every row carries `run_id`, so files can be queried together
 * ({@link queryRuns}: each file attached, each table a UNION ALL BY NAME view over them).
 *
 * Example:
 *   const s = await RunStore.create('/tmp/r.duckdb');
 *   await s.append('events', [{ run_id: 'r1', t_ms: 6000, fired_ms: 6003.2, kind: 'cut', target: 'mpls:p2', detail: '', error: null }]);
 *   (await s.query('select count(*) as n from events'))[0].n   // → 1
 *   s.close();
 */
import { DuckDBDataChunk, DuckDBInstance, BIGINT, BOOLEAN, DOUBLE, INTEGER, VARCHAR, type DuckDBConnection, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';

/** Column types the store uses. BIGINT columns take numbers (converted to bigint on the way in). */
export type ColumnType = 'VARCHAR' | 'DOUBLE' | 'BIGINT' | 'INTEGER' | 'BOOLEAN';
const TYPES: Record<ColumnType, DuckDBType> = { VARCHAR, DOUBLE, BIGINT, INTEGER, BOOLEAN };

/** Every table of a run file: name → ordered [column, type]. Times `*_ms` are ms since the run's t0 (traffic start). */
export const TABLES = {
  runs: [['run_id', 'VARCHAR'], ['scenario', 'VARCHAR'], ['file', 'VARCHAR'], ['lab', 'VARCHAR'], ['intent', 'VARCHAR'], ['seed', 'BIGINT'],
    ['started_at', 'VARCHAR'], ['t0_epoch_ms', 'DOUBLE'], ['duration_ms', 'DOUBLE'], ['interval_ms', 'DOUBLE'], ['host', 'VARCHAR'], ['cpus', 'INTEGER'],
    ['verdict', 'VARCHAR'], ['valid', 'BOOLEAN'], ['invalid_reasons', 'VARCHAR'], ['exit_code', 'INTEGER']],
  calibration: [['run_id', 'VARCHAR'], ['link', 'VARCHAR'], ['direction', 'VARCHAR'], ['metric', 'VARCHAR'], ['configured', 'DOUBLE'], ['measured', 'DOUBLE'],
    ['low', 'DOUBLE'], ['high', 'DOUBLE'], ['ok', 'BOOLEAN'], ['judged', 'BOOLEAN']],
  overload: [['run_id', 'VARCHAR'], ['t_ms', 'DOUBLE'], ['metric', 'VARCHAR'], ['value', 'DOUBLE'], ['subject', 'VARCHAR']],
  path_state: [['run_id', 'VARCHAR'], ['t_ms', 'DOUBLE'], ['node', 'VARCHAR'], ['path_id', 'INTEGER'], ['peer', 'VARCHAR'], ['transport', 'VARCHAR'], ['state', 'VARCHAR'],
    ['rtt_p50_ms', 'DOUBLE'], ['rtt_p95_ms', 'DOUBLE'], ['jitter_ms', 'DOUBLE'], ['loss', 'DOUBLE'], ['compliant', 'VARCHAR']],
  steering: [['run_id', 'VARCHAR'], ['t_ms', 'DOUBLE'], ['node', 'VARCHAR'], ['app_class', 'VARCHAR'], ['rule', 'VARCHAR'], ['mode', 'VARCHAR'], ['path_ids', 'VARCHAR'], ['transports', 'VARCHAR']],
  steering_events: [['run_id', 'VARCHAR'], ['t_ms', 'DOUBLE'], ['node', 'VARCHAR'], ['app_class', 'VARCHAR'], ['site', 'VARCHAR'], ['from_paths', 'VARCHAR'], ['to_paths', 'VARCHAR'],
    ['mode', 'VARCHAR'], ['cause', 'VARCHAR']],
  path_events: [['run_id', 'VARCHAR'], ['t_ms', 'DOUBLE'], ['node', 'VARCHAR'], ['path_id', 'INTEGER'], ['kind', 'VARCHAR'], ['from_state', 'VARCHAR'], ['to_state', 'VARCHAR'],
    ['cause', 'VARCHAR'], ['class', 'VARCHAR']],
  wanopt: [['run_id', 'VARCHAR'], ['t_ms', 'DOUBLE'], ['node', 'VARCHAR'], ['pid', 'INTEGER'], ['raw_out', 'BIGINT'], ['wire_out', 'BIGINT'], ['raw_in', 'BIGINT'],
    ['wire_in', 'BIGINT'], ['literals_out', 'BIGINT'], ['refs_out', 'BIGINT'], ['flows_intercepted', 'BIGINT'], ['flows_failed', 'BIGINT']],
  counters: [['run_id', 'VARCHAR'], ['t_ms', 'DOUBLE'], ['node', 'VARCHAR'], ['path_id', 'INTEGER'], ['class_id', 'INTEGER'], ['dir', 'VARCHAR'], ['packets', 'BIGINT'], ['bytes', 'BIGINT']],
  flows: [['run_id', 'VARCHAR'], ['flow', 'VARCHAR'], ['class', 'VARCHAR'], ['profile', 'VARCHAR'], ['interval', 'INTEGER'], ['t_ms', 'DOUBLE'], ['active', 'BOOLEAN'],
    ['sent', 'BIGINT'], ['received', 'BIGINT'], ['lost', 'BIGINT'], ['duplicates', 'BIGINT'], ['lat_p50_ms', 'DOUBLE'], ['lat_p95_ms', 'DOUBLE'], ['lat_p99_ms', 'DOUBLE'],
    ['jitter_ms', 'DOUBLE'], ['max_gap_ms', 'DOUBLE'], ['goodput_bps', 'DOUBLE']],
  gaps: [['run_id', 'VARCHAR'], ['flow', 'VARCHAR'], ['class', 'VARCHAR'], ['start_ms', 'DOUBLE'], ['end_ms', 'DOUBLE'], ['gap_ms', 'DOUBLE'], ['lost', 'BIGINT']],
  events: [['run_id', 'VARCHAR'], ['t_ms', 'DOUBLE'], ['fired_ms', 'DOUBLE'], ['kind', 'VARCHAR'], ['target', 'VARCHAR'], ['detail', 'VARCHAR'], ['error', 'VARCHAR']],
  assertions: [['run_id', 'VARCHAR'], ['idx', 'INTEGER'], ['name', 'VARCHAR'], ['kind', 'VARCHAR'], ['target', 'VARCHAR'], ['expected', 'VARCHAR'], ['measured', 'DOUBLE'],
    ['ok', 'BOOLEAN'], ['detail', 'VARCHAR']],
} as const satisfies Record<string, readonly (readonly [string, ColumnType])[]>;

export type TableName = keyof typeof TABLES;
/** One row: column → value (null or absent for NULL). */
export type Row = Record<string, string | number | boolean | null | undefined>;

/** Rows per data chunk (DuckDB's standard vector size). */
const CHUNK = 2048;

/** Per column type, JS value → DuckDB value (null and undefined → NULL); chosen once per column, not per value. */
const CONVERT: Record<ColumnType, (v: NonNullable<Row[string]>) => DuckDBValue> = {
  BIGINT: (v) => BigInt(Math.round(Number(v))),
  DOUBLE: (v) => (typeof v === 'number' ? v : Number(v)),
  INTEGER: (v) => (typeof v === 'number' ? v : Number(v)),
  BOOLEAN: (v) => Boolean(v),
  VARCHAR: (v) => (typeof v === 'string' ? v : String(v)),
};

/** Plain JS values out of DuckDB: bigint → number (telemetry counts stay below 2^53). */
function plain(v: unknown): unknown {
  return typeof v === 'bigint' ? Number(v) : v;
}

async function rowsOf(c: DuckDBConnection, sql: string, params?: DuckDBValue[]): Promise<Record<string, unknown>[]> {
  const r = params?.length ? await c.runAndReadAll(sql, params) : await c.runAndReadAll(sql);
  return r.getRowObjectsJS().map((o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, plain(v)])));
}

/** A run's DuckDB file, open for writing. */
export class RunStore {
  private constructor(readonly file: string, private readonly instance: DuckDBInstance, private readonly conn: DuckDBConnection) {}

  /** Create (or open) `file` and make sure every table exists. */
  static async create(file: string): Promise<RunStore> {
    const instance = await DuckDBInstance.create(file);
    const conn = await instance.connect();
    for (const [t, cols] of Object.entries(TABLES)) {
      await conn.run(`create table if not exists ${t} (${cols.map(([c, ty]) => `"${c}" ${ty}`).join(', ')})`);
    }
    return new RunStore(file, instance, conn);
  }

  /** Append rows through the appender, in data chunks; columns missing from a row are NULL. */
  async append(table: TableName, rows: readonly Row[]): Promise<void> {
    if (!rows.length) return;
    const cols = TABLES[table] as readonly (readonly [string, ColumnType])[];
    const types = cols.map(([, t]) => TYPES[t]);
    const app = await this.conn.createAppender(table);
    try {
      for (let i = 0; i < rows.length; i += CHUNK) {
        const part = rows.slice(i, i + CHUNK);
        const chunk = DuckDBDataChunk.create(types, part.length);
        // Column by column into each typed vector, one flush per vector: no per-value type dispatch.
        cols.forEach(([c, t], ci) => {
          const v = chunk.getColumnVector(ci) as unknown as { setItem(i: number, v: DuckDBValue): void; flush(): void };
          const conv = CONVERT[t];
          for (let r = 0; r < part.length; r++) { const x = part[r]![c]; v.setItem(r, x === null || x === undefined ? null : conv(x)); }
          v.flush();
        });
        app.appendDataChunk(chunk);
      }
      app.flushSync();
    } finally {
      app.closeSync();
    }
  }

  /** Run SQL that changes the file (e.g. the final UPDATE of runs). */
  async run(sql: string, params?: DuckDBValue[]): Promise<void> {
    if (params?.length) await this.conn.run(sql, params); else await this.conn.run(sql);
  }

  /** Rows of a query as plain objects. Example: `await s.query('select * from flows where flow = $1', ['call'])`. */
  query(sql: string, params?: DuckDBValue[]): Promise<Record<string, unknown>[]> {
    return rowsOf(this.conn, sql, params);
  }

  /** Flush to disk and close; the file stays readable by {@link queryRuns}. */
  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

/**
 * Run `sql` across run files: each is attached read-only and every table of {@link TABLES} becomes a view
 * over all of them (UNION ALL BY NAME), so `select verdict, count(*) from runs group by 1` spans the files.
 * @throws Error naming the file that cannot be attached or the SQL error.
 */
export async function queryRuns(sql: string, files: readonly string[]): Promise<{ columns: string[]; rows: Record<string, unknown>[] }> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    for (const [i, f] of files.entries()) {
      try {
        await conn.run(`attach '${f.replaceAll("'", "''")}' as r${i} (read_only)`);
      } catch (e) {
        throw new Error(`${f}: cannot open as a DuckDB run file: ${(e as Error).message}`, { cause: e });
      }
    }
    if (files.length) {
      for (const t of Object.keys(TABLES)) {
        await conn.run(`create view ${t} as ${files.map((_, i) => `select * from r${i}.${t}`).join(' union all by name ')}`);
      }
    }
    const r = await conn.runAndReadAll(sql);
    const rows = r.getRowObjectsJS().map((o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, plain(v)])));
    return { columns: r.columnNames(), rows };
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
