/**
 * A scenario run's telemetry in its own DuckDB file (@duckdb/node-api). The tables are declared once in
 * {@link TABLES} (documented column by column in docs/telemetry.md); rows go in through DuckDB's
 * appender in data chunks of up to 2048 rows, and everything the runner concludes (assertions, the report)
 * is SQL over these tables. Ingest writes each column of a chunk from JS memory into its DuckDB vector in one
 * copy (numbers as typed arrays, short strings as inline `duckdb_string_t`, long ones once per chunk through
 * DuckDB's string heap), so it costs about what DuckDB's own table writes cost (docs/benchmarks.md,
 * telemetry-ingest); the column types readers see are plain VARCHAR/DOUBLE/BIGINT/INTEGER/BOOLEAN. Every row carries `run_id`, so files can be queried together
 * ({@link queryRuns}: each file attached, each table a UNION ALL BY NAME view over them).
 *
 * Example:
 *   const s = await RunStore.create('/tmp/r.duckdb');
 *   await s.append('events', [{ run_id: 'r1', t_ms: 6000, fired_ms: 6003.2, kind: 'cut', target: 'mpls:p2', detail: '', error: null }]);
 *   (await s.query('select count(*) as n from events'))[0].n   // → 1
 *   s.close();
 */
import { endianness } from 'node:os';
import { DuckDBDataChunk, DuckDBInstance, BIGINT, BOOLEAN, DOUBLE, INTEGER, VARCHAR, type DuckDBConnection, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import duckdb, { type Vector } from '@duckdb/node-bindings';

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
  probes: [['run_id', 'VARCHAR'], ['t_ms', 'DOUBLE'], ['node', 'VARCHAR'], ['path_id', 'INTEGER'], ['peer', 'VARCHAR'], ['transport', 'VARCHAR'], ['seq', 'BIGINT'],
    ['rtt_ms', 'DOUBLE'], ['fwd_ms', 'DOUBLE'], ['rev_ms', 'DOUBLE'], ['lost', 'BOOLEAN'], ['late', 'BOOLEAN'], ['reordered', 'BOOLEAN']],
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
  controller_health: [['run_id', 'VARCHAR'], ['node', 'VARCHAR'], ['pid', 'INTEGER'], ['seq', 'BIGINT'], ['reported_ms', 'DOUBLE'], ['received_ms', 'DOUBLE'], ['healthy', 'BOOLEAN'],
    ['paths_up', 'INTEGER'], ['paths_total', 'INTEGER']],
  assertions: [['run_id', 'VARCHAR'], ['idx', 'INTEGER'], ['name', 'VARCHAR'], ['kind', 'VARCHAR'], ['target', 'VARCHAR'], ['expected', 'VARCHAR'], ['measured', 'DOUBLE'],
    ['ok', 'BOOLEAN'], ['detail', 'VARCHAR']],
} as const satisfies Record<string, readonly (readonly [string, ColumnType])[]>;

export type TableName = keyof typeof TABLES;
/** One row: column → value (null or absent for NULL). */
export type Row = Record<string, string | number | boolean | null | undefined>;

/** Rows per data chunk (DuckDB's standard vector size). */
const CHUNK = 2048;
/** Bytes of one `duckdb_string_t` (duckdb.h): u32 length, then 12 inline bytes or a 4-byte prefix and a pointer. */
const STRING_T = 16;
/** Longest string (UTF-8 bytes) DuckDB keeps inline in its `duckdb_string_t`. */
const INLINE_MAX = 12;
/** Distinct short strings a column's dictionary keeps (16 B each); beyond it they are encoded per value. */
const DICT_MAX = 8192;

/** Answers of {@link StringDict.slot} that are not a slot. */
const LONG = -1, FULL = -2;
const utf8 = new TextEncoder();

/**
 * The inline `duckdb_string_t` encodings of one column's short strings, so a repeated value costs a Map
 * lookup and four word copies instead of a native call. Strings longer than 12 UTF-8 bytes are remembered
 * as {@link LONG}: they need DuckDB's string heap, see {@link writeVarchar}.
 */
class StringDict {
  private readonly slots = new Map<string, number>();
  private used = 0;
  enc = new Uint32Array(64 * 4);
  private readonly tmp = new Uint8Array(STRING_T);
  private readonly tmp32 = new Uint32Array(this.tmp.buffer);

  /** The slot of `s` in {@link enc} (4 words each), LONG, or FULL (short, but the dictionary is full: call {@link encode}). */
  slot(s: string): number {
    if (s.length > INLINE_MAX) return LONG;
    const k = this.slots.get(s);
    if (k !== undefined) return k;
    if (this.slots.size >= DICT_MAX) return this.fits(s) ? FULL : LONG;
    if (!this.fits(s)) { this.slots.set(s, LONG); return LONG; }
    const slot = this.used++;
    if ((slot + 1) * 4 > this.enc.length) { const g = new Uint32Array(this.enc.length * 2); g.set(this.enc); this.enc = g; }
    this.enc.set(this.tmp32, slot * 4);
    this.slots.set(s, slot);
    return slot;
  }

  /** Encode short `s` straight into `out` at word `at` (the dictionary being full). */
  encode(s: string, out: Uint32Array, at: number): void {
    this.fits(s);
    out.set(this.tmp32, at);
  }

  /** Encode `s` into tmp (length word, zero-padded bytes: DuckDB compares inline strings word-wise); false when longer than 12 bytes. */
  private fits(s: string): boolean {
    this.tmp.fill(0);
    const r = utf8.encodeInto(s, this.tmp.subarray(4));
    if (r.read < s.length) return false;
    this.tmp32[0] = r.written;
    return true;
  }
}

/**
 * Scratch memory of one store, reused chunk after chunk (`copy_data_to_vector` copies synchronously), and
 * the string dictionaries of its columns.
 */
class Scratch {
  readonly bytes = new ArrayBuffer(CHUNK * STRING_T);
  readonly u8 = new Uint8Array(this.bytes);
  readonly i32 = new Int32Array(this.bytes);
  readonly u32 = new Uint32Array(this.bytes);
  readonly f64 = new Float64Array(this.bytes);
  /** Validity bits of one vector (1 = valid), written only when the column has a NULL in the chunk. */
  readonly valid = new Int32Array(CHUNK / 32);
  readonly dicts = new Map<string, StringDict>();
  dict(key: string): StringDict {
    let d = this.dicts.get(key);
    if (!d) this.dicts.set(key, (d = new StringDict()));
    return d;
  }
}

/** Writes rows[start, start+n) of one column into its vector of the (just reset) data chunk; `where` is "table.column". */
type ColumnWriter = (rows: readonly Row[], start: number, n: number, col: string, vec: Vector, s: Scratch, where: string) => void;

/** Mark row `r` NULL; the first NULL of a vector sets every bit valid first. Returns the new NULL count. */
function markNull(s: Scratch, nulls: number, r: number): number {
  if (nulls === 0) s.valid.fill(-1);
  s.valid[r >> 5]! &= ~(1 << (r & 31));
  return nulls + 1;
}

function flushValidity(vec: Vector, s: Scratch, nulls: number, n: number): void {
  if (!nulls) return;
  duckdb.vector_ensure_validity_writable(vec);
  duckdb.copy_data_to_vector_validity(vec, 0, s.valid.buffer as ArrayBuffer, 0, Math.ceil(n / 32) * 4);
}

/**
 * A VARCHAR column: short strings (≤ 12 UTF-8 bytes, the usual node, transport, state, class names) are
 * written inline into the vector's `duckdb_string_t` array from JS memory, one copy per vector; a long
 * string needs DuckDB's string heap, so its first occurrence in the chunk costs one native call and later
 * ones reuse the `duckdb_string_t` (pointer into the same vector's heap) read back from the vector — a
 * run_id repeated on every row costs one call per 2048 rows. Many distinct long strings fall back to one
 * call each, as the plain appender does.
 */
const writeVarchar: ColumnWriter = (rows, start, n, col, vec, s, where) => {
  const w = s.u32, dict = s.dict(where);
  let nulls = 0;
  let long: Map<string, number> | undefined;
  const copies: number[] = [];
  for (let r = 0; r < n; r++) {
    const x = rows[start + r]![col];
    const at = r * 4;
    if (x === null || x === undefined) { w[at] = 0; w[at + 1] = 0; w[at + 2] = 0; w[at + 3] = 0; nulls = markNull(s, nulls, r); continue; }
    const str = typeof x === 'string' ? x : String(x);
    const slot = dict.slot(str);
    if (slot >= 0) {
      const e = dict.enc, k = slot * 4;
      w[at] = e[k]!; w[at + 1] = e[k + 1]!; w[at + 2] = e[k + 2]!; w[at + 3] = e[k + 3]!;
    } else if (slot === FULL) {
      dict.encode(str, w, at);
    } else {
      long ??= new Map();
      const first = long.get(str);
      if (first === undefined) { long.set(str, r); duckdb.vector_assign_string_element_len(vec, r, utf8.encode(str)); } else copies.push(r, first);
    }
  }
  if (long) {
    const data = duckdb.vector_get_data(vec, n * STRING_T);
    for (const r of long.values()) s.u8.set(data.subarray(r * STRING_T, (r + 1) * STRING_T), r * STRING_T);
    for (let i = 0; i < copies.length; i += 2) w.copyWithin(copies[i]! * 4, copies[i + 1]! * 4, copies[i + 1]! * 4 + 4);
  }
  duckdb.copy_data_to_vector(vec, 0, s.bytes, 0, n * STRING_T);
  flushValidity(vec, s, nulls, n);
};

const writeDouble: ColumnWriter = (rows, start, n, col, vec, s) => {
  const f = s.f64;
  let nulls = 0;
  for (let r = 0; r < n; r++) {
    const x = rows[start + r]![col];
    if (x === null || x === undefined) { f[r] = 0; nulls = markNull(s, nulls, r); } else f[r] = typeof x === 'number' ? x : Number(x);
  }
  duckdb.copy_data_to_vector(vec, 0, s.bytes, 0, n * 8);
  flushValidity(vec, s, nulls, n);
};

/** INTEGER: the Int32Array store wraps like any typed array (values beyond ±2^31 do not fit the column anyway). */
const writeInteger: ColumnWriter = (rows, start, n, col, vec, s) => {
  const a = s.i32;
  let nulls = 0;
  for (let r = 0; r < n; r++) {
    const x = rows[start + r]![col];
    if (x === null || x === undefined) { a[r] = 0; nulls = markNull(s, nulls, r); } else a[r] = typeof x === 'number' ? x : Number(x);
  }
  duckdb.copy_data_to_vector(vec, 0, s.bytes, 0, n * 4);
  flushValidity(vec, s, nulls, n);
};

/** BIGINT from a JS number, rounded, as two little-endian words (exact below 2^63; no BigInt per value). */
const writeBigint: ColumnWriter = (rows, start, n, col, vec, s) => {
  const a = s.i32;
  let nulls = 0;
  for (let r = 0; r < n; r++) {
    const x = rows[start + r]![col];
    if (x === null || x === undefined) { a[2 * r] = 0; a[2 * r + 1] = 0; nulls = markNull(s, nulls, r); continue; }
    const v = Math.round(typeof x === 'number' ? x : Number(x));
    // ToInt32 keeps the low 32 bits of the integer; the floor division gives the two's-complement high word.
    a[2 * r] = v;
    a[2 * r + 1] = Math.floor(v / 4294967296);
  }
  duckdb.copy_data_to_vector(vec, 0, s.bytes, 0, n * 8);
  flushValidity(vec, s, nulls, n);
};

/** @throws RangeError naming `where` and the row when a BIGINT value is not a finite number. */
function checkBigint(rows: readonly Row[], col: string, where: string): void {
  for (let r = 0; r < rows.length; r++) {
    const x = rows[r]![col];
    if (x !== null && x !== undefined && !Number.isFinite(typeof x === 'number' ? x : Number(x))) {
      throw new RangeError(`${where}: row ${r}: ${String(x)} is not a finite number (BIGINT column)`);
    }
  }
}

const writeBoolean: ColumnWriter = (rows, start, n, col, vec, s) => {
  const a = s.u8;
  let nulls = 0;
  for (let r = 0; r < n; r++) {
    const x = rows[start + r]![col];
    if (x === null || x === undefined) { a[r] = 0; nulls = markNull(s, nulls, r); } else a[r] = x ? 1 : 0;
  }
  duckdb.copy_data_to_vector(vec, 0, s.bytes, 0, n);
  flushValidity(vec, s, nulls, n);
};

/** Per column type the writer of its vectors; chosen once per column, not per value. */
const WRITERS: Record<ColumnType, ColumnWriter> = { VARCHAR: writeVarchar, DOUBLE: writeDouble, INTEGER: writeInteger, BIGINT: writeBigint, BOOLEAN: writeBoolean };

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
  private readonly scratch = new Scratch();
  private constructor(readonly file: string, private readonly instance: DuckDBInstance, private readonly conn: DuckDBConnection) {}

  /** Create (or open) `file` and make sure every table exists. */
  static async create(file: string): Promise<RunStore> {
    // The vectors are written as raw little-endian memory (duckdb.h layouts).
    if (endianness() !== 'LE') throw new Error('scenarios/store.ts: the run store writes DuckDB vectors as little-endian memory; this host is big-endian');
    const instance = await DuckDBInstance.create(file);
    const conn = await instance.connect();
    for (const [t, cols] of Object.entries(TABLES)) {
      await conn.run(`create table if not exists ${t} (${cols.map(([c, ty]) => `"${c}" ${ty}`).join(', ')})`);
    }
    return new RunStore(file, instance, conn);
  }

  /**
   * Append rows through the appender, in data chunks of 2048 rows; columns missing from a row are NULL.
   * Each column is written into its vector from JS memory in one copy (strings as DuckDB's inline
   * `duckdb_string_t` where they fit, see {@link writeVarchar}), so a row costs no native call per value.
   * @throws RangeError naming table, column and row for a BIGINT value that is not a finite number (nothing of that call is appended).
   */
  async append(table: TableName, rows: readonly Row[]): Promise<void> {
    if (!rows.length) return;
    const cols = TABLES[table] as readonly (readonly [string, ColumnType])[];
    // The only value a writer refuses, checked first so that a refused call appends nothing.
    for (const [c, t] of cols) if (t === 'BIGINT') checkBigint(rows, c, `${table}.${c}`);
    const writers = cols.map(([, t]) => WRITERS[t]);
    const where = cols.map(([c]) => `${table}.${c}`);
    // One chunk, reset between fills: the appender copies each chunk it is given.
    const chunk = DuckDBDataChunk.create(cols.map(([, t]) => TYPES[t]));
    const app = await this.conn.createAppender(table);
    try {
      for (let i = 0; i < rows.length; i += CHUNK) {
        const n = Math.min(CHUNK, rows.length - i);
        chunk.reset();
        chunk.rowCount = n;
        for (let ci = 0; ci < cols.length; ci++) writers[ci]!(rows, i, n, cols[ci]![0], duckdb.data_chunk_get_vector(chunk.chunk, ci), this.scratch, where[ci]!);
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
 * over all of them that have it (UNION ALL BY NAME; empty when none has it, e.g. `probes` in older files), so `select verdict, count(*) from runs group by 1` spans the files.
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
      // A file written before a table existed (e.g. probes) lacks it: the view spans the files that have it, or is empty.
      const have = new Set((await conn.runAndReadAll("select database_name || '.' || table_name as k from duckdb_tables()")).getRowObjectsJS().map((r) => String(r.k)));
      for (const [t, cols] of Object.entries(TABLES)) {
        const from = files.flatMap((_, i) => (have.has(`r${i}.${t}`) ? [`select * from r${i}.${t}`] : []));
        await conn.run(`create view ${t} as ${from.length ? from.join(' union all by name ') : `select ${cols.map(([c, ty]) => `null::${ty} as "${c}"`).join(', ')} where false`}`);
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
