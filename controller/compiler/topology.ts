/**
 * Which sites peer, by the topology policy:
 * - hub-spoke: spoke ↔ hub, and hubs mesh among themselves;
 * - full-mesh: every pair;
 * - regional: every pair within a region, plus every site ↔ every hub.
 * Pairs the policy does not connect become on-demand peers when `topology.onDemand.enabled` (their paths
 * are listed but not probed until traffic brings the tunnel up); otherwise they do not peer at all.
 */
import type { Intent, Site, Transport } from '../intent/index.ts';

/** How two sites peer: always-on and probed, on demand, or not at all. */
export type Peering = 'direct' | 'on-demand' | 'none';

export function peering(intent: Intent, a: Site, b: Site): Peering {
  if (a.name === b.name) return 'none';
  const { policy, onDemand } = intent.topology;
  const hub = a.role === 'hub' || b.role === 'hub';
  const direct = policy === 'full-mesh' || hub || (policy === 'regional' && a.region !== undefined && a.region === b.region);
  if (direct) return 'direct';
  return onDemand.enabled ? 'on-demand' : 'none';
}

/**
 * Whether a tunnel may join these two transports: the same colour always; different colours only when
 * neither restricts and both are public (two internet links reach each other, an MPLS cloud does not).
 */
export function compatible(a: Transport, b: Transport): boolean {
  if (a.colour === b.colour) return true;
  return !a.restrict && !b.restrict && a.type === 'public' && b.type === 'public';
}

/** Hubs in order of preference for `site`: those in its own region first, then the topology order. */
export function hubsFor(intent: Intent, site: Site): Site[] {
  const hubs = intent.topology.hubs.map((h) => intent.sites[h]!).filter((h) => h.name !== site.name);
  const local = hubs.filter((h) => site.region !== undefined && h.region === site.region);
  return [...local, ...hubs.filter((h) => !local.includes(h))];
}
