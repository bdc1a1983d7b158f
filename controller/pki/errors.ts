/** PKI errors: one base class, one subclass per failure kind, a type guard. */

/** Base of every PKI failure. */
export class PkiError extends Error {
  override name = 'PkiError';
}

/** A certificate signing request that cannot be used: unparsable, bad self-signature, wrong subject. */
export class CsrError extends PkiError {
  override name = 'CsrError';
}

export const isPkiError = (e: unknown): e is PkiError => e instanceof PkiError;
