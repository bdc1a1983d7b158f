/**
 * The bundle's BGP section for one edge: its site's `bgp.sites.<site>` from the intent, with the router id
 * filled (the edge's first WAN, else LAN, IPv4 address, unless the intent sets one), the site's LAN prefixes
 * added to `networks` when `advertiseLan` is set, and only the policies its neighbours name. A site without
 * BGP gets `{}` (no BGP), so bundles of intents without BGP are unchanged.
 */
import type { BundleBgp } from '../../dataplane/bundle/index.ts';
import type { Intent } from '../intent/index.ts';
import type { EdgeView } from './attach.ts';

export function buildBgp(intent: Intent, edge: EdgeView): BundleBgp {
  const site = intent.bgp.sites?.[edge.site.name];
  if (!site) return {};
  const addr = [...edge.wans.map((w) => w.iface.ipv4), ...edge.lans.map((l) => l.iface.ipv4)].flat()[0]?.split('/')[0];
  const routerId = site.routerId ?? (addr && /^\d+\.\d+\.\d+\.\d+$/.test(addr) ? addr : undefined);
  const networks = site.networks.map((n) => ({ ...n }));
  if (site.advertiseLan) {
    for (const [segment, prefixes] of Object.entries(edge.site.lanPrefixes).sort(([a], [b]) => (a < b ? -1 : 1))) {
      for (const prefix of prefixes) {
        if (!networks.some((n) => n.prefix === prefix && n.segment === segment)) networks.push({ prefix, segment });
      }
    }
  }
  const used = new Set(site.neighbors.flatMap((n) => [n.import, n.export]).filter((x): x is string => x !== undefined));
  const policies = Object.fromEntries(Object.entries(intent.bgp.policies ?? {}).filter(([name]) => used.has(name)).sort(([a], [b]) => (a < b ? -1 : 1)));
  return {
    asn: site.asn,
    ...(routerId ? { routerId } : {}),
    neighbors: site.neighbors.map((n) => structuredClone(n)),
    networks,
    ...(Object.keys(policies).length ? { policies: structuredClone(policies) } : {}),
  };
}
