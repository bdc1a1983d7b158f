/**
 * Routes of one edge, per segment it carries ({@link carriedSegments}):
 * - this site's LAN prefixes → `local`, with the LAN interface whose connected subnet contains the prefix;
 * - every other site's prefixes → `remote` (site, siteId, via): via is the site itself when this edge has a
 *   path to it (a direct or on-demand peer), else the first hub it has a path to (spoke → spoke in
 *   hub-spoke hairpins through a hub, as does a pair with no compatible transport);
 * - 0.0.0.0/0 → `internet` when a rule of the segment uses direct-internet, else (on a spoke, when there are
 *   hubs) `remote` via the first reachable hub; never when a site already announces 0.0.0.0/0.
 * Routes are sorted by address family, address, prefix length; segments by id.
 */
import type { BundlePath, BundleRoute, Bundle } from '../../dataplane/bundle/index.ts';
import { networkOf, parsePrefix, type Prefix } from '../../dataplane/net.ts';
import type { Intent, Site } from '../intent/index.ts';
import type { EdgeView } from './attach.ts';
import { hubsFor } from './topology.ts';

const DEFAULT_V4 = '0.0.0.0/0';

function cmpPrefix(a: Prefix, b: Prefix): number {
  return a.family - b.family || (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0) || a.len - b.len;
}

/** Whether `outer` contains all of `inner`. */
function covers(outer: Prefix, inner: Prefix): boolean {
  if (outer.family !== inner.family || outer.len > inner.len) return false;
  const shift = BigInt((outer.family === 4 ? 32 : 128) - outer.len);
  return outer.addr >> shift === inner.addr >> shift;
}

/** The site `edge` sends to for `target`: itself when a path exists, else the first reachable hub. */
export function viaFor(intent: Intent, edge: EdgeView, paths: BundlePath[], target: Site): Site | undefined {
  const reach = new Set(paths.map((p) => p.peerSite));
  if (reach.has(target.name)) return target;
  return hubsFor(intent, edge.site).find((h) => h.name !== target.name && reach.has(h.name));
}

/**
 * The segments an edge carries, like a VRF configured on a router: every segment on a hub (it relays
 * them); elsewhere those where its site has LAN prefixes or a LAN interface — and `default` when that
 * leaves none. An edge never learns routes, rules or SLA classes of segments it does not carry.
 */
export function carriedSegments(intent: Intent, edge: EdgeView): Set<string> {
  const all = Object.keys(intent.segments);
  if (edge.site.role === 'hub') return new Set(all);
  const carried = new Set(all.filter((s) => (edge.site.lanPrefixes[s]?.length ?? 0) > 0 || edge.lans.some((l) => l.segment === s)));
  return carried.size ? carried : new Set(['default']);
}

/** The carried segments (sorted by id) with their routes for `edge`; unreachable sites are left out with a warning. */
export function buildSegments(intent: Intent, edge: EdgeView, paths: BundlePath[], sitesWithEdges: Set<string>, carried: Set<string>, warnings: string[]): Bundle['segments'] {
  const segments = Object.values(intent.segments).filter((s) => carried.has(s.name)).sort((a, b) => a.id - b.id);
  const sites = Object.values(intent.sites).filter((s) => sitesWithEdges.has(s.name)).sort((a, b) => a.id - b.id);
  return segments.map((seg) => {
    const routes: BundleRoute[] = [];
    for (const site of sites) {
      const prefixes = site.lanPrefixes[seg.name] ?? [];
      if (prefixes.length === 0) continue;
      if (site.name === edge.site.name) {
        for (const prefix of prefixes) {
          const p = parsePrefix(prefix)!;
          const lan = edge.lans.find((l) => l.segment === seg.name && [...l.iface.ipv4, ...l.iface.ipv6].some((a) => covers(parsePrefix(networkOf(a))!, p)));
          routes.push({ prefix, kind: 'local', ...(lan ? { interface: lan.iface.name } : {}) });
        }
        continue;
      }
      const via = viaFor(intent, edge, paths, site);
      if (!via) {
        warnings.push(`${edge.node}: segment ${seg.name}: no path to site ${site.name}, directly or through a hub; its prefixes are left out`);
        continue;
      }
      for (const prefix of prefixes) routes.push({ prefix, kind: 'remote', site: site.name, siteId: site.id, via: via.name });
    }
    if (!routes.some((r) => r.prefix === DEFAULT_V4)) {
      const breakout = intent.rules.some((r) => r.segment === seg.name && r.service === 'direct-internet');
      if (breakout) routes.push({ prefix: DEFAULT_V4, kind: 'internet' });
      else if (edge.site.role === 'spoke') {
        const hub = hubsFor(intent, edge.site).find((h) => paths.some((p) => p.peerSite === h.name));
        if (hub) routes.push({ prefix: DEFAULT_V4, kind: 'remote', site: hub.name, siteId: hub.id, via: hub.name });
      }
    }
    const keyed = routes.map((r) => ({ r, p: parsePrefix(r.prefix)! }));
    keyed.sort((a, b) => cmpPrefix(a.p, b.p) || (a.r.kind < b.r.kind ? -1 : a.r.kind > b.r.kind ? 1 : 0));
    return { name: seg.name, id: seg.id, routes: keyed.map((k) => k.r) };
  });
}
