/**
 * scenarios/ — what-if files (lab + intent + traffic + event timeline + assertions) and their runner.
 * schema.ts is the scenario file's zod schema (JSON Schema in scenario.schema.json), load.ts validates a
 * file against its lab and intent, traffic/ generates and measures the flows inside twin hosts, store.ts
 * is the run's DuckDB file, probes.ts pulls the agents' raw probe logs into it, runner.ts runs one scenario end to end, report.ts writes a suite's
 * Markdown / JSON / JUnit reports, multi.ts runs seeds and baselines whose spreads and deltas compare.ts
 * computes, trust.ts judges whether the twin could be trusted (overload signs), chart.ts renders a run's PNG charts (docs/scenarios.md, docs/telemetry.md, docs/ci.md).
 */
export * from './schema.ts';
export { loadScenario, slaBounds, hostAddress, type Scenario, type ResolvedFlow } from './load.ts';
export { RunStore, queryRuns, TABLES, type TableName, type Row, type ColumnType } from './store.ts';
export { ProbePuller, probeRows, type ProbeFetch } from './probes.ts';
export { runScenario, evaluateAssertions, summarize, softnetDrops, EXIT, type RunOptions, type RunResult, type AssertionResult } from './runner.ts';
export { scenarioJsonSchema, SCENARIO_SCHEMA_ID } from './json-schema.ts';
export { junitReport, markdownReport, jsonReport, suiteVerdict, type SuiteReport } from './report.ts';
export { spread, seedSpread, compareRuns, seedList, runMetrics, fmtMetric, compareMarkdown, spreadText, type Metric, type MetricUnit, type Spread, type SpreadRow, type CompareRow } from './compare.ts';
export { runSeries, type SeriesOptions, type SeriesResult } from './multi.ts';
export { lateBucketUpperUs, histDelta, histTotal, histPercentileMs, overloadReasons, MIN_JUDGED_PACKETS, type SparseHist, type OverloadMeasures } from './trust.ts';
export { Canvas, latencyChart, complianceChart, renderRunCharts, crc32, PALETTE, EVENT_COLOURS, type Series } from './chart.ts';
