/**
 * The real {@link Fleet} over the controller's store — what the edge API server (controller/edgeapi) reads and
 * writes for the same edges:
 * - desired version: `edges.desiredVersion`, written inside the runner's transaction, one audit entry
 *   `edge.set-desired` per edge actually changed (so "no edge set twice" is countable); after the commit the
 *   edge API's bus is told (`emitEdgeEvent(store, {kind: 'desired'})`), which answers the edges' long-polls;
 * - ack ok: `edges.appliedVersion` equals the version (the edge API sets it on `POST /v1/ack` with ok);
 * - ack failed: the edge API's audit entry `{action: 'bundle.ack', outcome: 'error', target: 'edge:NAME',
 *   detail: {version, hash, reason}}` at or after the step's start, newer than the edge's last successful apply;
 * - health: `edges.health` JSON as the edge reports it (`POST /v1/health`); the gates read `healthy` (or `ok`),
 *   `slaCompliance` (0..1) and `reason`, plus `edges.lastSeen`.
 */
import { emitEdgeEvent } from '../edgeapi/index.ts';
import type { EdgeRecord, Store } from '../store/index.ts';
import type { AckState, EdgeHealth, Fleet } from './types.ts';

/** The audit action under which the edge API records acks (outcome `error` for a failed apply). */
export const ACK_ACTION = 'bundle.ack';

/**
 * A {@link Fleet} over `store` — the same Store object the edge API server serves, so its long-polls wake.
 * (edgeapi's `setDesired` is not used for the write itself: it opens its own transaction and signals at once,
 * while the runner needs the write inside the snapshot's transaction and the signal only after the commit.)
 * @example const fleet = storeFleet(store); await runPromotions(store, fleet, { clock: realClock });
 */
export function storeFleet(store: Store): Fleet {
  return {
    async setDesired(tx, edges, version, why) {
      const changed: string[] = [];
      for (const name of edges) {
        const e = await tx.getEdge(name);
        if (!e) {
          // Deleted while the promotion ran: nothing to write, but the gap must be visible in the audit log.
          await tx.appendAudit({ at: why.at, actor: 'controller', action: 'edge.set-desired', target: `edge:${name}`, outcome: 'error', detail: { version, promotion: why.promotion, step: why.step, error: 'edge no longer exists' } });
          continue;
        }
        if (e.desiredVersion === version) continue;
        changed.push(name);
        await tx.appendAudit({ at: why.at, actor: 'controller', action: 'edge.set-desired', target: `edge:${name}`, outcome: 'ok', detail: { version, from: e.desiredVersion, promotion: why.promotion, step: why.step } });
      }
      for (const name of changed) await tx.updateEdge(name, { desiredVersion: version });
      return changed;
    },

    committed(edges, version) {
      if (version !== null) for (const edge of edges) emitEdgeEvent(store, { kind: 'desired', edge, version });
    },

    async acks(edges, version, since) {
      const failures = await store.listAudit({ action: ACK_ACTION, outcome: 'error', since, limit: 100_000 });
      const out: AckState[] = [];
      for (const name of edges) {
        const e = await store.getEdge(name);
        if (version === null) { out.push({ edge: name, state: 'ok', at: null }); continue; }
        const failed = failures.find((a) => a.target === `edge:${name}` && (a.detail as { version?: unknown } | null)?.version === version
          && (e?.appliedVersion !== version || (e.appliedAt ?? 0) < a.at));
        if (failed) out.push({ edge: name, state: 'failed', at: failed.at, error: String((failed.detail as { reason?: unknown }).reason ?? 'no reason given') });
        else if (e && e.appliedVersion === version) out.push({ edge: name, state: 'ok', at: e.appliedAt });
        else out.push({ edge: name, state: 'pending' });
      }
      return out;
    },

    async health(edges) {
      const out: EdgeHealth[] = [];
      for (const name of edges) out.push(healthOf(name, await store.getEdge(name)));
      return out;
    },
  };
}

/**
 * One edge's health for the gates, from `edges.health` as the agent reports it (controller-client.ts): an explicit
 * `healthy`/`ok` boolean wins; otherwise the edge is unhealthy when a peer has no path up or degraded, a BGP
 * neighbour is not Established, or the commit-confirmed check of the version it runs failed — the same
 * conditions the agent's own commit-confirmed uses. `slaCompliance` (0..1) and `sla.classes` are read when present.
 */
function healthOf(name: string, e: EdgeRecord | null): EdgeHealth {
  if (!e) return { edge: name, appliedVersion: null, healthy: false, slaCompliance: null, lastSeen: null, detail: 'edge no longer exists' };
  const h = (e.health && typeof e.health === 'object' ? e.health : {}) as Record<string, unknown>;
  const sla = typeof h.slaCompliance === 'number' ? h.slaCompliance : null;
  const classes = (h.sla as { classes?: Record<string, { compliance?: unknown }> } | null | undefined)?.classes;
  const slaClasses = classes && typeof classes === 'object'
    ? Object.fromEntries(Object.entries(classes).filter(([, c]) => typeof c?.compliance === 'number').map(([k, c]) => [k, c.compliance as number])) : null;
  const base = { edge: name, appliedVersion: e.appliedVersion, slaCompliance: sla, slaClasses, lastSeen: e.lastSeen };
  const explicit = typeof h.healthy === 'boolean' ? h.healthy : typeof h.ok === 'boolean' ? h.ok : null;
  if (explicit !== null) return { ...base, healthy: explicit, detail: typeof h.reason === 'string' ? h.reason : null };
  const reasons: string[] = [];
  const paths = Array.isArray(h.paths) ? (h.paths as { peer?: unknown; state?: unknown }[]) : null;
  for (const peer of new Set((paths ?? []).map((p) => String(p.peer)))) {
    const states = paths!.filter((p) => String(p.peer) === peer).map((p) => String(p.state));
    if (!states.some((st) => st === 'up' || st === 'degraded')) reasons.push(`no path to ${peer} is up`);
  }
  const bgp = Array.isArray(h.bgp) ? (h.bgp as { address?: unknown; state?: unknown }[]) : null;
  for (const n of bgp ?? []) if (n.state !== 'Established') reasons.push(`BGP neighbour ${String(n.address)} is ${String(n.state)}`);
  const cc = h.commitConfirmed as { ok?: unknown; version?: unknown; reason?: unknown } | null | undefined;
  if (cc && cc.ok === false && cc.version === e.appliedVersion) reasons.push(`commit-confirmed failed: ${String(cc.reason ?? 'no reason')}`);
  const known = paths !== null || bgp !== null || !!cc;
  return { ...base, healthy: reasons.length ? false : known ? true : null, detail: reasons.length ? reasons.join(', ') : null };
}
