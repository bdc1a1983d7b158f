/**
 * Revocation reaches the data plane: once every certificate of an edge is revoked, the latest intent is compiled
 * again against the enrolled inventory — which now marks the edge revoked, so the compiler leaves its paths,
 * routes and WireGuard peers out of every other bundle — signed, stored as a new version and made desired on
 * every remaining edge at once. Not verified on the twin first: the change only removes a peer, and waiting for
 * a promotion would leave a stolen edge's tunnels up meanwhile.
 */
import type { KeyObject } from 'node:crypto';
import { setDesired } from '../edgeapi/desired.ts';
import type { Store } from '../store/index.ts';
import type { BlastRadius } from './diff.ts';
import { inventoryFromStore } from './inventory.ts';
import { addVersion } from './push.ts';

/** What {@link evictRevokedEdge} did: the new version and the edges that now desire it. */
export interface Eviction { version: number; edges: string[]; blast: BlastRadius | null }

/** What {@link evictAfterRevocation} did: the edge the certificate belonged to, and its eviction. */
export interface CertificateEviction extends Eviction { edge: string }

/**
 * When `edge` is revoked in the enrolled inventory (all its certificates revoked) and an intent version exists,
 * appends a version with the latest intent compiled without it and sets it desired on every edge that has a
 * bundle in it. Returns null, changing nothing, when the edge is not (fully) revoked, nothing was ever pushed,
 * or the new bundles would equal the latest version's (already evicted).
 * @example await revokeEdgeCertificate(store, serial, 'stolen'); await evictRevokedEdge(store, 's1', { signingKey, actor: 'cli:alice' })
 */
export async function evictRevokedEdge(store: Store, edge: string, opts: { signingKey: KeyObject; actor: string }): Promise<Eviction | null> {
  const src = await inventoryFromStore(store);
  if (!src?.inventory.edges.find((e) => e.node === edge)?.revoked) return null;
  const latest = await store.latestVersion();
  if (!latest) return null;
  const before = new Map((await store.listBundleHashes(latest.id)).map((b) => [b.edge, b.hash]));
  if (!before.has(edge)) return null;
  const r = await addVersion(store, { yaml: latest.intentYaml, file: `version ${latest.id}` }, {
    author: opts.actor, message: `evict ${edge} (every certificate revoked)`, inventory: src.inventory, inventoryFile: src.file,
    signingKey: opts.signingKey, audit: { actor: opts.actor },
  });
  const edges = [...r.bundles.keys()].filter((e) => e !== edge).sort();
  await setDesired(store, edges, r.version.id);
  await store.appendAudit({ actor: opts.actor, action: 'edge.evict', target: edge, outcome: 'ok', detail: { version: r.version.id, edges } });
  return { version: r.version.id, edges, blast: r.blast };
}

/**
 * After certificate `serial` was revoked: evicts the edge it belonged to when that was its last valid certificate
 * ({@link evictRevokedEdge}). Null, changing nothing, for an unknown serial or an edge that still holds a valid one.
 * @example if (await revokeEdgeCertificate(store, serial, 'stolen')) await evictAfterRevocation(store, serial, { signingKey, actor: 'cli:alice' })
 */
export async function evictAfterRevocation(store: Store, serial: string, opts: { signingKey: KeyObject; actor: string }): Promise<CertificateEviction | null> {
  const edge = (await store.getCertificate(serial.toUpperCase()))?.edge;
  const ev = edge ? await evictRevokedEdge(store, edge, opts) : null;
  return ev && edge ? { ...ev, edge } : null;
}
