// timeout: 60
/**
 * The promotion machine as pure transitions: no store, no actors run, time given in the events (the injected
 * clock). Checks which edges each step writes, the deadlines handed to the wait actors, rollback of every
 * touched edge, and (xstate/graph) that every state is reachable and every path ends in a final state.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { initialTransition, transition } from 'xstate';
import { getShortestPaths, getSimplePaths } from 'xstate/graph';
import { promotionMachine, statusOf } from '../../controller/promotion/machine.ts';
import { planRollout, PromotionOptionsSchema } from '../../controller/promotion/plan.ts';
import { evaluateGates } from '../../controller/promotion/gates.ts';
import { PromotionFailure } from '../../controller/promotion/errors.ts';
import type { PromotionEvent, PromotionOptions } from '../../controller/promotion/types.ts';

type Snap = ReturnType<typeof initialTransition<typeof promotionMachine>>[0];
type Ev = PromotionEvent | { type: string; output?: unknown; error?: unknown };
const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const EDGES = ['e1', 'e2', 'e3', 'e4', 'e5'];

const options = (o: Partial<PromotionOptions> = {}) => PromotionOptionsSchema.parse({ canary: ['e2'], waves: [40, 100], ...o });
const start = (o: Partial<PromotionOptions> = {}) => initialTransition(promotionMachine, { id: 'p1', version: 2, options: options(o), by: 'cli:test', at: T0 });
const step = (s: Snap, e: Ev) => transition(promotionMachine, s, e as PromotionEvent);
const leaf = (s: Snap) => statusOf(s.value, s.context);
const writes = (actions: { type: string; params?: unknown }[]) => actions.filter((a) => a.type === 'setDesired').map((a) => a.params as { step: string; edges: string[]; version: number | null });
const invoked = (actions: { type: string; params?: unknown }[]) => actions.filter((a) => a.type === 'xstate.spawnChild').map((a) => a.params as { src: string; input: Record<string, unknown> });

const plan = planRollout(EDGES, options()) as { canary: string[]; waves: string[][] };
const done = (id: string, output: unknown) => ({ type: `xstate.done.actor.${id}`, output });
const error = (id: string, err: unknown) => ({ type: `xstate.error.actor.${id}`, error: err });

/** Walks validate → verify → (approval) → canary; returns the snapshot in canary and the canary's actions. */
function toCanary(o: Partial<PromotionOptions> = {}) {
  let [s] = start(o);
  [s] = step(s, done('validate', { at: T0 + 1000, fromVersion: 1, plan, excluded: ['old9'] }));
  const [s2, actions] = step(s, done('verify', { at: T0 + 5 * MIN, summary: { verdict: 'pass', scenarios: [], reused: false } }));
  return { s: s2, actions };
}

test('plans the canary first and then cumulative waves of the whole fleet', () => {
  assert.equal(plan, { canary: ['e2'], waves: [['e1'], ['e3', 'e4', 'e5']] });
  assert.equal(planRollout(EDGES, { canary: [], waves: [10, 50, 100] }), { canary: ['e1'], waves: [['e2', 'e3'], ['e4', 'e5']] });
  assert.equal(planRollout(['e1'], { canary: [], waves: [100] }), { canary: ['e1'], waves: [] });
  assert.match(String(planRollout(EDGES, { canary: ['e9'], waves: [100] })), /e9 get no bundle/);
  assert.match(String(planRollout([], { canary: [], waves: [100] })), /no edge/);
});

test('rejects waves that do not end at 100 or do not ascend, naming the key', () => {
  const r1 = PromotionOptionsSchema.safeParse({ waves: [10, 50] });
  assert.not.ok(r1.success);
  assert.equal(r1.error!.issues[0]!.path, ['waves']);
  assert.not.ok(PromotionOptionsSchema.safeParse({ waves: [50, 10, 100] }).success);
  assert.not.ok(PromotionOptionsSchema.safeParse({ soakMs: -1 }).success);
  assert.not.ok(PromotionOptionsSchema.safeParse({ colour: 'red' }).success);
});

test('starts by invoking validation with the version and options', () => {
  const [s, actions] = start();
  assert.equal(leaf(s), 'validating');
  assert.equal(invoked(actions).map((a) => a.src), ['validate']);
  assert.equal(invoked(actions)[0]!.input.version, 2);
  assert.equal(writes(actions), []);
});

test('enters the canary after verification and writes the desired version on the canary edges only', () => {
  const { s, actions } = toCanary();
  assert.equal(leaf(s), 'canary');
  assert.equal(writes(actions), [{ step: 'canary', edges: ['e2'], version: 2 }]);
  assert.equal(s.context.touched, ['e2']);
  const acks = invoked(actions).find((a) => a.src === 'awaitAcks')!;
  assert.equal(acks.input, { step: 'canary', edges: ['e2'], version: 2, since: T0 + 5 * MIN, deadlineAt: T0 + 5 * MIN + 2 * MIN });
});

test('soaks the canary for ten minutes of the injected clock, then rolls out wave by wave to done', () => {
  let { s } = toCanary();
  let actions;
  [s, actions] = step(s, done('acks', { at: T0 + 6 * MIN }));
  assert.equal(leaf(s), 'canary-soak');
  const soak = invoked(actions).find((a) => a.src === 'soak')!;
  assert.equal(soak.input.until, T0 + 6 * MIN + 10 * MIN);
  assert.equal(soak.input.edges, ['e2']);
  [s, actions] = step(s, done('soak', { at: T0 + 16 * MIN }));
  assert.equal(leaf(s), 'wave-1');
  assert.equal(writes(actions), [{ step: 'wave 1', edges: ['e1'], version: 2 }]);
  [s] = step(s, done('acks', { at: T0 + 17 * MIN }));
  [s, actions] = step(s, done('soak', { at: T0 + 18 * MIN }));
  assert.equal(leaf(s), 'wave-2');
  assert.equal(writes(actions), [{ step: 'wave 2', edges: ['e3', 'e4', 'e5'], version: 2 }]);
  [s, actions] = step(s, done('acks', { at: T0 + 19 * MIN }));
  assert.equal(invoked(actions).find((a) => a.src === 'soak')!.input.until, T0 + 20 * MIN, 'the wave soak is the short one');
  assert.equal(invoked(actions).find((a) => a.src === 'soak')!.input.edges, ['e2', 'e1', 'e3', 'e4', 'e5'], 'gates watch every touched edge');
  [s, actions] = step(s, done('soak', { at: T0 + 20 * MIN }));
  assert.equal(s.status, 'done');
  assert.equal(leaf(s), 'done');
  assert.equal(s.context.finishedAt, T0 + 20 * MIN);
  assert.equal(s.context.reason, null);
  assert.equal(writes(actions), []);
});

test('a failed ack in wave 2 rolls back every touched edge, not only the failing one, and records why', () => {
  let { s } = toCanary();
  [s] = step(s, done('acks', { at: T0 + 6 * MIN }));
  [s] = step(s, done('soak', { at: T0 + 16 * MIN }));
  [s] = step(s, done('acks', { at: T0 + 17 * MIN }));
  [s] = step(s, done('soak', { at: T0 + 18 * MIN }));
  let actions;
  [s, actions] = step(s, error('acks', new PromotionFailure('ack-failed', 'wave 2', 'wave 2: e4 failed to apply version 2 (bpf load)', T0 + 18.5 * MIN)));
  assert.equal(leaf(s), 'rolling-back');
  assert.equal(writes(actions), [{ step: 'rollback', edges: ['e2', 'e1', 'e3', 'e4', 'e5'], version: 1 }]);
  const rb = invoked(actions).find((a) => a.src === 'awaitAcks')!;
  assert.equal(rb.input.version, 1);
  assert.equal(rb.input.deadlineAt, T0 + 18.5 * MIN + 5 * MIN, 'the rollback deadline counts from the failure');
  assert.equal(s.context.failedStep, 'wave 2');
  [s] = step(s, done('rollback', { at: T0 + 19 * MIN }));
  assert.equal(leaf(s), 'rolled-back');
  assert.equal(s.status, 'done');
  assert.match(s.context.reason!, /e4 failed to apply version 2.*rolled back 5 edge\(s\) to version 1/);
});

test('a gate failure in the canary soak rolls back the canary', () => {
  let { s } = toCanary();
  [s] = step(s, done('acks', { at: T0 + 6 * MIN }));
  const [s2, actions] = step(s, error('soak', new PromotionFailure('gate', 'canary soak', 'canary soak: health gate failed: e2: SLA compliance 80.0% < 99.0%', T0 + 9 * MIN)));
  assert.equal(leaf(s2), 'rolling-back');
  assert.equal(writes(actions), [{ step: 'rollback', edges: ['e2'], version: 1 }]);
});

test('verification failing ends in failed with the reason and touches no edge', () => {
  let [s] = start();
  [s] = step(s, done('validate', { at: T0 + 1000, fromVersion: 1, plan, excluded: [] }));
  const [s2, actions] = step(s, error('verify', new PromotionFailure('verification', 'verify', 'twin verification fail: brownout-voice fail', T0 + 2000)));
  assert.equal(leaf(s2), 'failed');
  assert.equal(s2.status, 'done');
  assert.equal(writes(actions), []);
  assert.equal(s2.context.touched, []);
  assert.equal(s2.context.failedStep, 'verify');
  assert.match(s2.context.reason!, /brownout-voice/);
});

test('waits for approval when required; approve goes on to the canary, stamped with its time', () => {
  let [s] = start({ approvalRequired: true });
  [s] = step(s, done('validate', { at: T0, fromVersion: 1, plan, excluded: [] }));
  [s] = step(s, done('verify', { at: T0 + 1000, summary: { verdict: 'pass', scenarios: [], reused: true } }));
  assert.equal(leaf(s), 'awaiting-approval');
  const [same] = step(s, done('acks', { at: T0 + 2000 }));
  assert.equal(leaf(same), 'awaiting-approval', 'stray events do not move it');
  const [s2, actions] = step(s, { type: 'APPROVE', by: 'alice', at: T0 + 60 * MIN });
  assert.equal(leaf(s2), 'canary');
  assert.equal(s2.context.approvedBy, 'alice');
  assert.equal(invoked(actions).find((a) => a.src === 'awaitAcks')!.input.deadlineAt, T0 + 62 * MIN);
});

test('abort before any edge is touched fails without writes; abort later rolls back; abort while rolling back is ignored', () => {
  const [s] = start();
  const [a1, w1] = step(s, { type: 'ABORT', by: 'bob', reason: 'change freeze', at: T0 + 10 });
  assert.equal(leaf(a1), 'failed');
  assert.equal(writes(w1), []);
  assert.equal(a1.context.reason, 'aborted by bob: change freeze');
  let { s: c } = toCanary();
  let actions;
  [c, actions] = step(c, { type: 'ABORT', by: 'bob', reason: 'looks wrong', at: T0 + 7 * MIN });
  assert.equal(leaf(c), 'rolling-back');
  assert.equal(writes(actions), [{ step: 'rollback', edges: ['e2'], version: 1 }]);
  const [again, w2] = step(c, { type: 'ABORT', by: 'carol', reason: 'twice', at: T0 + 8 * MIN });
  assert.equal(leaf(again), 'rolling-back');
  assert.equal(writes(w2), []);
  assert.equal(again.context.reason, 'aborted by bob: looks wrong');
});

test('a rollback that does not complete ends in failed and says so', () => {
  let { s } = toCanary();
  [s] = step(s, error('acks', new PromotionFailure('ack-timeout', 'canary', 'canary: no ack of version 2 within 120 s from e2', T0 + 8 * MIN)));
  [s] = step(s, error('rollback', new PromotionFailure('ack-timeout', 'rollback', 'rollback: no ack of version 1 within 300 s from e2', T0 + 13 * MIN)));
  assert.equal(leaf(s), 'failed');
  assert.match(s.context.reason!, /no ack of version 2.*rollback incomplete: rollback: no ack of version 1/);
});

test('the snapshot survives JSON and continues from where it was', () => {
  let { s } = toCanary();
  [s] = step(s, done('acks', { at: T0 + 6 * MIN }));
  const restored = promotionMachine.resolveState({ value: s.value, context: JSON.parse(JSON.stringify(s.context)) });
  const [s2, actions] = step(restored, done('soak', { at: T0 + 16 * MIN }));
  assert.equal(leaf(s2), 'wave-1');
  assert.equal(writes(actions), [{ step: 'wave 1', edges: ['e1'], version: 2 }]);
});

test('the health gates name each failing edge and why', () => {
  const g = { minSlaCompliance: 0.99, maxSilenceMs: 60_000 };
  const ok = { edge: 'e1', appliedVersion: 2, healthy: true, slaCompliance: 0.995, lastSeen: T0, detail: null };
  assert.is(evaluateGates([ok], 2, g, T0 + 1000), null);
  assert.is(evaluateGates([{ ...ok, slaCompliance: null }], 2, g, T0), null, 'no SLA figure is not judged');
  assert.match(evaluateGates([ok, { ...ok, edge: 'e2', appliedVersion: 1 }], 2, g, T0)!, /^e2: runs version 1, not 2$/);
  assert.match(evaluateGates([{ ...ok, healthy: false, detail: 'bgp down' }], 2, g, T0)!, /unhealthy \(bgp down\)/);
  assert.match(evaluateGates([ok], 2, g, T0 + 120_000)!, /silent for 120 s/);
  assert.match(evaluateGates([{ ...ok, slaCompliance: 0.9 }], 2, g, T0)!, /SLA compliance 90\.0% < 99\.0%/);
  assert.is(evaluateGates([{ ...ok, slaCompliance: 0.9, slaClasses: { bulk: 0.995, voice: 0.9, video: 0.95 } }], 2, g, T0),
    'e1: SLA compliance 90.0% < 99.0% (class voice 90.0%, class video 95.0%)', 'the failing classes, worst first; a compliant one is not named');
});

// Events a graph walk may send in any state: each actor finishing or failing, and the operator's events.
const GRAPH_EVENTS = (s: Snap): Ev[] => {
  const at = s.context.stepStartedAt + 1000;
  const fail = (id: string) => error(id, new PromotionFailure('gate', s.context.step, `${s.context.step} failed`, at));
  return [
    done('validate', { at, fromVersion: 1, plan: planRollout(['a', 'b', 'c'], { canary: [], waves: [50, 100] }), excluded: [] }), fail('validate'),
    done('verify', { at, summary: { verdict: 'pass', scenarios: [], reused: false } }), fail('verify'),
    done('acks', { at }), fail('acks'), done('soak', { at }), fail('soak'), done('rollback', { at }), fail('rollback'),
    { type: 'APPROVE', by: 'a', at }, { type: 'ABORT', by: 'a', reason: 'r', at },
  ];
};

test('xstate/graph: every state is reachable, with and without approval', () => {
  const seen = new Set<string>();
  for (const approvalRequired of [false, true]) {
    const paths = getShortestPaths(promotionMachine, {
      input: { id: 'g', version: 2, options: options({ canary: [], waves: [50, 100], approvalRequired }), by: 'g', at: T0 },
      events: GRAPH_EVENTS as never,
      serializeState: (s) => `${leaf(s as Snap)}|${(s as Snap).context.touched.length}|${(s as Snap).context.reason ? 1 : 0}`,
    });
    for (const p of paths) seen.add(leaf(p.state as Snap));
  }
  assert.equal([...seen].sort(), ['awaiting-approval', 'canary', 'canary-soak', 'done', 'failed', 'rolled-back', 'rolling-back', 'validating', 'verifying', 'wave-1', 'wave-1-soak', 'wave-2', 'wave-2-soak'].sort());
});

test('xstate/graph: on every simple path, a final state has rolled back every edge it touched or touched none', () => {
  const paths = getSimplePaths(promotionMachine, {
    input: { id: 'g', version: 2, options: options({ canary: [], waves: [50, 100] }), by: 'g', at: T0 },
    events: GRAPH_EVENTS as never,
    serializeState: (s) => `${leaf(s as Snap)}|${(s as Snap).context.touched.length}|${(s as Snap).context.reason ? 1 : 0}`,
  });
  let finals = 0;
  for (const p of paths) {
    const s = p.state as Snap;
    if (s.status !== 'done') continue;
    finals++;
    const written = new Map<string, (number | null)[]>();
    // Replay the path to collect the writes it made, in order.
    let [r, acts] = initialTransition(promotionMachine, { id: 'g', version: 2, options: options({ canary: [], waves: [50, 100] }), by: 'g', at: T0 });
    for (const st of p.steps.slice(1)) {
      for (const w of writes(acts)) for (const e of w.edges) written.set(e, [...(written.get(e) ?? []), w.version]);
      [r, acts] = step(r, st.event);
    }
    for (const w of writes(acts)) for (const e of w.edges) written.set(e, [...(written.get(e) ?? []), w.version]);
    const last = [...written.values()].map((v) => v[v.length - 1]);
    if (leaf(s) === 'done') assert.ok(last.every((v) => v === 2) && written.size === 3, 'done: every edge desires the new version');
    else if (leaf(s) === 'rolled-back') assert.ok(last.every((v) => v === 1), `rolled back: every touched edge back on 1 (${JSON.stringify([...written])})`);
    else if (s.context.touched.length === 0) assert.is(written.size, 0, 'failed before touching: no writes');
    for (const v of written.values()) assert.ok(v.every((x, i) => i === 0 || x !== v[i - 1]), 'no edge is written the same version twice in a row');
  }
  if (process.env.PT_DEBUG) console.log(finals, paths[3]?.steps.map((x) => x.event.type));
  assert.ok(finals >= 10, `walked ${finals} paths to a final state`);
});

test.run();
