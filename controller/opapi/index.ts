/**
 * controller/opapi — the operator API: an HTTP(S) request handler for people and CI (versions, diffs,
 * rollbacks, promotions, edges, certificate revocation, tokens, the audit log). Bearer tokens are stored hashed;
 * roles nest admin ⊃ operator ⊃ viewer (viewer reads, operator pushes/promotes/approves, admin manages tokens,
 * edges and revocation). Every change and every refused attempt lands in the audit log.
 */
export { createOpApiHandler, HttpError, type OpApiOptions, type PromotionActions, type Caller } from './handler.ts';
export { createOperatorToken, generateToken, hashToken, allows, isRole, TOKEN_PREFIX, type CreatedToken } from './tokens.ts';
