/**
 * The controller's cumulative DuckDB analytics store. One process — the controller — opens it for writing
 * (DuckDB holds an exclusive file lock, so a second writer, or a reader in another process, is refused while
 * it runs); everyone else reads through the operator API (`POST /api/v1/analytics/query`, viewer role) or
 * opens it read-only while no controller runs (`patronus analytics query`).
 *
 * The writer turns off DuckDB's file access for SQL (`enable_external_access = false`) except for its own
 * staging folder, so a viewer's query cannot read files of the controller host (the CA key, the SQLite
 * store); run files are copied into that folder to be attached for import.
 */
import { copyFileSync, linkSync, mkdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, join } from 'node:path';
import {
  DuckDBDataChunk, DuckDBInstance, StatementType, BIGINT, BOOLEAN, DOUBLE, INTEGER, VARCHAR,
  type DuckDBConnection, type DuckDBType, type DuckDBValue,
} from '@duckdb/node-api';
import { InputError } from '../../dataplane/errors.ts';
import type { ColumnType } from '../../scenarios/store.ts';
import { ANALYTICS_TABLES, CONTROLLER_TABLES, RUN_TABLE_NAMES, type Columns, type ControllerTable } from './schema.ts';

/** A row to append: column → value (absent or null = NULL). BIGINT columns take numbers. */
export type AnalyticsRow = Record<string, string | number | boolean | null | undefined>;

/** Result of a query: column names in order and rows as plain objects (bigint → number). */
export interface QueryResult { columns: string[]; rows: Record<string, unknown>[]; truncated: boolean }

/** What {@link AnalyticsStore.importRun} did with each run of a file. */
export interface ImportResult {
  file: string;
  runs: { runId: string; scenario: string | null; imported: boolean; rows: number }[];
}

/** A query refused before it ran (not a single read-only statement) or failed in DuckDB; HTTP 400 / exit 1. */
export class AnalyticsQueryError extends Error {
  override name = 'AnalyticsQueryError';
}
export const isAnalyticsQueryError = (e: unknown): e is AnalyticsQueryError => e instanceof AnalyticsQueryError;

/** The analytics file is held by another process (the running controller). */
export class AnalyticsLockedError extends Error {
  override name = 'AnalyticsLockedError';
}
export const isAnalyticsLockedError = (e: unknown): e is AnalyticsLockedError => e instanceof AnalyticsLockedError;

const TYPES: Record<ColumnType, DuckDBType> = { VARCHAR, DOUBLE, BIGINT, INTEGER, BOOLEAN };
const CONVERT: Record<ColumnType, (v: string | number | boolean) => DuckDBValue> = {
  BIGINT: (v) => BigInt(Math.round(Number(v))),
  DOUBLE: (v) => Number(v),
  INTEGER: (v) => Math.round(Number(v)),
  BOOLEAN: (v) => Boolean(v),
  VARCHAR: (v) => (typeof v === 'string' ? v : String(v)),
};
/** Default and largest number of rows a query returns. */
export const DEFAULT_MAX_ROWS = 10_000;
const READ_STATEMENTS = new Set<number>([StatementType.SELECT, StatementType.EXPLAIN]);

const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;
const plain = (v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : v);

/** Serialises the writer's operations (import, telemetry batches, promotion sync) on its one write connection. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/** Options of {@link AnalyticsStore.open}. */
export interface AnalyticsOpenOptions {
  /**
   * Open read-only (no tables created, no writes; several read-only processes may share the file while no
   * writer runs). Default false: the single writer.
   */
  readOnly?: boolean;
  /** The writer's staging folder for run files being imported. Default `<file>.import/`. */
  stagingDir?: string;
  /** Wall clock, ms. Default Date.now. */
  now?: () => number;
}

/**
 * The cumulative analytics store.
 * @example
 * const a = await AnalyticsStore.open(stateFiles(dir).analytics);
 * await a.importRun('runs/isp-cut.duckdb');          // idempotent by run_id
 * (await a.query('select count(*) n from runs')).rows[0].n
 * await a.close();
 */
export class AnalyticsStore {
  private readonly lock = new Mutex();
  private closed = false;

  private constructor(
    readonly file: string,
    readonly readOnly: boolean,
    private readonly instance: DuckDBInstance,
    private readonly writer: DuckDBConnection,
    private readonly reader: DuckDBConnection,
    private readonly staging: string | null,
    private readonly now: () => number,
  ) {}

  /**
   * Opens (creating when writable) the store at `file`.
   * @throws AnalyticsLockedError when another process holds the file (e.g. the running controller).
   */
  static async open(file: string, opts: AnalyticsOpenOptions = {}): Promise<AnalyticsStore> {
    const readOnly = opts.readOnly ?? false;
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(file, readOnly ? { access_mode: 'READ_ONLY' } : {});
    } catch (e) {
      const m = (e as Error).message;
      if (/Could not set lock/i.test(m)) {
        const pid = /PID (\d+)/.exec(m)?.[1];
        throw new AnalyticsLockedError(`${file}: the analytics store is held by another process${pid ? ` (pid ${pid})` : ''} — the controller is its only writer; query it through the operator API`, { cause: e });
      }
      throw new Error(`${file}: cannot open the analytics store: ${m}`, { cause: e });
    }
    const writer = await instance.connect();
    let staging: string | null = null;
    if (!readOnly) {
      for (const [t, cols] of Object.entries(ANALYTICS_TABLES)) {
        await writer.run(`create table if not exists ${t} (${cols.map(([c, ty]) => `"${c}" ${ty}`).join(', ')})`);
      }
      staging = opts.stagingDir ?? `${file}.import`;
      rmSync(staging, { recursive: true, force: true });
      mkdirSync(staging, { recursive: true, mode: 0o700 });
      // From here on SQL can touch no file but the database and the staging folder (viewers run queries).
      await writer.run(`set allowed_directories = [${lit(staging.endsWith('/') ? staging : `${staging}/`)}]`);
      await writer.run('set enable_external_access = false');
    }
    const reader = await instance.connect();
    return new AnalyticsStore(file, readOnly, instance, writer, reader, staging, opts.now ?? Date.now);
  }

  private writable(): DuckDBConnection {
    if (this.closed) throw new Error(`${this.file}: the analytics store is closed`);
    if (this.readOnly) throw new Error(`${this.file}: opened read-only`);
    return this.writer;
  }

  /**
   * Runs `fn` in one transaction on the write connection, serialised with every other write: all its
   * appends commit together, or none when it throws.
   */
  transaction<T>(fn: (append: (table: ControllerTable, rows: readonly AnalyticsRow[]) => Promise<void>) => Promise<T> | T): Promise<T> {
    return this.lock.run(async () => {
      const c = this.writable();
      await c.run('begin transaction');
      try {
        const out = await fn((table, rows) => appendRows(c, table, CONTROLLER_TABLES[table], rows));
        await c.run('commit');
        return out;
      } catch (e) {
        await c.run('rollback').catch(() => undefined);
        throw e;
      }
    });
  }

  /**
   * Runs `fn` in one transaction on the write connection with SQL access to `file`: a hard link to it (a copy
   * across file systems) is put in the staging folder — the only place this store's SQL may read — and `fn` gets
   * its path as a quoted SQL literal. The link goes when `fn` ends; `file` itself is left for the caller, so a
   * crash mid-import leaves it where a restart finds it. DuckDB runs the SQL on its own threads, off the event loop.
   * @example await store.transactionOnFile(wal, async (sql, f) => sql.run(`insert into t select * from read_json(${f})`))
   */
  transactionOnFile<T>(file: string, fn: (sql: { run(q: string): Promise<void>; rows(q: string): Promise<Record<string, unknown>[]> }, path: string) => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      const c = this.writable();
      const link = join(this.staging!, `${randomBytes(6).toString('hex')}-${basename(file).replace(/[^\w.-]/g, '_')}`);
      try { linkSync(file, link); } catch { copyFileSync(file, link); }
      try {
        await c.run('begin transaction');
        try {
          const out = await fn({
            run: async (q) => { await c.run(q); },
            rows: async (q) => (await c.runAndReadAll(q)).getRowObjectsJS() as Record<string, unknown>[],
          }, lit(link));
          await c.run('commit');
          return out;
        } catch (e) {
          await c.run('rollback').catch(() => undefined);
          throw e;
        }
      } finally {
        rmSync(link, { force: true });
      }
    });
  }

  /** The largest value of an integer column of a controller table (null when empty), e.g. the telemetry watermark. */
  async maxOf(table: ControllerTable, column: string): Promise<number | null> {
    const r = await this.reader.runAndReadAll(`select max("${column}") m from ${table}`);
    const v = r.getRowObjectsJS()[0]?.m;
    return v === null || v === undefined ? null : Number(v);
  }

  /**
   * Imports the scenario runs of one run file (scenarios/store.ts); see {@link importRuns}.
   * @example await a.importRun('runs/isp-cut.duckdb')   // → { file, runs: [{ runId, scenario, imported: true, rows: 5123 }] }
   */
  async importRun(file: string, source = 'cli', displayName = file): Promise<ImportResult> {
    return (await this.importRuns([{ file, name: displayName }], source))[0]!;
  }

  /**
   * Imports the scenario runs of run files (scenarios/store.ts): every run whose `run_id` is not yet in the
   * store, with its rows of every run table — all files in ONE transaction, after every file was checked, so
   * a bad file imports nothing of any file. Runs already present are skipped: importing twice changes nothing.
   * @param source who handed them over, recorded in `run_imports.source` (`cli`, `verify:v7`, `api:<token>`).
   * @throws InputError (exit 2) naming the file when it is not a DuckDB file, not a Patronus run file, holds an
   *   unfinished run, has columns this store does not know, or repeats a run id of another file.
   */
  importRuns(files: readonly (string | { file: string; name: string })[], source = 'cli'): Promise<ImportResult[]> {
    return this.lock.run(async () => {
      const c = this.writable();
      const list = files.map((f) => (typeof f === 'string' ? { file: f, name: f } : f));
      const attached: { alias: string; copy: string; name: string; tables: string[]; runs: { run_id: string; scenario: string | null }[] }[] = [];
      const copies: string[] = [];
      const seen = new Map<string, string>();
      try {
        for (const [i, { file, name }] of list.entries()) {
          const bad = (path: (string | number)[], message: string, cause?: unknown) => new InputError(name, [{ path, message }], { cause });
          const copy = join(this.staging!, `${randomBytes(6).toString('hex')}-${basename(file).replace(/[^\w.-]/g, '_')}`);
          try { copyFileSync(file, copy); } catch (e) { throw bad([], `cannot read the run file: ${(e as Error).message}`, e); }
          copies.push(copy);
          const alias = `src${i}`;
          try { await c.run(`attach ${lit(copy)} as ${alias} (read_only)`); } catch (e) {
            throw bad([], `not a DuckDB database file (${(e as Error).message.split('\n')[0]})`, e);
          }
          const a = { alias, copy, name, tables: [] as string[], runs: [] as { run_id: string; scenario: string | null }[] };
          attached.push(a);
          const cols = (await c.runAndReadAll(`select table_name t, column_name c, data_type ty from duckdb_columns() where database_name = ${lit(alias)} and schema_name = 'main'`)).getRowObjectsJS() as { t: string; c: string; ty: string }[];
          const has = (t: string, col: string) => cols.some((r) => r.t === t && r.c === col);
          const present = new Set(cols.map((r) => r.t));
          if (!present.has('runs')) throw bad(['runs'], `not a Patronus scenario run file: it has no table "runs" (tables: ${[...present].join(', ') || 'none'})`);
          for (const r of cols) {
            if (!(RUN_TABLE_NAMES as string[]).includes(r.t)) continue;
            const want = ANALYTICS_TABLES[r.t]!.find(([n]) => n === r.c);
            if (!want) throw bad([r.t, r.c], `unknown column (expected one of ${ANALYTICS_TABLES[r.t]!.map(([n]) => n).join(', ')})`);
            if (want[1] !== r.ty) throw bad([r.t, r.c], `expected type ${want[1]}, found ${r.ty}`);
          }
          a.tables = RUN_TABLE_NAMES.filter((t) => present.has(t) && has(t, 'run_id'));
          if (!has('runs', 'run_id')) throw bad(['runs', 'run_id'], 'missing column');
          const runs = (await c.runAndReadAll(`select run_id, ${has('runs', 'scenario') ? 'scenario' : 'null'} scenario, ${has('runs', 'verdict') ? 'verdict' : 'null'} verdict from ${alias}.runs`)).getRowObjectsJS() as { run_id: string | null; scenario: string | null; verdict: string | null }[];
          if (!runs.length) throw bad(['runs'], 'the file holds no run');
          for (const [j, r] of runs.entries()) {
            if (!r.run_id) throw bad(['runs', j, 'run_id'], 'expected a run id, found NULL');
            if (seen.has(r.run_id)) throw bad(['runs', j, 'run_id'], `run ${r.run_id} appears twice (also in ${seen.get(r.run_id)})`);
            if (r.verdict === 'running') throw bad(['runs', j, 'verdict'], `run ${r.run_id} is unfinished (verdict "running": its runner stopped before the end); only finished runs are imported`);
            seen.set(r.run_id, name);
            a.runs.push({ run_id: r.run_id, scenario: r.scenario });
          }
          const inList = `(${a.runs.map((r) => lit(r.run_id)).join(', ')})`;
          for (const t of a.tables) {
            if (t === 'runs') continue;
            const orphan = (await c.runAndReadAll(`select run_id from ${alias}.${t} where run_id is null or run_id not in ${inList} limit 1`)).getRowObjectsJS()[0];
            if (orphan) throw bad([t, 'run_id'], `rows of run ${String(orphan.run_id)} that the file's runs table does not list`);
          }
        }
        const all = [...seen.keys()];
        const have = new Set((await c.runAndReadAll(`select run_id from main.runs where run_id in (${all.map(lit).join(', ')})`)).getRowObjectsJS().map((r) => String(r.run_id)));
        const counts = new Map<string, number>();
        await c.run('begin transaction');
        try {
          for (const a of attached) {
            const fresh = a.runs.filter((r) => !have.has(r.run_id));
            if (!fresh.length) continue;
            const freshList = `(${fresh.map((r) => lit(r.run_id)).join(', ')})`;
            for (const t of a.tables) {
              const n = (await c.runAndReadAll(`insert into main.${t} by name select * from ${a.alias}.${t} where run_id in ${freshList} returning run_id`)).getRowObjectsJS();
              for (const r of n) counts.set(String(r.run_id), (counts.get(String(r.run_id)) ?? 0) + 1);
            }
            await appendRows(c, 'run_imports', CONTROLLER_TABLES.run_imports, fresh.map((r) => ({
              run_id: r.run_id, scenario: r.scenario, source, file: a.name, imported_ms: this.now(), rows: counts.get(r.run_id) ?? 0,
            })));
          }
          await c.run('commit');
        } catch (e) {
          await c.run('rollback').catch(() => undefined);
          throw e;
        }
        return attached.map((a) => ({ file: a.name, runs: a.runs.map((r) => ({ runId: r.run_id, scenario: r.scenario, imported: !have.has(r.run_id), rows: counts.get(r.run_id) ?? 0 })) }));
      } finally {
        for (const a of attached) await c.run(`detach ${a.alias}`).catch(() => undefined);
        for (const f of copies) rmSync(f, { force: true });
      }
    });
  }

  /**
   * Runs one query on the read connection (it never waits for a write: DuckDB gives it a snapshot).
   * With `readOnlyStatements` (the operator API) only a single SELECT or EXPLAIN is accepted.
   * @param maxRows rows returned at most (default 10,000); `truncated` says when there were more.
   * @throws AnalyticsQueryError for a refused statement or a DuckDB error.
   */
  async query(sql: string, opts: { maxRows?: number; readOnlyStatements?: boolean } = {}): Promise<QueryResult> {
    if (this.closed) throw new Error(`${this.file}: the analytics store is closed`);
    const max = Math.max(1, Math.min(opts.maxRows ?? DEFAULT_MAX_ROWS, DEFAULT_MAX_ROWS));
    try {
      if (opts.readOnlyStatements) {
        const ex = await this.reader.extractStatements(sql);
        if (ex.count !== 1) throw new AnalyticsQueryError(`expected exactly one SQL statement, got ${ex.count}`);
        const p = await ex.prepare(0);
        if (!READ_STATEMENTS.has(p.statementType)) throw new AnalyticsQueryError(`only SELECT (or EXPLAIN) queries are allowed here, got ${StatementType[p.statementType] ?? p.statementType}`);
        const r = await p.runAndReadUntil(max + 1);
        return shape(r.columnNames(), r.getRowObjectsJS(), max);
      }
      const r = await this.reader.runAndReadUntil(sql, max + 1);
      return shape(r.columnNames(), r.getRowObjectsJS(), max);
    } catch (e) {
      if (e instanceof AnalyticsQueryError) throw e;
      throw new AnalyticsQueryError((e as Error).message, { cause: e });
    }
  }

  /** Waits for pending writes, then closes (DuckDB checkpoints on close). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.lock.run(async () => undefined);
    this.closed = true;
    this.reader.closeSync();
    this.writer.closeSync();
    this.instance.closeSync();
    if (this.staging) rmSync(this.staging, { recursive: true, force: true });
  }
}

function shape(columns: string[], raw: Record<string, unknown>[], max: number): QueryResult {
  const rows = raw.slice(0, max).map((o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, plain(v)])));
  return { columns, rows, truncated: raw.length > max };
}

/** Appends rows through DuckDB's appender, one data chunk per 2048 rows, in the connection's transaction if any. */
async function appendRows(c: DuckDBConnection, table: string, cols: Columns, rows: readonly AnalyticsRow[]): Promise<void> {
  if (!rows.length) return;
  const types = cols.map(([, t]) => TYPES[t]);
  const app = await c.createAppender(table);
  try {
    for (let i = 0; i < rows.length; i += 2048) {
      const part = rows.slice(i, i + 2048);
      const chunk = DuckDBDataChunk.create(types, part.length);
      cols.forEach(([name, t], ci) => {
        const v = chunk.getColumnVector(ci) as unknown as { setItem(i: number, v: DuckDBValue): void; flush(): void };
        const conv = CONVERT[t];
        for (let r = 0; r < part.length; r++) { const x = part[r]![name]; v.setItem(r, x === null || x === undefined ? null : conv(x)); }
        v.flush();
      });
      app.appendDataChunk(chunk);
    }
    app.flushSync();
  } finally {
    app.closeSync();
  }
}
