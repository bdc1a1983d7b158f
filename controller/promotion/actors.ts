/**
 * The real implementations of the machine's actors over a store, a {@link Fleet} and an injected clock.
 * Each is idempotent, because a resumed promotion re-invokes the actor of the state it was killed in:
 * validation and verification re-read the store, ack waits re-derive who acked from the store, and soaks
 * run to the absolute deadline in their input. Any error becomes a {@link PromotionFailure} (the machine's
 * onError turns it into a rollback or a failure with the message as the reason).
 */
import { fromPromise } from 'xstate';
import type { IntentVersion, Store } from '../store/index.ts';
import { PromotionFailure, isPromotionFailure, type FailureKind } from './errors.ts';
import { evaluateGates } from './gates.ts';
import { FINAL_STATUSES } from './machine.ts';
import { planRollout } from './plan.ts';
import type {
  AcksInput, Clock, Fleet, SoakInput, StepOutput, ValidateInput, ValidateOutput, VerifyInput, VerifyOutput, VerifySummary,
} from './types.ts';

/** Verifies a stored version (the twin scenario suite in production, see twinVerifier in verify.ts). */
export type Verifier = (version: IntentVersion, ctx: { store: Store; signal: AbortSignal }) => Promise<VerifySummary>;

/** What the actors need. */
export interface ActorDeps {
  store: Store;
  fleet: Fleet;
  clock: Clock;
  verify: Verifier;
  /** How often ack waits and soaks re-read the store (ms of `clock`). Default 1000. */
  pollMs?: number;
}

function guard<I, O>(clock: Clock, step: (input: I) => string, kind: FailureKind, fn: (input: I, signal: AbortSignal) => Promise<O>) {
  return fromPromise<O, I>(async ({ input, signal }) => {
    try {
      return await fn(input, signal);
    } catch (e) {
      if (isPromotionFailure(e)) throw e;
      throw new PromotionFailure(kind, step(input), `${step(input)}: ${(e as Error)?.message ?? String(e)}`, clock.now(), { cause: e });
    }
  });
}

/**
 * The four actors of the machine, ready for `promotionMachine.provide({ actors: createPromotionActors(deps) })`.
 * @example const actors = createPromotionActors({ store, fleet: storeFleet(store), clock: realClock, verify: twinVerifier() });
 */
export function createPromotionActors(deps: ActorDeps) {
  const { store, fleet, clock } = deps;
  const pollMs = deps.pollMs ?? 1000;
  const fail = (kind: FailureKind, step: string, msg: string) => new PromotionFailure(kind, step, msg, clock.now());

  const validate = guard<ValidateInput, ValidateOutput>(clock, () => 'validate', 'internal', async (input) => {
    const v = await store.getVersion(input.version);
    if (!v) {
      const latest = await store.latestVersion();
      throw fail('validation', 'validate', `version ${input.version} does not exist (latest: ${latest?.id ?? 'none'})`);
    }
    const busy = (await store.listPromotions()).filter((p) => p.id !== input.id && !FINAL_STATUSES.includes(p.status));
    if (busy.length) throw fail('validation', 'validate', `promotion ${busy[0]!.id} (version ${busy[0]!.version}) is still ${busy[0]!.status}; abort it or wait`);
    const bundled = new Set((await store.listBundles(input.version)).map((b) => b.edge));
    const edges = await store.listEdges();
    const targets = edges.filter((e) => bundled.has(e.name));
    const excluded = edges.filter((e) => !bundled.has(e.name)).map((e) => e.name);
    const from = [...new Set(targets.map((e) => e.desiredVersion))];
    if (from.length > 1) {
      const by = from.map((f) => `${f ?? 'none'}: ${targets.filter((e) => e.desiredVersion === f).map((e) => e.name).join(', ')}`);
      throw fail('validation', 'validate', `the target edges desire mixed versions (${by.join('; ')}); settle them first`);
    }
    if (from[0] === input.version) throw fail('validation', 'validate', `every target edge already desires version ${input.version}`);
    if (!targets.length && bundled.size) {
      throw fail('validation', 'validate', `none of the ${bundled.size} edge(s) with a bundle in version ${input.version} (${[...bundled].sort().join(', ')}) is known to the controller; enrol them first (patronus controller enrol-token EDGE)`);
    }
    const plan = planRollout(targets.map((e) => e.name), input.options);
    if (typeof plan === 'string') throw fail('validation', 'validate', plan);
    return { at: clock.now(), fromVersion: from[0] ?? null, plan, excluded };
  });

  const verify = guard<VerifyInput, VerifyOutput>(clock, () => 'verify', 'verification', async (input, signal) => {
    const v = await store.getVersion(input.version);
    if (!v) throw fail('verification', 'verify', `version ${input.version} disappeared from the store`);
    const summary = await deps.verify(v, { store, signal });
    if (summary.verdict !== 'pass') {
      const bad = summary.scenarios.filter((s) => s.verdict !== 'pass').map((s) => `${s.scenario} ${s.verdict}`);
      throw fail('verification', 'verify', `twin verification ${summary.verdict}${bad.length ? `: ${bad.join(', ')}` : ''}`);
    }
    return { at: clock.now(), summary };
  });

  const awaitAcks = guard<AcksInput, StepOutput>(clock, (i) => i.step, 'internal', async (input, signal) => {
    for (;;) {
      const acks = await fleet.acks(input.edges, input.version, input.since);
      const failed = acks.filter((a) => a.state === 'failed');
      if (failed.length) {
        throw fail('ack-failed', input.step, `${input.step}: ${failed.map((a) => `${a.edge} failed to apply version ${input.version} (${a.state === 'failed' ? a.error : ''})`).join('; ')}`);
      }
      const pending = acks.filter((a) => a.state === 'pending').map((a) => a.edge);
      const now = clock.now();
      if (!pending.length) return { at: now };
      if (now >= input.deadlineAt) {
        throw fail('ack-timeout', input.step, `${input.step}: no ack of version ${input.version} within ${Math.round((input.deadlineAt - input.since) / 1000)} s from ${pending.join(', ')}`);
      }
      await clock.sleep(Math.min(pollMs, input.deadlineAt - now), signal);
    }
  });

  const soak = guard<SoakInput, StepOutput>(clock, (i) => i.step, 'internal', async (input, signal) => {
    for (;;) {
      const now = clock.now();
      const bad = evaluateGates(await fleet.health(input.edges), input.version, input.gates, now);
      if (bad) throw fail('gate', input.step, `${input.step}: health gate failed: ${bad}`);
      if (now >= input.until) return { at: now };
      await clock.sleep(Math.min(pollMs, input.until - now), signal);
    }
  });

  return { validate, verify, awaitAcks, soak };
}
