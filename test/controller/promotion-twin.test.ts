// timeout: 600
/**
 * The verify step for real: the promotion runs the scenario suite on the netns twin (wrong-voice-on-inet, with
 * the version's intent). A valid intent that pins voice to the internet is stopped by the twin before any edge
 * is touched; the lab's own intent passes and rolls out (simulated edges, virtual clock for the soaks). Run by
 * hand under `flock /tmp/pt-heavy.lock`. A run the twin could not trust (suite verdict invalid: an overloaded
 * host) stops the promotion as well — that is retried, at most three promotions in all.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startPromotion, twinVerifier, virtualClock, type PromotionView } from '../../controller/promotion/index.ts';
import { openStore, type Store } from '../../controller/store/index.ts';
import { getProvider } from '../../twin/index.ts';
import { desiredWrites, simulateEdges } from './promotion-helpers.ts';

const dir = mkdtempSync(join(tmpdir(), `pt.promotwin-${process.pid}-`));
const suite = join(dir, 'suite');
const labName = `pt${process.pid}`;
const EDGES = ['edge1', 'edge2'];

test.after(async () => {
  const p = getProvider('netns');
  if ((await p.list()).includes(labName)) await p.destroy(labName);
  rmSync(dir, { recursive: true, force: true });
});

/** The suite: one scenario, the wrong-voice one, its lab by absolute path (the version's intent replaces the scenario's). */
function writeSuite(): void {
  const src = readFileSync('scenarios/wrong-voice-on-inet.yaml', 'utf8')
    .replace(/^lab: .*$/m, `lab: ${resolve('scenarios/labs/dual-wan/lab.yaml')}`)
    .replace(/^intent: .*$/m, `intent: ${resolve('scenarios/labs/dual-wan/intent.yaml')}`);
  mkdirSync(suite, { recursive: true });
  writeFileSync(join(suite, 'wrong-voice-on-inet.yaml'), src);
}

async function promoteWithRetries(store: Store, version: number, clock: ReturnType<typeof virtualClock>): Promise<PromotionView> {
  for (let i = 0; ; i++) {
    const v = await (await startPromotion(store, { version, by: 'test', options: { canary: ['edge1'], waves: [100] } }, {
      clock, pollMs: 1000, verify: twinVerifier({ suite, labName, log: () => {} }),
    })).done;
    if (!/twin verification invalid/.test(v.reason ?? '') || i === 2) return v;
    console.log(`  version ${version}: the twin could not judge (${v.reason}); again`);
  }
}

test('a valid intent that breaks voice is stopped by the twin; the good one is verified and rolled out', async () => {
  writeSuite();
  const good = readFileSync('scenarios/labs/dual-wan/intent.yaml', 'utf8');
  const bad = readFileSync('scenarios/labs/dual-wan/intent-voice-on-inet.yaml', 'utf8');
  const store = await openStore(':memory:');
  const clock = virtualClock(Date.now());
  const ac = new AbortController();
  const sim = simulateEdges(store, EDGES, clock, {}, ac.signal);
  try {
    let n = 0;
    for (const [text, msg] of [[good, 'v1'], [bad, 'voice on inet'], [`${good}\n# v3: same intent, new text\n`, 'v3']] as const) {
      n++;
      await store.insertVersion({ parent: n === 1 ? null : n - 1, author: 't', message: msg, intentYaml: text, intentHash: `hash-${n}` }, EDGES.map((e) => ({ edge: e, hash: `h${n}-${e}`, envelope: {} })));
    }
    for (const e of EDGES) await store.upsertEdge(e, { desiredVersion: 1, appliedVersion: 1, lastSeen: clock.now(), health: { healthy: true } });

    const b = await promoteWithRetries(store, 2, clock);
    assert.is(b.status, 'failed', b.reason ?? '');
    assert.is(b.failedStep, 'verify');
    assert.is(b.reason, 'twin verification fail: wrong-voice-on-inet fail');
    assert.is((await desiredWrites(store)).size, 0, 'the twin stopped it before any edge');
    assert.is(((await store.getVersion(2))!.report as { verdict: string }).verdict, 'fail', 'the report is stored with the version');

    const g = await promoteWithRetries(store, 3, clock);
    assert.is(g.status, 'done', g.reason ?? '');
    assert.equal(g.verification, { verdict: 'pass', scenarios: [{ scenario: 'wrong-voice-on-inet', verdict: 'pass' }], reused: false });
    assert.equal(Object.fromEntries(await desiredWrites(store)), { edge1: [3], edge2: [3] });
  } finally {
    ac.abort();
    await sim;
    await store.close();
  }
});

test.run();
