/**
 * The controller's store contract: record types and the {@link Store} interface. Every method is async so a
 * PostgreSQL implementation can serve the same interface when several controller replicas run; the embedded
 * default (SQLite, controller/store/sqlite.ts) resolves immediately.
 *
 * Conventions: times are milliseconds since the Unix epoch (numbers), so an injected clock works everywhere;
 * JSON columns are returned parsed (`unknown` — the owner validates them); secrets are never stored, only their
 * sha256 hex (`tokenHash`). Absent values are `null`, never `undefined`.
 */

/** Operator roles, strongest first: admin ⊃ operator ⊃ viewer. */
export type Role = 'admin' | 'operator' | 'viewer';
export const ROLES: readonly Role[] = ['admin', 'operator', 'viewer'];

/** One stored intent version. History is append-only: a rollback is a new version. */
export interface IntentVersion {
  /** 1, 2, 3 … in insertion order. */
  id: number;
  /** The version this one was pushed on top of (the latest at push time); null for the first. */
  parent: number | null;
  author: string;
  message: string;
  /** The intent file's text exactly as pushed (YAML). */
  intentYaml: string;
  /** sha256 hex of `intentYaml`. */
  intentHash: string;
  /** When a version is a rollback: the version whose intent it restores; else null. */
  restores: number | null;
  createdAt: number;
  /** Verification report (e.g. the twin scenario suite's JSON); null until verified. */
  report: unknown;
  /** The inventory (dataplane/inventory.ts) the bundles were compiled against; null for versions stored before it was kept. */
  inventory: unknown;
  /** Where that inventory came from: a lab or inventory file, or `store:edges` (the enrolled edges' reports). */
  inventorySource: string | null;
}

/** Input of {@link Store.insertVersion}; `id` and `createdAt` are assigned by the store unless given. */
export interface NewIntentVersion {
  parent: number | null;
  author: string;
  message: string;
  intentYaml: string;
  intentHash: string;
  restores?: number | null;
  createdAt?: number;
  report?: unknown;
  inventory?: unknown;
  inventorySource?: string | null;
}

/** One edge's compiled, signed bundle of one version. */
export interface BundleRecord {
  version: number;
  edge: string;
  /** contentHash(bundle), hex — equals `envelope.hash`. */
  hash: string;
  /** The signed envelope (dataplane/bundle/signature.ts `SignedBundle`), parsed. */
  envelope: unknown;
}

/** An edge the controller knows about (from an intent's sites, or enrolled). */
export interface EdgeRecord {
  name: string;
  site: string | null;
  enrolledAt: number | null;
  /** What the edge reported about itself (interfaces, addresses, …); null before it reported. */
  inventory: unknown;
  inventoryAt: number | null;
  /** The intent version this edge should run; null = none assigned yet. */
  desiredVersion: number | null;
  /** Hash of the bundle the edge last acked as applied, and its version. */
  appliedHash: string | null;
  appliedVersion: number | null;
  appliedAt: number | null;
  lastSeen: number | null;
  health: unknown;
}

/** Fields of an edge that {@link Store.updateEdge} may change; omitted fields are left as they are. */
export type EdgePatch = Partial<Omit<EdgeRecord, 'name'>>;

export interface EnrolmentTokenRecord {
  /** sha256 hex of the one-time token (the token itself is never stored). */
  tokenHash: string;
  edge: string;
  expiresAt: number;
  usedAt: number | null;
  createdAt: number;
}

/** Outcome of {@link Store.consumeEnrolmentToken}: the edge it enrols, or why it was refused. */
export type ConsumeResult =
  | { ok: true; edge: string }
  | { ok: false; reason: 'unknown' | 'used' | 'expired' };

export interface CertificateRecord {
  /** Hex serial number, unique. */
  serial: string;
  edge: string;
  notBefore: number;
  notAfter: number;
  pem: string;
  revokedAt: number | null;
  reason: string | null;
}

export interface OperatorTokenRecord {
  /** sha256 hex of the bearer token. */
  tokenHash: string;
  /** Unique, human-chosen ("ci", "alice"). */
  name: string;
  role: Role;
  createdAt: number;
}

export type AuditOutcome = 'ok' | 'denied' | 'error';

export interface AuditEntry {
  /** Assigned by the store, increasing. */
  id: number;
  at: number;
  /** Who: an operator token name, `edge:<name>`, `cli:<user>` or `controller`. */
  actor: string;
  /** The actor's role when it has one, else null. */
  role: Role | null;
  /** Dotted verb: `intent.push`, `promotion.start`, `token.create`, `cert.revoke`, … */
  action: string;
  /** What it acted on (`version:7`, `edge:edge1`, `token:ci`); null when nothing specific. */
  target: string | null;
  outcome: AuditOutcome;
  detail: unknown;
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'at' | 'detail' | 'role' | 'target'> & {
  at?: number;
  role?: Role | null;
  target?: string | null;
  detail?: unknown;
};

export interface AuditQuery {
  /** Newest first, at most this many (default 100). */
  limit?: number;
  actor?: string;
  action?: string;
  outcome?: AuditOutcome;
  /** Only entries with `at >= since`. */
  since?: number;
}

export interface PromotionRecord {
  /** Chosen by the promotion runner (e.g. a UUID). */
  id: string;
  version: number;
  fromVersion: number | null;
  /** Free-form state name the runner reports (`canary`, `done`, `rolled-back`, …). */
  status: string;
  /** The persisted xstate snapshot (JSON), whatever the runner stores. */
  snapshot: unknown;
  createdAt: number;
  updatedAt: number;
}

export interface Store {
  // ── intent versions and their bundles ────────────────────────────────────────────
  /**
   * Appends a version and all its bundles atomically (either everything is stored or nothing).
   * @returns the stored version with its assigned id.
   */
  insertVersion(v: NewIntentVersion, bundles: Omit<BundleRecord, 'version'>[]): Promise<IntentVersion>;
  getVersion(id: number): Promise<IntentVersion | null>;
  /** Newest first. */
  listVersions(opts?: { limit?: number }): Promise<IntentVersion[]>;
  latestVersion(): Promise<IntentVersion | null>;
  setVersionReport(id: number, report: unknown): Promise<void>;
  getBundle(version: number, edge: string): Promise<BundleRecord | null>;
  /** The same bundle's hash and its signed envelope's stored JSON as UTF-8 bytes, unparsed (what the edge API sends). */
  getBundleBytes(version: number, edge: string): Promise<{ hash: string; envelope: Buffer } | null>;
  /** All bundles of a version, ordered by edge name. */
  listBundles(version: number): Promise<BundleRecord[]>;
  /** Edge and hash of every bundle of a version, ordered by edge name (no envelope parsing: cheap for diffs). */
  listBundleHashes(version: number): Promise<{ edge: string; hash: string }[]>;
  /** The hash alone of one edge's bundle of a version (a long-poll compares it before reading the envelope). */
  getBundleHash(version: number, edge: string): Promise<string | null>;

  // ── edges ─────────────────────────────────────────────────────────────────────────
  /** Creates the edge if missing, else applies `patch` to it. */
  upsertEdge(name: string, patch?: EdgePatch): Promise<EdgeRecord>;
  getEdge(name: string): Promise<EdgeRecord | null>;
  listEdges(): Promise<EdgeRecord[]>;
  /** @throws StoreNotFoundError when the edge does not exist. */
  updateEdge(name: string, patch: EdgePatch): Promise<EdgeRecord>;
  deleteEdge(name: string): Promise<boolean>;
  /** Every edge's desired version, ordered by name; no JSON parsed (the edge API's scan for other writers). */
  listDesiredVersions(): Promise<{ edge: string; desiredVersion: number | null }[]>;
  /**
   * Writes the edge API's latest contact per edge — `lastSeen`, and the health when given, as JSON text
   * (`healthJson`, stored as is) — in one transaction, without reading the rows back. Edges that no longer exist
   * are skipped; returns how many rows changed. `lastSeen` only moves forward.
   */
  recordContacts(contacts: { edge: string; lastSeen: number; healthJson?: string }[]): Promise<number>;
  /**
   * A number that changes whenever another connection (another process: a CLI, a promotion runner) committed
   * to the store since the last call saw it — SQLite's `PRAGMA data_version`. Cheap: no table is read.
   */
  externalChanges(): Promise<number>;

  // ── enrolment tokens ─────────────────────────────────────────────────────────────
  addEnrolmentToken(t: { tokenHash: string; edge: string; expiresAt: number; createdAt?: number }): Promise<void>;
  /** Marks the token used iff it exists, is unused and `now < expiresAt` — atomically (one winner). */
  consumeEnrolmentToken(tokenHash: string, now: number): Promise<ConsumeResult>;
  listEnrolmentTokens(edge?: string): Promise<EnrolmentTokenRecord[]>;

  // ── certificates ─────────────────────────────────────────────────────────────────
  addCertificate(c: Omit<CertificateRecord, 'revokedAt' | 'reason'>): Promise<void>;
  getCertificate(serial: string): Promise<CertificateRecord | null>;
  listCertificates(edge?: string): Promise<CertificateRecord[]>;
  /** @returns false when the serial is unknown or already revoked. */
  revokeCertificate(serial: string, reason: string, at: number): Promise<boolean>;

  // ── operator tokens ──────────────────────────────────────────────────────────────
  /** @throws StoreConflictError when the name or hash exists. */
  addOperatorToken(t: { tokenHash: string; name: string; role: Role; createdAt?: number }): Promise<OperatorTokenRecord>;
  findOperatorToken(tokenHash: string): Promise<OperatorTokenRecord | null>;
  listOperatorTokens(): Promise<OperatorTokenRecord[]>;
  deleteOperatorToken(name: string): Promise<boolean>;

  // ── audit log (append-only) ──────────────────────────────────────────────────────
  appendAudit(e: NewAuditEntry): Promise<AuditEntry>;
  listAudit(q?: AuditQuery): Promise<AuditEntry[]>;

  // ── promotions ───────────────────────────────────────────────────────────────────
  /** @throws StoreConflictError when the id exists. */
  createPromotion(p: Omit<PromotionRecord, 'createdAt' | 'updatedAt'> & { at?: number }): Promise<PromotionRecord>;
  /** @throws StoreNotFoundError when the id does not exist. */
  updatePromotion(id: string, patch: { status?: string; snapshot?: unknown; at?: number }): Promise<PromotionRecord>;
  getPromotion(id: string): Promise<PromotionRecord | null>;
  /** Newest first; `status` filters. */
  listPromotions(opts?: { status?: string }): Promise<PromotionRecord[]>;

  // ── transactions and lifecycle ───────────────────────────────────────────────────
  /**
   * Runs `fn` atomically: every store call made through `tx` inside `fn` commits together, or none does when
   * `fn` throws (the error is rethrown). Calls on the outer store wait until the transaction ends, so
   * concurrent `tx` calls are serialised. Nested `tx` calls on the inner store are savepoints.
   * @example await store.tx(async (tx) => { await tx.updateEdge('e1', {desiredVersion: 3}); await tx.appendAudit({...}); });
   */
  tx<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
  /** Where the data lives (`:memory:` or the file path). */
  readonly location: string;
  close(): Promise<void>;
}
