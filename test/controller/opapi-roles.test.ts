// timeout: 60
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openStore, type Role, type Store } from '../../controller/store/index.ts';
import { createOpApiHandler, createOperatorToken, type Caller } from '../../controller/opapi/index.ts';
import { inventoryFromLab } from '../../controller/versions/inventory.ts';
import { fixture, root } from './fixtures.ts';

const f = fixture('two-site-dual-wan');
const lab = inventoryFromLab(`${root}labs/two-site-dual-wan/lab.yaml`);

interface Api { store: Store; server: Server; base: string; tokens: Record<Role, string>; started: { version: number; by: Caller }[] }

async function api(withPromotions = true): Promise<Api> {
  const store = await openStore(':memory:');
  const tokens = {} as Record<Role, string>;
  for (const role of ['admin', 'operator', 'viewer'] as const) tokens[role] = (await createOperatorToken(store, `${role}-1`, role, { actor: 'test' })).token;
  const started: Api['started'] = [];
  const handler = createOpApiHandler({
    store, signingKey: generateKeyPairSync('ed25519').privateKey, inventory: async () => lab,
    promotions: withPromotions ? {
      start: async (version, by) => { started.push({ version, by }); return { id: 'p1', version }; },
      approve: async (id) => ({ id, approved: true }),
      abort: async (id) => ({ id, aborted: true }),
    } : undefined,
  });
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
  return { store, server, base, tokens, started };
}

async function close(a: Api) {
  await new Promise((r) => a.server.close(r));
  await a.store.close();
}

async function call(a: Api, method: string, path: string, token: string | null, body?: unknown) {
  const r = await fetch(`${a.base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, body: await r.json() as any };
}

test('a viewer reads versions but trying to promote is refused with 403 and audited as denied', async () => {
  const a = await api();
  assert.is((await call(a, 'GET', '/versions', a.tokens.viewer)).status, 200);
  const r = await call(a, 'POST', '/promotions', a.tokens.viewer, { version: 1 });
  assert.is(r.status, 403);
  assert.match(r.body.error, /needs role operator.*viewer/);
  assert.equal(a.started, []);
  const [e] = await a.store.listAudit({ outcome: 'denied' });
  assert.equal([e!.actor, e!.role, e!.action, e!.outcome], ['viewer-1', 'viewer', 'promotion.start', 'denied']);
  await close(a);
});

test('requests without a token or with an unknown one get 401 and are audited as anonymous', async () => {
  const a = await api();
  assert.is((await call(a, 'GET', '/versions', null)).status, 401);
  assert.is((await call(a, 'POST', '/versions', 'ptk_guessed', { intent: f.intentText })).status, 401);
  const denied = await a.store.listAudit({ outcome: 'denied' });
  assert.equal(denied.map((e) => [e.actor, e.action, (e.detail as { reason: string }).reason]), [
    ['anonymous', 'intent.push', 'unknown token'], ['anonymous', 'version.list', 'no bearer token'],
  ]);
  assert.equal(await a.store.listVersions(), []);
  await close(a);
});

test('an operator pushes, diffs, promotes and rolls back; each change is audited with its actor', async () => {
  const a = await api();
  const p1 = await call(a, 'POST', '/versions', a.tokens.operator, { intent: f.intentText, message: 'first' });
  assert.equal([p1.status, p1.body.version, p1.body.edges, p1.body.blast], [201, 1, 2, null]);
  const changed = f.intentText.replace('latency: 150ms', 'latency: 120ms');
  assert.is.not(changed, f.intentText);
  const p2 = await call(a, 'POST', '/versions', a.tokens.operator, { intent: changed, message: 'voice 120' });
  assert.is(p2.body.blast.summary, 'changes the bundles of 2 of 2 edges');
  const d = await call(a, 'GET', '/versions/1/diff/2', a.tokens.viewer);
  assert.equal(d.body.changes, [{ area: 'slaClasses', path: 'slaClasses.voice.latency', kind: 'changed', old: 150, new: 120 }]);
  const pr = await call(a, 'POST', '/promotions', a.tokens.operator, { version: 2 });
  assert.equal([pr.status, a.started.map((s) => [s.version, s.by.name])], [202, [[2, 'operator-1']]]);
  const rb = await call(a, 'POST', '/versions/1/rollback', a.tokens.operator, {});
  assert.equal([rb.status, rb.body.version, rb.body.restores], [201, 3, 1]);
  const v1 = await a.store.listBundles(1);
  const v3 = await a.store.listBundles(3);
  assert.equal(v3.map((b) => b.hash), v1.map((b) => b.hash), 'rolling back restores the same bundles');
  const ok = (await a.store.listAudit({ outcome: 'ok', actor: 'operator-1' })).reverse();
  assert.equal(ok.map((e) => [e.action, e.target]), [
    ['intent.push', 'version:1'], ['intent.push', 'version:2'], ['promotion.start', 'version:2'], ['intent.rollback', 'version:3'],
  ]);
  await close(a);
});

test('a malformed intent is refused with 400 naming the key path; nothing is stored, the attempt is audited', async () => {
  const a = await api();
  const bad = f.intentText.replace('latency: 150ms', 'latency: soon');
  const r = await call(a, 'POST', '/versions', a.tokens.operator, { intent: bad });
  assert.is(r.status, 400);
  assert.match(r.body.error, /^request:body\.intent:\d+: slaClasses\.voice\.latency: /);
  assert.equal(await a.store.listVersions(), []);
  const [e] = await a.store.listAudit({ outcome: 'error' });
  assert.equal([e!.actor, e!.action, (e!.detail as { status: number }).status], ['operator-1', 'intent.push', 400]);
  await close(a);
});

test('only an admin manages tokens and revokes certificates; an operator is denied', async () => {
  const a = await api();
  assert.is((await call(a, 'POST', '/tokens', a.tokens.operator, { name: 'ci', role: 'operator' })).status, 403);
  const created = await call(a, 'POST', '/tokens', a.tokens.admin, { name: 'ci', role: 'viewer' });
  assert.equal([created.status, created.body.role], [201, 'viewer']);
  assert.is((await call(a, 'GET', '/versions', created.body.token)).status, 200, 'the new token works');
  assert.is((await call(a, 'POST', '/tokens', a.tokens.admin, { name: 'ci', role: 'viewer' })).status, 409);
  const list = await call(a, 'GET', '/tokens', a.tokens.admin);
  assert.ok(list.body.every((t: object) => !('tokenHash' in t)), 'token hashes are never served');
  await a.store.addCertificate({ serial: '0a', edge: 'e1', notBefore: 0, notAfter: 1, pem: 'PEM' });
  assert.is((await call(a, 'POST', '/certificates/0a/revoke', a.tokens.operator, { reason: 'lost' })).status, 403);
  assert.is((await call(a, 'POST', '/certificates/0a/revoke', a.tokens.admin, { reason: 'lost' })).status, 200);
  assert.is((await a.store.getCertificate('0a'))!.reason, 'lost');
  assert.is((await call(a, 'DELETE', '/tokens/ci', a.tokens.admin)).status, 200);
  assert.is((await call(a, 'GET', '/versions', created.body.token)).status, 401, 'a deleted token stops working');
  const audit = await call(a, 'GET', '/audit?outcome=denied', a.tokens.admin);
  assert.equal(audit.body.map((e: { action: string }) => e.action), ['version.list', 'cert.revoke', 'token.create']);
  assert.is((await call(a, 'GET', '/audit', a.tokens.operator)).status, 403);
  await close(a);
});

test('promotion routes check the role before reporting that promotions are not wired', async () => {
  const a = await api(false);
  assert.is((await call(a, 'POST', '/promotions', a.tokens.viewer, { version: 1 })).status, 403);
  assert.is((await call(a, 'POST', '/promotions', a.tokens.operator, { version: 1 })).status, 501);
  assert.is((await call(a, 'POST', '/promotions/p1/approve', a.tokens.viewer)).status, 403);
  assert.is((await call(a, 'DELETE', '/versions', a.tokens.admin)).status, 405);
  await close(a);
});

test.run();
