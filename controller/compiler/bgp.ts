/**
 * The bundle's BGP section for one edge: its site's `bgp.sites.<site>` from the intent, with the router id
 * filled (the edge's first WAN, else LAN, IPv4 address, unless the intent sets one), the site's LAN prefixes
 * added to `networks` when `advertiseLan` is set, and only the policies its neighbours name. A site without
 * BGP gets `{}` (no BGP), so bundles of intents without BGP are unchanged.
 */
import { isIPv6 } from 'node:net';
import type { BundleBgp } from '../../dataplane/bundle/index.ts';
import { InputError, type InputIssue } from '../../dataplane/validate.ts';
import type { Intent } from '../intent/index.ts';
import type { EdgeView } from './attach.ts';

/**
 * Check the intent's BGP neighbours against the edges' addresses: an IPv6 neighbour needs an IPv6
 * address on some interface of every edge of its site (else the session can never come up, and no
 * IPv6 next hop could be judged on-link). Example error:
 * `intent.yaml: bgp.sites.s1.neighbors[1].address: IPv6 neighbour 2001:db8:ff::2, but edge edge1 has no IPv6 interface address (give its link endpoint an ipv6)`.
 * @throws InputError naming the intent file and key path.
 */
export function checkBgpNeighbors(intent: Intent, edges: readonly EdgeView[], intentFile: string): void {
  const issues: InputIssue[] = [];
  for (const edge of edges) {
    const site = intent.bgp.sites?.[edge.site.name];
    if (!site) continue;
    const has6 = [...edge.wans, ...edge.lans].some((x) => x.iface.ipv6.length > 0);
    site.neighbors.forEach((n, i) => {
      if (isIPv6(n.address) && !has6) issues.push({ path: ['bgp', 'sites', edge.site.name, 'neighbors', i, 'address'], message: `IPv6 neighbour ${n.address}, but edge ${edge.node} has no IPv6 interface address (give its link endpoint an ipv6)` });
    });
  }
  if (issues.length) throw new InputError(intentFile, issues);
}

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
