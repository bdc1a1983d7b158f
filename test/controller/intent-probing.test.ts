/**
 * The intent's `probing` section and the `best-quality` strategy end to end: validated with key paths,
 * compiled into every bundle, and turned by the agent into prober/steerer settings (bundle under flags).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileText, edit, errorOf, fixture } from './fixtures.ts';
import { tuningOf } from '../../dataplane/agent/paths.ts';

const f = fixture('two-site-dual-wan');
const PROBING = `probing:
  interval: 50ms
  idleInterval: 500ms
  timeoutFloor: 30ms
  lossWindow: 3s
  passive: false
  failbackHold: 2s
  failoverScore: 40
  failbackScore: 60
  transports:
    inet: { interval: 200ms, downAfter: 5 }
rules:`;
const withProbing = (extra = '') => edit(edit(f.intentText, '\nrules:', `\n${PROBING}`), '    bandwidth: { up: 100mbit, down: 100mbit }', `    bandwidth: { up: 100mbit, down: 100mbit }\n    probeBudget: 64kbit${extra}`);

test('the fixture intent has no probing section and its bundles carry none', () => {
  for (const { bundle } of compileText(f.intentText, f.inventory, f.intentFile).bundles.values()) assert.is(bundle.probing, undefined);
});

test('probing tuning, per-transport overrides and probe budgets are compiled into every bundle in ms', () => {
  const { bundles } = compileText(withProbing(), f.inventory, f.intentFile);
  assert.ok(bundles.size >= 2);
  for (const { bundle } of bundles.values()) {
    assert.equal(bundle.probing, {
      intervalMs: 50, idleIntervalMs: 500, timeoutFloorMs: 30, lossWindowMs: 3000, passive: false, failbackHoldMs: 2000,
      failoverScore: 40, failbackScore: 60, transports: { inet: { intervalMs: 200, downAfter: 5 } }, budgets: { inet: 64_000 },
    });
  }
});

test('the agent applies the bundle tuning, per transport, and its command-line flags win over both', () => {
  const bundle = [...compileText(withProbing(), f.inventory, f.intentFile).bundles.values()][0]!.bundle;
  const t = tuningOf(bundle, {});
  assert.equal(t.monitor, { intervalMs: 50, idleIntervalMs: 500, timeoutFloorMs: 30, usePassive: false, stats: { timeWindowMs: 3000 } });
  assert.equal(t.transports, { inet: { intervalMs: 200, downAfter: 5 } });
  assert.equal(t.steer, { failbackHoldMs: 2000, failoverScore: 40, failbackScore: 60 });
  assert.equal(t.budgets, { inet: 64_000 });
  const o = tuningOf(bundle, { monitor: { intervalMs: 10 }, steerPolicy: { failbackHoldMs: 0 } });
  assert.is(o.monitor.intervalMs, 10);
  assert.is(o.transports.inet!.intervalMs, 10, 'a flag overrides the per-transport value too');
  assert.is(o.transports.inet!.downAfter, 5);
  assert.is(o.steer.failbackHoldMs, 0);
});

test('best-quality is a strategy of the intent and reaches the bundle rule', () => {
  const text = edit(f.intentText, '    paths: { preferred: [mpls, inet] }\n  - name: everything-else', '    paths: { preferred: [mpls, inet], strategy: best-quality }\n  - name: everything-else');
  for (const { bundle } of compileText(text, f.inventory, f.intentFile).bundles.values()) {
    assert.is(bundle.rules.find((r) => r.name === 'voice')!.strategy, 'best-quality');
  }
});

const bad: [string, string, RegExp][] = [
  ['a failover threshold not below the failback threshold', PROBING.replace('failoverScore: 40', 'failoverScore: 70'),
    /probing\.failoverScore.*failover threshold failoverScore \(70\) must be below the failback threshold failbackScore \(60\)/s],
  ['a failover threshold at the default failback threshold', PROBING.replace('  failbackScore: 60\n', '').replace('failoverScore: 40', 'failoverScore: 50'),
    /probing\.failoverScore.*\(50\) must be below .*\(50\)/s],
  ['a timeout floor above the ceiling of a transport', PROBING.replace('{ interval: 200ms, downAfter: 5 }', '{ timeoutFloor: 5s }'),
    /probing\.transports\.inet\.timeoutFloor.*timeoutFloor \(5000ms\) must not exceed timeoutCeiling \(3000ms\)/s],
  ['a probe interval under 10 ms', PROBING.replace('interval: 50ms', 'interval: 5ms'), /probing\.interval.*at least 10ms, got 5ms/s],
  ['an override for an undefined transport', PROBING.replace('    inet:', '    lte:'), /probing\.transports\.lte.*transport "lte" is not defined \(known: inet, mpls\)/s],
];
for (const [what, probing, re] of bad) {
  test(`rejects ${what} with file and key path`, () => {
    const msg = errorOf(() => compileText(edit(f.intentText, '\nrules:', `\n${probing}`), f.inventory, 'i.yaml'));
    assert.match(msg, /i\.yaml/);
    assert.match(msg, re);
  });
}

test('a primary transport listed again among the backups is named as such', () => {
  const msg = errorOf(() => compileText(edit(f.intentText, '    paths: { preferred: [mpls, inet] }\n  - name: everything-else', '    paths: { preferred: [mpls, inet, mpls] }\n  - name: everything-else'), f.inventory, 'i.yaml'));
  assert.match(msg, /rules\[0\]\.paths\.preferred\[2\]: transport "mpls" is the primary \(preferred\[0\]\) and cannot also be a backup/s);
});

test.run();
