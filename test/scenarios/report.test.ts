// The reports of `patronus verify` (scenarios/report.ts): the suite verdict, JUnit XML that CI views read
// (failures vs errors for invalid runs, escaping), Markdown and JSON.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { junitReport, markdownReport, jsonReport, suiteVerdict, type RunResult, type AssertionResult } from '../../scenarios/index.ts';

const a = (name: string, ok: boolean): AssertionResult => ({ idx: 0, name, kind: 'sla', target: 'class voice', expected: '≥ 80%', measured: ok ? 0.95 : 0.45, ok, detail: ok ? '19 of 20 intervals' : '9 of 20 intervals <ok & "quoted">' });
const run = (scenario: string, verdict: RunResult['verdict'], assertions: AssertionResult[], invalidReasons: string[] = []): RunResult =>
  ({ runId: scenario, file: `/tmp/${scenario}.duckdb`, scenario, verdict, exitCode: { pass: 0, fail: 1, invalid: 3 }[verdict], invalidReasons, assertions, summary: `scenario ${scenario}\n`, seed: 1, metrics: [] });

const pass = run('isp-cut', 'pass', [a('voice keeps its SLA', true), a('fails over fast', true)]);
const fail = run('wrong', 'fail', [a('voice keeps its SLA', false)]);
const invalid = run('brownout', 'invalid', [a('voice keeps its SLA', true)], ['median run queue 5.1 per CPU > 4']);

test('a measured failure decides the suite, then an invalid run, then pass; an empty suite verified nothing', () => {
  assert.equal(suiteVerdict([pass, fail, invalid]), { verdict: 'fail', exitCode: 1 });
  assert.equal(suiteVerdict([pass, invalid]), { verdict: 'invalid', exitCode: 3 });
  assert.equal(suiteVerdict([pass]), { verdict: 'pass', exitCode: 0 });
  assert.equal(suiteVerdict([]), { verdict: 'invalid', exitCode: 3 });
});

test('JUnit: failed assertions are failures, every case of an invalid run an error, text escaped', () => {
  const x = junitReport({ intent: 'cand.yaml', results: [pass, fail, invalid], seconds: [30, 31, 32] });
  assert.match(x, '<testsuites name="patronus verify cand.yaml" tests="4" failures="1" errors="1">');
  assert.match(x, '<testsuite name="isp-cut" tests="2" failures="0" errors="0" skipped="0" time="30.0">');
  assert.match(x, '<testsuite name="wrong" tests="1" failures="1" errors="0"');
  assert.match(x, 'message="expected ≥ 80%: 9 of 20 intervals &lt;ok &amp; &quot;quoted&quot;&gt;"');
  assert.match(x, '<error type="invalid-run" message="invalid run: median run queue 5.1 per CPU &gt; 4">');
  assert.not.match(x, /<ok &/);
  assert.match(x, '<property name="telemetry" value="/tmp/isp-cut.duckdb"/>');
});

test('Markdown names the verdict, each scenario and why an invalid run was not judged; JSON carries the exit code', () => {
  const m = markdownReport({ intent: 'cand.yaml', results: [pass, invalid] });
  assert.match(m, /^# patronus verify: INVALID\n/);
  assert.match(m, '| isp-cut | PASS | 2/2 hold | `/tmp/isp-cut.duckdb` |');
  assert.match(m, 'neither a pass nor a fail: median run queue 5.1 per CPU > 4.');
  const j = JSON.parse(jsonReport({ intent: 'cand.yaml', results: [pass, fail] }));
  assert.equal([j.verdict, j.exitCode, j.results.length], ['fail', 1, 2]);
});

test.run();
