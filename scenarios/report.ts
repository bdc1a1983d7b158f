/**
 * Reports of a verification (`patronus verify`): one intent run against a suite of scenarios, written as
 * Markdown (for people and pull-request comments), JSON (for tools) and JUnit XML (for CI test views).
 * Pure functions of the run results; the verdict of the suite is {@link suiteVerdict}.
 *
 * Example:
 *   const md = markdownReport({ intent: 'intent.yaml', results });   // "# patronus verify: PASS …"
 */
import type { RunResult } from './runner.ts';

/** One verification: the intent judged and each scenario's result. */
export interface SuiteReport {
  intent: string;
  results: RunResult[];
  /** Wall-clock seconds each run took, same order as results. */
  seconds?: number[];
}

/**
 * The suite's verdict and exit code: `fail` (1) when any trustworthy run failed an assertion — a measured
 * failure blocks even if another run was invalid — else `invalid` (3) when any run could not be trusted,
 * else `pass` (0). An empty suite is invalid: nothing was verified.
 */
export function suiteVerdict(results: readonly RunResult[]): { verdict: 'pass' | 'fail' | 'invalid'; exitCode: 0 | 1 | 3 } {
  if (results.some((r) => r.verdict === 'fail')) return { verdict: 'fail', exitCode: 1 };
  if (!results.length || results.some((r) => r.verdict === 'invalid')) return { verdict: 'invalid', exitCode: 3 };
  return { verdict: 'pass', exitCode: 0 };
}

const xml = (s: string) => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!)
  // Control characters other than tab and newline are not allowed in XML 1.0.
  .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
const md = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/**
 * JUnit XML: one testsuite per scenario, one testcase per assertion. A failed assertion is a `<failure>`;
 * every testcase of an invalid run is an `<error>` with the reasons (the twin could not judge it), so CI
 * views show "errored", never "passed" or "failed", for it.
 */
export function junitReport(r: SuiteReport): string {
  const suites = r.results.map((res, i) => {
    const cases = res.assertions.map((a) => {
      const head = `    <testcase classname="${xml(`scenario.${res.scenario}`)}" name="${xml(a.name)}" time="0">`;
      if (res.verdict === 'invalid') return `${head}\n      <error type="invalid-run" message="${xml(`invalid run: ${res.invalidReasons.join('; ')}`)}">${xml(res.invalidReasons.join('\n'))}</error>\n    </testcase>`;
      if (!a.ok) return `${head}\n      <failure type="assertion" message="${xml(`expected ${a.expected}: ${a.detail}`)}">${xml(`${a.target}: expected ${a.expected}, measured ${a.measured ?? 'nothing'}\n${a.detail}`)}</failure>\n    </testcase>`;
      return `${head}</testcase>`;
    });
    // A run without assertions still reports whether it could run.
    if (!res.assertions.length) {
      cases.push(`    <testcase classname="${xml(`scenario.${res.scenario}`)}" name="run" time="0">${res.verdict === 'invalid' ? `\n      <error type="invalid-run" message="${xml(res.invalidReasons.join('; '))}"/>\n    ` : ''}</testcase>`);
    }
    const failures = res.verdict === 'invalid' ? 0 : res.assertions.filter((a) => !a.ok).length;
    const errors = res.verdict === 'invalid' ? Math.max(1, res.assertions.length) : 0;
    return `  <testsuite name="${xml(res.scenario)}" tests="${cases.length}" failures="${failures}" errors="${errors}" skipped="0" time="${(r.seconds?.[i] ?? 0).toFixed(1)}">\n`
      + `    <properties><property name="telemetry" value="${xml(res.file)}"/><property name="verdict" value="${res.verdict}"/></properties>\n${cases.join('\n')}\n  </testsuite>`;
  });
  const count = (re: RegExp) => suites.reduce((n, s) => n + (s.match(re)?.length ?? 0), 0);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="patronus verify ${xml(r.intent)}" tests="${count(/<testcase /g)}" failures="${count(/<failure /g)}" errors="${count(/<error /g)}">\n${suites.join('\n')}\n</testsuites>\n`;
}

/** Markdown: the verdict, a table of scenarios, then each scenario's assertions and summary. */
export function markdownReport(r: SuiteReport): string {
  const v = suiteVerdict(r.results);
  const out = [`# patronus verify: ${v.verdict.toUpperCase()}`, '', `Intent \`${r.intent}\`, ${r.results.length} scenarios.`, '',
    '| scenario | verdict | assertions | telemetry |', '| --- | --- | --- | --- |'];
  for (const res of r.results) {
    out.push(`| ${md(res.scenario)} | ${res.verdict.toUpperCase()} | ${res.assertions.filter((a) => a.ok).length}/${res.assertions.length} hold | \`${md(res.file)}\` |`);
  }
  for (const res of r.results) {
    out.push('', `## ${res.scenario}: ${res.verdict.toUpperCase()}`, '');
    if (res.verdict === 'invalid') out.push(`The twin could not be trusted, so this run is neither a pass nor a fail: ${res.invalidReasons.join('; ')}.`, '');
    for (const a of res.assertions) out.push(`- ${a.ok ? '✅' : '❌'} ${md(a.name)} — expected ${md(a.expected)}; ${md(a.detail)}`);
    out.push('', '```', res.summary.trimEnd(), '```');
  }
  return out.join('\n') + '\n';
}

/** JSON: the suite verdict and every run result as {@link RunResult}. */
export function jsonReport(r: SuiteReport): string {
  return JSON.stringify({ intent: r.intent, ...suiteVerdict(r.results), results: r.results, seconds: r.seconds ?? [] }, null, 1) + '\n';
}
