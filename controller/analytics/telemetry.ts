/**
 * Edge health reports into the analytics store, through a write-ahead log.
 *
 * Why a log and not an in-memory queue: the project's rule is that faults lose no data, and an edge is told
 * 200 only once its report is safe. Appending one JSON line to a file is synchronous and survives a SIGKILL
 * of the controller (the kernel's page cache has it); a memory queue would lose up to a batch. Once a second
 * the log is rotated (renamed, so new reports go to a fresh file) and the rotated file goes into DuckDB in one
 * transaction (SQL run by DuckDB, {@link healthImportSql}), then is deleted. Every report carries a sequence
 * number; after a crash the leftover files are replayed and reports at or below the store's largest `edge_health.seq` are skipped, so a
 * crash between DuckDB's commit and the delete duplicates nothing. Power loss can lose what the page cache
 * had not written back (at most about one flush interval): DuckDB's commit is the fsync.
 *
 * Bounded: when the log files reach `maxLogBytes` (DuckDB stuck or the disk slow), appends are refused and the
 * edge API answers 503 — the edge learns its report was not taken instead of the controller growing without
 * limit.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { AnalyticsRow, AnalyticsStore } from './store.ts';

/** One health report as the edge API received it (POST /v1/health). */
export interface HealthReport {
  edge: string;
  /** When the controller received it, Unix ms. */
  receivedAt: number;
  /** The edge's health object (dataplane/agent/controller-client.ts `sendHealth`). */
  health: Record<string, unknown>;
  /** Telemetry records sent with it. */
  telemetry?: Record<string, unknown>[];
}

/** Appends were refused: the log holds more than its bound. The edge API answers 503. */
export class TelemetryBackpressureError extends Error {
  override name = 'TelemetryBackpressureError';
}

/** Options of {@link TelemetryLog.open}. */
export interface TelemetryLogOptions {
  /** Largest total size of the log files before appends are refused, bytes. Default 256 MiB. */
  maxLogBytes?: number;
  /** Where problems go (a torn last line, a flush that failed). Default stderr. */
  log?: (line: string) => void;
}

interface Entry extends HealthReport { seq: number }


const str = (v: unknown): string | null => (typeof v === 'string' ? v : v === null || v === undefined ? null : JSON.stringify(v));
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);
const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : {});
const arr = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.map(obj) : []);

/** The rows one health report becomes, per table. */
export function healthRows(e: Entry): { edge_health: AnalyticsRow[]; edge_paths: AnalyticsRow[]; edge_bgp: AnalyticsRow[]; edge_telemetry: AnalyticsRow[] } {
  const h = e.health;
  const base = { seq: e.seq, edge: e.edge, received_ms: e.receivedAt };
  const paths = arr(h.paths);
  const bgp = Array.isArray(h.bgp) ? arr(h.bgp) : null;
  const bundle = obj(h.bundle);
  const commit = h.commitConfirmed === null || h.commitConfirmed === undefined ? null : obj(h.commitConfirmed);
  return {
    edge_health: [{
      ...base, reported_at: str(h.at), healthy: bool(h.healthy), reason: str(h.reason), sla_compliance: num(h.slaCompliance),
      bundle_hash: str(bundle.hash), bundle_source: str(bundle.source), commit_ok: commit ? bool(commit.ok) : null, last_error: str(h.lastError),
      paths_total: paths.length, paths_up: paths.filter((p) => p.state === 'up').length, paths_down: paths.filter((p) => p.state === 'down').length,
      bgp_total: bgp ? bgp.length : null, bgp_established: bgp ? bgp.filter((n) => n.state === 'Established').length : null, health: JSON.stringify(h),
    }],
    edge_paths: paths.map((p) => ({
      ...base, path_id: num(p.id), peer: str(p.peer), transport: str(p.transport), state: str(p.state), rtt_ms: num(p.rttMs), loss: num(p.loss),
      compliant: Array.isArray(p.compliant) ? p.compliant.join(',') : str(p.compliant),
    })),
    edge_bgp: (bgp ?? []).map((n) => ({ ...base, address: str(n.address), asn: num(n.asn), state: str(n.state) })),
    edge_telemetry: (e.telemetry ?? []).map((r, idx) => ({ ...base, idx, kind: typeof r.kind === 'string' ? r.kind : null, record: JSON.stringify(r) })),
  };
}

/**
 * The import of one log file as SQL that DuckDB runs on its own threads — {@link healthRows} expressed in SQL, row
 * for row (test/controller/analytics-telemetry.test.ts checks the two agree on odd input). `file` is a quoted
 * SQL literal; reports at or below `watermark` are skipped. Building the rows in JavaScript and appending them
 * took the controller's event loop for 100-500 ms per second at 1,000 edges (9,000 rows a second), the edge
 * API's p99.
 */
export function healthImportSql(file: string, watermark: number): { load: string; count: string; inserts: string[]; drop: string } {
  const w = Math.trunc(watermark);
  const ok = `seq is not null and seq > ${w} and edge is not null`;
  // str(): a JSON string as is, null/absent as NULL, anything else as its JSON text; num(): numbers only; bool(): booleans only.
  const str = (j: string) => `(case json_type(${j}) when 'VARCHAR' then json_extract_string(${j}, '$') when 'NULL' then null else (${j})::varchar end)`;
  const num = (j: string) => `(case when json_type(${j}) in ('UBIGINT', 'BIGINT', 'DOUBLE') then (${j})::double end)`;
  const bool = (j: string) => `(case when json_type(${j}) = 'BOOLEAN' then (${j})::boolean end)`;
  const isArr = (j: string) => `json_type(${j}) = 'ARRAY'`;
  const count = (list: string, state: string) => `len(list_filter(json_extract_string(${list}, '$[*].state'), s -> s = '${state}'))`;
  const base = 'seq, edge, received_ms';
  return {
    load: `create or replace temp table pt_wal as select seq, edge, "receivedAt" as received_ms, health, telemetry
      from read_json(${file}, format = 'newline_delimited', ignore_errors = true,
        columns = {seq: 'BIGINT', edge: 'VARCHAR', receivedAt: 'BIGINT', health: 'JSON', telemetry: 'JSON'})`,
    count: `select count(*) filter (where seq is null) as torn, count(*) filter (where ${ok}) as n, max(seq) filter (where ${ok}) as max_seq from pt_wal`,
    inserts: [
      `insert into edge_health select ${base}, ${str("health->'$.at'")}, ${bool("health->'$.healthy'")}, ${str("health->'$.reason'")},
        ${num("health->'$.slaCompliance'")},
        case when json_type(health->'$.bundle') = 'OBJECT' then ${str("health->'$.bundle.hash'")} end,
        case when json_type(health->'$.bundle') = 'OBJECT' then ${str("health->'$.bundle.source'")} end,
        case when json_type(health->'$.commitConfirmed') = 'OBJECT' then ${bool("health->'$.commitConfirmed.ok'")} end,
        ${str("health->'$.lastError'")},
        case when ${isArr("health->'$.paths'")} then json_array_length(health->'$.paths') else 0 end,
        case when ${isArr("health->'$.paths'")} then ${count("health->'$.paths'", 'up')} else 0 end,
        case when ${isArr("health->'$.paths'")} then ${count("health->'$.paths'", 'down')} else 0 end,
        case when ${isArr("health->'$.bgp'")} then json_array_length(health->'$.bgp') end,
        case when ${isArr("health->'$.bgp'")} then ${count("health->'$.bgp'", 'Established')} end,
        health::varchar
        from pt_wal where ${ok}`,
      `insert into edge_paths select ${base}, ${num("p->'$.id'")}, ${str("p->'$.peer'")}, ${str("p->'$.transport'")}, ${str("p->'$.state'")},
        ${num("p->'$.rttMs'")}, ${num("p->'$.loss'")},
        case when ${isArr("p->'$.compliant'")} then array_to_string(json_extract_string(p, '$.compliant[*]'), ',') else ${str("p->'$.compliant'")} end
        from (select ${base}, unnest(json_extract(health, '$.paths[*]')) as p from pt_wal where ${ok} and ${isArr("health->'$.paths'")})`,
      `insert into edge_bgp select ${base}, ${str("n->'$.address'")}, ${num("n->'$.asn'")}, ${str("n->'$.state'")}
        from (select ${base}, unnest(json_extract(health, '$.bgp[*]')) as n from pt_wal where ${ok} and ${isArr("health->'$.bgp'")})`,
      `insert into edge_telemetry select ${base}, i - 1, case when json_type(r->'$.kind') = 'VARCHAR' then json_extract_string(r, '$.kind') end, r::varchar
        from (select ${base}, unnest(json_extract(telemetry, '$[*]')) as r, unnest(range(1, json_array_length(telemetry)::bigint + 1)) as i
              from pt_wal where ${ok} and ${isArr('telemetry')})`,
    ],
    drop: 'drop table pt_wal',
  };
}

/**
 * The write-ahead log of health reports in front of the analytics store.
 * @example
 * const wal = await TelemetryLog.open(analytics, join(stateDir, 'telemetry.wal'));
 * wal.append({ edge: 'edge1', receivedAt: Date.now(), health: { healthy: true, paths: [] } });   // sync, durable vs SIGKILL
 * await wal.flush();                                                                               // → edge_health etc.
 */
export class TelemetryLog {
  private bytes = 0;
  private gen = 0;
  private flushing: Promise<number> | null = null;
  /** The active file, open for appending (appendFileSync opened and closed it per report); closed at rotation. */
  private fd: number | null = null;

  private constructor(
    private readonly store: AnalyticsStore,
    /** The active log file; rotated ones are `<file>.<n>`. */
    readonly file: string,
    private seq: number,
    private watermark: number,
    private readonly maxBytes: number,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Opens the log at `file` for `store`, finding leftovers of an earlier process (replayed by the next
   * {@link flush}) and continuing their sequence.
   */
  static async open(store: AnalyticsStore, file: string, opts: TelemetryLogOptions = {}): Promise<TelemetryLog> {
    const watermark = (await store.maxOf('edge_health', 'seq')) ?? 0;
    const log = opts.log ?? ((l: string) => process.stderr.write(`patronus analytics: ${l}\n`));
    const t = new TelemetryLog(store, file, watermark, watermark, opts.maxLogBytes ?? 256 << 20, log);
    for (const f of t.pending()) {
      t.bytes += statSync(f.path).size;
      t.gen = Math.max(t.gen, f.gen);
      for (const e of t.read(f.path, false)) t.seq = Math.max(t.seq, e.seq);
    }
    if (existsSync(file)) {
      t.bytes += statSync(file).size;
      for (const e of t.read(file, false)) t.seq = Math.max(t.seq, e.seq);
    }
    return t;
  }

  /** Rotated files waiting for import, oldest first. */
  private pending(): { path: string; gen: number }[] {
    const dir = dirname(this.file);
    const prefix = `${basename(this.file)}.`;
    if (!existsSync(dir)) return [];
    return readdirSync(dir).filter((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length)))
      .map((n) => ({ path: join(dir, n), gen: Number(n.slice(prefix.length)) })).sort((a, b) => a.gen - b.gen);
  }

  /** Entries of one log file; a torn last line (a write cut by a crash) is skipped. */
  private read(path: string, warn = true): Entry[] {
    const text = readFileSync(path, 'utf8');
    const lines = text.split('\n');
    const out: Entry[] = [];
    lines.forEach((l, i) => {
      if (!l) return;
      try { out.push(JSON.parse(l) as Entry); } catch {
        if (warn) this.log(`${path}: line ${i + 1} is not JSON${i === lines.length - 1 ? ' (a write cut short by a crash; it was never acknowledged)' : ''}; skipped`);
      }
    });
    return out;
  }

  /** Bytes in the log files (active and rotated). */
  get size(): number { return this.bytes; }

  /**
   * Appends one report synchronously (returns once it is in the file), numbering it.
   * @throws TelemetryBackpressureError when the log files exceed their bound.
   */
  append(r: HealthReport): number {
    if (this.bytes >= this.maxBytes) throw new TelemetryBackpressureError(`the telemetry log holds ${this.bytes} bytes (bound ${this.maxBytes}); the analytics store is not keeping up`);
    const seq = this.seq + 1;
    const line = `${JSON.stringify({ seq, edge: r.edge, receivedAt: r.receivedAt, health: r.health, telemetry: r.telemetry ?? [] })}\n`;
    this.fd ??= openSync(this.file, 'a', 0o600);
    writeSync(this.fd, line);
    this.seq = seq;
    this.bytes += Buffer.byteLength(line);
    return seq;
  }

  /**
   * Moves what the log holds into the analytics store: rotates the active file, then imports every rotated
   * file (one transaction each) and deletes it. Concurrent calls share one run.
   * @returns health reports imported.
   */
  flush(): Promise<number> {
    this.flushing ??= this.flushNow().finally(() => { this.flushing = null; });
    return this.flushing;
  }

  private async flushNow(): Promise<number> {
    // Renaming is synchronous with appends (same thread), so no report lands in a file being imported; the next
    // append opens the new active file.
    if (this.fd !== null) { closeSync(this.fd); this.fd = null; }
    if (existsSync(this.file) && statSync(this.file).size > 0) renameSync(this.file, `${this.file}.${++this.gen}`);
    let n = 0;
    for (const f of this.pending()) {
      const size = statSync(f.path).size;
      // One transaction per file, run by DuckDB (healthImportSql): the edge API shares this thread.
      const got = await this.store.transactionOnFile(f.path, async (sql, path) => {
        const q = healthImportSql(path, this.watermark);
        await sql.run(q.load);
        const c = (await sql.rows(q.count))[0]!;
        if (Number(c.n) > 0) for (const ins of q.inserts) await sql.run(ins);
        await sql.run(q.drop);
        return { torn: Number(c.torn), n: Number(c.n), maxSeq: c.max_seq === null ? null : Number(c.max_seq) };
      });
      if (got.torn) this.log(`${f.path}: ${got.torn} line(s) not JSON (a write cut short by a crash is never acknowledged); skipped`);
      if (got.maxSeq !== null) this.watermark = Math.max(this.watermark, got.maxSeq);
      n += got.n;
      unlinkSync(f.path);
      this.bytes = Math.max(0, this.bytes - size);
    }
    return n;
  }
}
