/**
 * Test helpers for the promotion tests: a store seeded with two intent versions and N edges on version 1, and
 * simulated edges that do what the edge API does for real ones (ack by setting applied*, report failures in
 * the audit log as `bundle.ack` errors, refresh last-seen and health) against the same store.
 */
import type { Clock } from '../../controller/promotion/index.ts';
import type { Store } from '../../controller/store/index.ts';

/** Versions 1 and 2 with a bundle for every edge; every edge desires, and runs, version 1. */
export async function seedStore(store: Store, edges: string[], at: number): Promise<void> {
  for (const v of [1, 2]) {
    await store.insertVersion(
      { parent: v === 1 ? null : 1, author: 'test', message: `v${v}`, intentYaml: `# v${v}\n`, intentHash: `ih${v}`, createdAt: at },
      edges.map((e) => ({ edge: e, hash: `h${v}-${e}`, envelope: { v, e } })),
    );
  }
  for (const e of edges) {
    await store.upsertEdge(e, { site: e, desiredVersion: 1, appliedVersion: 1, appliedHash: `h1-${e}`, appliedAt: at, lastSeen: at, health: { healthy: true, slaCompliance: 1 } });
  }
}

/** How a simulated edge reacts to a new desired version, and what health it reports on a version. */
export interface EdgeBehaviour {
  ack?(edge: string, version: number): 'ok' | 'fail' | 'ignore';
  health?(edge: string, version: number | null): { healthy: boolean; slaCompliance: number; reason?: string };
}

/**
 * Runs simulated edges until `signal` aborts: every `stepMs` of `clock` each edge is seen, and an edge whose
 * desired version differs from its applied one acks it `ackDelayMs` after noticing it (or reports a failure
 * once, or stays silent about it). Resolves with how often each `edge@version` was applied.
 */
export async function simulateEdges(store: Store, edges: string[], clock: Clock, b: EdgeBehaviour, signal: AbortSignal, stepMs = 500, ackDelayMs = 0): Promise<Map<string, number>> {
  const reported = new Set<string>();
  const noticed = new Map<string, number>();
  /** How often each `edge@version` was applied. */
  const applies = new Map<string, number>();
  while (!signal.aborted) {
    for (const name of edges) {
      const e = await store.getEdge(name);
      if (!e) continue;
      const now = clock.now();
      let applied = e.appliedVersion;
      const patch: Parameters<Store['updateEdge']>[1] = { lastSeen: now };
      if (e.desiredVersion !== null && e.desiredVersion !== e.appliedVersion) {
        const key = `${name}@${e.desiredVersion}`;
        if (!noticed.has(key)) noticed.set(key, now);
        const r = now - noticed.get(key)! < ackDelayMs ? 'ignore' : b.ack?.(name, e.desiredVersion) ?? 'ok';
        if (r === 'ok') {
          noticed.delete(key);
          applies.set(key, (applies.get(key) ?? 0) + 1);
          Object.assign(patch, { appliedVersion: e.desiredVersion, appliedHash: `h${e.desiredVersion}-${name}`, appliedAt: now });
          applied = e.desiredVersion;
        }
        if (r === 'fail' && !reported.has(`${name}@${e.desiredVersion}`)) {
          reported.add(`${name}@${e.desiredVersion}`);
          await store.appendAudit({ at: now, actor: `edge:${name}`, action: 'bundle.ack', target: `edge:${name}`, outcome: 'error', detail: { version: e.desiredVersion, hash: `h${e.desiredVersion}-${name}`, reason: 'bundle rejected: map update failed' } });
        }
      }
      patch.health = b.health?.(name, applied) ?? { healthy: true, slaCompliance: 1 };
      await store.updateEdge(name, patch);
    }
    await clock.sleep(stepMs, signal).catch(() => {});
  }
  return applies;
}

/** Per edge, the versions the controller set as desired, oldest first (from the audit log). */
export async function desiredWrites(store: Store): Promise<Map<string, (number | null)[]>> {
  const out = new Map<string, (number | null)[]>();
  const entries = (await store.listAudit({ action: 'edge.set-desired', outcome: 'ok', limit: 100_000 })).sort((a, b) => a.id - b.id);
  for (const a of entries) {
    const edge = a.target!.replace(/^edge:/, '');
    out.set(edge, [...(out.get(edge) ?? []), (a.detail as { version: number | null }).version]);
  }
  return out;
}
