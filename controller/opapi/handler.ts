/**
 * The operator API as one Node request handler (mount it on `http.createServer` or `https.createServer`): a
 * table of routes, each with the least role it needs. Bearer tokens are looked up by their sha256 in the store.
 * Every change is audited (in the same transaction as the change where the store does the change), and so is
 * every refused attempt: 401 (no or unknown token) and 403 (role too weak) as `denied`, failures as `error`.
 * Reads that succeed are not audited.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KeyObject } from 'node:crypto';
import { isInputError } from '../../dataplane/errors.ts';
import {
  isStoreConflictError, isStoreNotFoundError, type AuditOutcome, type Role, type Store,
} from '../store/index.ts';
import { addVersion, diffVersions, evictAfterRevocation, rollbackTo, UnknownVersionError } from '../versions/index.ts';
import type { InventorySource } from '../versions/inventory.ts';
import { allows, createOperatorToken, hashToken, isRole } from './tokens.ts';

/** Who is calling: the token's name and role. */
export interface Caller { name: string; role: Role }

/**
 * What the promotion workflow (controller/promotion) offers the API; each returns a JSON-able result.
 * The API checks roles and audits around these calls.
 */
export interface PromotionActions {
  start(version: number, by: Caller): Promise<unknown>;
  approve(id: string, by: Caller): Promise<unknown>;
  abort(id: string, by: Caller): Promise<unknown>;
}

/** Options of {@link createOpApiHandler}. */
export interface OpApiOptions {
  store: Store;
  /** Signs the bundles of pushed versions. */
  signingKey: KeyObject;
  /** The inventory pushes and rollbacks compile against (e.g. enrolled edges, or a lab for the twin). */
  inventory: () => Promise<InventorySource>;
  /** The promotion workflow; without it promotion routes answer 501 (after the role check). */
  promotions?: PromotionActions;
  /** Largest accepted request body, bytes (default 4 MiB). */
  maxBodyBytes?: number;
}

/** An HTTP error with a status; its message goes to the client and to the audit log. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

interface Ctx {
  params: Record<string, string>;
  query: URLSearchParams;
  body: () => Promise<Record<string, unknown>>;
  caller: Caller;
}
interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path under /api/v1 with `:param` segments. */
  path: string;
  role: Role;
  /** Audit action name (also used for denied attempts). */
  action: string;
  /** Audit target from the params, e.g. `version:3`. */
  target?: (p: Record<string, string>) => string;
  handle: (ctx: Ctx) => Promise<[number, unknown]>;
}

const PREFIX = '/api/v1';

const intParam = (s: string, what: string) => {
  if (!/^\d+$/.test(s)) throw new HttpError(400, `${what}: expected a number, got "${s}"`);
  return Number(s);
};
const str = (b: Record<string, unknown>, k: string, required: boolean): string | undefined => {
  const v = b[k];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || (required && v === '')) throw new HttpError(400, `body.${k}: expected a ${required ? 'non-empty ' : ''}string`);
  return v;
};

function routes(o: OpApiOptions): Route[] {
  const { store } = o;
  const promotions = () => {
    if (!o.promotions) throw new HttpError(501, 'promotions are not available on this server');
    return o.promotions;
  };
  return [
    { method: 'GET', path: '/versions', role: 'viewer', action: 'version.list', handle: async ({ query }) => {
      const limit = query.get('limit');
      const rows = await store.listVersions({ limit: limit ? intParam(limit, 'limit') : undefined });
      return [200, rows.map(({ intentYaml: _y, ...r }) => r)];
    } },
    { method: 'GET', path: '/versions/:id', role: 'viewer', action: 'version.show', target: (p) => `version:${p.id}`, handle: async ({ params }) => {
      const id = intParam(params.id!, 'version');
      const v = await store.getVersion(id);
      if (!v) throw new HttpError(404, `no intent version ${id}`);
      return [200, { ...v, bundles: await store.listBundleHashes(id) }];
    } },
    { method: 'GET', path: '/versions/:a/diff/:b', role: 'viewer', action: 'version.diff', handle: async ({ params }) =>
      [200, await diffVersions(store, intParam(params.a!, 'version'), intParam(params.b!, 'version'))] },
    { method: 'POST', path: '/versions', role: 'operator', action: 'intent.push', handle: async ({ body, caller }) => {
      const b = await body();
      const intent = str(b, 'intent', true)!;
      const message = str(b, 'message', false) ?? '';
      const inv = await o.inventory();
      const r = await addVersion(store, { yaml: intent, file: 'request:body.intent' }, {
        author: caller.name, message, inventory: inv.inventory, inventoryFile: inv.file, signingKey: o.signingKey,
        audit: { actor: caller.name, role: caller.role },
      });
      return [201, { version: r.version.id, parent: r.version.parent, edges: r.bundles.size, warnings: r.warnings, blast: r.blast }];
    } },
    { method: 'POST', path: '/versions/:id/rollback', role: 'operator', action: 'intent.rollback', target: (p) => `version:${p.id}`, handle: async ({ params, body, caller }) => {
      const b = await body();
      const inv = await o.inventory();
      const r = await rollbackTo(store, intParam(params.id!, 'version'), {
        author: caller.name, message: str(b, 'message', false), inventory: inv.inventory, inventoryFile: inv.file,
        signingKey: o.signingKey, audit: { actor: caller.name, role: caller.role },
      });
      return [201, { version: r.version.id, restores: r.version.restores, blast: r.blast }];
    } },
    { method: 'GET', path: '/promotions', role: 'viewer', action: 'promotion.list', handle: async ({ query }) =>
      [200, await store.listPromotions({ status: query.get('status') ?? undefined })] },
    { method: 'GET', path: '/promotions/:id', role: 'viewer', action: 'promotion.show', handle: async ({ params }) => {
      const p = await store.getPromotion(params.id!);
      if (!p) throw new HttpError(404, `no promotion ${params.id}`);
      return [200, p];
    } },
    { method: 'POST', path: '/promotions', role: 'operator', action: 'promotion.start', handle: async ({ body, caller }) => {
      const b = await body();
      if (!Number.isInteger(b.version)) throw new HttpError(400, 'body.version: expected a version number');
      const p = promotions();
      const r = await p.start(b.version as number, caller);
      await audit(store, caller, 'promotion.start', `version:${String(b.version)}`, 'ok', { result: r });
      return [202, r];
    } },
    ...(['approve', 'abort'] as const).map((verb): Route => ({
      method: 'POST', path: `/promotions/:id/${verb}`, role: 'operator', action: `promotion.${verb}`, target: (p) => `promotion:${p.id}`,
      handle: async ({ params, caller }) => {
        const p = promotions();
        const r = await p[verb](params.id!, caller);
        await audit(store, caller, `promotion.${verb}`, `promotion:${params.id}`, 'ok', { result: r });
        return [200, r];
      },
    })),
    { method: 'GET', path: '/edges', role: 'viewer', action: 'edge.list', handle: async () => [200, await store.listEdges()] },
    { method: 'DELETE', path: '/edges/:name', role: 'admin', action: 'edge.delete', target: (p) => `edge:${p.name}`, handle: async ({ params, caller }) => {
      const gone = await store.tx(async (tx) => {
        const ok = await tx.deleteEdge(params.name!);
        if (ok) await audit(tx, caller, 'edge.delete', `edge:${params.name}`, 'ok', null);
        return ok;
      });
      if (!gone) throw new HttpError(404, `no edge ${params.name}`);
      return [200, { deleted: params.name }];
    } },
    { method: 'POST', path: '/certificates/:serial/revoke', role: 'admin', action: 'cert.revoke', target: (p) => `cert:${p.serial}`, handle: async ({ params, body, caller }) => {
      const reason = str(await body(), 'reason', false) ?? 'unspecified';
      const ok = await store.tx(async (tx) => {
        const done = await tx.revokeCertificate(params.serial!, reason, Date.now());
        if (done) await audit(tx, caller, 'cert.revoke', `cert:${params.serial}`, 'ok', { reason });
        return done;
      });
      if (!ok) throw new HttpError(404, `no unrevoked certificate ${params.serial}`);
      // The edge's last valid certificate: a version without it, desired fleet-wide (controller/versions/evict.ts).
      const ev = await evictAfterRevocation(store, params.serial!, { signingKey: o.signingKey, actor: caller.name });
      return [200, { revoked: params.serial, reason, ...(ev && { evicted: { edge: ev.edge, version: ev.version, edges: ev.edges } }) }];
    } },
    { method: 'GET', path: '/tokens', role: 'admin', action: 'token.list', handle: async () =>
      [200, (await store.listOperatorTokens()).map(({ tokenHash: _h, ...r }) => r)] },
    { method: 'POST', path: '/tokens', role: 'admin', action: 'token.create', handle: async ({ body, caller }) => {
      const b = await body();
      const name = str(b, 'name', true)!;
      if (!isRole(b.role)) throw new HttpError(400, 'body.role: expected admin, operator or viewer');
      const { token, record } = await createOperatorToken(store, name, b.role, { actor: caller.name, role: caller.role });
      return [201, { name: record.name, role: record.role, token }];
    } },
    { method: 'DELETE', path: '/tokens/:name', role: 'admin', action: 'token.delete', target: (p) => `token:${p.name}`, handle: async ({ params, caller }) => {
      const gone = await store.tx(async (tx) => {
        const ok = await tx.deleteOperatorToken(params.name!);
        if (ok) await audit(tx, caller, 'token.delete', `token:${params.name}`, 'ok', null);
        return ok;
      });
      if (!gone) throw new HttpError(404, `no token ${params.name}`);
      return [200, { deleted: params.name }];
    } },
    { method: 'GET', path: '/audit', role: 'admin', action: 'audit.list', handle: async ({ query }) => {
      const outcome = query.get('outcome');
      if (outcome !== null && !['ok', 'denied', 'error'].includes(outcome)) throw new HttpError(400, 'outcome: expected ok, denied or error');
      const limit = query.get('limit');
      return [200, await store.listAudit({
        limit: limit ? intParam(limit, 'limit') : undefined, actor: query.get('actor') ?? undefined,
        action: query.get('action') ?? undefined, outcome: (outcome ?? undefined) as AuditOutcome | undefined,
      })];
    } },
  ];
}

function audit(store: Store, who: Caller | null, action: string, target: string | null, outcome: AuditOutcome, detail: unknown) {
  return store.appendAudit({ actor: who?.name ?? 'anonymous', role: who?.role ?? null, action, target, outcome, detail });
}

function match(route: Route, segs: string[]): Record<string, string> | null {
  const want = route.path.split('/').filter(Boolean);
  if (want.length !== segs.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i]!.startsWith(':')) params[want[i]!.slice(1)] = decodeURIComponent(segs[i]!);
    else if (want[i] !== segs[i]) return null;
  }
  return params;
}

function readBody(req: IncomingMessage, max: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) { reject(new HttpError(413, `request body larger than ${max} bytes`)); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (!text.trim()) return resolve({});
      try {
        const v = JSON.parse(text);
        if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
        resolve(v);
      } catch {
        reject(new HttpError(400, 'request body: expected a JSON object'));
      }
    });
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * Builds the operator API handler. Paths live under `/api/v1`; send `Authorization: Bearer <token>`.
 * Status codes: 401 missing/unknown token, 403 role too weak, 400 bad input (with file and key path for an
 * intent), 404 unknown thing, 409 conflict, 501 promotions not wired, 500 otherwise.
 * @example
 * const server = https.createServer(tlsOptions, createOpApiHandler({ store, signingKey, inventory }));
 * // curl -H 'authorization: Bearer ptk_…' https://controller:8443/api/v1/versions
 */
export function createOpApiHandler(o: OpApiOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const table = routes(o);
  const max = o.maxBodyBytes ?? 4 << 20;
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://opapi');
    const method = req.method ?? 'GET';
    if (!url.pathname.startsWith(`${PREFIX}/`)) return send(res, 404, { error: `unknown path ${url.pathname} (the API lives under ${PREFIX}/)` });
    const segs = url.pathname.slice(PREFIX.length).split('/').filter(Boolean);
    let route: Route | undefined;
    let params: Record<string, string> = {};
    const allowed: string[] = [];
    for (const r of table) {
      const p = match(r, segs);
      if (!p) continue;
      allowed.push(r.method);
      if (r.method === method) { route = r; params = p; break; }
    }
    if (!route) {
      if (allowed.length) return send(res, 405, { error: `${method} not allowed here (allowed: ${allowed.join(', ')})` });
      return send(res, 404, { error: `unknown path ${url.pathname}` });
    }
    const target = route.target?.(params) ?? null;
    const detail = { method, path: url.pathname, remote: req.socket.remoteAddress ?? null };
    let caller: Caller | null = null;
    try {
      const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
      const rec = m ? await o.store.findOperatorToken(hashToken(m[1]!)) : null;
      if (!rec) {
        await audit(o.store, null, route.action, target, 'denied', { ...detail, reason: m ? 'unknown token' : 'no bearer token' });
        res.setHeader('www-authenticate', 'Bearer realm="patronus"');
        return send(res, 401, { error: m ? 'unknown token' : 'missing bearer token (Authorization: Bearer …)' });
      }
      caller = { name: rec.name, role: rec.role };
      if (!allows(rec.role, route.role)) {
        await audit(o.store, caller, route.action, target, 'denied', { ...detail, reason: `needs role ${route.role}` });
        return send(res, 403, { error: `${route.action} needs role ${route.role}; token "${rec.name}" has role ${rec.role}` });
      }
      const [status, body] = await route.handle({ params, query: url.searchParams, body: () => readBody(req, max), caller });
      return send(res, status, body);
    } catch (e) {
      const [status, message] =
        e instanceof HttpError ? [e.status, e.message]
        : e instanceof UnknownVersionError ? [404, e.message]
        : isInputError(e) ? [400, e.message]
        : isStoreConflictError(e) ? [409, e.message]
        : isStoreNotFoundError(e) ? [404, e.message]
        : [500, 'internal error'];
      if (route.method !== 'GET' || status >= 500) {
        await audit(o.store, caller, route.action, target, 'error', { ...detail, status, error: status >= 500 ? (e as Error).message : message }).catch(() => {});
      }
      if (!res.headersSent) send(res, status, { error: message });
    }
  };
}
