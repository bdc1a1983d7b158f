/**
 * `patronus scenario run|query|validate`: what-if scenarios on the twin (scenarios/, docs/scenarios.md).
 * `run` exits 0 when every assertion holds, 1 when one fails, 2 on bad input (nothing touched), 3 when
 * the run is invalid (the twin could not be trusted, or infrastructure failed). Ctrl-C stops traffic,
 * tears the lab down and exits 3 with the partial telemetry kept in the run file.
 */
import { parseArgs } from 'node:util';
import { mkdirSync, readdirSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadScenario, queryRuns, runScenario, runSeries, EXIT, junitReport, jsonReport, markdownReport, suiteVerdict, type RunResult } from '../../scenarios/index.ts';
import { InputError } from '../../dataplane/index.ts';
import { table } from './format.ts';
import { prepareLab } from './twin.ts';
import { isUsageError, UsageError } from './usage.ts';

const USAGE = `usage:
  patronus scenario run FILE [--intent INTENT.yaml] [--out RUN.duckdb] [--reuse LAB] [--json]
  patronus scenario run FILE [--intent INTENT.yaml] --seeds N [--baseline OLD.yaml] [--out DIR] [--json]
  patronus scenario run FILE [--intent INTENT.yaml] --baseline OLD.yaml [--seeds N] [--out DIR] [--json]
  patronus scenario validate FILE [--intent INTENT.yaml]
  patronus scenario query SQL RUN.duckdb... [--json]
`;


export async function runScenarioCli(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'run': return await run(rest);
      case 'validate': return validate(rest);
      case 'query': return await query(rest);
      case undefined: case '-h': case '--help': process.stdout.write(USAGE); return sub ? 0 : 2;
      default: throw new UsageError(`unknown scenario command "${sub}" (known: run, validate, query)`);
    }
  } catch (e) {
    if (isUsageError(e)) {
      process.stderr.write(`patronus scenario: ${(e as Error).message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    intent: { type: 'string' }, out: { type: 'string' }, reuse: { type: 'string' }, json: { type: 'boolean' }, seeds: { type: 'string' }, baseline: { type: 'string' },
  } });
  if (positionals.length !== 1) throw new UsageError('scenario run takes one scenario file');
  const seeds = values.seeds === undefined ? undefined : Number(values.seeds);
  if (seeds !== undefined && !(Number.isInteger(seeds) && seeds >= 1 && seeds <= 100)) throw new UsageError(`--seeds: expected a whole number 1…100, got "${values.seeds}"`);
  const series = seeds !== undefined || values.baseline !== undefined;
  if (series && values.reuse) throw new UsageError('--reuse runs one seed of one intent; it does not combine with --seeds or --baseline');
  const tty = process.stderr.isTTY;
  let live = false;
  const log = (line: string) => {
    if (live) { process.stderr.write('\r\x1b[K'); live = false; }
    process.stderr.write(`${line}\n`);
  };
  const ac = new AbortController();
  const onSignal = () => { log('interrupted: stopping traffic and tearing down'); ac.abort(); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // On a terminal one status line is rewritten in place; piped output gets only the plain lines.
    const status = tty ? (line: string) => { process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns ?? 100) - 1)}`); live = true; } : undefined;
    if (series) {
      const m = await runSeries(positionals[0]!, { intent: values.intent, baseline: values.baseline, seeds, dir: values.out, log, status, signal: ac.signal });
      if (live) process.stderr.write('\r\x1b[K');
      if (values.json) process.stdout.write(JSON.stringify(m, null, 1) + '\n');
      else process.stdout.write(`${m.summary}report: ${m.report}\nrun files: ${m.dir}\n`);
      return ac.signal.aborted ? EXIT.invalid : m.exitCode;
    }
    const r = await runScenario(positionals[0]!, { intent: values.intent, out: values.out, reuse: values.reuse, log, signal: ac.signal, status });
    if (live) process.stderr.write('\r\x1b[K');
    if (values.json) process.stdout.write(JSON.stringify(r, null, 1) + '\n');
    else process.stdout.write(`${r.summary}telemetry: ${r.file}\nreport: ${r.report}\n${r.charts ? `charts: ${r.charts.files.join(' ')}\n` : ''}`);
    return r.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function validate(argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { intent: { type: 'string' } } });
  if (positionals.length !== 1) throw new UsageError('scenario validate takes one scenario file');
  const s = loadScenario(positionals[0]!, { intent: values.intent });
  process.stdout.write(`${s.file}: valid (${s.flows.length} flows, ${s.doc.events.length} events, ${s.doc.assert.length} assertions; lab ${s.labFile}, intent ${s.intentFile ?? 'none'})\n`);
  return EXIT.pass;
}

async function query(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' } } });
  const [sql, ...files] = positionals;
  if (!sql || !files.length) throw new UsageError('scenario query takes SQL and at least one run file');
  let r;
  try {
    r = await queryRuns(sql, files);
  } catch (e) {
    process.stderr.write(`patronus scenario query: ${(e as Error).message}\n`);
    return 2;
  }
  const show = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'number' ? String(+v.toFixed(4)) : typeof v === 'object' ? JSON.stringify(v) : String(v));
  if (values.json) process.stdout.write(JSON.stringify(r.rows) + '\n');
  else process.stdout.write(table([r.columns.map((c) => c.toUpperCase()), ...r.rows.map((row) => r.columns.map((c) => show(row[c])))]));
  return 0;
}

const VERIFY_USAGE = `usage:
  patronus verify INTENT.yaml [--suite DIR (default scenarios/)] [--out DIR (default runs/verify-<time>/)]
`;

/** `patronus verify`: see the module comment. */
export async function runVerifyCli(argv: string[]): Promise<number> {
  let values: { suite?: string; out?: string }, positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { suite: { type: 'string' }, out: { type: 'string' } } }));
  } catch (e) {
    process.stderr.write(`patronus verify: ${(e as Error).message}\n${VERIFY_USAGE}`);
    return 2;
  }
  if (positionals.length !== 1) { process.stderr.write(`patronus verify: takes one intent file\n${VERIFY_USAGE}`); return 2; }
  const intent = positionals[0]!;
  const suite = values.suite ?? 'scenarios';
  if (!existsSync(suite) || !statSync(suite).isDirectory()) throw new InputError(suite, [{ path: [], message: 'expected a directory of scenario files (--suite)' }]);
  const files = readdirSync(suite).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(suite, f));
  if (!files.length) throw new InputError(suite, [{ path: [], message: 'no scenario files (*.yaml) in the suite' }]);
  // Every scenario and its lab compile with the candidate intent before the first run touches anything.
  for (const f of files) {
    const s = loadScenario(f, { intent });
    prepareLab(s.labFile, { intent: s.intentFile, name: 'verify-check' });
  }
  const out = resolve(values.out ?? `runs/verify-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(out, { recursive: true });
  const results: RunResult[] = [], seconds: number[] = [];
  const ac = new AbortController();
  const onSignal = () => { process.stderr.write('interrupted: finishing the current run\'s tear-down\n'); ac.abort(); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (const f of files) {
      if (ac.signal.aborted) break;
      process.stderr.write(`== ${f}\n`);
      const t = Date.now();
      const r = await runScenario(f, { intent, out: join(out, `${loadScenario(f, { intent }).name}.duckdb`), log: (l) => process.stderr.write(`  ${l}\n`), signal: ac.signal });
      results.push(r);
      seconds.push((Date.now() - t) / 1000);
      process.stderr.write(`   ${r.verdict.toUpperCase()}${r.invalidReasons.length ? ` (${r.invalidReasons.join('; ')})` : ''}\n`);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const report = { intent: resolve(intent), results, seconds };
  writeFileSync(join(out, 'report.md'), markdownReport(report));
  writeFileSync(join(out, 'report.json'), jsonReport(report));
  writeFileSync(join(out, 'junit.xml'), junitReport(report));
  const v = suiteVerdict(results);
  process.stdout.write(table([['SCENARIO', 'VERDICT', 'ASSERTIONS'], ...results.map((r) => [r.scenario, r.verdict.toUpperCase(), `${r.assertions.filter((a) => a.ok).length}/${r.assertions.length}`])]));
  process.stdout.write(`verify: ${v.verdict.toUpperCase()}; reports in ${out}/ (report.md, report.json, junit.xml)\n`);
  return ac.signal.aborted ? EXIT.invalid : v.exitCode;
}
