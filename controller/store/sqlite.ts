/**
 * The embedded {@link Store}: SQLite through better-sqlite3 (synchronous underneath, async outside).
 *
 * Crash safety: WAL journal with `synchronous=FULL`, so a commit that returned survives a SIGKILL or power loss
 * and an interrupted transaction leaves no trace. `busy_timeout` lets a second process (a CLI next to a
 * running controller) wait for the write lock instead of failing. Foreign keys are on. The schema is created and
 * upgraded by numbered migrations recorded in `schema_migrations`; a database newer than this code is refused.
 *
 * Concurrency inside one process: one connection, and an async mutex so a {@link Store.tx} that awaits between
 * statements is never interleaved with another caller's statements. A call on the outer store made from inside a
 * running `tx` callback (same async context) joins that transaction instead of deadlocking.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreConflictError, StoreError, StoreNotFoundError, StoreVersionError } from './errors.ts';
import type {
  AuditEntry, AuditQuery, BundleRecord, CertificateRecord, ConsumeResult, EdgePatch, EdgeRecord,
  EnrolmentTokenRecord, IntentVersion, NewAuditEntry, NewIntentVersion, OperatorTokenRecord, PromotionRecord, Role,
  Store,
} from './types.ts';

type Db = Database.Database;
type Row = Record<string, unknown>;

/** Numbered schema migrations; index i upgrades version i to i+1. Append only — never edit a shipped one. */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE intent_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    parent INTEGER REFERENCES intent_versions(id),
    author TEXT NOT NULL,
    message TEXT NOT NULL,
    intent_yaml TEXT NOT NULL,
    intent_hash TEXT NOT NULL,
    restores INTEGER REFERENCES intent_versions(id),
    created_at INTEGER NOT NULL,
    report TEXT
  );
  CREATE TABLE bundles (
    version INTEGER NOT NULL REFERENCES intent_versions(id),
    edge TEXT NOT NULL,
    hash TEXT NOT NULL,
    envelope TEXT NOT NULL,
    PRIMARY KEY (version, edge)
  );
  CREATE TABLE edges (
    name TEXT PRIMARY KEY,
    site TEXT,
    enrolled_at INTEGER,
    inventory TEXT,
    inventory_at INTEGER,
    desired_version INTEGER REFERENCES intent_versions(id),
    applied_hash TEXT,
    applied_version INTEGER REFERENCES intent_versions(id),
    applied_at INTEGER,
    last_seen INTEGER,
    health TEXT
  );
  CREATE TABLE enrolment_tokens (
    token_hash TEXT PRIMARY KEY,
    edge TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE certificates (
    serial TEXT PRIMARY KEY,
    edge TEXT NOT NULL,
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    pem TEXT NOT NULL,
    revoked_at INTEGER,
    reason TEXT
  );
  CREATE INDEX certificates_edge ON certificates(edge);
  CREATE TABLE operator_tokens (
    token_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at INTEGER NOT NULL
  );
  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    role TEXT,
    action TEXT NOT NULL,
    target TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'error')),
    detail TEXT
  );
  CREATE INDEX audit_log_at ON audit_log(at);
  CREATE TABLE promotions (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL REFERENCES intent_versions(id),
    from_version INTEGER REFERENCES intent_versions(id),
    status TEXT NOT NULL,
    snapshot TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  `,
  // 2: the inventory each version was compiled against (JSON) and where it came from; NULL for older versions.
  `
  ALTER TABLE intent_versions ADD COLUMN inventory TEXT;
  ALTER TABLE intent_versions ADD COLUMN inventory_source TEXT;
  `,
];

/** The schema version this code writes (the number of migrations). */
export const STORE_SCHEMA_VERSION = MIGRATIONS.length;

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /** Clock for default timestamps, ms since the epoch (default `Date.now`). */
  now?: () => number;
  /** How long a statement waits for another process's write lock, ms (default 5000). */
  busyTimeoutMs?: number;
}

/**
 * Opens (creating and migrating when needed) the store at `path`, or an in-memory one for `':memory:'`.
 * The parent directory is created.
 * @throws StoreVersionError when the file was written by a newer schema.
 * @example const store = await openStore(join(stateDir, 'store.db'));
 */
export async function openStore(path: string, opts: OpenStoreOptions = {}): Promise<Store> {
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // Token hashes and certificates live here: create the file owner-only (SQLite gives -wal/-shm the same mode).
    closeSync(openSync(path, 'a', 0o600));
  }
  let db: Db;
  try {
    db = new Database(path, { timeout: opts.busyTimeoutMs ?? 5000 });
  } catch (cause) {
    throw new StoreError(`cannot open store ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    if (path !== ':memory:') db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db, path, opts.now ?? Date.now);
  } catch (e) {
    db.close();
    throw e;
  }
  return new SqliteStore(new Core(db, opts.now ?? Date.now), path, null);
}

function migrate(db: Db, path: string, now: () => number): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const current = (db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations').get() as { v: number }).v;
  if (current > MIGRATIONS.length) {
    throw new StoreVersionError(`${path}: store schema version ${current} is newer than this Patronus understands (${MIGRATIONS.length}); upgrade Patronus`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(v + 1, now());
    }).immediate();
  }
}

const json = (v: unknown): string | null => (v === undefined || v === null ? null : JSON.stringify(v));
const unjson = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : null);
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function translate(e: unknown, what: string): never {
  const code = (e as { code?: string }).code ?? '';
  if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') {
    throw new StoreConflictError(`${what}: already exists`, { cause: e });
  }
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new StoreNotFoundError(`${what}: refers to a version that does not exist`, { cause: e });
  if (e instanceof StoreError) throw e;
  throw new StoreError(`${what}: ${(e as Error).message}`, { cause: e });
}

const toVersion = (r: Row): IntentVersion => ({
  id: Number(r.id), parent: num(r.parent), author: String(r.author), message: String(r.message),
  intentYaml: String(r.intent_yaml), intentHash: String(r.intent_hash), restores: num(r.restores),
  createdAt: Number(r.created_at), report: unjson(r.report),
  inventory: unjson(r.inventory) ?? null, inventorySource: r.inventory_source == null ? null : String(r.inventory_source),
});
const toBundle = (r: Row): BundleRecord => ({
  version: Number(r.version), edge: String(r.edge), hash: String(r.hash), envelope: unjson(r.envelope),
});
const toEdge = (r: Row): EdgeRecord => ({
  name: String(r.name), site: str(r.site), enrolledAt: num(r.enrolled_at), inventory: unjson(r.inventory),
  inventoryAt: num(r.inventory_at), desiredVersion: num(r.desired_version), appliedHash: str(r.applied_hash),
  appliedVersion: num(r.applied_version), appliedAt: num(r.applied_at), lastSeen: num(r.last_seen), health: unjson(r.health),
});
const toEnrolment = (r: Row): EnrolmentTokenRecord => ({
  tokenHash: String(r.token_hash), edge: String(r.edge), expiresAt: Number(r.expires_at), usedAt: num(r.used_at),
  createdAt: Number(r.created_at),
});
const toCert = (r: Row): CertificateRecord => ({
  serial: String(r.serial), edge: String(r.edge), notBefore: Number(r.not_before), notAfter: Number(r.not_after),
  pem: String(r.pem), revokedAt: num(r.revoked_at), reason: str(r.reason),
});
const toOpToken = (r: Row): OperatorTokenRecord => ({
  tokenHash: String(r.token_hash), name: String(r.name), role: r.role as Role, createdAt: Number(r.created_at),
});
const toAudit = (r: Row): AuditEntry => ({
  id: Number(r.id), at: Number(r.at), actor: String(r.actor), role: (r.role ?? null) as Role | null,
  action: String(r.action), target: str(r.target), outcome: r.outcome as AuditEntry['outcome'], detail: unjson(r.detail),
});
const toPromotion = (r: Row): PromotionRecord => ({
  id: String(r.id), version: Number(r.version), fromVersion: num(r.from_version), status: String(r.status),
  snapshot: unjson(r.snapshot), createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
});

/** Edge fields → column names and their encoders. */
const EDGE_COLUMNS: Record<keyof EdgePatch, [string, (v: unknown) => unknown]> = {
  site: ['site', (v) => v],
  enrolledAt: ['enrolled_at', (v) => v],
  inventory: ['inventory', json],
  inventoryAt: ['inventory_at', (v) => v],
  desiredVersion: ['desired_version', (v) => v],
  appliedHash: ['applied_hash', (v) => v],
  appliedVersion: ['applied_version', (v) => v],
  appliedAt: ['applied_at', (v) => v],
  lastSeen: ['last_seen', (v) => v],
  health: ['health', json],
};

/** How stale a cached certificate row may be after another process changed the store, ms (Core.getCertificate). */
export const CERT_CACHE_CHECK_MS = 250;

/** The synchronous operations on one connection; {@link SqliteStore} wraps them in promises and the lock. */
class Core {
  /** Tail of the mutex chain; a root-store call waits for it. */
  tail: Promise<void> = Promise.resolve();
  /** Marks the async context of the running root transaction; `activeTx` is its token while it runs. */
  readonly ctx = new AsyncLocalStorage<object>();
  activeTx: object | null = null;
  savepoints = 0;
  closed = false;
  constructor(readonly db: Db, readonly now: () => number) {}
  /** Prepared statements by SQL text: better-sqlite3 compiles anew on every prepare(), a cost per request under load. */
  private readonly stmts = new Map<string, Database.Statement>();
  private q(sql: string): Database.Statement {
    let st = this.stmts.get(sql);
    if (!st) { st = this.db.prepare(sql); this.stmts.set(sql, st); }
    return st;
  }

  insertVersion(v: NewIntentVersion, bundles: Omit<BundleRecord, 'version'>[]): IntentVersion {
    const run = this.db.transaction(() => {
      const info = this.q(
        `INSERT INTO intent_versions (parent, author, message, intent_yaml, intent_hash, restores, created_at, report, inventory, inventory_source)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(v.parent, v.author, v.message, v.intentYaml, v.intentHash, v.restores ?? null, v.createdAt ?? this.now(), json(v.report),
        json(v.inventory), v.inventorySource ?? null);
      const id = Number(info.lastInsertRowid);
      const ins = this.q('INSERT INTO bundles (version, edge, hash, envelope) VALUES (?, ?, ?, ?)');
      for (const b of bundles) ins.run(id, b.edge, b.hash, JSON.stringify(b.envelope));
      return id;
    });
    try {
      return this.getVersion(run.immediate())!;
    } catch (e) {
      translate(e, `intent version (parent ${v.parent})`);
    }
  }
  getVersion(id: number): IntentVersion | null {
    const r = this.q('SELECT * FROM intent_versions WHERE id = ?').get(id) as Row | undefined;
    return r ? toVersion(r) : null;
  }
  listVersions(limit = -1): IntentVersion[] {
    return (this.q('SELECT * FROM intent_versions ORDER BY id DESC LIMIT ?').all(limit) as Row[]).map(toVersion);
  }
  setVersionReport(id: number, report: unknown): void {
    const info = this.q('UPDATE intent_versions SET report = ? WHERE id = ?').run(json(report), id);
    if (info.changes === 0) throw new StoreNotFoundError(`intent version ${id} does not exist`);
  }
  getBundle(version: number, edge: string): BundleRecord | null {
    const r = this.q('SELECT * FROM bundles WHERE version = ? AND edge = ?').get(version, edge) as Row | undefined;
    return r ? toBundle(r) : null;
  }
  getBundleBytes(version: number, edge: string): { hash: string; envelope: Buffer } | null {
    // As a BLOB: the stored UTF-8 bytes copied once, not decoded into a string and encoded again to be sent.
    const r = this.q('SELECT hash, CAST(envelope AS BLOB) AS envelope FROM bundles WHERE version = ? AND edge = ?').get(version, edge) as Row | undefined;
    return r ? { hash: String(r.hash), envelope: r.envelope as Buffer } : null;
  }
  listBundles(version: number): BundleRecord[] {
    return (this.q('SELECT * FROM bundles WHERE version = ? ORDER BY edge').all(version) as Row[]).map(toBundle);
  }
  listBundleHashes(version: number): { edge: string; hash: string }[] {
    return this.q('SELECT edge, hash FROM bundles WHERE version = ? ORDER BY edge').all(version) as { edge: string; hash: string }[];
  }

  getBundleHash(version: number, edge: string): string | null {
    const r = this.q('SELECT hash FROM bundles WHERE version = ? AND edge = ?').get(version, edge) as Row | undefined;
    return r ? String(r.hash) : null;
  }

  listDesiredVersions(): { edge: string; desiredVersion: number | null }[] {
    return (this.q('SELECT name, desired_version FROM edges ORDER BY name').all() as Row[])
      .map((r) => ({ edge: String(r.name), desiredVersion: num(r.desired_version) }));
  }
  recordContacts(contacts: { edge: string; lastSeen: number; healthJson?: string }[]): number {
    const seen = this.q('UPDATE edges SET last_seen = MAX(COALESCE(last_seen, 0), ?) WHERE name = ?');
    const withHealth = this.q('UPDATE edges SET last_seen = MAX(COALESCE(last_seen, 0), ?), health = ? WHERE name = ?');
    let n = 0;
    for (const c of contacts) {
      n += (c.healthJson === undefined ? seen.run(c.lastSeen, c.edge) : withHealth.run(c.lastSeen, c.healthJson, c.edge)).changes;
    }
    return n;
  }
  dataVersion(): number {
    return Number(this.q('PRAGMA data_version').pluck().get());
  }

  getEdge(name: string): EdgeRecord | null {
    const r = this.q('SELECT * FROM edges WHERE name = ?').get(name) as Row | undefined;
    return r ? toEdge(r) : null;
  }
  listEdges(): EdgeRecord[] {
    return (this.q('SELECT * FROM edges ORDER BY name').all() as Row[]).map(toEdge);
  }
  upsertEdge(name: string, patch: EdgePatch = {}): EdgeRecord {
    try {
      this.q('INSERT INTO edges (name) VALUES (?) ON CONFLICT(name) DO NOTHING').run(name);
      return this.updateEdge(name, patch);
    } catch (e) {
      translate(e, `edge ${name}`);
    }
  }
  updateEdge(name: string, patch: EdgePatch): EdgeRecord {
    const sets: string[] = [];
    const vals: unknown[] = [];
    for (const [k, v] of Object.entries(patch)) {
      const col = EDGE_COLUMNS[k as keyof EdgePatch];
      if (!col) throw new StoreError(`edge ${name}: unknown field ${k}`);
      if (v === undefined) continue;
      sets.push(`${col[0]} = ?`);
      vals.push(col[1](v));
    }
    try {
      if (sets.length) {
        const info = this.q(`UPDATE edges SET ${sets.join(', ')} WHERE name = ?`).run(...vals, name);
        if (info.changes === 0) throw new StoreNotFoundError(`edge ${name} does not exist`);
      }
    } catch (e) {
      translate(e, `edge ${name}`);
    }
    const r = this.getEdge(name);
    if (!r) throw new StoreNotFoundError(`edge ${name} does not exist`);
    return r;
  }
  deleteEdge(name: string): boolean {
    return this.q('DELETE FROM edges WHERE name = ?').run(name).changes > 0;
  }

  addEnrolmentToken(t: { tokenHash: string; edge: string; expiresAt: number; createdAt?: number }): void {
    try {
      this.q('INSERT INTO enrolment_tokens (token_hash, edge, expires_at, created_at) VALUES (?, ?, ?, ?)')
        .run(t.tokenHash, t.edge, t.expiresAt, t.createdAt ?? this.now());
    } catch (e) {
      translate(e, `enrolment token for ${t.edge}`);
    }
  }
  consumeEnrolmentToken(tokenHash: string, now: number): ConsumeResult {
    // One conditional UPDATE decides the winner: SQLite serialises writers, so two consumers cannot both see
    // used_at IS NULL and both change the row.
    const won = this.q(
      'UPDATE enrolment_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING edge',
    ).get(now, tokenHash, now) as { edge: string } | undefined;
    if (won) return { ok: true, edge: won.edge };
    const r = this.q('SELECT used_at, expires_at FROM enrolment_tokens WHERE token_hash = ?').get(tokenHash) as Row | undefined;
    if (!r) return { ok: false, reason: 'unknown' };
    return { ok: false, reason: r.used_at !== null ? 'used' : 'expired' };
  }
  listEnrolmentTokens(edge?: string): EnrolmentTokenRecord[] {
    const rows = edge === undefined
      ? this.q('SELECT * FROM enrolment_tokens ORDER BY created_at, token_hash').all()
      : this.q('SELECT * FROM enrolment_tokens WHERE edge = ? ORDER BY created_at, token_hash').all(edge);
    return (rows as Row[]).map(toEnrolment);
  }

  addCertificate(c: Omit<CertificateRecord, 'revokedAt' | 'reason'>): void {
    this.certCache.delete(c.serial);
    try {
      this.q('INSERT INTO certificates (serial, edge, not_before, not_after, pem) VALUES (?, ?, ?, ?, ?)')
        .run(c.serial, c.edge, c.notBefore, c.notAfter, c.pem);
    } catch (e) {
      translate(e, `certificate ${c.serial}`);
    }
  }
  /**
   * Certificate rows by serial, cached: the edge API looks one up on every request (1,000+ a second at 1,000
   * edges, 4-8 % of the controller's CPU while the WAL grew under the health writes). Writes through this
   * connection drop their entry at once; another process's commits (a CLI revoking) are noticed through
   * `PRAGMA data_version`, read at most every {@link CERT_CACHE_CHECK_MS}, which clears the cache. Reads inside
   * a transaction are not cached (they may see writes that roll back).
   */
  private readonly certCache = new Map<string, CertificateRecord | null>();
  private certCheckedAt = -Infinity;
  private certDataVersion = -1;
  getCertificate(serial: string): CertificateRecord | null {
    const t = performance.now();
    if (t - this.certCheckedAt >= CERT_CACHE_CHECK_MS) {
      this.certCheckedAt = t;
      const dv = this.dataVersion();
      if (dv !== this.certDataVersion) { this.certDataVersion = dv; this.certCache.clear(); }
    }
    const hit = this.certCache.get(serial);
    if (hit !== undefined) return hit && { ...hit };
    const r = this.q('SELECT * FROM certificates WHERE serial = ?').get(serial) as Row | undefined;
    const rec = r ? toCert(r) : null;
    if (!this.db.inTransaction) this.certCache.set(serial, rec && { ...rec });
    return rec;
  }
  listCertificates(edge?: string): CertificateRecord[] {
    const rows = edge === undefined
      ? this.q('SELECT * FROM certificates ORDER BY not_before, serial').all()
      : this.q('SELECT * FROM certificates WHERE edge = ? ORDER BY not_before, serial').all(edge);
    return (rows as Row[]).map(toCert);
  }
  revokeCertificate(serial: string, reason: string, at: number): boolean {
    this.certCache.delete(serial);
    return this.q('UPDATE certificates SET revoked_at = ?, reason = ? WHERE serial = ? AND revoked_at IS NULL')
      .run(at, reason, serial).changes > 0;
  }

  addOperatorToken(t: { tokenHash: string; name: string; role: Role; createdAt?: number }): OperatorTokenRecord {
    try {
      this.q('INSERT INTO operator_tokens (token_hash, name, role, created_at) VALUES (?, ?, ?, ?)')
        .run(t.tokenHash, t.name, t.role, t.createdAt ?? this.now());
    } catch (e) {
      translate(e, `operator token ${t.name}`);
    }
    return this.findOperatorToken(t.tokenHash)!;
  }
  findOperatorToken(tokenHash: string): OperatorTokenRecord | null {
    const r = this.q('SELECT * FROM operator_tokens WHERE token_hash = ?').get(tokenHash) as Row | undefined;
    return r ? toOpToken(r) : null;
  }
  listOperatorTokens(): OperatorTokenRecord[] {
    return (this.q('SELECT * FROM operator_tokens ORDER BY name').all() as Row[]).map(toOpToken);
  }
  deleteOperatorToken(name: string): boolean {
    return this.q('DELETE FROM operator_tokens WHERE name = ?').run(name).changes > 0;
  }

  appendAudit(e: NewAuditEntry): AuditEntry {
    try {
      const r = this.q(
        'INSERT INTO audit_log (at, actor, role, action, target, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *',
      ).get(e.at ?? this.now(), e.actor, e.role ?? null, e.action, e.target ?? null, e.outcome, json(e.detail)) as Row;
      return toAudit(r);
    } catch (err) {
      translate(err, `audit entry ${e.action}`);
    }
  }
  listAudit(q: AuditQuery = {}): AuditEntry[] {
    const where: string[] = [];
    const vals: unknown[] = [];
    if (q.actor !== undefined) { where.push('actor = ?'); vals.push(q.actor); }
    if (q.action !== undefined) { where.push('action = ?'); vals.push(q.action); }
    if (q.outcome !== undefined) { where.push('outcome = ?'); vals.push(q.outcome); }
    if (q.since !== undefined) { where.push('at >= ?'); vals.push(q.since); }
    const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.q(sql).all(...vals, q.limit ?? 100) as Row[]).map(toAudit);
  }

  createPromotion(p: Omit<PromotionRecord, 'createdAt' | 'updatedAt'> & { at?: number }): PromotionRecord {
    const at = p.at ?? this.now();
    try {
      this.q(
        'INSERT INTO promotions (id, version, from_version, status, snapshot, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ).run(p.id, p.version, p.fromVersion, p.status, json(p.snapshot), at, at);
    } catch (e) {
      translate(e, `promotion ${p.id}`);
    }
    return this.getPromotion(p.id)!;
  }
  updatePromotion(id: string, patch: { status?: string; snapshot?: unknown; at?: number }): PromotionRecord {
    const sets = ['updated_at = ?'];
    const vals: unknown[] = [patch.at ?? this.now()];
    if (patch.status !== undefined) { sets.push('status = ?'); vals.push(patch.status); }
    if (patch.snapshot !== undefined) { sets.push('snapshot = ?'); vals.push(json(patch.snapshot)); }
    const info = this.q(`UPDATE promotions SET ${sets.join(', ')} WHERE id = ?`).run(...vals, id);
    if (info.changes === 0) throw new StoreNotFoundError(`promotion ${id} does not exist`);
    return this.getPromotion(id)!;
  }
  getPromotion(id: string): PromotionRecord | null {
    const r = this.q('SELECT * FROM promotions WHERE id = ?').get(id) as Row | undefined;
    return r ? toPromotion(r) : null;
  }
  listPromotions(status?: string): PromotionRecord[] {
    const rows = status === undefined
      ? this.q('SELECT * FROM promotions ORDER BY created_at DESC, id').all()
      : this.q('SELECT * FROM promotions WHERE status = ? ORDER BY created_at DESC, id').all(status);
    return (rows as Row[]).map(toPromotion);
  }
}

/** The async face of {@link Core}: the root store (`txDepth === null`) takes the lock; a tx store does not. */
class SqliteStore implements Store {
  /** `txDepth`/`txToken`: null for the root store; for a tx store, its nesting depth and its transaction's token. */
  constructor(
    private readonly core: Core, readonly location: string, private readonly txDepth: number | null,
    private readonly txToken: object | null = null,
  ) {}

  private async run<T>(op: () => T): Promise<T> {
    if (this.core.closed) throw new StoreError(`store ${this.location} is closed`);
    if (this.txDepth !== null) {
      if (this.core.activeTx !== this.txToken) throw new StoreError(`store ${this.location}: a transaction's store was used after the transaction ended`);
      return op();
    }
    if (this.joinsTx()) return op();
    const release = await this.acquire();
    try {
      return op();
    } finally {
      release();
    }
  }

  /** True for a call made from inside the running transaction's callback (not from a leftover timer of an old one). */
  private joinsTx(): boolean {
    return this.core.activeTx !== null && this.core.ctx.getStore() === this.core.activeTx;
  }

  private async acquire(): Promise<() => void> {
    const prev = this.core.tail;
    let release!: () => void;
    this.core.tail = new Promise<void>((r) => (release = r));
    await prev;
    return release;
  }

  insertVersion(v: NewIntentVersion, b: Omit<BundleRecord, 'version'>[]) { return this.run(() => this.core.insertVersion(v, b)); }
  getVersion(id: number) { return this.run(() => this.core.getVersion(id)); }
  listVersions(opts: { limit?: number } = {}) { return this.run(() => this.core.listVersions(opts.limit)); }
  latestVersion() { return this.run(() => this.core.listVersions(1)[0] ?? null); }
  setVersionReport(id: number, report: unknown) { return this.run(() => this.core.setVersionReport(id, report)); }
  getBundle(version: number, edge: string) { return this.run(() => this.core.getBundle(version, edge)); }
  getBundleBytes(version: number, edge: string) { return this.run(() => this.core.getBundleBytes(version, edge)); }
  listBundles(version: number) { return this.run(() => this.core.listBundles(version)); }
  listBundleHashes(version: number) { return this.run(() => this.core.listBundleHashes(version)); }
  getBundleHash(version: number, edge: string) { return this.run(() => this.core.getBundleHash(version, edge)); }
  listDesiredVersions() { return this.run(() => this.core.listDesiredVersions()); }
  recordContacts(contacts: { edge: string; lastSeen: number; healthJson?: string }[]) {
    // One transaction for the batch (one fsync), or part of the caller's when called inside one.
    if (this.txDepth !== null || this.joinsTx()) return this.run(() => this.core.recordContacts(contacts));
    return this.tx((t) => t.recordContacts(contacts));
  }
  externalChanges() { return this.run(() => this.core.dataVersion()); }
  upsertEdge(name: string, patch?: EdgePatch) { return this.run(() => this.core.upsertEdge(name, patch)); }
  getEdge(name: string) { return this.run(() => this.core.getEdge(name)); }
  listEdges() { return this.run(() => this.core.listEdges()); }
  updateEdge(name: string, patch: EdgePatch) { return this.run(() => this.core.updateEdge(name, patch)); }
  deleteEdge(name: string) { return this.run(() => this.core.deleteEdge(name)); }
  addEnrolmentToken(t: { tokenHash: string; edge: string; expiresAt: number; createdAt?: number }) {
    return this.run(() => this.core.addEnrolmentToken(t));
  }
  consumeEnrolmentToken(tokenHash: string, now: number) { return this.run(() => this.core.consumeEnrolmentToken(tokenHash, now)); }
  listEnrolmentTokens(edge?: string) { return this.run(() => this.core.listEnrolmentTokens(edge)); }
  addCertificate(c: Omit<CertificateRecord, 'revokedAt' | 'reason'>) { return this.run(() => this.core.addCertificate(c)); }
  getCertificate(serial: string) { return this.run(() => this.core.getCertificate(serial)); }
  listCertificates(edge?: string) { return this.run(() => this.core.listCertificates(edge)); }
  revokeCertificate(serial: string, reason: string, at: number) { return this.run(() => this.core.revokeCertificate(serial, reason, at)); }
  addOperatorToken(t: { tokenHash: string; name: string; role: Role; createdAt?: number }) {
    return this.run(() => this.core.addOperatorToken(t));
  }
  findOperatorToken(tokenHash: string) { return this.run(() => this.core.findOperatorToken(tokenHash)); }
  listOperatorTokens() { return this.run(() => this.core.listOperatorTokens()); }
  deleteOperatorToken(name: string) { return this.run(() => this.core.deleteOperatorToken(name)); }
  appendAudit(e: NewAuditEntry) { return this.run(() => this.core.appendAudit(e)); }
  listAudit(q?: AuditQuery) { return this.run(() => this.core.listAudit(q)); }
  createPromotion(p: Omit<PromotionRecord, 'createdAt' | 'updatedAt'> & { at?: number }) { return this.run(() => this.core.createPromotion(p)); }
  updatePromotion(id: string, patch: { status?: string; snapshot?: unknown; at?: number }) {
    return this.run(() => this.core.updatePromotion(id, patch));
  }
  getPromotion(id: string) { return this.run(() => this.core.getPromotion(id)); }
  listPromotions(opts: { status?: string } = {}) { return this.run(() => this.core.listPromotions(opts.status)); }

  async tx<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    if (this.core.closed) throw new StoreError(`store ${this.location} is closed`);
    const db = this.core.db;
    if (this.txDepth !== null && this.core.activeTx !== this.txToken) {
      throw new StoreError(`store ${this.location}: a transaction's store was used after the transaction ended`);
    }
    if (this.txDepth !== null || this.joinsTx()) {
      const name = `sp${++this.core.savepoints}`;
      db.exec(`SAVEPOINT ${name}`);
      try {
        const r = await fn(new SqliteStore(this.core, this.location, (this.txDepth ?? 0) + 1, this.core.activeTx));
        db.exec(`RELEASE ${name}`);
        return r;
      } catch (e) {
        db.exec(`ROLLBACK TO ${name}`);
        db.exec(`RELEASE ${name}`);
        throw e;
      }
    }
    const release = await this.acquire();
    try {
      db.exec('BEGIN IMMEDIATE');
      const token = {};
      this.core.activeTx = token;
      try {
        const r = await this.core.ctx.run(token, () => fn(new SqliteStore(this.core, this.location, 0, token)));
        db.exec('COMMIT');
        return r;
      } catch (e) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw e;
      }
    } finally {
      this.core.activeTx = null;
      release();
    }
  }

  async close(): Promise<void> {
    if (this.core.closed) return;
    const release = await this.acquire();
    try {
      this.core.closed = true;
      this.core.db.close();
    } finally {
      release();
    }
  }
}
