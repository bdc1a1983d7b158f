// timeout: 120
/**
 * The promotion CLI on a state directory: bad flags and files exit 2 naming them and create nothing; a
 * promotion with an approval gate runs in the foreground, `approve` from another process lets it finish,
 * `promote status` shows it, `abort` of a finished one is refused. Verification reuses the stored passing
 * report of the same intent text (the twin is not booted here). Edges are simulated on the same store file.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { realClock, VERIFY_REPORT_FORMAT } from '../../controller/promotion/index.ts';
import { openStore, stateFiles } from '../../controller/store/index.ts';
import { desiredWrites, seedStore, simulateEdges } from './promotion-helpers.ts';

const EDGES = ['e1', 'e2', 'e3', 'e4'];
const dir = mkdtempSync(join(tmpdir(), `pt.promocli-${process.pid}-`));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'controller/cli/main.ts', ...args], { encoding: 'utf8' });

test('bad flags and a missing intent file exit 2, name the flag or file, and create no state', () => {
  const state = join(dir, 'untouched');
  let r = cli(['promote', '2', '--waves', '10,50', '--state', state]);
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /--waves.*expected the last wave to be 100/);
  r = cli(['promote', '2', '--soak', 'ten minutes', '--state', state]);
  assert.is(r.status, 2);
  assert.match(r.stderr, /--soak.*expected a duration like 30s/);
  r = cli(['promote', join(dir, 'nope.yaml'), '--state', state]);
  assert.is(r.status, 2);
  assert.match(r.stderr, /nope\.yaml.*expected a version number or an intent file/);
  const bad = join(dir, 'bad-intent.yaml');
  writeFileSync(bad, 'apiVersion: patronus/v1\nsites: 7\n');
  r = cli(['promote', bad, '--state', state]);
  assert.is(r.status, 2);
  assert.match(r.stderr, /bad-intent\.yaml/);
  r = cli(['approve', '--state', state]);
  assert.is(r.status, 2);
  assert.not.ok(existsSync(state), 'nothing created');
});

test('promote waits at the approval gate, approve from another shell finishes it, status shows it', async () => {
  const state = join(dir, 'state');
  const store = await openStore(stateFiles(state).store);
  await seedStore(store, EDGES, Date.now());
  await store.setVersionReport(2, { format: VERIFY_REPORT_FORMAT, intentHash: 'ih2', verdict: 'pass', scenarios: [{ scenario: 'brownout-voice', verdict: 'pass' }], reused: false, at: Date.now(), results: [] });
  const ac = new AbortController();
  const sim = simulateEdges(store, EDGES, realClock, {}, ac.signal, 100);
  const child = spawn(process.execPath, ['--import', 'tsx', 'controller/cli/main.ts', 'promote', '2', '--canary', 'e3', '--waves', '50,100', '--soak', '1s', '--wave-soak', '300ms', '--approve-required', '--state', state], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  try {
    let id = '';
    for (let i = 0; i < 600 && !id; i++) { id = /promotion (promo-[0-9a-f]+)/.exec(stdout)?.[1] ?? ''; await realClock.sleep(50); }
    assert.ok(id, `the CLI printed the promotion id (${stdout} ${stderr})`);
    let st = '';
    for (let i = 0; i < 600; i++) {
      const r = cli(['promote', 'status', id, '--json', '--state', state]);
      st = JSON.parse(r.stdout).status;
      if (st === 'awaiting-approval') break;
      await realClock.sleep(100);
    }
    assert.is(st, 'awaiting-approval');
    assert.is((await desiredWrites(store)).size, 0, 'no edge touched before approval');
    const a = cli(['approve', id, '--state', state]);
    assert.is(a.status, 0, a.stderr);
    assert.match(a.stdout, new RegExp(`approval of ${id} recorded; .* runs it`));
    assert.is(await exit, 0, stderr);
    assert.match(stdout, new RegExp(`promotion ${id}: done`));
    const show = cli(['promote', 'status', id, '--state', state]);
    assert.match(show.stdout, /status +done/);
    assert.match(show.stdout, /canary +e3/);
    assert.match(show.stdout, /verified +pass \(stored report\)/);
    assert.match(show.stdout, /approval +approved by cli:/);
    const list = cli(['promote', 'status', '--state', state]);
    assert.match(list.stdout, new RegExp(`${id} +1→2 +done`));
    const ab = cli(['abort', id, '--state', state]);
    assert.is(ab.status, 2);
    assert.match(ab.stderr, /is done; nothing to abort/);
    assert.equal(Object.fromEntries(await desiredWrites(store)), { e1: [2], e2: [2], e3: [2], e4: [2] });
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    ac.abort();
    await sim;
    await store.close();
  }
});

test('an intent file is pushed as a new version first; the same text again is that version', () => {
  const state = join(dir, 'push');
  const args = ['scenarios/labs/dual-wan/intent.yaml', '--lab', 'scenarios/labs/dual-wan/lab.yaml', '--state', state];
  let r = cli(['promote', ...args]);
  assert.match(r.stdout, /intent scenarios\/labs\/dual-wan\/intent\.yaml pushed as version 1 \(2 signed bundles\)/);
  // No edge is enrolled in this state directory: validation stops it and says what to do.
  assert.is(r.status, 1);
  assert.match(r.stdout, /failed — none of the 2 edge\(s\) with a bundle in version 1 \(edge1, edge2\) is known to the controller/);
  r = cli(['promote', ...args]);
  assert.match(r.stdout, /intent scenarios\/labs\/dual-wan\/intent\.yaml is version 1\n/);
});

test.run();
