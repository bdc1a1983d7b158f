/**
 * Errors of dataplane/wanopt: one base class, one subclass per failure kind, a type guard. Protocol errors
 * carry a machine-readable `code` so a session can tell its peer (and its log) what went wrong.
 */

/** Base class of every WAN-opt error. */
export class WanoptError extends Error {
  override name = 'WanoptError';
}

/** Why a stream-protocol frame or session was rejected. */
export type ProtocolErrorCode =
  | 'bad-magic' | 'bad-version' | 'unknown-type' | 'oversized' | 'truncated' | 'malformed'
  | 'digest-mismatch' | 'decompress' | 'unknown-flow' | 'unknown-chunk' | 'peer-error';

/** A frame or session that broke the stream protocol; the session is closed, no byte is delivered wrong. */
export class ProtocolError extends WanoptError {
  override name = 'ProtocolError';
  constructor(readonly code: ProtocolErrorCode, message: string, options?: { cause?: unknown }) {
    super(`wanopt protocol: ${code}: ${message}`, options);
  }
}

/** Data whose SHA-256 does not match the fingerprint it was offered under. */
export class FingerprintError extends WanoptError {
  override name = 'FingerprintError';
}

/** An FEC block or parameter that cannot be coded (e.g. k + m > 255, shards of different lengths). */
export class FecError extends WanoptError {
  override name = 'FecError';
}

export const isWanoptError = (e: unknown): e is WanoptError => e instanceof WanoptError;
export const isProtocolError = (e: unknown): e is ProtocolError => e instanceof ProtocolError;
