/**
 * `patronus analytics import|query`: the controller's cumulative analytics store (controller/analytics,
 * docs/telemetry.md "Controller analytics store").
 *
 * The store has one writer, the controller. So while `patronus controller serve` runs (its operator API
 * endpoint is in `<state>/operator-api.json`), or when `--controller URL` is given, both commands go through
 * the operator API with a bearer token (`--token`, or PATRONUS_TOKEN): query needs the viewer role, import
 * the operator role (the run file is uploaded). When no controller runs they open the file directly —
 * read-only for query, as the writer for import.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { InputError } from '../../dataplane/errors.ts';
import { stateFiles, DEFAULT_STATE_DIR } from '../store/index.ts';
import { AnalyticsStore, DEFAULT_MAX_ROWS, isAnalyticsQueryError, type ImportResult, type QueryResult } from '../analytics/index.ts';
import { registerCommand } from './cli.ts';
import { table } from './format.ts';

const USAGE = `usage:
  patronus analytics import RUN.duckdb... [--json]
  patronus analytics query SQL [--json] [--max-rows N]
common: [--state DIR] [--controller URL --token TOKEN [--ca CA.pem]]
Through the running controller's operator API when one serves --state (or with --controller; token from
--token or PATRONUS_TOKEN: viewer for query, operator for import), else directly on <state>/analytics.duckdb.
Exit: 0 ok, 1 failed (a query error, the controller unreachable), 2 bad input (a corrupt or foreign run file).
`;

const OPTIONS = {
  state: { type: 'string' }, controller: { type: 'string' }, token: { type: 'string' }, ca: { type: 'string' },
  json: { type: 'boolean' }, 'max-rows': { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

const bad = (what: string, message: string) => new InputError(`patronus analytics ${what}`, [{ path: [], message }]);

interface Remote { url: string; token: string; ca?: string }

/** The operator API to use, or null to open the file directly. */
function remoteOf(v: { controller?: string; token?: string; ca?: string }, state: string): Remote | null {
  const files = stateFiles(state);
  let url = v.controller;
  if (!url && existsSync(files.operatorEndpoint)) {
    try {
      const e = JSON.parse(readFileSync(files.operatorEndpoint, 'utf8')) as { pid?: number; url?: string };
      // A file left by a killed controller names a dead pid: then the store is free to open directly.
      if (e.pid && e.url) { process.kill(e.pid, 0); url = e.url; }
    } catch { /* no live controller */ }
  }
  if (!url) return null;
  let base: URL;
  try { base = new URL(url); } catch { throw bad('--controller', `expected an https:// URL of the operator API, got "${url}"`); }
  const token = v.token ?? process.env.PATRONUS_TOKEN;
  if (!token) throw bad('--token', `the controller at ${base.origin} owns the analytics store; give an operator API token (--token or PATRONUS_TOKEN)`);
  const caFile = v.ca ?? (existsSync(`${files.ca}/cert.pem`) ? `${files.ca}/cert.pem` : undefined);
  return { url: base.origin, token, ...(caFile && { ca: readFileSync(caFile, 'utf8') }) };
}

function call(r: Remote, path: string, body: Buffer, headers: Record<string, string>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, r.url), {
      method: 'POST', ...(r.ca && { ca: r.ca }),
      headers: { authorization: `Bearer ${r.token}`, 'content-length': String(body.length), ...headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let out: { error?: string } & Record<string, unknown>;
        try { out = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { return reject(new Error(`${r.url}${path}: HTTP ${res.statusCode}, not JSON`)); }
        if (res.statusCode === 200) return resolve(out);
        // A refused run file is bad input here too, whichever side found it.
        if (res.statusCode === 400 && path.endsWith('/runs')) return reject(new InputError(headers['x-patronus-file'] ?? 'run file', [{ path: [], message: `refused by the controller: ${out.error}` }]));
        reject(new Error(`${r.url}${path}: HTTP ${res.statusCode}: ${out.error ?? 'no error message'}`));
      });
      res.on('error', reject);
    });
    req.on('error', (e) => reject(new Error(`${r.url}: ${e.message}`)));
    req.end(body);
  });
}

const show = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'number' ? String(+v.toFixed(4)) : typeof v === 'object' ? JSON.stringify(v) : String(v));

async function query(sql: string, v: { json?: boolean; 'max-rows'?: string; controller?: string; token?: string; ca?: string }, state: string): Promise<number> {
  const maxRows = v['max-rows'] === undefined ? DEFAULT_MAX_ROWS : Number(v['max-rows']);
  if (!Number.isInteger(maxRows) || maxRows < 1 || maxRows > DEFAULT_MAX_ROWS) throw bad('--max-rows', `expected an integer 1…${DEFAULT_MAX_ROWS}, got "${v['max-rows']}"`);
  const remote = remoteOf(v, state);
  let r: QueryResult;
  if (remote) {
    r = await call(remote, '/api/v1/analytics/query', Buffer.from(JSON.stringify({ sql, maxRows })), { 'content-type': 'application/json' }) as QueryResult;
  } else {
    const file = stateFiles(state).analytics;
    if (!existsSync(file)) throw new Error(`no analytics store at ${file} yet (the controller creates it; or run \`patronus analytics import\`)`);
    const a = await AnalyticsStore.open(file, { readOnly: true });
    try { r = await a.query(sql, { maxRows }); } catch (e) {
      if (isAnalyticsQueryError(e)) { process.stderr.write(`patronus analytics query: ${e.message}\n`); return 1; }
      throw e;
    } finally { await a.close(); }
  }
  if (v.json) process.stdout.write(`${JSON.stringify({ columns: r.columns, rows: r.rows, truncated: r.truncated })}\n`);
  else {
    process.stdout.write(table([r.columns.map((c) => c.toUpperCase()), ...r.rows.map((row) => r.columns.map((c) => show(row[c])))]));
    if (r.truncated) process.stderr.write(`(only the first ${r.rows.length} rows; --max-rows or a LIMIT)\n`);
  }
  return 0;
}

async function importFiles(files: string[], v: { json?: boolean; controller?: string; token?: string; ca?: string }, state: string): Promise<number> {
  for (const f of files) {
    if (!existsSync(f) || !statSync(f).isFile()) throw new InputError(f, [{ path: [], message: 'no such run file' }]);
  }
  const remote = remoteOf(v, state);
  let results: ImportResult[];
  if (remote) {
    // One file per request, each imported atomically by the controller.
    results = [];
    for (const f of files) results.push(await call(remote, '/api/v1/analytics/runs', readFileSync(f), { 'content-type': 'application/octet-stream', 'x-patronus-file': basename(f) }) as ImportResult);
  } else {
    mkdirSync(stateFiles(state).root, { recursive: true, mode: 0o700 });
    const a = await AnalyticsStore.open(stateFiles(state).analytics);
    try { results = await a.importRuns(files, 'cli'); } finally { await a.close(); }
  }
  if (v.json) process.stdout.write(`${JSON.stringify(results)}\n`);
  else {
    const rows = results.flatMap((r) => r.runs.map((x) => [r.file, x.runId, x.scenario ?? '', x.imported ? `imported (${x.rows} rows)` : 'already there']));
    process.stdout.write(table([['FILE', 'RUN', 'SCENARIO', 'RESULT'], ...rows]));
  }
  return 0;
}

async function runAnalytics(argv: string[]): Promise<number> {
  let parsed;
  try { parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }); } catch (e) {
    process.stderr.write(`patronus analytics: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values: v, positionals: [sub, ...args] } = parsed;
  if (v.help || !sub) { (v.help ? process.stdout : process.stderr).write(USAGE); return v.help ? 0 : 2; }
  const state = v.state ?? DEFAULT_STATE_DIR;
  switch (sub) {
    case 'query':
      if (args.length !== 1 || !args[0]!.trim()) throw bad('query', 'expected exactly one SQL argument (quote it)');
      return query(args[0]!, v, state);
    case 'import':
      if (!args.length) throw bad('import', 'expected at least one run file (RUN.duckdb)');
      return importFiles(args, v, state);
    default:
      process.stderr.write(`patronus analytics: unknown sub-command "${sub}" (known: import, query)\n${USAGE}`);
      return 2;
  }
}

registerCommand({ name: 'analytics', summary: "the controller's DuckDB analytics store: import run files, query", run: runAnalytics });
