/**
 * Promotion errors: one base class, one subclass per failure kind, type guards. A {@link PromotionFailure} is
 * what an actor rejects with; the machine turns it (via onError) into a rollback or a failed promotion with
 * its message as the recorded reason.
 */

/** Base of every promotion error. */
export class PromotionError extends Error {
  override name = 'PromotionError';
}

/** What failed in a step; `at` is the injected clock's time of the failure (ms). */
export type FailureKind = 'validation' | 'verification' | 'ack-failed' | 'ack-timeout' | 'gate' | 'rollback' | 'internal';

/** A step of the promotion failed: a gate, an ack, a deadline, validation or verification. */
export class PromotionFailure extends PromotionError {
  override name = 'PromotionFailure';
  constructor(readonly kind: FailureKind, readonly step: string, message: string, readonly at: number, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The promotion is run by another live runner (its lease is held). */
export class PromotionBusyError extends PromotionError {
  override name = 'PromotionBusyError';
}

/** No promotion with that id, or it is in a state where the request makes no sense (approve a finished one). */
export class PromotionRequestError extends PromotionError {
  override name = 'PromotionRequestError';
}

export const isPromotionError = (e: unknown): e is PromotionError => e instanceof PromotionError;
export const isPromotionFailure = (e: unknown): e is PromotionFailure => e instanceof PromotionFailure;
export const isPromotionBusyError = (e: unknown): e is PromotionBusyError => e instanceof PromotionBusyError;
export const isPromotionRequestError = (e: unknown): e is PromotionRequestError => e instanceof PromotionRequestError;
