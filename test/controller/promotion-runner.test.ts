// timeout: 120
/**
 * The promotion runner against a real store (SQLite in memory) with simulated edges and a virtual clock: a
 * good version rolls out through canary and waves (a 10-minute soak in milliseconds), a bad one is rolled back
 * fleet-wide, acks that fail or never come, verification, approval, abort, validation, stop and resume.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  getPromotionView, requestAbort, requestApproval, resumePromotion, runPromotions, startPromotion, storeFleet, virtualClock,
  isPromotionRequestError, type RunnerOptions, type Verifier,
} from '../../controller/promotion/index.ts';
import { openStore, type Store } from '../../controller/store/index.ts';
import { desiredWrites, seedStore, simulateEdges, type EdgeBehaviour } from './promotion-helpers.ts';

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const EDGES = ['e1', 'e2', 'e3', 'e4', 'e5'];
const pass: Verifier = async () => ({ verdict: 'pass', scenarios: [{ scenario: 'brownout-voice', verdict: 'pass' }], reused: false });
const OPTIONS = { canary: ['e2'], waves: [40, 100], soakMs: 10 * MIN, waveSoakMs: MIN, ackTimeoutMs: 2 * MIN, rollbackTimeoutMs: 5 * MIN };

/** A seeded in-memory store, a virtual clock and simulated edges; `close` stops them. */
async function world(b: EdgeBehaviour = {}) {
  const store = await openStore(':memory:');
  const clock = virtualClock(T0);
  await seedStore(store, EDGES, T0);
  const ac = new AbortController();
  const sim = simulateEdges(store, EDGES, clock, b, ac.signal);
  const opts: RunnerOptions = { clock, verify: pass, pollMs: 1000, owner: 'test:1' };
  return { store, clock, opts, close: async () => { ac.abort(); await sim; await store.close(); } };
}

async function edgesOn(store: Store) {
  return Object.fromEntries((await store.listEdges()).map((e) => [e.name, `${e.desiredVersion}/${e.appliedVersion}`]));
}

async function waitStatus(store: Store, id: string, status: string | RegExp) {
  for (let i = 0; i < 20_000; i++) {
    const v = await getPromotionView(store, id);
    if (v && (typeof status === 'string' ? v.status === status : status.test(v.status))) return v;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`promotion ${id} never reached ${status} (is ${(await getPromotionView(store, id))?.status})`);
}

test('a good version goes canary, 10-minute soak, waves, done: every edge on it, each set once', async () => {
  const w = await world();
  try {
    const t = Date.now();
    const h = await startPromotion(w.store, { version: 2, by: 'cli:test', options: OPTIONS }, w.opts);
    const v = await h.done;
    assert.is(v.status, 'done', v.reason ?? '');
    assert.equal(v.plan, { canary: ['e2'], waves: [['e1'], ['e3', 'e4', 'e5']] });
    assert.equal(await edgesOn(w.store), { e1: '2/2', e2: '2/2', e3: '2/2', e4: '2/2', e5: '2/2' });
    assert.equal(Object.fromEntries(await desiredWrites(w.store)), { e1: [2], e2: [2], e3: [2], e4: [2], e5: [2] });
    assert.ok(w.clock.now() - T0 >= 12 * MIN, `virtual time covers the soaks (${(w.clock.now() - T0) / MIN} min)`);
    const steps = (await w.store.listAudit({ action: 'promotion.step', limit: 100 })).reverse().map((a) => (a.detail as { status: string }).status);
    assert.equal(steps, ['validating', 'verifying', 'canary', 'canary-soak', 'wave-1', 'wave-1-soak', 'wave-2', 'wave-2-soak', 'done']);
    const rec = await w.store.getPromotion(h.id);
    assert.is((rec!.snapshot as { lease: unknown }).lease, null, 'the lease is released at the end');
    console.log(`  (10-minute soak + waves: ${Date.now() - t} ms real time)`);
  } finally { await w.close(); }
});

test('an SLA breach on one edge in the last wave rolls back every touched edge, with the reason', async () => {
  // As the agent reports it (dataplane/agent/compliance.ts): the worst class and every class's figure.
  const sla = (voice: number) => ({ slaCompliance: Math.min(voice, 1), sla: { windowMs: 60_000, slaCompliance: voice, classes: { voice: { compliance: voice, samples: 50 }, bulk: { compliance: 1, samples: 50 } } } });
  const w = await world({ health: (e, v) => ({ healthy: true, ...sla(e === 'e4' && v === 2 ? 0.8 : 1) }) });
  try {
    const h = await startPromotion(w.store, { version: 2, by: 'cli:test', options: OPTIONS }, w.opts);
    const v = await h.done;
    assert.is(v.status, 'rolled-back');
    assert.is(v.failedStep, 'wave 2 soak');
    assert.match(v.reason!, /e4: SLA compliance 80\.0% < 99\.0% \(class voice 80\.0%\)/);
    assert.match(v.reason!, /rolled back 5 edge\(s\) to version 1/);
    assert.equal(await edgesOn(w.store), { e1: '1/1', e2: '1/1', e3: '1/1', e4: '1/1', e5: '1/1' });
    assert.equal(Object.fromEntries(await desiredWrites(w.store)), { e1: [2, 1], e2: [2, 1], e3: [2, 1], e4: [2, 1], e5: [2, 1] });
  } finally { await w.close(); }
});

test('a canary that fails to apply is rolled back and no other edge is touched', async () => {
  const w = await world({ ack: (e, v) => (e === 'e2' && v === 2 ? 'fail' : 'ok') });
  try {
    const v = await (await startPromotion(w.store, { version: 2, by: 'cli:test', options: OPTIONS }, w.opts)).done;
    assert.is(v.status, 'rolled-back');
    assert.match(v.reason!, /canary: e2 failed to apply version 2 \(bundle rejected/);
    assert.equal(Object.fromEntries(await desiredWrites(w.store)), { e2: [2, 1] });
    assert.equal((await edgesOn(w.store)).e2, '1/1');
  } finally { await w.close(); }
});

test('an edge that never acks times the wave out and everything touched goes back', async () => {
  const w = await world({ ack: (e, v) => (e === 'e1' && v === 2 ? 'ignore' : 'ok') });
  try {
    const v = await (await startPromotion(w.store, { version: 2, by: 'cli:test', options: OPTIONS }, w.opts)).done;
    assert.is(v.status, 'rolled-back');
    assert.match(v.reason!, /wave 1: no ack of version 2 within 120 s from e1/);
    assert.equal(await edgesOn(w.store), { e1: '1/1', e2: '1/1', e3: '1/1', e4: '1/1', e5: '1/1' });
    assert.equal(Object.fromEntries(await desiredWrites(w.store)), { e1: [2, 1], e2: [2, 1] });
  } finally { await w.close(); }
});

test('failed verification stops the promotion before any edge, with the scenario named', async () => {
  const w = await world();
  try {
    const fail: Verifier = async () => ({ verdict: 'fail', scenarios: [{ scenario: 'wrong-voice-on-inet', verdict: 'fail' }, { scenario: 'isp-cut', verdict: 'pass' }], reused: false });
    const v = await (await startPromotion(w.store, { version: 2, by: 'cli:test', options: OPTIONS }, { ...w.opts, verify: fail })).done;
    assert.is(v.status, 'failed');
    assert.is(v.reason, 'twin verification fail: wrong-voice-on-inet fail');
    assert.is((await desiredWrites(w.store)).size, 0);
  } finally { await w.close(); }
});

test('validation refuses an unknown version, a fleet on mixed versions and a second promotion at once', async () => {
  const w = await world();
  try {
    try { await startPromotion(w.store, { version: 9, by: 'cli:test', options: OPTIONS }, w.opts); assert.unreachable(); } catch (e) {
      assert.ok(isPromotionRequestError(e));
      assert.is((e as Error).message, 'version 9 does not exist (latest: 2)');
    }
    assert.equal(await w.store.listPromotions(), [], 'nothing stored for a refused request');
    await w.store.updateEdge('e3', { desiredVersion: 2 });
    let v = await (await startPromotion(w.store, { version: 2, by: 'cli:test', options: OPTIONS }, w.opts)).done;
    assert.match(v.reason!, /mixed versions \(1: e1, e2, e4, e5; 2: e3\)/);
    await w.store.updateEdge('e3', { desiredVersion: 1 });
    const first = await startPromotion(w.store, { version: 2, by: 'cli:test', options: { ...OPTIONS, approvalRequired: true } }, w.opts);
    await waitStatus(w.store, first.id, 'awaiting-approval');
    v = await (await startPromotion(w.store, { version: 2, by: 'cli:other', options: OPTIONS }, { ...w.opts, owner: 'test:2' })).done;
    assert.match(v.reason!, new RegExp(`promotion ${first.id} \\(version 2\\) is still awaiting-approval`));
    await first.stop();
    try { await startPromotion(w.store, { version: 2, by: 'x', options: { waves: [10, 50] } }, w.opts); assert.unreachable(); } catch (e) {
      assert.ok(isPromotionRequestError(e));
      assert.match((e as Error).message, /waves: expected the last wave to be 100/);
    }
  } finally { await w.close(); }
});

test('waits for approval, then rolls out; an abort in the canary soak rolls the canary back', async () => {
  const w = await world();
  try {
    const h = await startPromotion(w.store, { version: 2, by: 'cli:test', options: { ...OPTIONS, approvalRequired: true } }, w.opts);
    await waitStatus(w.store, h.id, 'awaiting-approval');
    assert.is((await desiredWrites(w.store)).size, 0, 'nothing before approval');
    await requestApproval(w.store, h.id, 'alice');
    assert.is((await h.done).status, 'done');
    assert.is((await getPromotionView(w.store, h.id))!.approvedBy, 'alice');
    try { await requestApproval(w.store, h.id, 'bob'); assert.unreachable(); } catch (e) { assert.match((e as Error).message, /is done; nothing to approve/); }

    // The fleet is on 2 now: promote back to 1 and abort that in the canary soak.
    const h2 = await startPromotion(w.store, { version: 1, by: 'cli:test', options: OPTIONS }, w.opts);
    await waitStatus(w.store, h2.id, 'canary-soak');
    await requestAbort(w.store, h2.id, 'bob', 'change freeze');
    const v = await h2.done;
    assert.is(v.status, 'rolled-back');
    assert.match(v.reason!, /^aborted by bob: change freeze; rolled back 1 edge\(s\) to version 2$/);
    assert.equal((await edgesOn(w.store)).e2, '2/2');
    try { await requestAbort(w.store, h2.id, 'bob', 'again'); assert.unreachable(); } catch (e) { assert.match((e as Error).message, /is rolled-back; nothing to abort/); }
  } finally { await w.close(); }
});

test('stopped mid-soak and resumed, it finishes without writing any edge twice; runPromotions picks up orphans', async () => {
  const w = await world();
  try {
    const h = await startPromotion(w.store, { version: 2, by: 'cli:test', options: OPTIONS }, w.opts);
    await waitStatus(w.store, h.id, 'canary-soak');
    await h.stop();
    await h.done.catch(() => {});
    const mid = await getPromotionView(w.store, h.id);
    assert.is(mid!.status, 'canary-soak');
    assert.is(mid!.owner, null);
    const h2 = await resumePromotion(w.store, h.id, { ...w.opts, owner: 'test:2' });
    await waitStatus(w.store, h.id, 'wave-1-soak');
    await h2.stop();
    await h2.done.catch(() => {});
    const ac = new AbortController();
    const loop = runPromotions(w.store, storeFleet(w.store), { ...w.opts, owner: 'test:3', signal: ac.signal });
    const v = await waitStatus(w.store, h.id, 'done');
    ac.abort();
    await loop;
    assert.is(v.reason, null);
    assert.equal(Object.fromEntries(await desiredWrites(w.store)), { e1: [2], e2: [2], e3: [2], e4: [2], e5: [2] });
    assert.equal(await edgesOn(w.store), { e1: '2/2', e2: '2/2', e3: '2/2', e4: '2/2', e5: '2/2' });
  } finally { await w.close(); }
});

test('the fleet reads health as the agent reports it: no path up to a peer, BGP down, commit-confirmed failed', async () => {
  const store = await openStore(':memory:');
  try {
    await seedStore(store, ['a', 'b', 'c', 'd'], T0);
    const up = [{ id: 'p1', peer: 'hub', state: 'down' }, { id: 'p2', peer: 'hub', state: 'degraded' }];
    await store.updateEdge('a', { health: { paths: up, bgp: [{ address: '10.0.0.1', asn: 65000, state: 'Established' }], commitConfirmed: null } });
    await store.updateEdge('b', { health: { paths: [{ id: 'p1', peer: 'hub', state: 'down' }], bgp: [{ address: '10.0.0.1', asn: 65000, state: 'Active' }] } });
    await store.updateEdge('c', { health: { paths: up, commitConfirmed: { ok: false, version: 1, hash: 'x', reason: 'BGP neighbour 10.0.0.1 is Idle', at: '' } } });
    await store.updateEdge('d', { health: { lastError: null } });
    const h = Object.fromEntries((await storeFleet(store).health(['a', 'b', 'c', 'd'])).map((x) => [x.edge, [x.healthy, x.detail]]));
    assert.equal(h, {
      a: [true, null],
      b: [false, 'no path to hub is up, BGP neighbour 10.0.0.1 is Active'],
      c: [false, 'commit-confirmed failed: BGP neighbour 10.0.0.1 is Idle'],
      d: [null, null],
    });
  } finally { await store.close(); }
});

test.run();
