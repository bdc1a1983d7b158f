/**
 * Reading a scenario: YAML → structural schema (schema.ts) → cross-references against its lab and intent
 * (hosts exist and have addresses, endpoints exist, impaired links are impairable, assertion targets and
 * SLA classes exist, times fit the duration). Every stage throws one InputError naming the file, the key
 * path and what was expected, e.g.
 *
 *   scenarios/x.yaml:14: events[1].cut: endpoint "mpls:p9" is not a link endpoint of the lab (known: edge1:wan0, …)
 */
import { basename, dirname, extname, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { InputError, readYamlFile, zodIssues, type InputIssue, type SourceDoc } from '../dataplane/validate.ts';
import { loadLab, type Lab } from '../twin/index.ts';
import { loadIntent, type Intent } from '../controller/index.ts';
import { ScenarioDocument, type FlowSpec } from './schema.ts';

/** Largest content of a `file` flow (the generator holds it in memory). */
const FILE_MAX = 256 * 1024 ** 2;

/** A validated scenario with its lab and intent loaded. Times in ms, rates in bit/s, sizes in bytes. */
export interface Scenario {
  name: string;
  file: string;
  labFile: string;
  intentFile?: string;
  lab: Lab;
  intent?: Intent;
  doc: ScenarioDocument;
  /** Every flow with its defaults filled (port, stop, dscp, the address of its receiver). */
  flows: ResolvedFlow[];
}

/** A flow ready to run: defaults filled, the receiver's address looked up in the lab. */
export interface ResolvedFlow extends FlowSpec {
  port: number;
  stop: number;
  toAddress: string;
  dscp: NonNullable<FlowSpec['dscp']>;
}

/** Address (without prefix length) of a host node: the ipv4 of its first addressed link endpoint. */
export function hostAddress(lab: Lab, node: string): string | undefined {
  for (const l of lab.links) for (const e of l.endpoints) if (e.node === node && e.ipv4) return e.ipv4.split('/')[0];
  return undefined;
}

function fail(file: string, issues: InputIssue[], src: SourceDoc): never {
  throw new InputError(file, issues.map((i) => ({ ...i, line: i.line ?? src.lineOf(i.path) })));
}

/**
 * Read, validate and cross-check a scenario file. `opts.intent` replaces the scenario's intent (the
 * `--intent` flag). Example: `loadScenario('scenarios/isp-cut.yaml').flows[0].toAddress` → "10.2.0.10".
 * @throws InputError on any problem in the scenario, its lab or its intent (nothing is touched).
 */
export function loadScenario(file: string, opts: { intent?: string } = {}): Scenario {
  const src = readYamlFile(file);
  const parsed = ScenarioDocument.safeParse(src.data);
  if (!parsed.success) fail(file, zodIssues(parsed.error, src), src);
  const doc = parsed.data;
  const here = dirname(file);
  const labFile = resolve(here, doc.lab);
  if (!existsSync(labFile)) fail(file, [{ path: ['lab'], message: `lab file ${labFile} does not exist` }], src);
  const lab = loadLab(labFile);
  let intentFile = opts.intent ? resolve(opts.intent) : doc.intent ? resolve(here, doc.intent) : resolve(dirname(labFile), 'intent.yaml');
  if (!existsSync(intentFile)) {
    // A missing --intent is the command line's mistake, not the scenario's: no line of the scenario to point at.
    if (opts.intent) throw new InputError(opts.intent, [{ path: [], message: `intent file ${intentFile} does not exist` }]);
    if (doc.intent) fail(file, [{ path: ['intent'], message: `intent file ${intentFile} does not exist` }], src);
    intentFile = undefined as unknown as string;
  }
  const intent = intentFile ? loadIntent(intentFile) : undefined;

  const issues: InputIssue[] = [];
  const endpoints = new Map<string, boolean>();
  for (const l of lab.links) for (const e of l.endpoints) endpoints.set(`${e.node}:${e.interface}`, !!l.impairable);
  const known = (xs: Iterable<string>) => [...xs].sort().join(', ');
  const checkEndpoint = (path: (string | number)[], ep: string, impairable: boolean) => {
    if (!endpoints.has(ep)) issues.push({ path, message: `endpoint "${ep}" is not a link endpoint of the lab (known: ${known(endpoints.keys())})` });
    else if (impairable && !endpoints.get(ep)) {
      issues.push({ path, message: `the link of "${ep}" has no delay line; mark it "impairable: true" in ${labFile} (impairable: ${known([...endpoints].filter(([, i]) => i).map(([e]) => e)) || 'none'})` });
    }
  };
  const hosts = Object.values(lab.nodes).filter((n) => n.kind === 'host').map((n) => n.name);
  const checkFlow = (path: (string | number)[], f: { from: string; to: string; profile: string; repeat?: number; seed?: number; size?: number }) => {
    for (const k of ['from', 'to'] as const) {
      if (!hosts.includes(f[k])) issues.push({ path: [...path, k], message: `"${f[k]}" is not a host of the lab (hosts: ${known(hosts)})` });
      else if (k === 'to' && !hostAddress(lab, f.to)) issues.push({ path: [...path, k], message: `host "${f.to}" has no IPv4 address in the lab` });
    }
    if (f.from === f.to) issues.push({ path: [...path, 'to'], message: 'expected a host other than "from"' });
    if (f.profile !== 'file') {
      for (const k of ['repeat', 'seed'] as const) if (f[k] !== undefined) issues.push({ path: [...path, k], message: `only a "file" flow takes "${k}" (this one is "${f.profile}")` });
    } else if (f.size !== undefined && f.size > FILE_MAX) issues.push({ path: [...path, 'size'], message: `expected at most 256mib for a file flow, got ${f.size} bytes` });
  };

  const names = new Set<string>();
  const classes = new Set<string>();
  const ports = new Map<number, string>();
  const flows: ResolvedFlow[] = [];
  doc.traffic.forEach((f, i) => {
    if (names.has(f.name)) issues.push({ path: ['traffic', i, 'name'], message: `flow "${f.name}" is defined twice` });
    names.add(f.name);
    classes.add(f.class);
    checkFlow(['traffic', i], f);
    const stop = f.stop ?? doc.duration;
    if (stop > doc.duration) issues.push({ path: ['traffic', i, 'stop'], message: `expected at most the duration (${doc.duration} ms)` });
    if (f.start >= stop) issues.push({ path: ['traffic', i, 'start'], message: `expected a start before stop (${stop} ms)` });
    const port = f.port ?? 20000 + 2 * i;
    if (ports.has(port)) issues.push({ path: ['traffic', i, 'port'], message: `port ${port} is already used by flow "${ports.get(port)}"` });
    ports.set(port, f.name);
    flows.push({ ...f, port, stop, toAddress: hostAddress(lab, f.to) ?? '', dscp: f.dscp ?? (f.profile === 'voice' ? 'ef' : f.profile === 'video' ? 'af41' : 'be') });
  });

  doc.events.forEach((e, i) => {
    if (e.at > doc.duration) issues.push({ path: ['events', i, 'at'], message: `expected a time within the duration (${doc.duration} ms)` });
    if (e.cut) checkEndpoint(['events', i, 'cut'], e.cut, false);
    if (e.restore) checkEndpoint(['events', i, 'restore'], e.restore, false);
    if (e.clear) checkEndpoint(['events', i, 'clear'], e.clear, true);
    if (e.impair) checkEndpoint(['events', i, 'impair', 'link'], e.impair.link, true);
    if (e.restartAgent && lab.nodes[e.restartAgent]?.kind !== 'edge') {
      issues.push({ path: ['events', i, 'restartAgent'], message: `"${e.restartAgent}" is not an edge of the lab (edges: ${known(Object.values(lab.nodes).filter((n) => n.kind === 'edge').map((n) => n.name))})` });
    }
    if (e.controller && !doc.controller) issues.push({ path: ['events', i, 'controller'], message: 'expected "controller: true" at the top of the scenario (the lab runs no controller otherwise)' });
    if (e.surge) {
      checkFlow(['events', i, 'surge'], e.surge);
      if (names.has(e.surge.name)) issues.push({ path: ['events', i, 'surge', 'name'], message: `flow "${e.surge.name}" is defined twice` });
      names.add(e.surge.name);
      classes.add(e.surge.class);
      const stop = Math.min(doc.duration, e.at + e.surge.for);
      const port = e.surge.port ?? 20000 + 2 * (doc.traffic.length + i);
      if (ports.has(port)) issues.push({ path: ['events', i, 'surge', 'port'], message: `port ${port} is already used by flow "${ports.get(port)}"` });
      ports.set(port, e.surge.name);
      const { for: _for, ...fields } = e.surge;
      flows.push({ ...fields, start: e.at, stop, port, toAddress: hostAddress(lab, e.surge.to) ?? '', dscp: e.surge.dscp ?? (e.surge.profile === 'voice' ? 'ef' : e.surge.profile === 'video' ? 'af41' : 'be') });
    }
  });

  const edges = Object.values(lab.nodes).filter((n) => n.kind === 'edge').map((n) => n.name);
  doc.assert.forEach((a, i) => {
    const c = a.controllerReconnect;
    if (c && !doc.controller) issues.push({ path: ['assert', i, 'controllerReconnect'], message: 'expected "controller: true" at the top of the scenario (the lab runs no controller otherwise)' });
    if (c && !doc.events.some((e) => e.controller === 'reachable')) issues.push({ path: ['assert', i, 'controllerReconnect'], message: 'expected a "controller: reachable" event to judge the reconnection after' });
    if (c?.node !== undefined && !edges.includes(c.node)) issues.push({ path: ['assert', i, 'controllerReconnect', 'node'], message: `"${c.node}" is not an edge of the lab (edges: ${known(edges)})` });
    const w = a.wanoptReduction;
    if (w?.node !== undefined && !edges.includes(w.node)) issues.push({ path: ['assert', i, 'wanoptReduction', 'node'], message: `"${w.node}" is not an edge of the lab (edges: ${known(edges)})` });
    // The scenario's own intent must proxy something (an authoring mistake); a candidate intent given with
    // --intent (patronus verify) that proxies nothing is a result: the assertion fails when judged.
    if (w && !opts.intent && !intent?.wanopt.classes.length) {
      issues.push({ path: ['assert', i, 'wanoptReduction'], message: `the intent ${intentFile ?? '(none)'} proxies no class through WAN-opt (expected a "wanopt: { classes: [...] }" section)` });
    }
    for (const kind of ['sla', 'failoverGap', 'loss', 'goodput', 'latency'] as const) {
      const t = a[kind] as { class?: string; flow?: string } | undefined;
      if (!t) continue;
      if (t.class !== undefined && !classes.has(t.class)) issues.push({ path: ['assert', i, kind, 'class'], message: `no flow has class "${t.class}" (classes: ${known(classes)})` });
      if (t.flow !== undefined && !names.has(t.flow)) issues.push({ path: ['assert', i, kind, 'flow'], message: `flow "${t.flow}" is not defined (flows: ${known(names)})` });
    }
    const sla = a.sla;
    if (sla?.from !== undefined && !intent?.slaClasses[sla.from]) {
      issues.push({ path: ['assert', i, 'sla', 'from'], message: `SLA class "${sla.from}" is not defined in the intent ${intentFile ?? '(none)'} (known: ${known(Object.keys(intent?.slaClasses ?? {}))})` });
    }
    if (sla && sla.from === undefined && sla.latency === undefined && sla.jitter === undefined && sla.loss === undefined) {
      issues.push({ path: ['assert', i, 'sla'], message: 'expected "from" (an SLA class of the intent) or at least one of latency, jitter, loss' });
    }
  });
  if (issues.length) fail(file, issues, src);
  return { name: doc.name ?? basename(file, extname(file)), file, labFile, intentFile, lab, intent, doc, flows };
}

/** SLA bounds of an `sla` assertion: inline values win over the intent's class. Latency/jitter in ms, loss a fraction. */
export function slaBounds(s: Scenario, a: NonNullable<ScenarioDocument['assert'][number]['sla']>): { latency?: number; jitter?: number; loss?: number } {
  const c = a.from ? s.intent?.slaClasses[a.from] : undefined;
  return { latency: a.latency ?? c?.latency, jitter: a.jitter ?? c?.jitter, loss: a.loss ?? c?.loss };
}
