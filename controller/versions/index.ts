/**
 * controller/versions — intent history. Each push validates and compiles the intent for every edge, signs each
 * bundle with the controller's Ed25519 key (created on first use in the state directory) and appends one
 * version with all its bundles atomically. History is append-only: a rollback is a new version restoring an
 * earlier version's intent. Diffs are semantic (resolved intents, keyed by name) and carry the blast radius
 * computed from the stored bundle hashes.
 */
export { UnknownVersionError } from './errors.ts';
export { addVersion, rollbackTo, intentHash, type AddVersionOptions, type AddedVersion, type IntentSource } from './push.ts';
export { diffIntents, diffInventories, blastRadius, diffVersions, type IntentChange, type InventoryChange, type BlastRadius, type VersionDiff } from './diff.ts';
export { loadOrCreateSigningKey, SIGNING_KEY_FILE, type SigningKey } from './keys.ts';
export { evictAfterRevocation, evictRevokedEdge, type CertificateEviction, type Eviction } from './evict.ts';
