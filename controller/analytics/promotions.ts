/**
 * Promotion transitions into the analytics store. The promotion runner persists every transition in the
 * SQLite store and writes an audit entry for it (`promotion.start`, `promotion.step` with the new status,
 * `promotion.approve|abort|resume`); this copies those entries — with their exact times — into
 * `promotion_events`, continuing after the largest audit id already copied, so a re-run copies nothing twice.
 */
import type { AuditEntry, Store } from '../store/index.ts';
import type { AnalyticsRow, AnalyticsStore } from './store.ts';

/** Audit actions that are promotion transitions. */
export const PROMOTION_ACTIONS = ['promotion.start', 'promotion.step', 'promotion.approve', 'promotion.abort', 'promotion.resume'] as const;

/** Audit entries of `action` with an id above `after`, oldest first (the store lists newest first, by limit). */
async function newer(store: Store, action: string, after: number): Promise<AuditEntry[]> {
  for (let limit = 500; ; limit *= 4) {
    const got = await store.listAudit({ action, limit });
    if (got.length < limit || got[got.length - 1]!.id <= after) return got.filter((e) => e.id > after).reverse();
  }
}

/**
 * Copies promotion transitions not yet in `analytics` from `store`'s audit log.
 * @returns rows added.
 * @example await syncPromotions(store, analytics)   // → 3 after a promotion went validate → verify → canary
 */
export async function syncPromotions(store: Store, analytics: AnalyticsStore): Promise<number> {
  const after = (await analytics.maxOf('promotion_events', 'audit_id')) ?? 0;
  const entries = (await Promise.all(PROMOTION_ACTIONS.map((a) => newer(store, a, after)))).flat().sort((a, b) => a.id - b.id);
  if (!entries.length) return 0;
  const versions = new Map<string, { version: number | null; fromVersion: number | null }>();
  const rows: AnalyticsRow[] = [];
  for (const e of entries) {
    const id = e.target?.startsWith('promotion:') ? e.target.slice('promotion:'.length) : null;
    if (id && !versions.has(id)) {
      const p = await store.getPromotion(id);
      versions.set(id, { version: p?.version ?? null, fromVersion: p?.fromVersion ?? null });
    }
    const d = (e.detail ?? {}) as Record<string, unknown>;
    const v = id ? versions.get(id)! : { version: null, fromVersion: null };
    rows.push({
      audit_id: e.id, at_ms: e.at, promotion_id: id, version: v.version ?? (typeof d.version === 'number' ? d.version : null), from_version: v.fromVersion,
      action: e.action, status: e.action === 'promotion.start' ? 'started' : typeof d.status === 'string' ? d.status : null,
      outcome: e.outcome, actor: e.actor, detail: JSON.stringify(e.detail ?? null),
    });
  }
  await analytics.transaction((append) => append('promotion_events', rows));
  return rows.length;
}
