/** Appending intent versions: compile against an inventory, sign every edge's bundle, store it all at once. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { signBundle } from '../../dataplane/bundle/signature.ts';
import { InputError } from '../../dataplane/errors.ts';
import type { Inventory } from '../../dataplane/inventory.ts';
import { compile, type CompiledBundle } from '../compiler/index.ts';
import { parseIntent } from '../intent/index.ts';
import type { IntentVersion, Role, Store } from '../store/index.ts';
import { blastRadius, type BlastRadius } from './diff.ts';
import { UnknownVersionError } from './errors.ts';

/** Where an intent comes from: a file on disk, or its text (with the name errors should show). */
export type IntentSource = { file: string } | { yaml: string; file?: string };

/** Options of {@link addVersion}. */
export interface AddVersionOptions {
  author: string;
  message: string;
  /** The edges to compile for: the twin's lab-derived inventory today, the enrolled edges' reports later. */
  inventory: Inventory;
  /** Named by errors about the inventory (e.g. the lab file). Default "inventory". */
  inventoryFile?: string;
  /** The controller's Ed25519 private key ({@link loadOrCreateSigningKey}). */
  signingKey: KeyObject;
  /** Set by {@link rollbackTo}: the version whose intent this one restores. */
  restores?: number;
  /**
   * When given, an audit entry (`intent.push`, or `intent.rollback` for a rollback) is written in the same
   * transaction as the version, so the log can never miss a stored version.
   */
  audit?: { actor: string; role?: Role | null };
}

/** What {@link addVersion} stored. */
export interface AddedVersion {
  version: IntentVersion;
  /** Edge → compiled bundle (already signed and stored). */
  bundles: Map<string, CompiledBundle>;
  /** Compiler warnings (compiles, but probably not what was meant). */
  warnings: string[];
  /** Blast radius from the parent version; null for the first version. */
  blast: BlastRadius | null;
}

/** sha256 hex of an intent file's text. */
export const intentHash = (yaml: string) => createHash('sha256').update(yaml, 'utf8').digest('hex');

function readSource(src: IntentSource): { yaml: string; file: string } {
  if ('yaml' in src) return { yaml: src.yaml, file: src.file ?? 'intent.yaml' };
  try {
    return { yaml: readFileSync(src.file, 'utf8'), file: src.file };
  } catch (cause) {
    throw new InputError(src.file, [{ path: [], message: `cannot read the intent file: ${(cause as Error).message}` }], { cause });
  }
}

/**
 * Validates and compiles an intent for every edge of `inventory`, signs each bundle and appends one version
 * with all its bundles in one transaction; its parent is the latest version at that moment. Nothing is
 * stored when the intent is invalid or does not compile.
 * @throws InputError (exit 2) naming the file and key path when the intent is malformed or does not fit the
 *   inventory.
 * @example
 * const { version } = await addVersion(store, { file: 'intent.yaml' },
 *   { author: 'alice', message: 'voice latency 120ms', inventory, signingKey: key.privateKey });
 */
export async function addVersion(store: Store, source: IntentSource, opts: AddVersionOptions): Promise<AddedVersion> {
  const { yaml, file } = readSource(source);
  const intent = parseIntent(yaml, file);
  const { bundles, warnings } = compile(opts.inventory, intent, { intentFile: file, inventoryFile: opts.inventoryFile ?? 'inventory' });
  const signed = [...bundles].map(([edge, b]) => {
    const envelope = signBundle(b.bundle, opts.signingKey);
    return { edge, hash: envelope.hash, envelope };
  });
  const { version, blast } = await store.tx(async (tx) => {
    const parent = await tx.latestVersion();
    const version = await tx.insertVersion({
      parent: parent?.id ?? null, author: opts.author, message: opts.message, intentYaml: yaml,
      intentHash: intentHash(yaml), restores: opts.restores ?? null,
      inventory: opts.inventory, inventorySource: opts.inventoryFile ?? 'inventory',
    }, signed);
    const blast = parent ? await blastRadius(tx, parent.id, version.id) : null;
    if (opts.audit) {
      await tx.appendAudit({
        actor: opts.audit.actor, role: opts.audit.role ?? null, action: opts.restores !== undefined ? 'intent.rollback' : 'intent.push',
        target: `version:${version.id}`, outcome: 'ok',
        detail: { parent: parent?.id ?? null, restores: opts.restores ?? null, edges: signed.length, intentHash: version.intentHash, blast: blast?.summary ?? null },
      });
    }
    return { version, blast };
  });
  return { version, bundles, warnings, blast };
}

/**
 * Rolls back to version `to`: appends a NEW version whose intent is `to`'s (history stays append-only),
 * recompiled against today's inventory and signed again.
 * @example await rollbackTo(store, 3, { author: 'alice', inventory, signingKey }); // → version N+1 restoring 3
 */
export async function rollbackTo(
  store: Store, to: number, opts: Omit<AddVersionOptions, 'restores' | 'message'> & { message?: string },
): Promise<AddedVersion> {
  const target = await store.getVersion(to);
  if (!target) throw new UnknownVersionError('rollback', to, (await store.latestVersion())?.id ?? null);
  return addVersion(store, { yaml: target.intentYaml, file: `version ${to}` }, {
    ...opts, message: opts.message ?? `rollback to version ${to}`, restores: to,
  });
}
