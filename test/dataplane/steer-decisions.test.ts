/** Steering decisions per strategy, hysteresis, fallbacks, flows on a switch, scores and policy checks. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Steerer, FlowTable, scorePath, loadSteerPolicy, checkSteerInput, type SteerInput, type SteerRule } from '../../dataplane/steer/index.ts';
import type { PathView } from '../../dataplane/probe/index.ts';
import { isInputError, type BundlePath } from '../../dataplane/index.ts';

const path = (id: number, transport: string, role: BundlePath['role'] = 'active'): BundlePath => ({
  id, peerNode: 'edge2', peerSite: 's2', peerSiteId: 2, transport, remoteTransport: transport, localInterface: `wan${id}`,
  localAddress: `10.0.${id}.1`, remoteAddress: `10.0.${id}.2`, mtu: 1500, role, probe: true,
});
const rule = (strategy: SteerRule['strategy'], extra: Partial<SteerRule> = {}): SteerRule => ({
  name: 'r', segment: 'default', appClass: 'voice', slaClass: 'voice', service: 'overlay', strategy, preferred: ['mpls', 'inet', 'lte'], perPacket: false, ...extra,
});
const input = (r: SteerRule, fallback: 'best-of-worst' | 'strict-drop' = 'best-of-worst'): SteerInput => ({
  paths: [path(1, 'mpls'), path(2, 'inet'), path(3, 'lte', 'backup')],
  rules: [r],
  slaClasses: [{ name: 'voice', id: 1, latencyMs: 150, jitterMs: 30, loss: 0.01, fallback }],
});
/** A view: `good` complies with voice; latency sets the score. */
const v = (id: number, state: PathView['state'], latency = 20, loss = 0): PathView => ({
  id, state, suppressed: false, compliant: new Set(state === 'up' ? ['voice'] : []), metrics: { latency, jitter: 1, loss },
});
const pol = { minDwellMs: 10_000, failbackHoldMs: 10_000 };

test('preference: the first compliant transport, fail over at once, fail back only after the hold', () => {
  const s = new Steerer(input(rule('preference')), pol);
  let r = s.evaluate(0, [v(1, 'up'), v(2, 'up'), v(3, 'up')]);
  assert.equal(r.table[0]!.pathIds, [1]);
  assert.is(r.events[0]!.cause, 'initial selection');
  r = s.evaluate(1000, [v(1, 'degraded'), v(2, 'up'), v(3, 'up')]);
  assert.equal(r.table[0]!.pathIds, [2], 'moves at once, min dwell does not hold a violating path');
  assert.match(r.events[0]!.cause, /path 1 violates voice/);
  r = s.evaluate(2000, [v(1, 'up'), v(2, 'up'), v(3, 'up')]);
  assert.equal(r.table[0]!.pathIds, [2], 'mpls is back but not held long enough');
  r = s.evaluate(11_999, [v(1, 'up'), v(2, 'up'), v(3, 'up')]);
  assert.equal(r.table[0]!.pathIds, [2]);
  r = s.evaluate(12_000, [v(1, 'up'), v(2, 'up'), v(3, 'up')]);
  assert.equal(r.table[0]!.pathIds, [1]);
  assert.match(r.events[0]!.cause, /path 1 is more preferred and held good for 10000 ms/);
});

test('the failback timer restarts on any dip', () => {
  const s = new Steerer(input(rule('preference')), pol);
  s.evaluate(0, [v(1, 'down'), v(2, 'up'), v(3, 'up')]);
  s.evaluate(1000, [v(1, 'up'), v(2, 'up'), v(3, 'up')]);
  s.evaluate(8000, [v(1, 'up', 20, 0.4), v(2, 'up'), v(3, 'up')]); // a dip: score 93 − 100 → 0
  let r = s.evaluate(11_000, [v(1, 'up'), v(2, 'up'), v(3, 'up')]);
  assert.equal(r.table[0]!.pathIds, [2], '10 s after the first recovery, but the dip at 8 s restarted the timer');
  r = s.evaluate(21_000, [v(1, 'up'), v(2, 'up'), v(3, 'up')]);
  assert.equal(r.table[0]!.pathIds, [1]);
});

test('minimum dwell keeps a compliant selection even when a better one appears', () => {
  const s = new Steerer(input(rule('best-quality')), { ...pol, failbackHoldMs: 0, betterBy: 2 });
  s.evaluate(0, [v(1, 'up', 140), v(2, 'down'), v(3, 'down')]);
  let r = s.evaluate(5000, [v(1, 'up', 140), v(2, 'up', 10), v(3, 'down')]);
  assert.equal(r.table[0]!.pathIds, [1], 'dwell of 10 s not over');
  r = s.evaluate(10_000, [v(1, 'up', 140), v(2, 'up', 10), v(3, 'down')]);
  assert.equal(r.table[0]!.pathIds, [2]);
  assert.match(r.events[0]!.cause, /path 2 scores/);
  r = s.evaluate(30_000, [v(1, 'up', 8), v(2, 'up', 10), v(3, 'down')]);
  assert.equal(r.table[0]!.pathIds, [2], 'a gain under betterBy does not move traffic');
});

test('load-balance spreads over every compliant path, weighted by score', () => {
  const s = new Steerer(input(rule('load-balance')), pol);
  let r = s.evaluate(0, [v(1, 'up', 20), v(2, 'up', 200), v(3, 'degraded')]);
  const e = r.table[0]!;
  assert.equal(e.pathIds, [1, 2]);
  assert.ok(e.weights[0]! > e.weights[1]!, `weights ${e.weights}`);
  r = s.evaluate(1000, [v(1, 'down'), v(2, 'up', 200), v(3, 'degraded')]);
  assert.equal(r.table[0]!.pathIds, [2]);
});

test('duplicate puts a critical class on the two best compliant paths', () => {
  const s = new Steerer(input(rule('duplicate')), pol);
  let r = s.evaluate(0, [v(1, 'up', 60), v(2, 'up', 10), v(3, 'up', 30)]);
  assert.equal(r.table[0]!.pathIds, [2, 3]);
  assert.is(r.table[0]!.mode, 'duplicate');
  r = s.evaluate(1000, [v(1, 'up', 60), v(2, 'down'), v(3, 'up', 30)]);
  assert.equal(r.table[0]!.pathIds, [3, 1], 'a member that fails is replaced at once');
});

test('when nothing complies: strict-drop drops, best-of-worst keeps the best alive path, both with an event', () => {
  const views = [v(1, 'degraded', 20, 0.05), v(2, 'degraded', 20, 0.02), v(3, 'down')];
  const strict = new Steerer(input(rule('preference'), 'strict-drop'), pol);
  strict.evaluate(0, [v(1, 'up'), v(2, 'up'), v(3, 'up')]);
  let r = strict.evaluate(1000, views);
  assert.equal(r.table[0]!.pathIds, []);
  assert.is(r.table[0]!.mode, 'drop');
  assert.match(r.events[0]!.cause, /no path meets SLA class voice: strict-drop/);
  const bow = new Steerer(input(rule('preference')), pol);
  bow.evaluate(0, [v(1, 'up'), v(2, 'up'), v(3, 'up')]);
  r = bow.evaluate(1000, views);
  assert.equal(r.table[0]!.pathIds, [2], 'path 2 has the lower loss');
  assert.is(r.table[0]!.mode, 'best-of-worst');
  assert.match(r.events[0]!.cause, /best of the rest/);
  r = bow.evaluate(2000, [v(1, 'down'), v(2, 'down'), v(3, 'down')]);
  assert.is(r.table[0]!.mode, 'drop');
  assert.is(r.events[0]!.cause, 'every path is down');
});

test('existing flows stay on a still-compliant path; flows on a failed path move at once', () => {
  const s = new Steerer(input(rule('preference')), pol);
  const ft = new FlowTable();
  let r = s.evaluate(0, [v(1, 'down'), v(2, 'up'), v(3, 'up')]);
  assert.is(ft.assign('a', r.table[0]!), 2);
  r = s.evaluate(20_000, [v(1, 'up'), v(2, 'up'), v(3, 'up')]);
  r = s.evaluate(40_000, [v(1, 'up'), v(2, 'up'), v(3, 'up')]);
  assert.equal(r.table[0]!.pathIds, [1], 'failed back for new flows');
  assert.equal(ft.reconcile(r.table), [], 'flow a stays on path 2, which still complies');
  assert.is(ft.assign('a', r.table[0]!), 2);
  assert.is(ft.assign('b', r.table[0]!), 1, 'a new flow takes the new selection');
  r = s.evaluate(41_000, [v(1, 'up'), v(2, 'degraded'), v(3, 'up')]);
  assert.equal(ft.reconcile(r.table), [{ flow: 'a', from: 2, to: 1, cause: 'path 2 no longer complies' }]);
  assert.is(ft.pathOf('b'), 1);
});

test('scores paths like the E-model R-factor: lower latency, jitter and loss score higher', () => {
  assert.ok(Math.abs(scorePath({ latency: 20, jitter: 2, loss: 0 }) - (93.2 - 34 / 40)) < 1e-9);
  assert.ok(scorePath({ latency: 20, jitter: 2, loss: 0.01 }) < scorePath({ latency: 20, jitter: 2, loss: 0 }));
  assert.ok(scorePath({ latency: 200, jitter: 2, loss: 0 }) < scorePath({ latency: 100, jitter: 2, loss: 0 }) - 5, 'delay past 160 ms costs more');
  assert.is(scorePath({ latency: 20, jitter: 2, loss: 0 }, true), 0);
  assert.is(scorePath({ jitter: 0, loss: 0 }), 0);
});

test('policy validation: failover below failback, primary not among backups, known SLA classes', () => {
  assert.equal(loadSteerPolicy({ minDwell: '5s', failbackHold: '30s' }, 'p.yaml'), { minDwellMs: 5000, failbackHoldMs: 30_000, failoverScore: 30, failbackScore: 50, betterBy: 10 });
  assert.throws(() => loadSteerPolicy({ failoverScore: 60, failbackScore: 50 }, 'p.yaml'),
    (e: unknown) => isInputError(e) && /^p\.yaml: failoverScore: the failover threshold \(60\) must be below the failback threshold/.test((e as Error).message));
  assert.throws(() => loadSteerPolicy({ minDwell: 'soon' }, 'p.yaml'), (e: unknown) => isInputError(e) && /minDwell: expected a duration like "20ms"/.test((e as Error).message));
  const bad = input(rule('preference', { preferred: ['mpls', 'inet', 'mpls'], slaClass: 'vioce' }));
  try {
    checkSteerInput(bad, 'bundle.json');
    assert.unreachable();
  } catch (e) {
    assert.ok(isInputError(e));
    assert.match((e as Error).message, 'bundle.json: rules[0].slaClass: SLA class "vioce" is not defined (known: voice)');
    assert.match((e as Error).message, 'bundle.json: rules[0].preferred[2]: transport "mpls" is the primary (preferred[0]) and cannot also be a backup');
  }
  checkSteerInput(input(rule('preference')), 'bundle.json');
});

test.run();
