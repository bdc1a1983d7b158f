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
 * describe this edge's own networks. A BGP route whose next hop lies in a connected subnet of one of the
 * bundle's interfaces is installed `via <next hop> dev <that interface>`; any other next hop (multi-hop
 * iBGP) is resolved one level deep through the longest covering route of the table (bundle routes and
 * the BGP routes of the first pass) and installed `via <its gateway> dev <its device>` — in the segment's
 * table, and as an overlay
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
  /** Recursive next hop only: the gateway actually installed, from the route covering `nextHop`. */
  via?: string;
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
      : { reason: 'recursive' };
    hops.set(k, j);
    return j;
  };
  const install = (r: BgpFibRoute, source: 'ebgp' | 'ibgp', table: number | 'main', via: string, dev: string, kind: 'local' | 'internet', recursive: boolean) => {
    // No holder.set: the speaker gives one best path per (segment, prefix), so no later BGP route can
    // collide with this one (and a million Map.set calls per batch are not free).
    out.kernel.routes.push({ dst: r.prefix, via, dev, table });
    if (overlayRoutes < OVERLAY_BGP_ROUTE_LIMIT) {
      const list = out.overlay.get(r.segment) ?? [];
      list.push(kind === 'local' ? { prefix: r.prefix, kind, interface: dev } : { prefix: r.prefix, kind });
      out.overlay.set(r.segment, list);
      overlayRoutes++;
    } else out.bgp.overlayOmitted++;
    out.bgp.installed.push({ segment: r.segment, prefix: r.prefix, nextHop: r.nextHop!, dev, kind, source, peer: r.peer!, ...(recursive ? { via } : {}) });
  };
  // Next hops off every connected subnet wait for the second pass: resolved through the merged routes.
  const deferred: { r: BgpFibRoute; source: 'ebgp' | 'ibgp'; table: number | 'main' }[] = [];
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
    if (reason === 'recursive') { deferred.push({ r, source, table }); continue; }
    if (!dev || !kind) { skip(r, reason!); continue; }
    install(r, source, table, r.nextHop, dev, kind, false);
  }
  if (!deferred.length) return out;

  // Recursive next hops (an iBGP next hop several hops away): the longest route of the segment's table
  // covering the next hop — a bundle route, or a BGP route installed in the first pass — gives gateway
  // and device. One level: a route resolved here does not resolve others. The whole merge runs again on
  // every bundle apply and BGP batch, so when the covering route changes the dependants follow in the
  // same write (the kernel writer's diff rewrites them).
  const lpm = new Map<number | 'main', Map<number, Map<number, KernelRoute>>>();
  for (const kr of out.kernel.routes) {
    const [base, len] = (kr.dst === 'default' ? '0.0.0.0/0' : kr.dst).split('/');
    if (!isIPv4(base!)) continue;
    const bits = Number(len ?? 32);
    const byLen = lpm.get(kr.table) ?? new Map<number, Map<number, KernelRoute>>();
    lpm.set(kr.table, byLen);
    const m = byLen.get(bits) ?? new Map<number, KernelRoute>();
    byLen.set(bits, m);
    m.set(ip4(base!) & maskOf(bits), kr);
  }
  const lens = new Map([...lpm].map(([t, byLen]) => [t, [...byLen.keys()].sort((a, b) => b - a)] as const));
  const resolved = new Map<string, KernelRoute | undefined>();
  const resolve = (table: number | 'main', nh: string): KernelRoute | undefined => {
    const k = `${table}|${nh}`;
    if (resolved.has(k)) return resolved.get(k);
    const a = ip4(nh);
    let hit: KernelRoute | undefined;
    for (const bits of lens.get(table) ?? []) {
      hit = lpm.get(table)!.get(bits)!.get(a & maskOf(bits));
      if (hit) break;
    }
    resolved.set(k, hit);
    return hit;
  };
  for (const { r, source, table } of deferred) {
    const cover = resolve(table, r.nextHop!);
    if (!cover) { skip(r, `next hop ${r.nextHop} is neither on a connected subnet nor covered by a route`); continue; }
    if (cover.blackhole || !cover.via || !cover.dev) { skip(r, `next hop ${r.nextHop} resolves to ${cover.dst}, which has no gateway (${cover.blackhole ? 'blackhole' : 'no next hop'})`); continue; }
    const kind = bundle.interfaces.lan.some((l) => l.name === cover.dev) ? 'local' : 'internet';
    install(r, source, table, cover.via, cover.dev, kind, true);
  }
  return out;
}

/** Netmask of a prefix length as a signed 32-bit number (compare with `ip4(x) & mask`). */
const maskOf = (bits: number) => (bits === 0 ? 0 : 0xffffffff << (32 - bits));

/**
 * Whether two merges give the same overlay routes (same segments, same entries in the same order): when
 * they do, a BGP batch need not touch the overlay maps at all — e.g. once the overlay limit is reached,
 * further routes of a full table go to the kernel only.
 */
export function sameOverlay(a: ReadonlyMap<string, BundleRoute[]>, b: ReadonlyMap<string, BundleRoute[]>): boolean {
  if (a.size !== b.size) return false;
  for (const [seg, xs] of a) {
    const ys = b.get(seg);
    if (!ys || ys.length !== xs.length) return false;
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i]!, y = ys[i]!;
      if (x.prefix !== y.prefix || x.kind !== y.kind || (x as { interface?: string }).interface !== (y as { interface?: string }).interface) return false;
    }
  }
  return true;
}

/** The bundle with the merge's extra overlay routes appended to their segments (for the overlay maps). */
export function withOverlayRoutes(bundle: Bundle, extra: ReadonlyMap<string, BundleRoute[]>): Bundle {
  if (!extra.size) return bundle;
  return { ...bundle, segments: bundle.segments.map((s) => (extra.has(s.name) ? { ...s, routes: [...s.routes, ...extra.get(s.name)!] } : s)) };
}
