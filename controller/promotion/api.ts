/**
 * The promotion workflow as the operator API (controller/opapi) calls it. The API checks the caller's role and
 * then writes the audit entry `promotion.approve` / `promotion.abort` (target `promotion:ID`, outcome ok) itself
 * — that entry IS the request the runner acts on, so approve/abort here only check and never write a second one.
 */
import type { PromotionActions } from '../opapi/index.ts';
import type { Store } from '../store/index.ts';
import { requestAbort, requestApproval, startPromotion, type RunnerOptions } from './runner.ts';
import type { PromotionOptions } from './types.ts';

/**
 * {@link PromotionActions} over `store`: `start` runs the promotion in this process (the controller), with
 * `defaults` as its options.
 * @example createOpApiHandler({ store, signingKey, inventory, promotions: promotionActions(store, { fleet: storeFleet(store) }) })
 */
export function promotionActions(store: Store, opts: RunnerOptions = {}, defaults: Partial<PromotionOptions> = {}): PromotionActions {
  return {
    async start(version, by) {
      const h = await startPromotion(store, { version, by: by.name, options: defaults }, opts);
      // The result is reported by `promote status` / GET /promotions/:id; a runner failure is logged, not thrown here.
      h.done.catch((e) => opts.log?.(`${h.id}: runner stopped: ${(e as Error).message}`));
      return { id: h.id, version, status: 'validating' };
    },
    async approve(id, by) {
      const v = await requestApproval(store, id, by.name, Date.now(), false);
      return { id: v.id, status: v.status, approvedBy: by.name };
    },
    async abort(id, by) {
      const v = await requestAbort(store, id, by.name, `aborted through the operator API by ${by.name}`, Date.now(), false);
      return { id: v.id, status: v.status, abortedBy: by.name };
    },
  };
}
