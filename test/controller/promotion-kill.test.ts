// timeout: 240
/**
 * Crash safety: a child process runs a promotion against a file store (slow verification, short soaks, real
 * clock); the test SIGKILLs it in verify, canary, the canary soak, the waves and the rollback, starts a new
 * child that resumes from the stored snapshot each time, and checks the end: every edge on one version, no
 * edge's desired version written twice, no edge applied twice, the versions intact.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  getPromotionView, realClock, resumePromotion, startPromotion, type PromotionHandle, type Verifier,
} from '../../controller/promotion/index.ts';
import { openStore } from '../../controller/store/index.ts';
import { desiredWrites, seedStore, simulateEdges } from './promotion-helpers.ts';

const EDGES = ['e1', 'e2', 'e3', 'e4', 'e5', 'e6'];
const OPTIONS = { canary: ['e1'], waves: [50, 100], soakMs: 1500, waveSoakMs: 700, ackTimeoutMs: 8000, rollbackTimeoutMs: 15_000 };

// Child mode: run (start or resume) one promotion against the store file, exit 0 when it is final.
if (process.env.PT_PROMOTION_CHILD) {
  const [file, mode, id] = process.env.PT_PROMOTION_CHILD.split('|') as [string, string, string];
  const store = await openStore(file);
  const slowPass: Verifier = async (_v, { signal }) => {
    await realClock.sleep(1500, signal);
    return { verdict: 'pass', scenarios: [{ scenario: 'slow', verdict: 'pass' }], reused: false };
  };
  const opts = { verify: slowPass, pollMs: 50 };
  const h: PromotionHandle = mode === 'start'
    ? await startPromotion(store, { version: 2, by: 'cli:test', options: OPTIONS, id }, opts)
    : await resumePromotion(store, id, opts);
  const v = await h.done;
  process.stdout.write(`${v.status}\n`);
  await store.close();
  process.exit(0);
}

const self = fileURLToPath(import.meta.url);
function child(file: string, mode: 'start' | 'resume', id: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', self], { env: { ...process.env, PT_PROMOTION_CHILD: `${file}|${mode}|${id}` }, stdio: ['ignore', 'pipe', 'inherit'] });
}
const exited = (c: ChildProcess) => new Promise<number | null>((r) => { if (c.exitCode !== null || c.signalCode) r(c.exitCode); else c.once('exit', (code) => r(code)); });

/**
 * Runs promotion `id` in children, killing each one once the stored status matches the next of `killAt`;
 * returns the statuses it was killed in. The last child runs to the end.
 */
async function runWithKills(file: string, id: string, killAt: RegExp[], log: string[]): Promise<string[]> {
  const store = await openStore(file);
  const killedIn: string[] = [];
  let c = child(file, 'start', id);
  try {
    for (const want of killAt) {
      let status = '';
      for (let i = 0; i < 3000; i++) {
        status = (await getPromotionView(store, id))?.status ?? '';
        if (want.test(status) || ['done', 'rolled-back', 'failed'].includes(status)) break;
        await realClock.sleep(10);
      }
      assert.ok(want.test(status), `reached ${want} before the end (status ${status})`);
      c.kill('SIGKILL');
      await exited(c);
      killedIn.push(status);
      log.push(`killed in ${status}`);
      c = child(file, 'resume', id);
    }
    assert.is(await exited(c), 0, 'the last child finishes the promotion');
  } finally {
    if (c.exitCode === null && !c.signalCode) { c.kill('SIGKILL'); await exited(c); }
    await store.close();
  }
  return killedIn;
}

async function scenario(name: string, health: (e: string, v: number | null) => { healthy: boolean; slaCompliance: number }, killAt: RegExp[]) {
  const dir = mkdtempSync(join(tmpdir(), `pt.promokill-${process.pid}-`));
  const file = join(dir, 'store.db');
  const store = await openStore(file);
  await seedStore(store, EDGES, Date.now());
  const ac = new AbortController();
  const sim = simulateEdges(store, EDGES, realClock, { health }, ac.signal, 50, 150);
  try {
    const log: string[] = [];
    const killedIn = await runWithKills(file, `pt-${name}-${process.pid}`, killAt, log);
    ac.abort();
    const applies = await sim;
    const view = (await getPromotionView(store, `pt-${name}-${process.pid}`))!;
    console.log(`  ${name}: ${log.join(', ')} → ${view.status}${view.reason ? ` (${view.reason})` : ''}`);
    return { store, view, killedIn, applies, writes: await desiredWrites(store) };
  } finally {
    ac.abort();
    await sim;
    // The store stays open for the caller's checks; the folder goes when it closes.
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
}

test('killed in verify, canary, canary soak and both waves, a good promotion still completes exactly once per edge', async () => {
  const r = await scenario('good', () => ({ healthy: true, slaCompliance: 1 }), [/^verifying$/, /^canary$/, /^canary-soak$/, /^wave-1/, /^wave-2/]);
  try {
    assert.is(r.view.status, 'done', r.view.reason ?? '');
    assert.is(r.killedIn.length, 5);
    for (const e of EDGES) {
      const edge = (await r.store.getEdge(e))!;
      assert.is(edge.desiredVersion, 2, `${e} desires 2`);
      assert.is(edge.appliedVersion, 2, `${e} runs 2`);
      assert.equal(r.writes.get(e), [2], `${e}: desired version written once`);
      assert.is(r.applies.get(`${e}@2`), 1, `${e}: applied once`);
    }
    assert.equal((await r.store.listVersions()).map((v) => v.id), [2, 1], 'no version lost');
    const steps = (await r.store.listAudit({ action: 'promotion.step', limit: 100 })).reverse().map((a) => (a.detail as { status: string }).status);
    const order = ['validating', 'verifying', 'canary', 'canary-soak', 'wave-1', 'wave-1-soak', 'wave-2', 'wave-2-soak', 'done'];
    assert.equal(steps, order, 'each step recorded once');
    // Each restart resumed where the killed child was: the status seen before the kill, or one it saved just after.
    const resumes = (await r.store.listAudit({ action: 'promotion.resume', limit: 100 })).reverse().map((a) => (a.detail as { status: string }).status);
    assert.is(resumes.length, r.killedIn.length);
    resumes.forEach((st, i) => assert.ok(order.indexOf(st) >= order.indexOf(r.killedIn[i]!) && st !== 'done', `resume ${i + 1}: ${st} after a kill in ${r.killedIn[i]}`));
  } finally { await r.store.close(); }
});

test('killed in the failing wave and twice while rolling back, a bad promotion ends rolled back on every edge', async () => {
  const r = await scenario('bad', (e, v) => ({ healthy: true, slaCompliance: e === 'e5' && v === 2 ? 0.5 : 1 }), [/^wave-2/, /^rolling-back$/, /^rolling-back$/]);
  try {
    assert.is(r.view.status, 'rolled-back');
    assert.match(r.view.reason!, /e5: SLA compliance 50\.0% < 99\.0%/);
    assert.match(r.view.reason!, /rolled back 6 edge\(s\) to version 1/);
    for (const e of EDGES) {
      const edge = (await r.store.getEdge(e))!;
      assert.is(`${edge.desiredVersion}/${edge.appliedVersion}`, '1/1', `${e} back on 1`);
      assert.equal(r.writes.get(e), [2, 1], `${e}: set to 2 once, back to 1 once`);
      assert.ok((r.applies.get(`${e}@2`) ?? 0) <= 1 && r.applies.get(`${e}@1`) === 1, `${e}: applied each version at most once`);
    }
  } finally { await r.store.close(); }
});

test.run();
