// timeout: 300
/**
 * The promotion's verify step hands its run files to the controller's analytics store: the twin verifier runs
 * a one-scenario suite (isp-cut on the dual-WAN lab) on the netns twin with the version's intent, and its
 * `onRuns` hook — wired as `controller serve` wires it — imports the run before the temporary folder is
 * removed. Run by hand under `flock /tmp/pt-heavy.lock` (a real twin run, about a minute).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { twinVerifier } from '../../controller/promotion/index.ts';
import { openStore } from '../../controller/store/index.ts';
import { AnalyticsStore } from '../../controller/analytics/index.ts';
import { intentHash } from '../../controller/versions/index.ts';
import { getProvider } from '../../twin/index.ts';

const dir = mkdtempSync(join(tmpdir(), `pt.anverify-${process.pid}-`));
const labName = `pa${process.pid}`;
test.after(async () => {
  const p = getProvider('netns');
  if ((await p.list()).includes(labName)) await p.destroy(labName);
  rmSync(dir, { recursive: true, force: true });
});

test("the verify step's run files are imported into the analytics store, attributed to the version", async () => {
  const suite = join(dir, 'suite');
  mkdirSync(suite, { recursive: true });
  writeFileSync(join(suite, 'isp-cut.yaml'), readFileSync('scenarios/isp-cut.yaml', 'utf8')
    .replace(/^lab: .*$/m, `lab: ${resolve('scenarios/labs/dual-wan/lab.yaml')}`)
    .replace(/^intent: .*$/m, `intent: ${resolve('scenarios/labs/dual-wan/intent.yaml')}`));
  const yaml = readFileSync('scenarios/labs/dual-wan/intent.yaml', 'utf8');
  const store = await openStore(':memory:');
  const analytics = await AnalyticsStore.open(join(dir, 'analytics.duckdb'));
  try {
    const version = await store.insertVersion({ parent: null, author: 'test', message: '', intentYaml: yaml, intentHash: intentHash(yaml), restores: null, report: null }, []);
    const handed: string[] = [];
    const verify = twinVerifier({
      suite, labName, log: () => {},
      onRuns: async (files, v) => { handed.push(...files); await analytics.importRuns(files, `verify:v${v}`); },
    });
    const summary = await verify(version, { store, signal: new AbortController().signal });
    assert.is(handed.length, 1);
    const imports = (await analytics.query('select i.source, i.scenario, i.rows, r.verdict from run_imports i join runs r using (run_id)')).rows;
    assert.is(imports.length, 1);
    assert.is(imports[0]!.source, `verify:v${version.id}`);
    assert.is(imports[0]!.scenario, 'isp-cut');
    assert.is(imports[0]!.verdict, summary.verdict === 'pass' ? 'pass' : summary.scenarios[0]!.verdict);
    assert.ok(Number(imports[0]!.rows) > 100, `only ${imports[0]!.rows} rows`);
    const flows = (await analytics.query('select count(*) n from flows')).rows[0]!.n;
    const assertions = (await analytics.query('select count(*) n from assertions')).rows[0]!.n;
    assert.ok(Number(flows) > 0 && Number(assertions) > 0);
  } finally {
    await analytics.close();
    await store.close();
  }
});

test.run();
