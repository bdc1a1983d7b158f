/**
 * Kernel FIB programming from a bundle. Until the XDP overlay data plane lands, the agent forwards
 * remote-site traffic natively over an on-link path (a private underlay whose peers share a subnet, such
 * as an MPLS L2/L3VPN) and installs underlay host routes to every peer reached through a gateway (routed
 * underlays), which probes and the overlay use. Routes that need the overlay are reported, not faked.
 *
 * Every route carries protocol number {@link RTPROT_PATRONUS} so the agent can find its own routes and
 * replace them in place (`ip route replace`), deleting only those no longer wanted: no forwarding gap on
 * updates and nothing touched that the agent did not write.
 */
import type { Bundle, BundlePath } from '../bundle/schema.ts';

/** Route protocol number marking the agent's routes (unassigned in iproute2's rt_protos). */
export const RTPROT_PATRONUS = 250;

/** Segments beyond the first get their own routing table: 1000 + segment id. */
export const segmentTable = (id: number) => 1000 + id;

export interface KernelRoute {
  /** Destination prefix ("default" is written 0.0.0.0/0). */
  dst: string;
  /** Next hop; absent for blackholes. */
  via?: string;
  dev?: string;
  blackhole?: boolean;
  table: number | 'main';
}

export interface RoutePlan {
  routes: KernelRoute[];
  /** ip rules steering a LAN interface into its segment's table. */
  rules: { iif: string; table: number }[];
  /** Routes the kernel fallback cannot carry, with the reason. */
  skipped: { segment: string; prefix: string; reason: string }[];
}

const ROLE_ORDER = { active: 0, backup: 1, 'last-resort': 2 } as const;

/** Path choice for native forwarding: on-link only; then role, then the default rule's transport order, then id. */
function pickOnLinkPath(b: Bundle, site: string, segment: string): BundlePath | undefined {
  const rule = b.rules.find((r) => r.segment === segment && r.appClass === 'default') ?? b.rules.find((r) => r.segment === segment);
  const pref = rule?.preferred ?? [];
  const rank = (t: string) => (pref.indexOf(t) < 0 ? pref.length : pref.indexOf(t));
  return b.paths
    .filter((p) => p.peerSite === site && p.gateway === undefined)
    .sort((x, y) => ROLE_ORDER[x.role] - ROLE_ORDER[y.role] || rank(x.transport) - rank(y.transport) || x.id - y.id)[0];
}

/** The kernel routes and rules a bundle asks for (pure). */
export function planKernelRoutes(b: Bundle): RoutePlan {
  const plan: RoutePlan = { routes: [], rules: [], skipped: [] };
  const seen = new Set<string>();
  for (const p of b.paths) {
    if (!p.gateway) continue;
    const key = `${p.remoteAddress}|${p.localInterface}`;
    if (seen.has(key)) continue;
    seen.add(key);
    plan.routes.push({ dst: `${p.remoteAddress}/32`, via: p.gateway, dev: p.localInterface, table: 'main' });
  }
  b.segments.forEach((seg, i) => {
    const table = i === 0 ? 'main' : segmentTable(seg.id);
    if (table !== 'main') for (const lan of b.interfaces.lan.filter((l) => l.segment === seg.name)) plan.rules.push({ iif: lan.name, table });
    for (const r of seg.routes) {
      if (r.kind === 'local') continue; // connected routes already cover a site's own LANs
      if (r.kind === 'drop') { plan.routes.push({ dst: r.prefix, blackhole: true, table }); continue; }
      if (r.kind === 'internet') { plan.skipped.push({ segment: seg.name, prefix: r.prefix, reason: 'direct internet breakout needs NAT on the WAN interface (not programmed yet)' }); continue; }
      const target = r.via ?? r.site!;
      const path = pickOnLinkPath(b, target, seg.name);
      if (!path) { plan.skipped.push({ segment: seg.name, prefix: r.prefix, reason: `no on-link path to site ${target}; needs the overlay` }); continue; }
      plan.routes.push({ dst: r.prefix, via: path.remoteAddress, dev: path.localInterface, table });
    }
  });
  return plan;
}

const routeKey = (r: { dst: string; table: number | 'main' }) => `${r.table}|${r.dst === 'default' ? '0.0.0.0/0' : r.dst}`;

function routeLine(verb: 'replace' | 'delete', r: KernelRoute): string {
  const parts = ['route', verb];
  if (r.blackhole) parts.push('blackhole');
  parts.push(r.dst);
  if (r.via) parts.push('via', r.via);
  if (r.dev) parts.push('dev', r.dev);
  if (verb === 'replace') parts.push('proto', String(RTPROT_PATRONUS));
  if (r.table !== 'main') parts.push('table', String(r.table));
  return parts.join(' ');
}

/**
 * `ip -batch` lines that move the kernel from `current` (the agent's routes now, from
 * `ip -j route show proto 250 table all`) to `plan`: replace every wanted route, delete the rest.
 */
export function routeBatch(plan: RoutePlan, current: { dst: string; table: number | 'main'; type?: string }[]): string[] {
  const want = new Set(plan.routes.map(routeKey));
  const lines = plan.routes.map((r) => routeLine('replace', r));
  for (const c of current) {
    if (!want.has(routeKey(c))) lines.push(`route delete ${c.type === 'blackhole' ? 'blackhole ' : ''}${c.dst === 'default' ? '0.0.0.0/0' : c.dst} proto ${RTPROT_PATRONUS}${c.table !== 'main' ? ` table ${c.table}` : ''}`);
  }
  return lines;
}
