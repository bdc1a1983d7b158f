// timeout: 60
// Scenario files: the shipped ones are valid; every mistake is one InputError naming the file, the line, the
// key path and what was expected; `patronus scenario run` exits 2 on them and deploys nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isInputError } from '../../dataplane/validate.ts';
import { loadScenario, scenarioJsonSchema } from '../../scenarios/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'pt-scenario-schema-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const lab = resolve('scenarios/labs/dual-wan/lab.yaml');

// Line numbers below refer to this text (line 1 is name).
const base = `name: t
lab: ${lab}
duration: 10s
traffic:
  - { name: call, class: voice, profile: voice, from: host1, to: host2 }
  - { name: backup, class: bulk, profile: bulk, from: host1, to: host2, rate: 2mbit }
events:
  - { at: 2s, cut: "mpls:p2" }
  - { at: 4s, impair: { link: "edge1:wan1", delay: 50ms } }
assert:
  - { sla: { class: voice, from: voice, min: 90% } }
`;

function errorOf(text: string, opts: { intent?: string } = {}): string {
  const f = join(dir, 's.yaml');
  writeFileSync(f, text);
  try {
    loadScenario(f, opts);
  } catch (e) {
    assert.ok(isInputError(e), `expected an InputError, got ${e}`);
    return (e as Error).message.replaceAll(f, 'F');
  }
  return assert.unreachable('the scenario was accepted') as never;
}
const edit = (from: string, to: string) => { assert.ok(base.includes(from), from); return base.replace(from, to); };

test('the shipped scenarios are valid and resolve their flows', () => {
  const files = readdirSync('scenarios').filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 3, files.join());
  for (const f of files) assert.ok(loadScenario(join('scenarios', f)).flows.length >= 1, f);
  const s = loadScenario('scenarios/isp-cut.yaml');
  assert.equal(s.flows.map((f) => [f.name, f.toAddress, f.port, f.dscp, f.stop]), [['call', '10.2.0.10', 20000, 'ef', 20000], ['backup', '10.2.0.10', 20002, 'be', 20000]]);
  assert.is(loadScenario('scenarios/wrong-voice-on-inet.yaml').intentFile, resolve('scenarios/labs/dual-wan/intent-voice-on-inet.yaml'));
  const surge = loadScenario('scenarios/surge-bulk-vs-voice.yaml');
  assert.is(surge.intent!.transports.mpls!.bandwidth!.up, 10e6, 'MPLS shaped at 10 Mbit/s');
  assert.equal(surge.flows.map((f) => [f.name, f.profile, f.start, f.stop]), [['call', 'voice', 0, 20000], ['surge', 'bulk', 4000, 16000]]);
  assert.equal(loadScenario('scenarios/dual-failure.yaml').doc.events.map((e) => e.cut ?? e.restore), ['mpls:p2', 'inet:p2', 'inet:p2', 'mpls:p2']);
});

test('the base scenario of these tests is valid; --intent replaces the intent', () => {
  const f = join(dir, 'ok.yaml');
  writeFileSync(f, base);
  assert.is(loadScenario(f).intentFile, resolve('scenarios/labs/dual-wan/intent.yaml'));
  assert.is(loadScenario(f, { intent: 'scenarios/labs/dual-wan/intent-voice-on-inet.yaml' }).intentFile, resolve('scenarios/labs/dual-wan/intent-voice-on-inet.yaml'));
});

test('structural mistakes name file, line and key path', () => {
  assert.is(errorOf(edit('rate: 2mbit }', 'rate: 2mbit, colour: red }')), 'F:6: traffic[1]: unknown key "colour"');
  assert.is(errorOf(edit('duration: 10s', 'duration: 10 parsecs')), 'F:3: duration: expected a duration like "20ms", got "10 parsecs"');
  assert.is(errorOf(edit('profile: voice', 'profile: fax')), 'F:5: traffic[0].profile: Invalid option: expected one of "voice"|"video"|"bulk"|"web"|"file"');
  assert.is(errorOf(edit('{ at: 2s, cut: "mpls:p2" }', '{ at: 2s, cut: "mpls:p2", restore: "mpls:p2" }')), 'F:8: events[0]: expected exactly one action of cut, restore, impair, clear, surge, restartAgent, controller, got cut and restore');
  assert.is(errorOf(edit('{ sla: { class: voice', '{ sla: { flow: call, class: voice')), 'F:11: assert[0].sla: expected exactly one of "class" or "flow"');
  assert.match(errorOf(edit('traffic:\n', 'traffic: []\nx:\n')), /^F:4: traffic: Too small/);
});

test('cross-references to the lab and intent name what exists', () => {
  assert.is(errorOf(edit('cut: "mpls:p2"', 'cut: "mpls:p9"')),
    'F:8: events[0].cut: endpoint "mpls:p9" is not a link endpoint of the lab (known: edge1:lan0, edge1:wan0, edge1:wan1, edge2:lan0, edge2:wan0, edge2:wan1, host1:eth0, host2:eth0, inet:p1, inet:p2, mpls:p1, mpls:p2)');
  assert.is(errorOf(edit('link: "edge1:wan1"', 'link: "edge2:wan1"')),
    `F:9: events[1].impair.link: the link of "edge2:wan1" has no delay line; mark it "impairable: true" in ${lab} (impairable: edge1:wan0, edge1:wan1, inet:p1, mpls:p1)`);
  assert.is(errorOf(edit('to: host2 }\n  - { name: backup', 'to: edge2 }\n  - { name: backup')), 'F:5: traffic[0].to: "edge2" is not a host of the lab (hosts: host1, host2)');
  assert.is(errorOf(edit('{ sla: { class: voice, from: voice', '{ sla: { class: vocie, from: voice')), 'F:11: assert[0].sla.class: no flow has class "vocie" (classes: bulk, voice)');
  assert.match(errorOf(edit('from: voice, min', 'from: gold, min')), /^F:11: assert\[0\]\.sla\.from: SLA class "gold" is not defined in the intent .*intent\.yaml \(known: voice\)$/);
  assert.is(errorOf(edit('{ at: 4s,', '{ at: 40s,')), 'F:9: events[1].at: expected a time within the duration (10000 ms)');
  assert.is(errorOf(edit('rate: 2mbit }', 'rate: 2mbit, port: 20000 }')), 'F:6: traffic[1].port: port 20000 is already used by flow "call"');
});

test('wanopt-repeat sends one seeded file three times and asserts the WAN-opt data reduction', () => {
  const s = loadScenario('scenarios/wanopt/wanopt-repeat.yaml');
  assert.equal(s.flows.map((f) => [f.name, f.profile, f.port, f.size, f.repeat, f.seed]), [['report', 'file', 5001, 4 * 1024 ** 2, 3, 7]]);
  assert.equal(s.intent!.wanopt.classes, ['files']);
  assert.equal(s.doc.assert.map((a) => a.wanoptReduction), [{ min: 0.5 }, { node: 'edge1', min: 0.5 }]);
  // The new trust limits have their documented defaults.
  assert.equal([s.doc.trust.maxAgentLoopLag, s.doc.trust.maxDelayLineLate], [50, 10]);
});

test('file flows and wanoptReduction assertions: mistakes name the key path', () => {
  const wlab = resolve('scenarios/labs/wanopt/lab.yaml');
  const w = `name: w
lab: ${wlab}
duration: 10s
traffic:
  - { name: f, class: files, profile: file, from: host1, to: host2, port: 5001, size: 1mib }
assert:
  - { wanoptReduction: { min: 50% } }
`;
  const f = join(dir, 'w.yaml');
  writeFileSync(f, w);
  assert.equal(loadScenario(f).doc.assert[0]!.wanoptReduction, { min: 0.5 });
  const we = (from: string, to: string) => { assert.ok(w.includes(from), from); return w.replace(from, to); };
  assert.is(errorOf(we('min: 50%', 'min: 50%, class: files')), 'F:7: assert[0].wanoptReduction: unknown key "class"');
  assert.is(errorOf(we('min: 50%', 'min: lots')), 'F:7: assert[0].wanoptReduction.min: expected a percentage like "1%", got "lots"');
  assert.is(errorOf(we('min: 50% }', 'min: 50%, node: edge9 }')), 'F:7: assert[0].wanoptReduction.node: "edge9" is not an edge of the lab (edges: edge1, edge2)');
  assert.is(errorOf(we('size: 1mib', 'size: 1gb')), 'F:5: traffic[0].size: expected at most 256mib for a file flow, got 1000000000 bytes');
  assert.is(errorOf(we('size: 1mib', 'repeat: 0')), 'F:5: traffic[0].repeat: Too small: expected number to be >=1');
  assert.is(errorOf(edit('rate: 2mbit }', 'rate: 2mbit, repeat: 2 }')), 'F:6: traffic[1].repeat: only a "file" flow takes "repeat" (this one is "bulk")');
  // The dual-wan intent proxies nothing: a data-reduction assertion cannot be judged there.
  assert.match(errorOf(edit('  - { sla: { class: voice, from: voice, min: 90% } }', '  - { wanoptReduction: { min: 10% } }')),
    /^F:11: assert\[0\]\.wanoptReduction: the intent .*dual-wan\/intent\.yaml proxies no class through WAN-opt/);
  // A candidate intent (--intent, as patronus verify gives it) without WAN-opt is no input error: the run judges it (a fail).
  writeFileSync(f, edit('  - { sla: { class: voice, from: voice, min: 90% } }', '  - { wanoptReduction: { min: 10% } }'));
  assert.is(loadScenario(f, { intent: 'scenarios/labs/dual-wan/intent.yaml' }).intent!.wanopt.classes.length, 0);
  assert.is(errorOf(edit('{ sla: { class: voice, from: voice, min: 90% } }', '{ wanoptReduction: { min: 10% }, loss: { class: voice, max: 1% } }')),
    'F:11: assert[0]: expected exactly one of sla, failoverGap, loss, goodput, latency, wanoptReduction, controllerReconnect, got loss and wanoptReduction');
});

test('controller events and controllerReconnect: valid under "controller: true", mistakes name the key path', () => {
  const f = join(dir, 's.yaml');
  assert.is(loadScenario('scenarios/controller/controller-outage.yaml').doc.controller, true);
  const good = edit('duration: 10s', 'controller: true\nduration: 10s').replace('  - { at: 4s, impair: { link: "edge1:wan1", delay: 50ms } }', '  - { at: 4s, controller: unreachable }\n  - { at: 6s, controller: reachable }')
    .replace('  - { sla: { class: voice, from: voice, min: 90% } }', '  - { controllerReconnect: { within: 5s } }');
  writeFileSync(f, good);
  const s = loadScenario(f);
  assert.equal(s.doc.events.map((e) => e.controller ?? null), [null, 'unreachable', 'reachable']);
  assert.equal(s.doc.assert[0]!.controllerReconnect, { within: 5000 });
  assert.is(loadScenario('scenarios/isp-cut.yaml').doc.controller, false, 'default: no controller');
  const ge = (from: string, to: string) => { assert.ok(good.includes(from), from); return good.replace(from, to); };
  // Line numbers: 1 name, 2 lab, 3 controller, 4 duration, …, 9 the cut, 10 unreachable, 11 reachable, 12 assert, 13 the assertion.
  assert.is(errorOf(ge('controller: unreachable', 'controller: down')), 'F:10: events[1].controller: Invalid option: expected one of "unreachable"|"reachable"');
  assert.is(errorOf(ge('controller: true\n', '')), [
    'F:9: events[1].controller: expected "controller: true" at the top of the scenario (the lab runs no controller otherwise)',
    'F:10: events[2].controller: expected "controller: true" at the top of the scenario (the lab runs no controller otherwise)',
    'F:12: assert[0].controllerReconnect: expected "controller: true" at the top of the scenario (the lab runs no controller otherwise)'].join('\n'));
  assert.is(errorOf(ge('controller: true', 'controller: yes')), 'F:3: controller: expected boolean');
  assert.is(errorOf(ge('within: 5s', 'within: soon')), 'F:13: assert[0].controllerReconnect.within: expected a duration like "20ms", got "soon"');
  assert.is(errorOf(ge('within: 5s }', 'within: 5s, node: edge9 }')), 'F:13: assert[0].controllerReconnect.node: "edge9" is not an edge of the lab (edges: edge1, edge2)');
  assert.is(errorOf(ge('  - { at: 6s, controller: reachable }\n', '')), 'F:12: assert[0].controllerReconnect: expected a "controller: reachable" event to judge the reconnection after');
});

test('the JSON Schema is strict and requires lab, duration and traffic', () => {
  const s = scenarioJsonSchema() as { $id: string; additionalProperties: boolean; required: string[] };
  assert.is(s.$id, 'https://patronus.dev/schemas/scenario-v1.json');
  assert.is(s.additionalProperties, false);
  assert.equal(s.required.sort(), ['duration', 'lab', 'traffic']);
  // It is the committed file, wanoptReduction and the file profile included (scripts/emit-schemas.ts writes it).
  assert.equal(JSON.parse(readFileSync('scenarios/scenario.schema.json', 'utf8')), JSON.parse(JSON.stringify(scenarioJsonSchema())));
  assert.match(JSON.stringify(s), '"wanoptReduction"');
});

test('`patronus scenario run` exits 2 on a bad scenario or a missing --intent, and deploys nothing', () => {
  const f = join(dir, 'bad.yaml');
  writeFileSync(f, edit('cut: "mpls:p2"', 'cut: "mpls:p9"'));
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'controller/cli/main.ts', ...args], { encoding: 'utf8', timeout: 30_000 });
  const r = cli('scenario', 'run', f, '--out', join(dir, 'never.duckdb'));
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, `${f}:8: events[0].cut: endpoint "mpls:p9"`);
  const r2 = cli('scenario', 'run', 'scenarios/isp-cut.yaml', '--intent', join(dir, 'nope.yaml'), '--out', join(dir, 'never.duckdb'));
  assert.is(r2.status, 2, r2.stderr);
  assert.match(r2.stderr, 'nope.yaml: (top level): intent file');
  const ns = execFileSync('ip', ['netns', 'list']).toString().split('\n').filter((l) => l.startsWith(`pt.sc${r.pid}.`) || l.startsWith(`pt.sc${r2.pid}.`));
  assert.equal(ns, []);
  assert.equal(readdirSync(dir).filter((x) => x.endsWith('.duckdb')), [], 'no run file either');
});

test('`patronus verify` exits 2 before running anything on an empty suite or a candidate intent the labs cannot take', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'controller/cli/main.ts', ...args], { encoding: 'utf8', timeout: 30_000 });
  const empty = join(dir, 'empty-suite');
  execFileSync('mkdir', ['-p', empty]);
  const r = cli('verify', 'scenarios/labs/dual-wan/intent.yaml', '--suite', empty, '--out', join(dir, 'v1'));
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, `${empty}: (top level): no scenario files (*.yaml) in the suite`);
  const bad = join(dir, 'bad-intent.yaml');
  writeFileSync(bad, readFileSync('scenarios/labs/dual-wan/intent.yaml', 'utf8').replace('preferred: [mpls, inet] }\n  - name: everything-else', 'preferred: [mpls, lte] }\n  - name: everything-else'));
  const r2 = cli('verify', bad, '--out', join(dir, 'v2'));
  assert.is(r2.status, 2, r2.stderr);
  assert.match(r2.stderr, bad);
  assert.match(r2.stderr, /transport "lte"/);
  assert.not.ok(existsSync(join(dir, 'v2')), 'no report directory: nothing ran');
});

test.run();
