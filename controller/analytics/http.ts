/**
 * The analytics routes of the operator API, served by the controller next to controller/opapi's routes
 * (same port, same bearer tokens and roles, same audit log): other processes read the store only through
 * these, since the controller is its single writer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInputError } from '../../dataplane/errors.ts';
import type { Role, Store } from '../store/index.ts';
import { allows, hashToken } from '../opapi/index.ts';
import { isAnalyticsQueryError } from './store.ts';
import type { ControllerAnalytics } from './service.ts';

/** Path prefix of the analytics routes. */
export const ANALYTICS_API_PREFIX = '/api/v1/analytics/';
/** Largest run file accepted by `POST /api/v1/analytics/runs`, bytes. */
export const MAX_UPLOAD_BYTES = 512 << 20;

class Refused extends Error { constructor(readonly status: number, message: string) { super(message); } }

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

async function readAll(req: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > max) throw new Refused(413, `request body larger than ${max} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Wraps the operator API handler `next` with the analytics routes:
 * - `POST /api/v1/analytics/query` `{sql, maxRows?}` (viewer) → `{columns, rows, truncated}`; only one SELECT
 *   or EXPLAIN statement; 400 with DuckDB's message otherwise.
 * - `POST /api/v1/analytics/runs` (operator), body = a scenario run file (`application/octet-stream`, at most
 *   512 MiB), `x-patronus-file: NAME` names it in errors → `{file, runs: [{runId, scenario, imported, rows}]}`;
 *   400 naming the file for a corrupt or foreign file (nothing imported). Audited `analytics.import`.
 * Everything else goes to `next`.
 * @example https.createServer(tls, withAnalyticsRoutes(analytics, store, createOpApiHandler({...})))
 */
export function withAnalyticsRoutes(
  a: ControllerAnalytics, store: Store, next: (req: IncomingMessage, res: ServerResponse) => unknown,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://opapi').pathname;
    if (!path.startsWith(ANALYTICS_API_PREFIX)) { await next(req, res); return; }
    const sub = path.slice(ANALYTICS_API_PREFIX.length);
    const route = sub === 'query' ? { role: 'viewer' as Role, action: 'analytics.query' } : sub === 'runs' ? { role: 'operator' as Role, action: 'analytics.import' } : null;
    if (!route) return send(res, 404, { error: `unknown path ${path} (known: ${ANALYTICS_API_PREFIX}query, ${ANALYTICS_API_PREFIX}runs)` });
    if (req.method !== 'POST') return send(res, 405, { error: `${req.method} not allowed here (allowed: POST)` });
    const detail = { method: req.method, path, remote: req.socket.remoteAddress ?? null };
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const tok = m ? await store.findOperatorToken(hashToken(m[1]!)) : null;
    if (!tok) {
      await store.appendAudit({ actor: 'anonymous', action: route.action, target: null, outcome: 'denied', detail: { ...detail, reason: m ? 'unknown token' : 'no bearer token' } });
      res.setHeader('www-authenticate', 'Bearer realm="patronus"');
      return send(res, 401, { error: m ? 'unknown token' : 'missing bearer token (Authorization: Bearer …)' });
    }
    if (!allows(tok.role, route.role)) {
      await store.appendAudit({ actor: tok.name, role: tok.role, action: route.action, target: null, outcome: 'denied', detail: { ...detail, reason: `needs role ${route.role}` } });
      return send(res, 403, { error: `${route.action} needs role ${route.role}; token "${tok.name}" has role ${tok.role}` });
    }
    try {
      if (sub === 'query') {
        let b: { sql?: unknown; maxRows?: unknown };
        try { b = JSON.parse((await readAll(req, 1 << 20)).toString('utf8')); } catch (e) { throw e instanceof Refused ? e : new Refused(400, 'request body: expected a JSON object {sql}'); }
        if (typeof b?.sql !== 'string' || !b.sql.trim()) throw new Refused(400, 'body.sql: expected a non-empty string');
        const maxRows = b.maxRows === undefined ? undefined : Number(b.maxRows);
        if (maxRows !== undefined && !(Number.isInteger(maxRows) && maxRows > 0)) throw new Refused(400, 'body.maxRows: expected a positive integer');
        return send(res, 200, await a.analytics.query(b.sql, { readOnlyStatements: true, maxRows }));
      }
      const name = String(req.headers['x-patronus-file'] ?? 'upload.duckdb').slice(0, 200);
      const data = await readAll(req, MAX_UPLOAD_BYTES);
      const dir = mkdtempSync(join(tmpdir(), 'pt.analytics-upload-'));
      try {
        writeFileSync(join(dir, 'run.duckdb'), data);
        const r = await a.importRun(join(dir, 'run.duckdb'), `api:${tok.name}`, name);
        await store.appendAudit({ actor: tok.name, role: tok.role, action: route.action, target: null, outcome: 'ok', detail: { file: name, runs: r.runs } });
        return send(res, 200, r);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    } catch (e) {
      const [status, message] = e instanceof Refused ? [e.status, e.message]
        : isInputError(e) || isAnalyticsQueryError(e) ? [400, (e as Error).message]
        : [500, 'internal error'];
      if (route.action === 'analytics.import' || status >= 500) {
        await store.appendAudit({ actor: tok.name, role: tok.role, action: route.action, target: null, outcome: 'error', detail: { ...detail, status, error: status >= 500 ? (e as Error).message : message } }).catch(() => undefined);
      }
      if (!res.headersSent) send(res, status, { error: message });
    }
  };
}
