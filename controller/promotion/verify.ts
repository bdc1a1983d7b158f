/**
 * Verification on the twin — the same code path as `patronus verify`: every scenario of a suite runs on the
 * netns twin with the version's intent, and the suite verdict decides. The report is stored with the version
 * (`setVersionReport`); a stored passing report of the same intent text is reused instead of running the
 * twin again (a CI pipeline already ran `patronus verify` on that intent).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario, runScenario, suiteVerdict, type RunResult } from '../../scenarios/index.ts';
import type { Verifier } from './actors.ts';
import type { VerifySummary } from './types.ts';

/** Format tag of the reports this verifier stores with a version. */
export const VERIFY_REPORT_FORMAT = 'patronus-verify/v1';

/** The report stored with a version after a twin verification. */
export interface StoredVerifyReport extends VerifySummary {
  format: typeof VERIFY_REPORT_FORMAT;
  intentHash: string;
  at: number;
  results: { scenario: string; verdict: string; invalidReasons: string[]; assertions: { name: string; ok: boolean; detail: string }[] }[];
}

/**
 * A {@link Verifier} running the scenario suite in `suite` (default `scenarios/`) on the netns twin.
 * Run files go to `out` (default a temporary folder, removed afterwards); the twin lab is named `labName`
 * (default `pv<pid>`).
 * @example createPromotionActors({ store, fleet, clock: realClock, verify: twinVerifier({ suite: 'scenarios' }) })
 */
export function twinVerifier(opts: {
  suite?: string; out?: string; labName?: string; log?: (line: string) => void;
  /** Receives the run files before they are removed (the controller imports them into its analytics store); a throw is logged, not a failed verification. */
  onRuns?: (files: string[], version: number) => Promise<void>;
} = {}): Verifier {
  const suite = opts.suite ?? 'scenarios';
  return async (version, { store, signal }) => {
    const stored = version.report as Partial<StoredVerifyReport> | null;
    if (stored?.format === VERIFY_REPORT_FORMAT && stored.intentHash === version.intentHash && stored.verdict === 'pass') {
      return { verdict: 'pass', scenarios: stored.scenarios ?? [], reused: true };
    }
    const files = readdirSync(suite).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(suite, f));
    if (!files.length) throw new Error(`no scenario files (*.yaml) in the verification suite ${suite}/`);
    const work = mkdtempSync(join(tmpdir(), 'pt.promote-'));
    try {
      const intent = join(work, `intent-v${version.id}.yaml`);
      writeFileSync(intent, version.intentYaml);
      const out = opts.out ?? join(work, 'runs');
      mkdirSync(out, { recursive: true });
      const results: RunResult[] = [];
      const runFiles: string[] = [];
      for (const f of files) {
        if (signal.aborted) throw new Error('verification aborted');
        const name = loadScenario(f, { intent }).name;
        opts.log?.(`verify v${version.id}: ${name}`);
        runFiles.push(join(out, `${name}.duckdb`));
        results.push(await runScenario(f, { intent, out: runFiles.at(-1)!, signal, log: opts.log, labName: opts.labName ?? `pv${process.pid}` }));
      }
      if (opts.onRuns) {
        await opts.onRuns(runFiles, version.id)
          .catch((e) => opts.log?.(`verify v${version.id}: run files not handed to analytics: ${(e as Error).message}`));
      }
      const verdict = suiteVerdict(results).verdict;
      const scenarios = results.map((r) => ({ scenario: r.scenario, verdict: r.verdict }));
      const report: StoredVerifyReport = {
        format: VERIFY_REPORT_FORMAT, intentHash: version.intentHash, at: Date.now(), verdict, scenarios, reused: false,
        results: results.map((r) => ({ scenario: r.scenario, verdict: r.verdict, invalidReasons: r.invalidReasons, assertions: r.assertions.map((a) => ({ name: a.name, ok: a.ok, detail: a.detail })) })),
      };
      await store.setVersionReport(version.id, report);
      return { verdict, scenarios, reused: false };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  };
}
