/**
 * The agent's route merge: ONE place where every route source meets and the FIB is decided — the kernel
 * routes (kernel-routes.ts's RTPROT_PATRONUS scheme, so one replace/delete sync installs and withdraws
 * both bundle and BGP routes) and the extra overlay route entries (pt_routes4, see overlay.ts).
 * Not to be confused with dataplane/xdp/fib.ts, which encodes map entries.
 *
 * Sources and precedence, per segment and exact prefix (lower wins; longest-prefix match between
 * different prefixes stays the lookup's job, in the kernel and the LPM maps alike):
 *
 *   0 connected — the subnets of the bundle's interfaces (LANs in their segment, WANs in every segment)
 *                 and the bundle's `local` routes
 *   1 bundle    — the bundle's remote / internet / drop routes and the underlay host routes to peers
 *   2 eBGP      — the speaker's best path when learned from an external peer
 *   3 iBGP      — the speaker's best path when learned from an internal peer
 *
 * eBGP over iBGP for one prefix is decided inside the speaker (decision process); the ranks here matter
 * when sources collide. Routes the speaker originates itself (peer undefined) are not installed: they
 * describe this edge's own networks. A BGP route is installed only when its next hop lies in a connected
 * subnet of one of the bundle's interfaces (no recursive next-hop resolution; multi-hop iBGP next hops
 * are reported as skipped): `via <next hop> dev <that interface>` in the segment's table, and as an overlay
 * route of kind `local` when the interface is a LAN, `internet` when it is a WAN. Both kinds pass the
 * packet to the kernel stack in the LAN program, so a BGP more-specific inside a remote-site aggregate
 * leaves the overlay and follows the kernel route. IPv6 BGP routes are reported as skipped (the bundle's
 * interfaces carry IPv4 only). The overlay LPM map holds 65 536 IPv4 entries: BGP routes beyond
 * {@link OVERLAY_BGP_ROUTE_LIMIT} (counted with the bundle's routes) still go to the kernel but not into the
 * map, and are counted in `overlayOmitted` (a covering remote-site aggregate then still steers them into the
 * overlay).
 */
import { isIPv4 } from 'node:net';
import type { Bundle, BundleRoute } from '../bundle/schema.ts';
import { segmentTable, type KernelRoute, type RoutePlan } from './kernel-routes.ts';

/** Route sources, best first. */
export const SOURCE_RANK = { connected: 0, bundle: 1, ebgp: 2, ibgp: 3 } as const;
export type RouteSource = keyof typeof SOURCE_RANK;

/** IPv4 overlay route entries (bundle + BGP) the merge writes at most; pt_routes4 holds 65 536. */
export const OVERLAY_BGP_ROUTE_LIMIT = 60_000;

/** One best path from the speaker, reduced to what the FIB needs. */
export interface BgpFibRoute {
  segment: string;
  prefix: string;
  nextHop?: string;
  /** Neighbour address; undefined for routes this speaker originates. */
  peer?: string;
  ibgp: boolean;
}

export interface InstalledBgpRoute {
  segment: string;
  prefix: string;
  nextHop: string;
  dev: string;
  kind: 'local' | 'internet';
  source: 'ebgp' | 'ibgp';
  peer: string;
}

export interface MergedFib {
  /** The bundle's kernel plan with the installed BGP routes added. */
  kernel: RoutePlan;
  /** Extra overlay routes per segment name (BGP-learned, kind local or internet). */
  overlay: Map<string, BundleRoute[]>;
  bgp: {
    installed: InstalledBgpRoute[];
    /** BGP best paths not installed and why (shadowed by a better source, unusable next hop, ...). */
    skipped: { segment: string; prefix: string; reason: string }[];
    /** Best paths this edge originates itself (not installed). */
    originated: number;
    /** Installed in the kernel but left out of the overlay map (over {@link OVERLAY_BGP_ROUTE_LIMIT}). */
    overlayOmitted: number;
  };
}

/** a.b.c.d → 32-bit number. */
function ip4(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

function inSubnet(addr: string, ifAddr: string): boolean {
  const [base, len] = ifAddr.split('/');
  const bits = Number(len ?? 32);
  if (!isIPv4(addr) || !isIPv4(base!)) return false;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return ((ip4(addr) & mask) >>> 0) === ((ip4(base!) & mask) >>> 0);
}

/** Canonical network of an interface address "10.1.0.1/24" → "10.1.0.0/24". */
function networkOf(ifAddr: string): string {
  const [base, len] = ifAddr.split('/');
  const bits = Number(len ?? 32);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const n = (ip4(base!) & mask) >>> 0;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${bits}`;
}

const tableOf = (b: Bundle, segment: string): number | 'main' | undefined => {
  const i = b.segments.findIndex((s) => s.name === segment);
  if (i < 0) return undefined;
  return i === 0 ? 'main' : segmentTable(b.segments[i]!.id);
};

/**
 * Merge the bundle's kernel plan (from planKernelRoutes) and the speaker's best paths into the routes to
 * install (pure). The result is deterministic: BGP routes sorted by segment and prefix.
 */
export function mergeRoutes(bundle: Bundle, plan: RoutePlan, bgp: readonly BgpFibRoute[]): MergedFib {
  const out: MergedFib = { kernel: { routes: [...plan.routes], rules: [...plan.rules], skipped: [...plan.skipped] }, overlay: new Map(), bgp: { installed: [], skipped: [], originated: 0, overlayOmitted: 0 } };
  let overlayRoutes = bundle.segments.reduce((n, s) => n + s.routes.length, 0);
  // Who holds each (segment, prefix) before BGP: connected, then bundle.
  const holder = new Map<string, RouteSource>();
  const key = (segment: string, prefix: string) => `${segment}|${prefix}`;
  const claim = (segment: string, prefix: string, src: RouteSource) => {
    const k = key(segment, prefix);
    const cur = holder.get(k);
    if (cur === undefined || SOURCE_RANK[src] < SOURCE_RANK[cur]) holder.set(k, src);
  };
  const wans = bundle.interfaces.wan;
  for (const seg of bundle.segments) {
    for (const l of bundle.interfaces.lan.filter((x) => x.segment === seg.name)) for (const a of l.ipv4) claim(seg.name, networkOf(a), 'connected');
    for (const w of wans) for (const a of w.ipv4) claim(seg.name, networkOf(a), 'connected');
    for (const r of seg.routes) claim(seg.name, r.prefix, r.kind === 'local' ? 'connected' : 'bundle');
  }
  const segOfTable = new Map(bundle.segments.map((s, i) => [i === 0 ? 'main' : segmentTable(s.id), s.name] as const));
  for (const r of plan.routes) {
    const seg = segOfTable.get(r.table);
    if (seg !== undefined) claim(seg, r.dst === 'default' ? '0.0.0.0/0' : r.dst, 'bundle');
  }

  const sorted = [...bgp].sort((a, b) => (a.segment < b.segment ? -1 : a.segment > b.segment ? 1 : a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
  const skip = (r: BgpFibRoute, reason: string) => out.bgp.skipped.push({ segment: r.segment, prefix: r.prefix, reason });
  // A full table has few distinct next hops: judge each (segment, next hop) once, not once per prefix.
  const hops = new Map<string, { dev?: string; kind?: 'local' | 'internet'; reason?: string }>();
  const judge = (segment: string, nh: string) => {
    const k = `${segment}|${nh}`;
    let j = hops.get(k);
    if (j) return j;
    const own = [...bundle.interfaces.lan, ...wans].some((i) => i.ipv4.some((a) => a.split('/')[0] === nh));
    const lan = own ? undefined : bundle.interfaces.lan.find((l) => l.segment === segment && l.ipv4.some((a) => inSubnet(nh, a)));
    const wan = own || lan ? undefined : wans.find((w) => w.ipv4.some((a) => inSubnet(nh, a)));
    j = own ? { reason: `next hop ${nh} is this edge` }
      : lan ? { dev: lan.name, kind: 'local' } : wan ? { dev: wan.name, kind: 'internet' }
      : { reason: `next hop ${nh} is not on a connected subnet (no recursive resolution)` };
    hops.set(k, j);
    return j;
  };
  for (const r of sorted) {
    if (r.peer === undefined) { out.bgp.originated++; continue; }
    const source: 'ebgp' | 'ibgp' = r.ibgp ? 'ibgp' : 'ebgp';
    const table = tableOf(bundle, r.segment);
    if (table === undefined) { skip(r, `segment ${r.segment} is not in the bundle`); continue; }
    if (r.prefix.includes(':')) { skip(r, 'IPv6 routes are not programmed (the bundle carries IPv4 interfaces only)'); continue; }
    const held = holder.get(key(r.segment, r.prefix));
    if (held !== undefined && SOURCE_RANK[held] < SOURCE_RANK[source]) { skip(r, `shadowed by a ${held} route`); continue; }
    if (!r.nextHop || !isIPv4(r.nextHop)) { skip(r, `next hop ${r.nextHop ?? 'missing'} is not IPv4`); continue; }
    const { dev, kind, reason } = judge(r.segment, r.nextHop);
    if (!dev || !kind) { skip(r, reason!); continue; }
    holder.set(key(r.segment, r.prefix), source);
    const kr: KernelRoute = { dst: r.prefix, via: r.nextHop, dev, table };
    out.kernel.routes.push(kr);
    if (overlayRoutes < OVERLAY_BGP_ROUTE_LIMIT) {
      const list = out.overlay.get(r.segment) ?? [];
      list.push(kind === 'local' ? { prefix: r.prefix, kind, interface: dev } : { prefix: r.prefix, kind });
      out.overlay.set(r.segment, list);
      overlayRoutes++;
    } else out.bgp.overlayOmitted++;
    out.bgp.installed.push({ segment: r.segment, prefix: r.prefix, nextHop: r.nextHop, dev, kind, source, peer: r.peer });
  }
  return out;
}

/** The bundle with the merge's extra overlay routes appended to their segments (for the overlay maps). */
export function withOverlayRoutes(bundle: Bundle, extra: ReadonlyMap<string, BundleRoute[]>): Bundle {
  if (!extra.size) return bundle;
  return { ...bundle, segments: bundle.segments.map((s) => (extra.has(s.name) ? { ...s, routes: [...s.routes, ...extra.get(s.name)!] } : s)) };
}
