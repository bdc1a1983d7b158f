// timeout: 150
// --baseline on the netns twin: the same short scenario (the internet of site 2 cut after 1 s) with a wrong
// intent (voice pinned to the internet) as the baseline and the lab's own intent as the candidate. The
// intent that should matter does change the result: the baseline fails and loses voice, the candidate
// passes, and the comparison shows both sides per assertion and metric. Run under `flock /tmp/pt-heavy.lock`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { getProvider } from '../../twin/index.ts';
import { runSeries } from '../../scenarios/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'pt-scenario-series-'));
const lab = `scs${process.pid}`;
const p = getProvider('netns');
test.after(async () => {
  if ((await p.list()).includes(lab)) await p.destroy(lab);
  rmSync(dir, { recursive: true, force: true });
});

test('baseline vs candidate: the wrong intent loses voice on the cut, the right one does not, side by side', async () => {
  const file = join(dir, 'short.yaml');
  writeFileSync(file, `name: short-cut
lab: ${resolve('scenarios/labs/dual-wan/lab.yaml')}
duration: 5s
traffic:
  - { name: call, class: voice, profile: voice, from: host1, to: host2 }
events:
  - { at: 1s, cut: "inet:p2" }
assert:
  - { name: voice keeps its SLA, sla: { class: voice, from: voice, min: 80% } }
`);
  const m = await runSeries(file, { baseline: 'scenarios/labs/dual-wan/intent-voice-on-inet.yaml', intent: 'scenarios/labs/dual-wan/intent.yaml', dir: join(dir, 'out'), labName: lab });
  const why = `${m.summary}\n${[...m.baselineRuns!, ...m.runs].map((r) => r.invalidReasons.join('; ')).join('\n')}`;
  assert.is(m.baselineRuns!.length, 1);
  assert.is(m.baselineRuns![0]!.verdict, 'fail', why);
  assert.is(m.runs[0]!.verdict, 'pass', why);
  assert.is(m.exitCode, 0, 'the exit code is the candidate\'s');
  const sla = m.compare!.find((r) => r.key === 'assert:0')!;
  assert.equal([sla.baseOk, sla.candOk], [0, 1]);
  assert.ok(sla.delta! > 0.5, `SLA compliance rose by ${sla.delta}`);
  const loss = m.compare!.find((r) => r.key === 'flow:call:loss')!;
  assert.ok(loss.base.median! > 0.5 && loss.cand.median! < 0.05, JSON.stringify(loss));
  assert.is(loss.beyondNoise, null, 'one seed: no measure of noise');
  assert.ok(existsSync(join(dir, 'out', 'baseline-seed1.duckdb')) && existsSync(join(dir, 'out', 'candidate-seed1.duckdb')));
  for (const f of ['candidate-seed1.latency.png', 'candidate-seed1.sla.png']) assert.ok(readFileSync(join(dir, 'out', f)).length > 1000, `${f} written`);
  assert.match(readFileSync(m.report, 'utf8'), /\| voice keeps its SLA \| [\d.]+% — held 0\/1 \| [\d.]+% — held 1\/1 \| \+[\d.]+% \| n\/a \(1 seed\) \|/);
});

test.run();
