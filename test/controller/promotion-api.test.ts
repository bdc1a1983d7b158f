// timeout: 60
/**
 * Promotions through the real operator API (controller/opapi over a local HTTP server) with bearer tokens:
 * a viewer cannot start or approve, an operator starts, approves and aborts; each approval is one audit entry.
 * Edges are simulated on the same in-memory store; the clock is virtual.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createOpApiHandler, createOperatorToken } from '../../controller/opapi/index.ts';
import { getPromotionView, promotionActions, storeFleet, virtualClock, type Verifier } from '../../controller/promotion/index.ts';
import { openStore } from '../../controller/store/index.ts';
import { desiredWrites, seedStore, simulateEdges } from './promotion-helpers.ts';

const EDGES = ['e1', 'e2', 'e3'];
const pass: Verifier = async () => ({ verdict: 'pass', scenarios: [], reused: false });

test('an operator starts, approves and aborts promotions over the API; a viewer is refused', async () => {
  const store = await openStore(':memory:');
  const clock = virtualClock(Date.UTC(2026, 0, 1));
  await seedStore(store, EDGES, clock.now());
  const ac = new AbortController();
  const sim = simulateEdges(store, EDGES, clock, {}, ac.signal);
  const actions = promotionActions(store, { clock, verify: pass, fleet: storeFleet(store), pollMs: 1000 }, { approvalRequired: true, soakMs: 600_000, waveSoakMs: 60_000 });
  const server = createServer(createOpApiHandler({ store, signingKey: generateKeyPairSync('ed25519').privateKey, inventory: async () => { throw new Error('not used'); }, promotions: actions }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
  const ops = (await createOperatorToken(store, 'ops', 'operator', { actor: 'test' })).token;
  const viewer = (await createOperatorToken(store, 'watcher', 'viewer', { actor: 'test' })).token;
  const call = async (token: string, method: string, path: string, body?: unknown) => {
    const r = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, body: await r.json() as Record<string, unknown> };
  };
  const until = async (id: string, status: string) => {
    for (let i = 0; i < 20_000; i++) {
      if ((await getPromotionView(store, id))?.status === status) return;
      await new Promise((r) => setImmediate(r));
    }
    throw new Error(`${id} never reached ${status}`);
  };
  try {
    assert.is((await call(viewer, 'POST', '/promotions', { version: 2 })).status, 403);
    assert.equal(await store.listPromotions(), []);
    const started = await call(ops, 'POST', '/promotions', { version: 2 });
    assert.is(started.status, 202, JSON.stringify(started.body));
    const id = started.body.id as string;
    await until(id, 'awaiting-approval');
    assert.is((await call(viewer, 'POST', `/promotions/${id}/approve`)).status, 403);
    assert.is((await call(ops, 'POST', `/promotions/${id}/approve`)).status, 200);
    await until(id, 'done');
    const v = (await getPromotionView(store, id))!;
    assert.is(v.approvedBy, 'ops');
    const approvals = (await store.listAudit({ action: 'promotion.approve', limit: 100 })).filter((a) => a.target === `promotion:${id}` && a.outcome === 'ok');
    assert.is(approvals.length, 1, 'one audit entry per approval');
    assert.is((await call(ops, 'POST', `/promotions/${id}/approve`)).status >= 400, true, 'approving a finished promotion is refused');

    const back = await call(ops, 'POST', '/promotions', { version: 1 });
    const id2 = back.body.id as string;
    await until(id2, 'awaiting-approval');
    assert.is((await call(ops, 'POST', `/promotions/${id2}/abort`)).status, 200);
    await until(id2, 'failed');
    assert.match((await getPromotionView(store, id2))!.reason!, /^aborted by ops/);
    assert.equal(Object.fromEntries(await desiredWrites(store)), { e1: [2], e2: [2], e3: [2] }, 'the aborted one touched nothing');
  } finally {
    ac.abort();
    await sim;
    await new Promise((r) => server.close(r));
    await store.close();
  }
});

test.run();
