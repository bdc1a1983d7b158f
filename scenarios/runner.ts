/**
 * The scenario runner: validate the scenario (nothing touched on bad input), boot its lab on the netns
 * twin with its intent (or reuse a running lab and push the intent), wait for the paths, calibrate the
 * impairable links, start the traffic, fire the timeline, sample agents (status, and every probe result from
 * their probe logs: probes.ts) and overload signs, stop, compute
 * the flows table, judge trust and assertions with SQL, tear down — also on abort (Ctrl-C).
 *
 * The verdict: `invalid` (exit 3) whenever the twin could not be trusted — calibration out of tolerance,
 * overload signs beyond the scenario's `trust` limits, paths never came up, an event failed, the run was
 * interrupted — and never a pass or fail then; otherwise `fail` (exit 1) if any assertion failed, else
 * `pass` (exit 0).
 *
 * Example:
 *   const r = await runScenario('scenarios/isp-cut.yaml', { out: '/tmp/isp-cut.duckdb' });
 *   r.verdict   // → 'pass'; r.file is the run's DuckDB file
 */
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { hostname, cpus } from 'node:os';
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { agentRequest } from '../dataplane/index.ts';
import { getProvider, nsName, type TwinProvider } from '../twin/index.ts';
import { claimLab } from '../twin/providers/netns/provider.ts';
import { calibrateLab, delayLineOf, type CalibrationRow, type LineStats } from '../twin/impair/index.ts';
import { bringUp, prepareLab, pushBundles, waitOverlay } from '../controller/cli/twin.ts';
import type { CompiledBundle } from '../controller/index.ts';
import { loadScenario, slaBounds, type ResolvedFlow, type Scenario } from './load.ts';
import type { AssertionSpec, EventSpec } from './schema.ts';
import { RunStore, type Row } from './store.ts';
import { ProbePuller } from './probes.ts';
import { runMetrics, type Metric } from './compare.ts';
import { renderRunCharts } from './chart.ts';
import { histDelta, histPercentileMs, histTotal, overloadReasons, type SparseHist } from './trust.ts';
import { TwinFlow } from './traffic/flow.ts';
import { LabController, MGMT_IF } from './controller.ts';
import { byteIntervals, flowIntervals, gaps, percentileSorted, type Arrival, type ByteBatch, type GenRecord, type SendBatch, type TimerBatch, timerLatePercentile } from './traffic/stats.ts';

/** Exit codes of a run: the CLI contract. */
export const EXIT = { pass: 0, fail: 1, badInput: 2, invalid: 3 } as const;

export interface RunOptions {
  /** Intent file replacing the scenario's (`--intent`). */
  intent?: string;
  /** The run's DuckDB file; default runs/<scenario>-<time>.duckdb under the current directory. */
  out?: string;
  /** Use this running lab (deployed from the scenario's lab file) instead of booting one; it is left running. */
  reuse?: string;
  /** Name of the lab to boot; default `sc<pid>`. */
  labName?: string;
  /** Progress lines (plain); default none. */
  log?: (line: string) => void;
  /** A live status line (a terminal rewrites it in place); default none. */
  status?: (line: string) => void;
  /** Abort the run (Ctrl-C): traffic stops, the lab is torn down, the run is marked invalid. */
  signal?: AbortSignal;
  /** The lab's loss seed; default the scenario's first seed. */
  seed?: number;
}

/** One judged assertion. `measured` in the unit of `expected` (ms, fraction or bit/s). */
export interface AssertionResult { idx: number; name: string; kind: string; target: string; expected: string; measured: number | null; ok: boolean; detail: string }

export interface RunResult {
  runId: string;
  file: string;
  scenario: string;
  verdict: 'pass' | 'fail' | 'invalid';
  exitCode: number;
  invalidReasons: string[];
  assertions: AssertionResult[];
  /** The report summary, computed by SQL over the run file. */
  summary: string;
  /** The lab's loss seed this run used. */
  seed: number;
  /** Every assertion's measured value and per-flow figures, for spreads across seeds and baselines (compare.ts). */
  metrics: Metric[];
  /** PNG charts written beside the run file (latency per path with events, per-class SLA compliance) and their legend. */
  charts?: { files: string[]; legend: string };
  /** The run's Markdown report beside the run file (`X.duckdb` → `X.md`): summary, assertions, charts. */
  report?: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const wallMs = (): number => performance.timeOrigin + performance.now();

/** Sum of the `dropped` column of /proc/net/softnet_stat over CPUs (packets the backlog had no room for). */
export function softnetDrops(text = readFileSync('/proc/net/softnet_stat', 'utf8')): number {
  return text.trim().split('\n').reduce((n, l) => n + parseInt(l.trim().split(/\s+/)[1] ?? '0', 16), 0);
}

/** procs_running from /proc/stat. */
function runQueue(): number {
  const m = /^procs_running (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
  return m ? Number(m[1]) : 0;
}

function capture(argv: string[]): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout!.on('data', (d) => { out += d; });
    p.on('close', () => resolve(out));
  });
}

/** tx drops over every interface of the lab's nodes (a veth drops on transmit when its peer's backlog is full). */
async function vethTxDrops(lab: string, nodes: string[]): Promise<number> {
  const counts = await Promise.all(nodes.map(async (n) => {
    try {
      const links = JSON.parse((await capture(['ip', '-n', nsName(lab, n), '-s', '-j', 'link', 'show'])) || '[]') as { ifname?: string; stats64?: { tx?: { dropped?: number } } }[];
      // The management link to a lab controller is the harness's: a `controller: unreachable` event takes it down on purpose.
      return links.filter((l) => l.ifname !== MGMT_IF).reduce((s, l) => s + (l.stats64?.tx?.dropped ?? 0), 0);
    } catch { return 0; }
  }));
  return counts.reduce((a, b) => a + b, 0);
}

/** One wanopt table row from an agent's status; undefined when the agent runs no WAN-opt proxy. */
function wanoptRow(runId: string, t: number, node: string, st: any): Row | undefined {
  const x = st?.wanopt?.proxy;
  if (!x) return undefined;
  return { run_id: runId, t_ms: t, node, pid: st.pid, raw_out: x.rawOut, wire_out: x.wireOut, raw_in: x.rawIn, wire_in: x.wireIn, literals_out: x.literalsOut,
    refs_out: x.refsOut, flows_intercepted: x.flowsIntercepted, flows_failed: x.flowsFailed };
}

/** Every delay line of the lab by the endpoints of its link (directions: traffic leaving endpoint 0, 1). */
function labDelayLines(lab: string, links: readonly { endpoints: readonly { node: string; interface: string }[] }[]) {
  const eps = links.map((l) => l.endpoints.map((e) => `${e.node}:${e.interface}`) as [string, string]);
  return eps.flatMap((pair) => {
    const d = delayLineOf(lab, eps, pair[0]);
    return d ? [{ line: d.line, ends: pair }] : [];
  });
}

/** Read every delay line's stats; a line that does not answer is left out (the run then has no lateness for it). */
async function readLines(lines: ReturnType<typeof labDelayLines>): Promise<Map<string, LineStats>> {
  const out = new Map<string, LineStats>();
  await Promise.all(lines.map(async (l) => { try { out.set(l.ends.join(' '), await l.line.stats()); } catch { /* judged as not measured */ } }));
  return out;
}

/** Fire one timeline event; returns its kind, target and detail for the events table. */
async function fire(p: TwinProvider, lab: string, e: EventSpec, ctl?: LabController): Promise<{ kind: string; target: string; detail: string }> {
  if (e.controller) {
    if (!ctl) throw new Error('the lab runs no controller');
    await ctl.setReachable(e.controller === 'reachable');
    return { kind: 'controller', target: e.controller, detail: `management links of ${ctl.edges.join(', ')} ${e.controller === 'reachable' ? 'up' : 'down'}` };
  }
  if (e.cut) { await p.setLinkState(lab, e.cut, 'down'); return { kind: 'cut', target: e.cut, detail: '' }; }
  if (e.restore) { await p.setLinkState(lab, e.restore, 'up'); return { kind: 'restore', target: e.restore, detail: '' }; }
  if (e.impair) { const { link, ...imp } = e.impair; await p.setImpairment(lab, link, imp); return { kind: 'impair', target: link, detail: JSON.stringify(imp) }; }
  if (e.clear) { await p.setImpairment(lab, e.clear, null); return { kind: 'clear', target: e.clear, detail: '' }; }
  if (e.surge) return { kind: 'surge', target: e.surge.name, detail: JSON.stringify(e.surge) };
  if (e.restartAgent) {
    const r = (p as TwinProvider & { restartAgent?: (lab: string, node: string) => Promise<void> }).restartAgent;
    if (!r) throw new Error(`the ${p.name} provider cannot restart agents`);
    await r.call(p, lab, e.restartAgent);
    return { kind: 'restartAgent', target: e.restartAgent, detail: '' };
  }
  throw new Error('event without an action');
}

const fmtMs = (ms: number) => (ms >= 1000 ? `${+(ms / 1000).toFixed(2)}s` : `${+ms.toFixed(1)}ms`);
const fmtPct = (x: number) => `${+(x * 100).toFixed(2)}%`;
const fmtRate = (bps: number) => (bps >= 1e6 ? `${+(bps / 1e6).toFixed(2)}mbit` : `${+(bps / 1e3).toFixed(1)}kbit`);
const fmtBytes = (b: number) => (b >= 1e6 ? `${+(b / 1e6).toFixed(2)} MB` : `${+(b / 1e3).toFixed(1)} kB`);

/** SQL: per edge node and agent pid, what the WAN-opt proxy's counters grew by over the run (a restarted agent counts from its first reading). */
const WANOPT_DELTA = `select node, pid, max(raw_out) - min(raw_out) as raw, max(wire_out) - min(wire_out) as wire from wanopt where run_id = $1 group by node, pid`;

/** SQL WHERE fragment and parameter of an assertion's target. */
function targetOf(t: { class?: string; flow?: string }): { where: string; value: string; label: string } {
  return t.flow !== undefined ? { where: 'flow = $2', value: t.flow, label: `flow ${t.flow}` } : { where: 'class = $2', value: t.class!, label: `class ${t.class}` };
}

/** Judge every assertion of the scenario by SQL over the run's tables. */
export async function evaluateAssertions(store: RunStore, runId: string, s: Scenario): Promise<AssertionResult[]> {
  const out: AssertionResult[] = [];
  for (const [idx, a] of s.doc.assert.entries()) out.push(await evaluateOne(store, runId, s, a, idx));
  return out;
}

async function evaluateOne(store: RunStore, runId: string, s: Scenario, a: AssertionSpec, idx: number): Promise<AssertionResult> {
  const one = async (sql: string, v: string) => ((await store.query(sql, [runId, v]))[0] ?? {}) as Record<string, number | null>;
  if (a.sla) {
    const t = targetOf(a.sla);
    const b = slaBounds(s, a.sla);
    const conds = [b.loss !== undefined ? `lost::double / sent <= ${b.loss}` : 'true', b.latency !== undefined ? `coalesce(lat_p95_ms <= ${b.latency}, false)` : 'true',
      b.jitter !== undefined ? `coalesce(jitter_ms <= ${b.jitter}, false)` : 'true'];
    const r = await one(`select count(*) filter (where ${conds.join(' and ')}) as good, count(*) as n from flows where run_id = $1 and ${t.where} and active and sent > 0`, t.value);
    const measured = r.n ? (r.good ?? 0) / r.n : null;
    const bounds = [b.latency !== undefined && `p95 latency ≤ ${fmtMs(b.latency)}`, b.jitter !== undefined && `jitter ≤ ${fmtMs(b.jitter)}`, b.loss !== undefined && `loss ≤ ${fmtPct(b.loss)}`].filter(Boolean).join(', ');
    return { idx, name: a.name ?? `${t.label} meets its SLA in ≥ ${fmtPct(a.sla.min)} of intervals`, kind: 'sla', target: t.label, expected: `≥ ${fmtPct(a.sla.min)}`, measured,
      ok: measured !== null && measured >= a.sla.min, detail: `${r.good ?? 0} of ${r.n ?? 0} intervals within ${bounds}` };
  }
  if (a.failoverGap) {
    const t = targetOf(a.failoverGap);
    const r = await one(`select coalesce(max(gap_ms), 0) as g, count(*) as n from gaps where run_id = $1 and ${t.where}`, t.value);
    return { idx, name: a.name ?? `${t.label}: longest silence ≤ ${fmtMs(a.failoverGap.max)}`, kind: 'failoverGap', target: t.label, expected: `≤ ${fmtMs(a.failoverGap.max)}`,
      measured: r.g ?? 0, ok: (r.g ?? 0) <= a.failoverGap.max, detail: `${r.n ?? 0} silences recorded; longest ${fmtMs(r.g ?? 0)}` };
  }
  if (a.loss) {
    const t = targetOf(a.loss);
    const r = await one(`select sum(lost) as lost, sum(sent) as sent from flows where run_id = $1 and ${t.where}`, t.value);
    const measured = r.sent ? (r.lost ?? 0) / r.sent : null;
    return { idx, name: a.name ?? `${t.label}: loss ≤ ${fmtPct(a.loss.max)}`, kind: 'loss', target: t.label, expected: `≤ ${fmtPct(a.loss.max)}`, measured,
      ok: measured !== null && measured <= a.loss.max, detail: `${r.lost ?? 0} of ${r.sent ?? 0} packets lost` };
  }
  if (a.goodput) {
    const t = targetOf(a.goodput);
    const r = await one(`select min(bps) as bps, count(*) as n from (select flow, avg(goodput_bps) as bps from flows where run_id = $1 and ${t.where} and active group by flow)`, t.value);
    return { idx, name: a.name ?? `${t.label}: goodput ≥ ${fmtRate(a.goodput.min)}`, kind: 'goodput', target: t.label, expected: `≥ ${fmtRate(a.goodput.min)}`, measured: r.bps ?? null,
      ok: r.bps !== null && r.bps !== undefined && r.bps >= a.goodput.min, detail: `lowest mean goodput of ${r.n ?? 0} flows: ${r.bps == null ? 'none' : fmtRate(r.bps)}` };
  }
  if (a.wanoptReduction) {
    const w = a.wanoptReduction;
    const r = await one(`select sum(raw) as raw, sum(wire) as wire, count(distinct node) as nodes from (${WANOPT_DELTA}) where $2 = '' or node = $2`, w.node ?? '');
    const measured = r.raw ? 1 - (r.wire ?? 0) / r.raw : null;
    const where = w.node ? `edge ${w.node}` : 'every edge';
    return { idx, name: a.name ?? `WAN-opt data reduction on ${where} ≥ ${fmtPct(w.min)}`, kind: 'wanoptReduction', target: where, expected: `≥ ${fmtPct(w.min)}`, measured,
      ok: measured !== null && measured >= w.min,
      detail: r.raw ? `${fmtBytes(r.raw)} of payload crossed as ${fmtBytes(r.wire ?? 0)} on the wire (${r.nodes} edge${r.nodes === 1 ? '' : 's'}): reduction ${fmtPct(measured!)}` : `no payload went through a WAN-opt proxy${s.intent?.wanopt.classes.length ? '' : ' (the intent proxies no class)'}` };
  }
  if (a.controllerReconnect) return evaluateReconnect(store, runId, s, a.controllerReconnect, a.name, idx);
  const l = a.latency!;
  const t = targetOf(l);
  const r = await one(`select max(lat_p${l.p}_ms) as worst from flows where run_id = $1 and ${t.where} and active`, t.value);
  return { idx, name: a.name ?? `${t.label}: p${l.p} latency ≤ ${fmtMs(l.max)} in every interval`, kind: 'latency', target: t.label, expected: `≤ ${fmtMs(l.max)}`, measured: r.worst ?? null,
    ok: r.worst !== null && r.worst !== undefined && r.worst <= l.max, detail: `worst interval p${l.p}: ${r.worst == null ? 'nothing received' : fmtMs(r.worst)}` };
}

/**
 * `controllerReconnect`: after each `controller: reachable` event, every edge (or `node`) that noticed the loss
 * noticed the controller back within `within` (events `controller-lost` / `controller-back`, the agents' own
 * timestamps), and the controller's analytics store holds every health report the edge made — its `seq`s
 * complete per agent process, none left queued or dropped — including reports made during the outage.
 */
async function evaluateReconnect(store: RunStore, runId: string, s: Scenario, c: { within: number; node?: string }, name: string | undefined, idx: number): Promise<AssertionResult> {
  const q = (sql: string, params: (string | number)[] = []) => store.query(sql, [runId, ...params]);
  const edges = c.node ? [c.node] : Object.values(s.lab.nodes).filter((n) => n.kind === 'edge').map((n) => n.name);
  const ev = await q(`select fired_ms, target from events where run_id = $1 and kind = 'controller' and error is null order by fired_ms`);
  const problems: string[] = [], notes: string[] = [];
  let worst: number | null = null;
  for (const [i, r] of ev.entries()) {
    if (r.target !== 'reachable') continue;
    const cut = ev.slice(0, i).reverse().find((x) => x.target === 'unreachable');
    if (!cut) continue;
    const from = Number(cut.fired_ms), to = Number(r.fired_ms);
    for (const e of edges) {
      const [x] = await q(`select min(t_ms) filter (where kind = 'controller-lost' and t_ms >= $3 and t_ms <= $4) as lost,
          min(t_ms) filter (where kind = 'controller-back' and t_ms >= $4) as back from events where run_id = $1 and target = $2`, [e, from, to]);
      const lost = x?.lost == null ? null : Number(x.lost), back = x?.back == null ? null : Number(x.back);
      if (lost === null) { problems.push(`${e} never noticed the outage from ${fmtMs(from)}`); continue; }
      if (back === null) { problems.push(`${e} did not reconnect after ${fmtMs(to)}`); continue; }
      worst = Math.max(worst ?? 0, back - to);
      if (back - to > c.within) problems.push(`${e} back ${fmtMs(back - to)} after the restore`);
      const [h] = await q(`select count(*) filter (where reported_ms >= $3 and reported_ms < $4) as during, count(*) filter (where reported_ms >= $3 and reported_ms < $4 and received_ms >= $4) as late
          from controller_health where run_id = $1 and node = $2`, [e, lost, back]);
      if (!Number(h?.during)) problems.push(`${e}: no health report made during its outage reached the controller`);
      notes.push(`${e}: lost ${fmtMs(lost - from)} after the cut, back ${fmtMs(back - to)} after the restore, ${Number(h?.during ?? 0)} reports made meanwhile reached the controller (${Number(h?.late ?? 0)} after the reconnection)`);
    }
  }
  if (!ev.some((x) => x.target === 'reachable')) problems.push('no controller: reachable event fired');
  for (const e of edges) {
    const gaps = await q(`select pid, count(distinct seq) as n, max(seq) - min(seq) + 1 as span, min(seq) as first from controller_health where run_id = $1 and node = $2 and seq is not null group by pid`, [e]);
    if (!gaps.length) problems.push(`${e}: no health report in the controller's store`);
    for (const g of gaps) if (Number(g.n) !== Number(g.span)) problems.push(`${e} (pid ${g.pid}): ${Number(g.span) - Number(g.n)} of ${g.span} health reports missing in the controller's store`);
    const [left] = await q(`select max(value) filter (where metric = 'controller_health_queued') as queued, max(value) filter (where metric = 'controller_health_dropped') as dropped
        from overload where run_id = $1 and subject = $2`, [e]);
    if (Number(left?.queued ?? 1) > 0) problems.push(`${e}: ${left?.queued ?? 'unknown'} health reports still queued at the end`);
    if (Number(left?.dropped ?? 0) > 0) problems.push(`${e}: ${left?.dropped} health reports dropped (queue full)`);
  }
  const where = c.node ? `edge ${c.node}` : 'every edge';
  return { idx, name: name ?? `${where} reconnects to the controller within ${fmtMs(c.within)}, no health report lost`, kind: 'controllerReconnect', target: where,
    expected: `≤ ${fmtMs(c.within)}`, measured: worst, ok: problems.length === 0 && worst !== null, detail: [...problems, ...notes].join('; ') || 'no outage judged' };
}

/** The report summary, SQL over the run file: verdict, per-flow totals, events, assertions. */
export async function summarize(store: RunStore, runId: string): Promise<string> {
  const [run] = await store.query('select * from runs where run_id = $1', [runId]);
  const flows = await store.query(`select flow, class, profile, sum(sent) as sent, sum(received) as received, sum(lost) as lost,
      median(lat_p50_ms) as p50, max(lat_p95_ms) as worst_p95, max(jitter_ms) as worst_jitter, avg(goodput_bps) filter (where active) as goodput, sum(goodput_bps) as gsum,
      (select max(gap_ms) from gaps g where g.run_id = f.run_id and g.flow = f.flow) as gap
    from flows f where run_id = $1 group by all order by flow`, [runId]);
  const events = await store.query('select t_ms, fired_ms, kind, target, error from events where run_id = $1 order by t_ms', [runId]);
  const asserts = await store.query('select name, expected, measured, ok, detail from assertions where run_id = $1 order by idx', [runId]);
  const lines = [`scenario ${run?.scenario} (lab ${run?.lab}, seed ${run?.seed}): ${String(run?.verdict).toUpperCase()}`];
  if (run?.invalid_reasons) lines.push(`  not trustworthy: ${run.invalid_reasons}`);
  lines.push('flows:');
  for (const f of flows) {
    const n = (k: string) => f[k] as number | null;
    lines.push(f.profile === 'bulk' || f.profile === 'file'
      ? `  ${f.flow} (${f.class}, ${f.profile}): ${f.profile === 'file' ? `${fmtBytes(((n('gsum') ?? 0) * Number(run?.interval_ms ?? 1000)) / 8000)} received, ` : ''}goodput ${fmtRate(n('goodput') ?? 0)}, longest stall ${fmtMs(n('gap') ?? 0)}`
      : `  ${f.flow} (${f.class}, ${f.profile}): ${n('received')}/${n('sent')} received, lost ${n('lost')}, latency p50 ${n('p50') == null ? '-' : fmtMs(n('p50')!)}, worst p95 ${n('worst_p95') == null ? '-' : fmtMs(n('worst_p95')!)}, worst jitter ${n('worst_jitter') == null ? '-' : fmtMs(n('worst_jitter')!)}, longest silence ${fmtMs(n('gap') ?? 0)}`);
  }
  const wo = await store.query(`select node, sum(raw) as raw, sum(wire) as wire from (${WANOPT_DELTA}) group by node order by node`, [runId]);
  if (wo.some((w) => (w.raw as number) > 0)) lines.push('wan-opt:');
  for (const w of wo) if ((w.raw as number) > 0) lines.push(`  ${w.node}: ${fmtBytes(w.raw as number)} of payload as ${fmtBytes(w.wire as number)} on the wire (reduction ${fmtPct(1 - (w.wire as number) / (w.raw as number))})`);
  if (events.length) lines.push('events:');
  for (const e of events) lines.push(`  ${fmtMs(e.t_ms as number)} ${e.kind} ${e.target}${e.error ? ` FAILED: ${e.error}` : ` (fired at ${fmtMs(e.fired_ms as number)})`}`);
  if (asserts.length) lines.push('assertions:');
  for (const a of asserts) lines.push(`  ${a.ok ? 'ok  ' : 'FAIL'} ${a.name}: ${a.detail}`);
  return lines.join('\n') + '\n';
}

/**
 * Run a scenario file end to end; see the module comment. Resolves with the verdict (also for failed
 * assertions and invalid runs); rejects only with an InputError (bad scenario, lab or intent: nothing
 * was touched) or when the run file cannot be written.
 */
export async function runScenario(file: string, opts: RunOptions = {}): Promise<RunResult> {
  const log = opts.log ?? (() => {});
  const s = loadScenario(file, { intent: opts.intent });
  const lab = opts.reuse ?? opts.labName ?? `sc${process.pid}`;
  const prepared = prepareLab(s.labFile, { intent: s.intentFile, noIntent: !s.intentFile, name: lab });
  const seed = opts.seed ?? s.doc.seeds[0]!;
  prepared.lab.seed = seed;
  const runId = randomUUID();
  const out = resolve(opts.out ?? `runs/${s.name}-${new Date().toISOString().replace(/[:.]/g, '-')}.duckdb`);
  mkdirSync(dirname(out), { recursive: true });
  const store = await RunStore.create(out);
  const p = getProvider('netns');
  const invalid: string[] = [];
  const flows = new Map<string, TwinFlow>();
  let deployed = false;
  let t0 = wallMs();
  const rel = (t: number) => t - t0;
  const edges = Object.values(prepared.lab.nodes).filter((n) => n.kind === 'edge').map((n) => n.name);
  const nodes = Object.keys(prepared.lab.nodes);
  const aborted = () => opts.signal?.aborted ?? false;
  await store.append('runs', [{ run_id: runId, scenario: s.name, file: resolve(s.file), lab, intent: s.intentFile ?? null, seed, started_at: new Date().toISOString(),
    duration_ms: s.doc.duration, interval_ms: s.doc.interval, host: hostname(), cpus: cpus().length, verdict: 'running', valid: null, exit_code: null }]);
  const timers: NodeJS.Timeout[] = [];
  let ctl: LabController | undefined;
  let ctlHealth: Row[] = [];
  try {
    if (opts.reuse && s.doc.controller) throw new Error('a scenario with "controller: true" boots its own lab; --reuse is not supported');
    if (opts.reuse) {
      if (!(await p.list()).includes(lab)) throw new Error(`lab "${lab}" is not running (twin status lists the running labs)`);
      log(`reusing lab ${lab}; applying ${s.intentFile ?? 'no intent'}`);
      if (prepared.bundles.size) { await pushBundles(p, lab, prepared.bundles); await waitOverlay(p, lab, [...prepared.bundles.keys()], 15_000); }
    } else {
      log(`booting ${s.labFile} as ${lab} with ${s.intentFile ?? 'no intent'}`);
      deployed = true;
      // Under a controller the bundles go out as a controller version the edges pull (scenarios/controller.ts).
      const startCtl = async () => (ctl ??= await LabController.start(p, lab, edges, { dir: out.replace(/\.duckdb$/, '') + '.controller', log,
        sites: Object.fromEntries([...prepared.bundles].map(([n, b]) => [n, b.bundle.site])) }));
      await bringUp(p, prepared, { out: { write: (t: string) => { for (const l of String(t).split('\n')) if (l) log(`  ${l}`); return true; } } as unknown as NodeJS.WritableStream,
        ...(s.doc.controller && { push: async (b: Map<string, CompiledBundle>) => { await (await startCtl()).push(b, s.intentFile); } }) });
      if (s.doc.controller) await startCtl();
      // A runner killed with SIGKILL cannot tear down; the claim lets `twin down --stale` find its lab.
      claimLab(lab);
    }
    // Settle: every probed path of every edge up and steering where the intent wants it with every path up
    // (the first preferred transport of each preference rule); otherwise the run would start from a
    // transient state, e.g. voice still held on the path that came up first until the failback hold expires.
    const settleEnd = Date.now() + s.doc.settle;
    const preferred = new Map((s.intent?.rules ?? []).filter((r) => r.paths.strategy === 'preference' && r.paths.preferred.length).map((r) => [r.name, r.paths.preferred[0]!]));
    let pending: string[] = [];
    for (;;) {
      const st = await Promise.all(edges.map(async (n) => { try { return (await agentRequest(p.agentSocket(lab, n), 'GET', '/status', undefined, 2000)).body; } catch { return undefined; } }));
      pending = edges.flatMap((n, i) => {
        const x = st[i];
        if (!x) return [`${n} (no status)`];
        if ((x.paths ?? []).some((q: { state: string }) => q.state !== 'up')) return [`${n} (paths not all up)`];
        const transport = new Map<number, string>((x.paths ?? []).map((q: { id: number; transport: string }) => [q.id, q.transport]));
        const off = (x.steering ?? []).filter((e: { rule: string; pathIds: number[] }) => preferred.has(e.rule) && transport.get(e.pathIds[0]!) !== preferred.get(e.rule));
        return off.length ? [`${n} (${off.map((e: { appClass: string; pathIds: number[] }) => `${e.appClass} on ${transport.get(e.pathIds[0]!) ?? 'no path'}`).join(', ')})`] : [];
      });
      if (!pending.length || Date.now() > settleEnd || aborted()) break;
      await sleep(250);
    }
    if (pending.length) invalid.push(`not settled ${s.doc.settle} ms after deploy: ${pending.join('; ')}`);
    else log('every path up, steering on the preferred paths');

    // The run leans on the delay lines only in the directions it impairs: those are judged; the rest of
    // each measured link is recorded for the report.
    const impaired = new Set(s.doc.events.flatMap((e) => (e.impair ? [e.impair.link] : e.clear ? [e.clear] : [])));
    if (s.doc.trust.calibrate && impaired.size && !aborted()) {
      const rows: CalibrationRow[] = await calibrateLab(lab);
      const judged = (r: CalibrationRow) => impaired.has(r.direction.split(' → ')[0]!);
      await store.append('calibration', rows.map((r) => ({ run_id: runId, ...r, judged: judged(r) })));
      const bad = rows.filter((r) => judged(r) && !r.ok);
      log(`calibration: ${rows.filter(judged).length - bad.length}/${rows.filter(judged).length} measurements of the impaired directions within tolerance (${rows.filter((r) => !r.ok).length} of ${rows.length} out overall)`);
      for (const r of bad) invalid.push(`calibration ${r.direction} ${r.metric}: measured ${+r.measured.toFixed(4)} outside ${+r.low.toFixed(4)}…${+r.high.toFixed(4)}`);
    }

    const softnet0 = softnetDrops();
    const veth0 = await vethTxDrops(lab, nodes);
    const overload: Row[] = [];
    const pathRows: Row[] = [], steerRows: Row[] = [], counterRows: Row[] = [], steerEvents: Row[] = [], pathEvents: Row[] = [], wanoptRows: Row[] = [];
    // Cumulative readings of each agent's event-loop lag (keyed by node and pid) and of each delay line.
    const loopReadings = new Map<string, { key: string; hist: SparseHist }[]>(edges.map((n) => [n, []]));
    const lines = labDelayLines(lab, prepared.lab.links);
    const edgeStatus = async (node: string, timeoutMs: number): Promise<any> => {
      try { return (await agentRequest(p.agentSocket(lab, node), 'GET', '/status', undefined, timeoutMs)).body; } catch { return undefined; }
    };
    // Every probe result of every edge (its agent's probe log), pulled with each sample.
    const probes = new ProbePuller(runId, async (node, q) => {
      const r = await agentRequest(p.agentSocket(lab, node), 'GET', `/probes?${q}`, undefined, 2000);
      return r.status === 200 ? r.body : undefined;
    });
    const transports = new Map<string, Map<number, string>>();
    // When each edge noticed the lab controller lost / back (its own timestamps), into the events table.
    const ctlSeen = new Set<string>();
    const ctlRows: Row[] = [];
    const noteAgent = (node: string, t: number, st: any) => {
      for (const c of st?.controller?.changes ?? []) {
        if (c.at < before || ctlSeen.has(`${node} ${c.at}`)) continue;
        ctlSeen.add(`${node} ${c.at}`);
        ctlRows.push({ run_id: runId, t_ms: c.at - t0, fired_ms: c.at - t0, kind: c.reachable ? 'controller-back' : 'controller-lost', target: node, detail: c.reason ?? '', error: null });
        log(`${fmtMs(c.at - t0)} ${node} noticed the controller ${c.reachable ? 'back' : 'lost'}`);
      }
      const w = wanoptRow(runId, t, node, st);
      if (w) wanoptRows.push(w);
      if (st?.eventLoop?.hist) loopReadings.get(node)!.push({ key: `${node}/${st.pid}`, hist: st.eventLoop.hist });
    };
    // Readings before traffic: what the run adds is measured from here (WAN-opt bytes, lag, lateness).
    const before = wallMs();
    const pre = await Promise.all(edges.map((n) => edgeStatus(n, 2000)));
    await Promise.all(edges.map((n) => probes.mark(n)));
    const lines0 = await readLines(lines);
    const eventTotals = new Map<string, number>();
    const lastSteer = new Map<string, string>();
    const eventRows: Row[] = [];
    let lastTick = wallMs();
    let lagMax = 0;

    // Flows starting at 0 are running before t0 so their start-up is not counted as loss.
    const startFlow = async (f: ResolvedFlow) => {
      try { flows.set(f.name, await TwinFlow.start(lab, f)); } catch (e) { invalid.push(`flow ${f.name} did not start: ${(e as Error).message}`); }
    };
    if (!aborted()) await Promise.all(s.flows.filter((f) => f.start === 0).map(startFlow));
    t0 = wallMs();
    edges.forEach((n, i) => noteAgent(n, before - t0, pre[i]));
    log(`traffic started: ${s.flows.filter((f) => f.start === 0).map((f) => f.name).join(', ') || 'no flow at t = 0'}`);
    const sample = async () => {
      const t = rel(wallMs());
      lagMax = Math.max(lagMax, wallMs() - lastTick - 500);
      lastTick = wallMs();
      overload.push({ run_id: runId, t_ms: t, metric: 'procs_running', value: runQueue() });
      overload.push({ run_id: runId, t_ms: t, metric: 'load1', value: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]) });
      await Promise.all(edges.map(async (node) => {
        const st = await edgeStatus(node, 1000);
        if (!st) return;
        noteAgent(node, t, st);
        const byId = new Map<number, string>((st.paths ?? []).map((x: any) => [x.id, x.transport]));
        transports.set(node, byId);
        await probes.pull(node, t0, (id) => byId.get(id));
        for (const x of st.paths ?? []) {
          pathRows.push({ run_id: runId, t_ms: t, node, path_id: x.id, peer: x.peer, transport: x.transport, state: x.state, rtt_p50_ms: x.rttP50Ms, rtt_p95_ms: x.rttP95Ms,
            jitter_ms: x.jitterMs, loss: x.loss, compliant: (x.compliant ?? []).join(',') });
        }
        for (const r of st.steering ?? []) {
          const key = `${node}/${r.segment}/${r.appClass}/${r.site}`;
          const v = `${r.mode} ${r.pathIds.join(',')}`;
          if (lastSteer.get(key) !== v) {
            lastSteer.set(key, v);
            steerRows.push({ run_id: runId, t_ms: t, node, app_class: r.appClass, rule: r.rule, mode: r.mode, path_ids: r.pathIds.join(','), transports: r.pathIds.map((i: number) => byId.get(i) ?? '?').join(',') });
          }
        }
        for (const c of st.overlay?.counters ?? []) counterRows.push({ run_id: runId, t_ms: t, node, path_id: c.path, class_id: c.classId, dir: c.dir, packets: c.packets, bytes: c.bytes });
        // The status ring holds the last 20 events; new ones since the previous sample are the tail.
        const total = st.events?.total ?? 0;
        const fresh = Math.min(total - (eventTotals.get(node) ?? 0), st.events?.recent?.length ?? 0);
        eventTotals.set(node, total);
        for (const e of fresh > 0 ? st.events.recent.slice(-fresh) : []) {
          if (e.type === 'steer') steerEvents.push({ run_id: runId, t_ms: e.at - t0, node, app_class: e.appClass, site: e.site, from_paths: e.from.join(','), to_paths: e.to.join(','), mode: e.mode, cause: e.cause });
          else pathEvents.push({ run_id: runId, t_ms: e.at - t0, node, path_id: e.path, kind: e.kind, from_state: e.from, to_state: e.to, cause: e.cause, class: e.class ?? null });
        }
      }));
    };
    await sample();

    for (const f of s.flows.filter((x) => x.start > 0)) timers.push(setTimeout(() => void startFlow(f).then(() => log(`${fmtMs(rel(wallMs()))} flow ${f.name} started`)), f.start));
    for (const f of s.flows) {
      timers.push(setTimeout(() => { void flows.get(f.name)?.stop(300); }, f.stop));
    }
    for (const e of s.doc.events) {
      timers.push(setTimeout(async () => {
        const fired = rel(wallMs());
        try {
          const r = await fire(p, lab, e, ctl);
          eventRows.push({ run_id: runId, t_ms: e.at, fired_ms: fired, ...r, error: null });
          log(`${fmtMs(fired)} ${r.kind} ${r.target}`);
        } catch (err) {
          const kind = Object.keys(e).find((k) => k !== 'at')!;
          eventRows.push({ run_id: runId, t_ms: e.at, fired_ms: fired, kind, target: '', detail: JSON.stringify(e), error: (err as Error).message });
          invalid.push(`event at ${fmtMs(e.at)} (${kind}) failed: ${(err as Error).message}`);
        }
      }, e.at));
    }
    while (rel(wallMs()) < s.doc.duration && !aborted()) {
      await sleep(500);
      await sample();
      const t = rel(wallMs());
      // One line: time, then where each edge steers each class now (the latest steering rows).
      const now = new Map<string, string>();
      for (const r of steerRows) now.set(`${r.node} ${r.app_class}`, String(r.transports));
      opts.status?.(`${fmtMs(Math.min(t, s.doc.duration))} / ${fmtMs(s.doc.duration)}  ${[...now].sort().map(([k, v]) => `${k}→${v}`).join('  ')}`);
    }
    if (aborted()) invalid.push('interrupted before the end of the scenario');
    for (const t of timers) clearTimeout(t);
    await Promise.all([...flows.values()].map((f) => f.stop(500)));
    const runQueues = overload.filter((r) => r.metric === 'procs_running').map((r) => Number(r.value)).sort((a, b) => a - b);
    const softnet = softnetDrops() - softnet0;
    const veth = (await vethTxDrops(lab, nodes)) - veth0;
    const end = rel(wallMs());
    // Final readings once the flows have stopped: the last bytes of a transfer and the last lag.
    const post = await Promise.all(edges.map((n) => edgeStatus(n, 2000)));
    edges.forEach((n, i) => noteAgent(n, end, post[i]));
    if (ctl) {
      // Health reports queued during an outage: the agents deliver them once the controller answers again.
      let st = post;
      for (const until = Date.now() + 15_000; Date.now() < until && st.some((x) => !x?.controller || x.controller.reachable !== true || x.controller.health.queued > 0);) {
        await sleep(250);
        st = await Promise.all(edges.map((n) => edgeStatus(n, 2000)));
      }
      edges.forEach((n, i) => {
        noteAgent(n, end, st[i]);
        const h = st[i]?.controller?.health;
        overload.push({ run_id: runId, t_ms: end, metric: 'controller_health_queued', value: h?.queued ?? null, subject: n },
          { run_id: runId, t_ms: end, metric: 'controller_health_dropped', value: h?.dropped ?? null, subject: n },
          { run_id: runId, t_ms: end, metric: 'controller_health_late', value: h?.deliveredLate ?? null, subject: n });
      });
      const c = ctl;
      ctl = undefined;
      ctlHealth = (await c.finish()).map((r) => ({ run_id: runId, ...r, reported_ms: r.reported_ms - t0, received_ms: r.received_ms - t0 }));
      log(`controller: ${ctlHealth.length} health reports in its store`);
    }
    await Promise.all(edges.map((n) => probes.pull(n, t0, (id) => transports.get(n)?.get(id))));
    const lines1 = await readLines(lines);

    // Flows table, gaps and generator lateness.
    const count = Math.ceil(s.doc.duration / s.doc.interval);
    const flowRows: Row[] = [], gapRows: Row[] = [];
    const timerBatches: TimerBatch[] = [];
    for (const f of s.flows) {
      const tf = flows.get(f.name);
      if (!tf) continue;
      const recs: GenRecord[] = [...tf.sendRecords(), ...tf.recvRecords()];
      for (const r of tf.sendRecords()) if (r.kind === 't') timerBatches.push(r);
      const o = { t0, intervalMs: s.doc.interval, count };
      let rows;
      if (f.profile === 'bulk' || f.profile === 'file') {
        const rx = tf.recvRecords().filter((r): r is GenRecord & ByteBatch & { kind: 'b' } => r.kind === 'b');
        rows = byteIntervals(rx, o);
        const pseudo: Arrival[] = rx.filter((b) => b.bytes > 0 && b.t - t0 >= f.start && b.t - t0 <= f.stop).map((b, i) => ({ seq: i, sent: b.t, recv: b.t }));
        // A file flow ends by itself after its last transfer: the quiet after it is not a stall.
        const stalls = f.profile === 'file' ? gaps(pseudo, 300) : withTail(gaps(pseudo, 300), pseudo, t0 + f.start, t0 + f.stop, 300);
        for (const g of stalls) gapRows.push({ run_id: runId, flow: f.name, class: f.class, start_ms: g.start - t0, end_ms: g.end - t0, gap_ms: g.gapMs, lost: 0 });
      } else {
        const sends = recs.filter((r): r is GenRecord & SendBatch & { kind: 's' } => r.kind === 's');
        const arr = recs.filter((r): r is GenRecord & Arrival & { kind: 'p' } => r.kind === 'p');
        rows = flowIntervals(sends, arr, o);
        const nominal = f.profile === 'voice' ? 1000 / (f.pps ?? 50) : f.profile === 'video' ? 1000 / (f.fps ?? 30) : 1000 / (f.rps ?? 20);
        const minGap = Math.max(100, 3 * nominal);
        for (const g of withTail(gaps(arr, minGap), arr, t0 + f.start, t0 + f.stop, minGap)) gapRows.push({ run_id: runId, flow: f.name, class: f.class, start_ms: g.start - t0, end_ms: g.end - t0, gap_ms: g.gapMs, lost: g.lost });
      }
      for (const r of rows) {
        const active = r.tMs >= f.start && r.tMs + s.doc.interval <= f.stop;
        flowRows.push({ run_id: runId, flow: f.name, class: f.class, profile: f.profile, interval: r.interval, t_ms: r.tMs, active, sent: r.sent, received: r.received, lost: r.lost,
          duplicates: r.duplicates, lat_p50_ms: r.latP50, lat_p95_ms: r.latP95, lat_p99_ms: r.latP99, jitter_ms: r.jitter, max_gap_ms: r.maxGap, goodput_bps: r.goodputBps });
      }
    }
    const lateP99 = timerLatePercentile(timerBatches, 99);
    const rq = runQueues.length ? percentileSorted(runQueues, 50) / cpus().length : 0;
    overload.push({ run_id: runId, t_ms: end, metric: 'sender_late_p99_ms', value: lateP99 }, { run_id: runId, t_ms: end, metric: 'softnet_drops', value: softnet },
      { run_id: runId, t_ms: end, metric: 'veth_tx_drops', value: veth }, { run_id: runId, t_ms: end, metric: 'run_queue_per_cpu_median', value: rq },
      { run_id: runId, t_ms: end, metric: 'runner_lag_max_ms', value: Math.max(0, lagMax) });
    // Lost telemetry: probe results an agent's ring overwrote before the runner pulled them.
    for (const n of edges) overload.push({ run_id: runId, t_ms: end, metric: 'probe_rows_dropped', value: probes.dropped.get(n) ?? null, subject: n });
    // The agents' event-loop lag and the delay lines' lateness over the run, from their cumulative histograms.
    const agentLoopLagP99Ms: Record<string, number | null> = {};
    for (const [node, readings] of loopReadings) {
      const h = histDelta(readings);
      agentLoopLagP99Ms[node] = histPercentileMs(h, 99);
      overload.push({ run_id: runId, t_ms: end, metric: 'agent_loop_lag_p99_ms', value: agentLoopLagP99Ms[node], subject: node },
        { run_id: runId, t_ms: end, metric: 'agent_loop_lag_max_ms', value: histPercentileMs(h, 100), subject: node },
        { run_id: runId, t_ms: end, metric: 'agent_loop_ticks', value: histTotal(h), subject: node });
    }
    const delayLineLate: Record<string, { p99Ms: number | null; packets: number }> = {};
    for (const l of lines) {
      const a = lines0.get(l.ends.join(' ')), b = lines1.get(l.ends.join(' '));
      if (!a || !b) { invalid.push(`delay line ${l.ends.join(' ↔ ')} did not report its lateness`); continue; }
      for (const dir of [0, 1] as const) {
        const h = histDelta([{ key: 'x', hist: a.dirs[dir].late_hist ?? [] }, { key: 'x', hist: b.dirs[dir].late_hist ?? [] }]);
        const subject = l.ends[dir]!;
        delayLineLate[subject] = { p99Ms: histPercentileMs(h, 99), packets: histTotal(h) };
        overload.push({ run_id: runId, t_ms: end, metric: 'delay_line_late_p99_ms', value: delayLineLate[subject]!.p99Ms, subject },
          { run_id: runId, t_ms: end, metric: 'delay_line_late_max_ms', value: histPercentileMs(h, 100), subject },
          { run_id: runId, t_ms: end, metric: 'delay_line_packets', value: histTotal(h), subject });
      }
    }
    const probeRowsDropped = Object.fromEntries(edges.map((n) => [n, probes.dropped.get(n) ?? null]));
    invalid.push(...overloadReasons({ runQueuePerCpu: rq, senderLateP99Ms: lateP99, softnetDrops: softnet, vethTxDrops: veth, agentLoopLagP99Ms, delayLineLate, probeRowsDropped }, s.doc.trust));

    await store.append('overload', overload);
    await store.append('path_state', pathRows);
    await store.append('probes', probes.rows);
    await store.append('steering', steerRows);
    await store.append('steering_events', steerEvents);
    await store.append('path_events', pathEvents);
    await store.append('counters', counterRows);
    await store.append('wanopt', wanoptRows);
    await store.append('events', [...eventRows, ...ctlRows]);
    await store.append('controller_health', ctlHealth);
    await store.append('flows', flowRows);
    await store.append('gaps', gapRows);
  } catch (e) {
    if (!invalid.length || !aborted()) invalid.push(`infrastructure error: ${(e as Error).message}`);
  } finally {
    for (const t of timers) clearTimeout(t);
    await Promise.all([...flows.values()].map((f) => f.stop()));
    if (ctl) await ctl.finish().catch((e) => log(`controller stop failed: ${(e as Error).message}`));
    if (deployed) {
      log(`tearing down ${lab}`);
      try { await p.destroy(lab); } catch (e) { log(`teardown of ${lab} failed: ${(e as Error).message}`); }
    }
  }

  const assertions = await evaluateAssertions(store, runId, s);
  await store.append('assertions', assertions.map((a) => ({ run_id: runId, ...a })));
  const verdict = invalid.length ? 'invalid' : assertions.every((a) => a.ok) ? 'pass' : 'fail';
  const exitCode = EXIT[verdict];
  await store.run('update runs set verdict = $2, valid = $3, invalid_reasons = $4, exit_code = $5, t0_epoch_ms = $6 where run_id = $1',
    [runId, verdict, !invalid.length, invalid.join('; ') || null, exitCode, t0]);
  const summary = await summarize(store, runId);
  const metrics = await runMetrics(store, runId, assertions);
  let charts: RunResult['charts'];
  try { charts = await renderRunCharts(store, runId, out); } catch (e) { log(`charts not rendered: ${(e as Error).message}`); }
  store.close();
  const report = out.replace(/\.duckdb$/, '') + '.md';
  const name = (f: string) => f.split('/').pop()!;
  writeFileSync(report, [`# ${s.name}: ${verdict.toUpperCase()}`, '', invalid.length ? `Not trustworthy, neither pass nor fail: ${invalid.join('; ')}.\n` : '',
    '```', summary.trimEnd(), '```', '', ...(charts ? [...charts.files.map((f) => `![${name(f)}](${name(f)})`), '', charts.legend, ''] : []), `Telemetry: \`${name(out)}\` (docs/telemetry.md).`, ''].join('\n'));
  return { runId, file: out, scenario: s.name, verdict, exitCode, invalidReasons: invalid, assertions, summary, seed, metrics, charts, report };
}

/** The silences of a flow plus the one from its last arrival to its stop when longer than `minMs` (it never came back), or all of start…stop when nothing arrived. */
function withTail<T extends { start: number; end: number; gapMs: number; lost: number }>(gs: T[], arrivals: readonly Arrival[], start: number, stop: number, minMs: number): { start: number; end: number; gapMs: number; lost: number }[] {
  const last = arrivals.reduce((m, a) => Math.max(m, a.recv), -Infinity);
  const out: { start: number; end: number; gapMs: number; lost: number }[] = [...gs];
  if (Number.isFinite(last) && stop - last > minMs) out.push({ start: last, end: stop, gapMs: stop - last, lost: 0 });
  if (!Number.isFinite(last)) out.push({ start, end: stop, gapMs: stop - start, lost: 0 });
  return out;
}
