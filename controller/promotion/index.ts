/**
 * controller/promotion — the durable promotion workflow: validate → verify on the twin → (approval) → canary →
 * soak with health gates → waves → done, or rollback of every touched edge with the reason recorded.
 *
 * - machine.ts: the xstate v5 machine (pure; time enters through events, edge writes are an action);
 * - actors.ts: validation, twin verification (verify.ts), ack waits and soak gates (gates.ts) over a {@link Fleet};
 * - fleet.ts: the Fleet over the store (desired/applied columns, ack failures and health);
 * - runner.ts: runs a promotion, saving the snapshot and that step's desired-version writes in one transaction
 *   after every transition; resumes after SIGKILL; `runPromotions` is the loop `patronus controller serve` runs;
 * - api.ts: the operator API's promotion actions (start, approve, abort).
 *
 * @example
 * const store = await openStore('.patronus/controller/store.db');
 * const h = await startPromotion(store, { version: 7, by: 'cli:alice', options: { canary: ['edge1'], waves: [10, 50, 100] } });
 * console.log((await h.done).status); // 'done' | 'rolled-back' | 'failed'
 */
export * from './types.ts';
export * from './errors.ts';
export { promotionMachine, promotionSetup, statusOf, FINAL_STATUSES, type PromotionMachine } from './machine.ts';
export { planRollout, PromotionOptionsSchema } from './plan.ts';
export { evaluateGates } from './gates.ts';
export { realClock, virtualClock } from './clock.ts';
export { storeFleet, ACK_ACTION } from './fleet.ts';
export { createPromotionActors, type ActorDeps, type Verifier } from './actors.ts';
export { twinVerifier, VERIFY_REPORT_FORMAT, type StoredVerifyReport } from './verify.ts';
export {
  startPromotion, resumePromotion, runPromotions, requestApproval, requestAbort, getPromotionView, listPromotionViews,
  promotionView, PROMOTION_RECORD_FORMAT, type RunnerOptions, type PromotionView, type PromotionHandle, type StoredPromotion,
} from './runner.ts';
export { promotionActions } from './api.ts';
