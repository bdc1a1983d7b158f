/**
 * Desired versions and the in-process signal that wakes long-polls. The promotion workflow calls
 * {@link setDesired}; every edge API server serving the same Store object answers its waiting
 * `GET /v1/bundle` at once. Acks and health reports are signalled the same way ({@link onEdgeEvent}) so the
 * workflow need not poll the store.
 */
import { EventEmitter } from 'node:events';
import type { Store } from '../store/index.ts';

/** Something an edge did or the controller decided, as seen by the edge API. */
export type EdgeEvent =
  | { kind: 'desired'; edge: string; version: number }
  | { kind: 'ack'; edge: string; version: number | null; hash: string; ok: boolean; reason: string | null }
  | { kind: 'health'; edge: string }
  | { kind: 'enrolled'; edge: string };

const buses = new WeakMap<Store, EventEmitter>();

/** The signal bus of one store (created on first use). */
export function edgeBus(store: Store): EventEmitter {
  let b = buses.get(store);
  if (!b) { b = new EventEmitter(); b.setMaxListeners(0); buses.set(store, b); }
  return b;
}

/** Subscribe to a store's edge events; returns the unsubscribe function. */
export function onEdgeEvent(store: Store, listener: (e: EdgeEvent) => void): () => void {
  const b = edgeBus(store);
  b.on('event', listener);
  return () => b.off('event', listener);
}

/** Emits an edge event on the store's bus (the edge API does this; exported for the promotion runner's tests). */
export function emitEdgeEvent(store: Store, e: EdgeEvent): void { edgeBus(store).emit('event', e); }

/**
 * Sets the desired intent version of `edges` atomically and wakes their long-polls. Every edge must exist
 * and have a bundle in that version — else nothing changes and an Error names the first that does not.
 * @example await setDesired(store, ['edge1', 'edge2'], 7);
 */
export async function setDesired(store: Store, edges: string[], version: number): Promise<void> {
  await store.tx(async (tx) => {
    // The bundles' hashes, not the bundles: parsing 1,000 signed envelopes (0.1-0.6 MB each) held the store's
    // write lock for seconds, and the serving controller's writes timed out behind it ("database is locked").
    const bundled = new Set((await tx.listBundleHashes(version)).map((b) => b.edge));
    for (const edge of edges) {
      if (!(await tx.getEdge(edge))) throw new Error(`setDesired: unknown edge "${edge}"`);
      if (!bundled.has(edge)) throw new Error(`setDesired: version ${version} has no bundle for edge "${edge}"`);
      await tx.updateEdge(edge, { desiredVersion: version });
    }
  });
  for (const edge of edges) emitEdgeEvent(store, { kind: 'desired', edge, version });
}
