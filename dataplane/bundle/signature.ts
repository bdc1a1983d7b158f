/**
 * Signed bundle envelopes (Ed25519, node:crypto only). The controller signs every compiled bundle; an edge
 * verifies the envelope against the controller keys it trusts before applying anything.
 *
 * Envelope (JSON): `{ format: 'patronus-signed-bundle/v1', bundle, hash, keyId, signature }` where
 * - `hash` is {@link contentHash}(bundle) in hex,
 * - `keyId` is the first 16 hex digits of sha256 over the signer's Ed25519 public key in SPKI DER,
 * - `signature` is base64 of the Ed25519 signature over the UTF-8 bytes of `"patronus-bundle/v1:" + hash`.
 * Signing the hash rather than the JSON text keeps the signature independent of key order and whitespace.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { contentHash } from './hash.ts';
import { Bundle } from './schema.ts';

export const SIGNED_BUNDLE_FORMAT = 'patronus-signed-bundle/v1';
const SIGNING_CONTEXT = 'patronus-bundle/v1:';

/** The signed envelope that travels from controller to edge. */
export interface SignedBundle {
  format: typeof SIGNED_BUNDLE_FORMAT;
  bundle: Bundle;
  /** sha256 hex of the bundle's canonical JSON. */
  hash: string;
  /** 16 hex digits identifying the signing key ({@link keyIdOf}). */
  keyId: string;
  /** base64 Ed25519 signature over `"patronus-bundle/v1:" + hash`. */
  signature: string;
}

/** Why an envelope was refused; `kind` lets callers (agent, audit log) report it without parsing text. */
export class SignatureError extends Error {
  override name = 'SignatureError';
  constructor(
    readonly kind: 'malformed' | 'hash-mismatch' | 'unknown-key' | 'bad-signature' | 'invalid-bundle',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isSignatureError = (e: unknown): e is SignatureError => e instanceof SignatureError;

/**
 * Key id of an Ed25519 key (public, or private — its public half is used): first 16 hex of sha256(SPKI DER).
 * @example keyIdOf(publicKey) // 'a3f09c1d22b47e90'
 */
export function keyIdOf(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== 'ed25519') throw new Error(`keyIdOf: expected an Ed25519 key, got ${pub.asymmetricKeyType}`);
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/**
 * Signs `bundle` with an Ed25519 private key.
 * @example const env = signBundle(bundle, privateKey); send(JSON.stringify(env));
 */
export function signBundle(bundle: Bundle, privateKey: KeyObject): SignedBundle {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error('signBundle: expected an Ed25519 private key');
  }
  const hash = contentHash(bundle);
  const signature = sign(null, Buffer.from(SIGNING_CONTEXT + hash, 'utf8'), privateKey).toString('base64');
  return { format: SIGNED_BUNDLE_FORMAT, bundle, hash, keyId: keyIdOf(privateKey), signature };
}

/**
 * Checks an envelope (already JSON-parsed) and returns its bundle, validated against the bundle schema.
 * Order of checks: envelope shape → hash matches the bundle (tampering) → keyId is one of `trustedPublicKeys`
 * → the signature verifies → the bundle is schema-valid.
 * @throws SignatureError naming what failed (kind: malformed, hash-mismatch, unknown-key, bad-signature,
 *   invalid-bundle).
 */
export function verifySignedBundle(env: unknown, trustedPublicKeys: KeyObject[]): Bundle {
  if (env === null || typeof env !== 'object') throw new SignatureError('malformed', 'signed bundle: expected a JSON object');
  const e = env as Record<string, unknown>;
  if (e.format !== SIGNED_BUNDLE_FORMAT) {
    throw new SignatureError('malformed', `signed bundle: format: expected "${SIGNED_BUNDLE_FORMAT}", got ${JSON.stringify(e.format)}`);
  }
  for (const k of ['hash', 'keyId', 'signature'] as const) {
    if (typeof e[k] !== 'string' || e[k] === '') throw new SignatureError('malformed', `signed bundle: ${k}: expected a non-empty string`);
  }
  if (e.bundle === null || typeof e.bundle !== 'object') throw new SignatureError('malformed', 'signed bundle: bundle: expected an object');
  const hash = e.hash as string;
  let actual: string;
  try {
    actual = contentHash(e.bundle);
  } catch (cause) {
    throw new SignatureError('malformed', 'signed bundle: bundle: not hashable JSON', { cause });
  }
  if (actual !== hash) {
    throw new SignatureError('hash-mismatch', `signed bundle: hash mismatch: the envelope says ${hash.slice(0, 16)}…, the bundle hashes to ${actual.slice(0, 16)}… (tampered or corrupted)`);
  }
  const keyId = e.keyId as string;
  const key = trustedPublicKeys.find((k) => keyIdOf(k) === keyId);
  if (!key) {
    const known = trustedPublicKeys.map(keyIdOf).join(', ') || 'none';
    throw new SignatureError('unknown-key', `signed bundle: signed by unknown key ${keyId} (trusted: ${known})`);
  }
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const ok = verify(null, Buffer.from(SIGNING_CONTEXT + hash, 'utf8'), pub, Buffer.from(e.signature as string, 'base64'));
  if (!ok) throw new SignatureError('bad-signature', `signed bundle: signature does not verify with key ${keyId}`);
  const parsed = Bundle.safeParse(e.bundle);
  if (!parsed.success) {
    throw new SignatureError('invalid-bundle', `signed bundle: bundle does not match the bundle schema: ${parsed.error.issues[0]?.message ?? ''}`, { cause: parsed.error });
  }
  return parsed.data;
}
