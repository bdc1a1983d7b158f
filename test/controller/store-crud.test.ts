// timeout: 60
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rejects } from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CERT_CACHE_CHECK_MS, openStore, STORE_SCHEMA_VERSION, StoreConflictError, StoreNotFoundError, StoreVersionError, type Store } from '../../controller/store/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'pt-store-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const v = (n: string, parent: number | null = null) => ({ parent, author: 'alice', message: n, intentYaml: `name: ${n}\n`, intentHash: `h-${n}` });

test('stores a version with its bundles and reads them back, newest first', async () => {
  const s = await openStore(':memory:', { now: () => 1000 });
  const v1 = await s.insertVersion(v('one'), [{ edge: 'e2', hash: 'b', envelope: { x: 2 } }, { edge: 'e1', hash: 'a', envelope: { x: 1 } }]);
  const v2 = await s.insertVersion(v('two', v1.id), []);
  assert.is(v1.id, 1);
  assert.is(v2.parent, 1);
  assert.is(v1.createdAt, 1000);
  assert.is(v1.report, null);
  assert.equal((await s.listVersions()).map((x) => x.id), [2, 1]);
  assert.is((await s.latestVersion())!.id, 2);
  assert.equal((await s.listBundles(1)).map((b) => [b.edge, b.hash, b.envelope]), [['e1', 'a', { x: 1 }], ['e2', 'b', { x: 2 }]]);
  assert.equal((await s.getBundle(1, 'e2'))!.envelope, { x: 2 });
  assert.equal(await s.listBundleHashes(1), [{ edge: 'e1', hash: 'a' }, { edge: 'e2', hash: 'b' }]);
  assert.is(await s.getBundle(2, 'e1'), null);
  await s.setVersionReport(1, { pass: true });
  assert.equal((await s.getVersion(1))!.report, { pass: true });
  await s.close();
});

test('a version whose bundles cannot all be stored is not stored at all', async () => {
  const s = await openStore(':memory:');
  const dup = [{ edge: 'e1', hash: 'a', envelope: {} }, { edge: 'e1', hash: 'b', envelope: {} }];
  await rejects(() => s.insertVersion(v('bad'), dup), (e: unknown) => e instanceof StoreConflictError);
  assert.equal(await s.listVersions(), []);
  await rejects(() => s.insertVersion(v('orphan', 42), []), (e: unknown) => e instanceof StoreNotFoundError);
  await s.close();
});

test('edges are created by upsert, patched field by field, and unknown edges are not found', async () => {
  const s = await openStore(':memory:');
  await s.insertVersion(v('one'), []);
  await s.upsertEdge('e1', { site: 's1' });
  const e = await s.updateEdge('e1', { inventory: { interfaces: ['wan0'] }, desiredVersion: 1, lastSeen: 5 });
  assert.equal([e.site, e.inventory, e.desiredVersion, e.lastSeen, e.appliedHash], ['s1', { interfaces: ['wan0'] }, 1, 5, null]);
  assert.is((await s.upsertEdge('e1', { health: { ok: true } })).site, 's1');
  assert.equal((await s.listEdges()).map((x) => x.name), ['e1']);
  await rejects(() => s.updateEdge('nope', { lastSeen: 1 }), (x: unknown) => x instanceof StoreNotFoundError);
  await rejects(() => s.updateEdge('e1', { desiredVersion: 99 }), (x: unknown) => x instanceof StoreNotFoundError);
  assert.is(await s.deleteEdge('e1'), true);
  assert.is(await s.getEdge('e1'), null);
  await s.close();
});

test('the edge API\'s lean reads and batched contact writes: bundle hash, desired versions, last contact', async () => {
  const s = await openStore(':memory:');
  await s.insertVersion(v('one'), [{ edge: 'e1', hash: 'a', envelope: { x: 1 } }]);
  assert.is(await s.getBundleHash(1, 'e1'), 'a');
  assert.is(await s.getBundleHash(1, 'e2'), null);
  await s.upsertEdge('e2');
  await s.upsertEdge('e1', { desiredVersion: 1, lastSeen: 100, health: { at: 'old' } });
  assert.equal(await s.listDesiredVersions(), [{ edge: 'e1', desiredVersion: 1 }, { edge: 'e2', desiredVersion: null }]);
  // One batch: e1 gets health and a newer lastSeen, e2 only lastSeen, a deleted edge is skipped.
  assert.is(await s.recordContacts([{ edge: 'e1', lastSeen: 200, healthJson: '{"at":"new"}' }, { edge: 'e2', lastSeen: 150 }, { edge: 'gone', lastSeen: 1 }]), 2);
  assert.equal([(await s.getEdge('e1'))!.lastSeen, (await s.getEdge('e1'))!.health], [200, { at: 'new' }]);
  assert.equal([(await s.getEdge('e2'))!.lastSeen, (await s.getEdge('e2'))!.health], [150, null]);
  await s.recordContacts([{ edge: 'e1', lastSeen: 50 }]);
  assert.is((await s.getEdge('e1'))!.lastSeen, 200, 'lastSeen does not go back');
  // Inside a transaction, the batch is part of it.
  await rejects(() => s.tx(async (tx) => { await tx.recordContacts([{ edge: 'e2', lastSeen: 999 }]); throw new Error('abort'); }));
  assert.is((await s.getEdge('e2'))!.lastSeen, 150);
  await s.close();
});

test('a certificate revoked through this store is seen at once; through another process within the cache check', async () => {
  const file = join(dir, 'certs.db');
  const a = await openStore(file);
  const b = await openStore(file);
  const cert = (serial: string) => ({ serial, edge: 'e1', notBefore: 0, notAfter: 1e13, pem: `pem-${serial}` });
  assert.is(await a.getCertificate('AA'), null, 'unknown (and cached as unknown)');
  await a.addCertificate(cert('AA'));
  assert.is((await a.getCertificate('AA'))!.revokedAt, null, 'an add through this store is seen at once');
  await a.revokeCertificate('AA', 'lost', 5);
  assert.is((await a.getCertificate('AA'))!.revokedAt, 5, 'a revocation through this store is seen at once');
  await b.addCertificate(cert('BB'));
  assert.is((await a.getCertificate('BB'))!.revokedAt, null, 'a miss reads the row the other process added (now cached)');
  await b.revokeCertificate('BB', 'stolen', 7);
  const t0 = Date.now();
  let seen = (await a.getCertificate('BB'))?.revokedAt ?? null;
  while (seen === null && Date.now() - t0 < 3000) { await new Promise((r) => setTimeout(r, 20)); seen = (await a.getCertificate('BB'))?.revokedAt ?? null; }
  assert.is(seen, 7, 'the other process\'s revocation is seen');
  assert.ok(Date.now() - t0 <= CERT_CACHE_CHECK_MS + 200, `within the cache check (${Date.now() - t0} ms)`);
  // A read inside a transaction that rolls back leaves nothing behind.
  await rejects(() => a.tx(async (tx) => { await tx.addCertificate(cert('CC')); assert.ok(await tx.getCertificate('CC')); throw new Error('abort'); }));
  assert.is(await a.getCertificate('CC'), null);
  await a.close();
  await b.close();
});

test('externalChanges moves when another connection commits, not on this one\'s own writes', async () => {
  const file = join(dir, 'external.db');
  const a = await openStore(file);
  const b = await openStore(file);
  const v0 = await a.externalChanges();
  await a.upsertEdge('e1');
  assert.is(await a.externalChanges(), v0, 'own commit');
  await b.upsertEdge('e2');
  assert.is.not(await a.externalChanges(), v0, 'the other connection committed');
  await a.close();
  await b.close();
});

test('an enrolment token is consumed once, and refused when unknown, used or expired', async () => {
  const s = await openStore(':memory:');
  await s.addEnrolmentToken({ tokenHash: 't1', edge: 'e1', expiresAt: 100 });
  await s.addEnrolmentToken({ tokenHash: 't2', edge: 'e2', expiresAt: 100 });
  assert.equal(await s.consumeEnrolmentToken('t1', 50), { ok: true, edge: 'e1' });
  assert.equal(await s.consumeEnrolmentToken('t1', 51), { ok: false, reason: 'used' });
  assert.equal(await s.consumeEnrolmentToken('t2', 100), { ok: false, reason: 'expired' });
  assert.equal(await s.consumeEnrolmentToken('zz', 1), { ok: false, reason: 'unknown' });
  assert.is((await s.listEnrolmentTokens('e1'))[0]!.usedAt, 50);
  await s.close();
});

test('two processes racing for one enrolment token: exactly one wins', async () => {
  const file = join(dir, 'race.db');
  const s = await openStore(file);
  for (let i = 0; i < 20; i++) await s.addEnrolmentToken({ tokenHash: `t${i}`, edge: `e${i}`, expiresAt: 1e15 });
  // A second connection on the same file stands for a second controller replica.
  const other = await openStore(file);
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => [s, other].map((st) => st.consumeEnrolmentToken(`t${i}`, 1))).flat());
  assert.is(results.filter((r) => r.ok).length, 20);
  assert.is(results.filter((r) => !r.ok && r.reason === 'used').length, 20);
  await other.close();
  await s.close();
});

test('certificates are revoked once and keep their reason', async () => {
  const s = await openStore(':memory:');
  await s.addCertificate({ serial: '0a', edge: 'e1', notBefore: 1, notAfter: 2, pem: 'PEM' });
  assert.is(await s.revokeCertificate('0a', 'key compromise', 10), true);
  assert.is(await s.revokeCertificate('0a', 'again', 11), false);
  assert.is(await s.revokeCertificate('ff', 'unknown', 11), false);
  const c = (await s.getCertificate('0a'))!;
  assert.equal([c.revokedAt, c.reason], [10, 'key compromise']);
  assert.is((await s.listCertificates('e1')).length, 1);
  await rejects(() => s.addCertificate({ serial: '0a', edge: 'e1', notBefore: 1, notAfter: 2, pem: 'x' }), (e: unknown) => e instanceof StoreConflictError);
  await s.close();
});

test('operator tokens are unique by name and hash, and roles are checked by the database', async () => {
  const s = await openStore(':memory:');
  await s.addOperatorToken({ tokenHash: 'h1', name: 'ci', role: 'operator' });
  assert.is((await s.findOperatorToken('h1'))!.role, 'operator');
  await rejects(() => s.addOperatorToken({ tokenHash: 'h2', name: 'ci', role: 'viewer' }), (e: unknown) => e instanceof StoreConflictError);
  await rejects(() => s.addOperatorToken({ tokenHash: 'h3', name: 'x', role: 'root' as 'admin' }));
  assert.is(await s.deleteOperatorToken('ci'), true);
  assert.is(await s.findOperatorToken('h1'), null);
  await s.close();
});

test('the audit log filters by actor, action and outcome, newest first', async () => {
  let t = 0;
  const s = await openStore(':memory:', { now: () => t });
  t = 1;
  await s.appendAudit({ actor: 'ci', role: 'operator', action: 'intent.push', target: 'version:1', outcome: 'ok', detail: { edges: 3 } });
  t = 2;
  await s.appendAudit({ actor: 'bob', role: 'viewer', action: 'promotion.start', outcome: 'denied' });
  t = 3;
  await s.appendAudit({ actor: 'ci', role: 'operator', action: 'intent.push', outcome: 'error' });
  assert.equal((await s.listAudit()).map((e) => e.at), [3, 2, 1]);
  const denied = await s.listAudit({ outcome: 'denied' });
  assert.equal(denied.map((e) => [e.actor, e.role, e.action, e.target]), [['bob', 'viewer', 'promotion.start', null]]);
  assert.equal((await s.listAudit({ actor: 'ci', action: 'intent.push', limit: 1 }))[0]!.outcome, 'error');
  assert.equal((await s.listAudit({ since: 3 })).length, 1);
  await s.close();
});

test('promotions keep their snapshot and refuse duplicate ids and unknown updates', async () => {
  const s = await openStore(':memory:');
  await s.insertVersion(v('one'), []);
  await s.insertVersion(v('two', 1), []);
  const p = await s.createPromotion({ id: 'p1', version: 2, fromVersion: 1, status: 'validate', snapshot: { value: 'validate' }, at: 7 });
  assert.equal([p.createdAt, p.updatedAt], [7, 7]);
  const u = await s.updatePromotion('p1', { status: 'canary', snapshot: { value: 'canary', context: { n: 1 } }, at: 9 });
  assert.equal([u.status, u.snapshot, u.updatedAt, u.createdAt], ['canary', { value: 'canary', context: { n: 1 } }, 9, 7]);
  assert.equal((await s.listPromotions({ status: 'canary' })).map((x) => x.id), ['p1']);
  await rejects(() => s.createPromotion({ id: 'p1', version: 2, fromVersion: 1, status: 'x', snapshot: null }), (e: unknown) => e instanceof StoreConflictError);
  await rejects(() => s.updatePromotion('p9', { status: 'x' }), (e: unknown) => e instanceof StoreNotFoundError);
  await s.close();
});

test('a failing transaction changes nothing; a nested failure rolls back only its savepoint', async () => {
  const s = await openStore(':memory:');
  await rejects(() => s.tx(async (tx) => {
    await tx.upsertEdge('e1');
    await tx.appendAudit({ actor: 'a', action: 'x', outcome: 'ok' });
    throw new Error('boom');
  }), /boom/);
  assert.equal(await s.listEdges(), []);
  assert.equal(await s.listAudit(), []);
  await s.tx(async (tx) => {
    await tx.upsertEdge('e1');
    await rejects(() => tx.tx(async (inner) => { await inner.upsertEdge('e2'); throw new Error('inner'); }), /inner/);
  });
  assert.equal((await s.listEdges()).map((e) => e.name), ['e1']);
  await s.close();
});

test('concurrent transactions are serialised: no lost updates between awaits', async () => {
  const s: Store = await openStore(':memory:');
  await s.upsertEdge('e1', { lastSeen: 0 });
  await Promise.all(Array.from({ length: 50 }, () => s.tx(async (tx) => {
    const e = await tx.getEdge('e1');
    await new Promise((r) => setImmediate(r));
    await tx.updateEdge('e1', { lastSeen: e!.lastSeen! + 1 });
  })));
  assert.is((await s.getEdge('e1'))!.lastSeen, 50);
  await s.close();
});

test('a transaction store used after its transaction ended is refused instead of writing outside any transaction', async () => {
  const s = await openStore(':memory:');
  let leaked: Store | null = null;
  await s.tx(async (tx) => { leaked = tx; });
  await rejects(() => leaked!.upsertEdge('late'), /after the transaction ended/);
  assert.equal(await s.listEdges(), []);
  await s.close();
});

test('a call on the outer store from inside a transaction joins it (and rolls back with it)', async () => {
  const s = await openStore(':memory:');
  await rejects(() => s.tx(async () => { await s.upsertEdge('inside'); throw new Error('undo'); }), /undo/);
  assert.equal(await s.listEdges(), []);
  await s.close();
});

test('a schema-1 store (no inventory per version) is upgraded in place: its versions read back with no inventory', async () => {
  const file = join(dir, 'schema1.db');
  const s1 = await openStore(file);
  await s1.insertVersion(v('old'), [{ edge: 'e1', hash: 'a', envelope: { x: 1 } }]);
  await s1.close();
  // Take the file back to what schema 1 wrote.
  const db = new Database(file);
  db.exec('ALTER TABLE intent_versions DROP COLUMN inventory; ALTER TABLE intent_versions DROP COLUMN inventory_source; DELETE FROM schema_migrations WHERE version > 1');
  db.close();
  const s2 = await openStore(file);
  const old = (await s2.getVersion(1))!;
  assert.equal([old.message, old.inventory, old.inventorySource], ['old', null, null]);
  const inv = { source: 'test', edges: [{ node: 'e1', site: 's1', interfaces: [] }] };
  const nv = await s2.insertVersion({ ...v('new', 1), inventory: inv, inventorySource: 'inv.yaml' }, []);
  assert.equal([nv.inventory, nv.inventorySource], [inv, 'inv.yaml']);
  assert.equal((await s2.getBundle(1, 'e1'))!.envelope, { x: 1 }, 'bundles untouched');
  await s2.close();
});

test('a store file is migrated once and refused when written by a newer schema', async () => {
  const file = join(dir, 'schema.db');
  await (await openStore(file)).close();
  await (await openStore(file)).close();
  const db = new Database(file);
  const rows = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[];
  assert.equal(rows.map((r) => r.version), Array.from({ length: STORE_SCHEMA_VERSION }, (_, i) => i + 1));
  assert.is(db.pragma('journal_mode', { simple: true }), 'wal');
  db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)').run(STORE_SCHEMA_VERSION + 1);
  db.close();
  await rejects(() => openStore(file), (e: unknown) => e instanceof StoreVersionError && /newer/.test((e as Error).message));
});

test.run();
