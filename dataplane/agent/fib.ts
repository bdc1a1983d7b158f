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
 * leaves the overlay and follows the kernel route. IPv6 routes follow the same rules against the
 * interfaces' `ipv6` subnets (overlay entries in pt_routes6), with two differences: an IPv6 next hop must be
 * on a connected subnet (no recursive resolution), and a link-local next hop (RFC 2545: MP_REACH carries
 * global + link-local) is preferred as the gateway, as BIRD does for direct sessions — installed
 * `via fe80::… dev IF`, IF being the interface of the global next hop or, when the global one is `::` or
 * off-link, the interface facing the neighbour. Each overlay LPM map (pt_routes4, pt_routes6) holds
 * 65 536 entries: BGP routes beyond {@link OVERLAY_BGP_ROUTE_LIMIT} of their family (counted with the
 * bundle's routes of that family) still go to the kernel but not into the map, and are counted in
 * `overlayOmitted` (a covering remote-site aggregate then still steers them into the overlay).
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Bundle, BundleRoute } from '../bundle/schema.ts';
import { addrToBigint, contains, networkOf as networkOfAny, parsePrefix } from '../net.ts';
import { segmentTable, type KernelRoute, type RoutePlan } from './kernel-routes.ts';

/** Route sources, best first. */
export const SOURCE_RANK = { connected: 0, bundle: 1, ebgp: 2, ibgp: 3 } as const;
export type RouteSource = keyof typeof SOURCE_RANK;

/**
 * Overlay route entries (bundle + BGP) the merge writes at most per family: into pt_routes4 for IPv4
 * prefixes, pt_routes6 for IPv6 ones; each map holds 65 536.
 */
export const OVERLAY_BGP_ROUTE_LIMIT = 60_000;

/** One best path from the speaker, reduced to what the FIB needs. */
export interface BgpFibRoute {
  segment: string;
  prefix: string;
  nextHop?: string;
  /**
   * IPv6 only: the link-local next hop the neighbour sent beside the global one (MP_REACH next hop of
   * 32 bytes, RFC 2545), e.g. "fe80::1". Preferred as the installed gateway.
   */
  nextHopLinkLocal?: string;
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
  /**
   * The gateway actually installed when it is not `nextHop`: the gateway of the route covering a
   * recursive next hop, or an IPv6 link-local next hop.
   */
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
  if (addr.includes(':')) {
    const p = parsePrefix(ifAddr, true);
    return p?.family === 6 && contains(p, addr);
  }
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

/** An interface's addresses of one family. */
const addrsOf = (i: { ipv4: string[]; ipv6?: string[] }, v6: boolean) => (v6 ? i.ipv6 ?? [] : i.ipv4);

/** Family index of a prefix: 0 IPv4 (pt_routes4), 1 IPv6 (pt_routes6); the overlay limit is per family. */
const famOf = (prefix: string): 0 | 1 => (prefix.includes(':') ? 1 : 0);

const sameAddr = (a: string, b: string) => a === b || (a.includes(':') && b.includes(':') && addrToBigint(a) === addrToBigint(b));

const isLinkLocal6 = (a: string) => /^fe[89ab][0-9a-f]:/i.test(a);

/** Where a next hop leads, decided once per (segment, next hop). */
interface HopJudgement { dev?: string; kind?: 'local' | 'internet'; reason?: string }

/**
 * A next hop on a connected subnet: a LAN of the segment (kind local) or any WAN (kind internet), of the
 * next hop's family. reason 'recursive' when no connected subnet holds it; a reason too when it is this
 * edge's own address.
 */
function judgeNextHop(bundle: Bundle, segment: string, nh: string): HopJudgement {
  const v6 = nh.includes(':');
  const { lan: lans, wan: wans } = bundle.interfaces;
  const own = [...lans, ...wans].some((i) => addrsOf(i, v6).some((a) => sameAddr(a.split('/')[0]!, nh)));
  if (own) return { reason: `next hop ${nh} is this edge` };
  const lan = lans.find((l) => l.segment === segment && addrsOf(l, v6).some((a) => inSubnet(nh, a)));
  if (lan) return { dev: lan.name, kind: 'local' };
  const wan = wans.find((w) => addrsOf(w, v6).some((a) => inSubnet(nh, a)));
  return wan ? { dev: wan.name, kind: 'internet' } : { reason: 'recursive' };
}

/**
 * Gateway and interface of an IPv6 BGP route: the link-local next hop when the neighbour sent one (or
 * sent only one), else the global one; the interface is the one whose subnet holds the global next hop,
 * else — a link-local next hop beside a global `::` or an off-link global one — the interface facing the
 * neighbour (its address on a connected subnet). Example: nextHop 2001:db8:ff::2 + nextHopLinkLocal
 * fe80::2 with wan0 = 2001:db8:ff::1/64 → via fe80::2 dev wan0.
 */
function judgeV6(r: BgpFibRoute, judge: (nh: string) => HopJudgement): HopJudgement & { via?: string } {
  const nh = r.nextHop;
  const ll = r.nextHopLinkLocal ?? (nh !== undefined && isLinkLocal6(nh) ? nh : undefined);
  const global = nh !== undefined && isIPv6(nh) && nh !== '::' && !isLinkLocal6(nh) ? nh : undefined;
  if (!global && !ll) return { reason: `next hop ${nh ?? 'missing'} is not IPv6` };
  if (global) {
    const j = judge(global);
    if (j.dev) return { via: ll ?? global, dev: j.dev, kind: j.kind };
    if (j.reason !== 'recursive') return j;
    if (!ll) return { reason: `next hop ${global} is not on a connected IPv6 subnet (IPv6 next hops are not resolved recursively)` };
  }
  const facing = r.peer === undefined ? undefined : judge(r.peer);
  if (facing?.dev) return { via: ll, dev: facing.dev, kind: facing.kind };
  return { reason: `link-local next hop ${ll} has no interface: neither the global next hop nor the neighbour ${r.peer} is on a connected subnet` };
}

const tableOf = (b: Bundle, segment: string): number | 'main' | undefined => {
  const i = b.segments.findIndex((s) => s.name === segment);
  if (i < 0) return undefined;
  return i === 0 ? 'main' : segmentTable(b.segments[i]!.id);
};

/**
 * Merge the bundle's kernel plan (from planKernelRoutes) and the speaker's best paths into the routes to
 * install (pure). The result is deterministic: BGP routes sorted by segment, then IPv4 address and prefix
 * length (numerically), next hops on a connected subnet before recursive ones — the order in which the
 * overlay map's places go out. This is the reference; the agent runs {@link IncrementalFib}, which gives
 * the same result and updates it per changed prefix.
 */
export function mergeRoutes(bundle: Bundle, plan: RoutePlan, bgp: readonly BgpFibRoute[]): MergedFib {
  const out: MergedFib = { kernel: { routes: [...plan.routes], rules: [...plan.rules], skipped: [...plan.skipped] }, overlay: new Map(), bgp: { installed: [], skipped: [], originated: 0, overlayOmitted: 0 } };
  const overlayRoutes: [number, number] = [0, 0];
  for (const s of bundle.segments) for (const r of s.routes) overlayRoutes[famOf(r.prefix)]++;
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
    for (const l of bundle.interfaces.lan.filter((x) => x.segment === seg.name)) {
      for (const a of l.ipv4) claim(seg.name, networkOf(a), 'connected');
      for (const a of l.ipv6 ?? []) claim(seg.name, networkOfAny(a), 'connected');
    }
    for (const w of wans) {
      for (const a of w.ipv4) claim(seg.name, networkOf(a), 'connected');
      for (const a of w.ipv6 ?? []) claim(seg.name, networkOfAny(a), 'connected');
    }
    for (const r of seg.routes) claim(seg.name, r.prefix, r.kind === 'local' ? 'connected' : 'bundle');
  }
  const segOfTable = new Map(bundle.segments.map((s, i) => [i === 0 ? 'main' : segmentTable(s.id), s.name] as const));
  for (const r of plan.routes) {
    const seg = segOfTable.get(r.table);
    if (seg !== undefined) claim(seg, r.dst === 'default' ? '0.0.0.0/0' : r.dst, 'bundle');
  }

  const sorted = bgp.map((r) => ({ r, o: orderOf(r.segment, r.prefix, 0) })).sort((a, b) => compareOrder(a.o, b.o)).map((x) => x.r);
  const skip = (r: BgpFibRoute, reason: string) => out.bgp.skipped.push({ segment: r.segment, prefix: r.prefix, reason });
  // A full table has few distinct next hops: judge each (segment, next hop) once, not once per prefix.
  const hops = new Map<string, HopJudgement>();
  const judge = (segment: string, nh: string) => {
    const k = `${segment}|${nh}`;
    let j = hops.get(k);
    if (!j) hops.set(k, (j = judgeNextHop(bundle, segment, nh)));
    return j;
  };
  const install = (r: BgpFibRoute, source: 'ebgp' | 'ibgp', table: number | 'main', via: string, dev: string, kind: 'local' | 'internet') => {
    // No holder.set: the speaker gives one best path per (segment, prefix), so no later BGP route can
    // collide with this one (and a million Map.set calls per batch are not free).
    out.kernel.routes.push({ dst: r.prefix, via, dev, table });
    const f = famOf(r.prefix);
    if (overlayRoutes[f] < OVERLAY_BGP_ROUTE_LIMIT) {
      const list = out.overlay.get(r.segment) ?? [];
      list.push(kind === 'local' ? { prefix: r.prefix, kind, interface: dev } : { prefix: r.prefix, kind });
      out.overlay.set(r.segment, list);
      overlayRoutes[f]++;
    } else out.bgp.overlayOmitted++;
    out.bgp.installed.push({ segment: r.segment, prefix: r.prefix, nextHop: r.nextHop!, dev, kind, source, peer: r.peer!, ...(via !== r.nextHop ? { via } : {}) });
  };
  // Next hops off every connected subnet wait for the second pass: resolved through the merged routes.
  const deferred: { r: BgpFibRoute; source: 'ebgp' | 'ibgp'; table: number | 'main' }[] = [];
  for (const r of sorted) {
    if (r.peer === undefined) { out.bgp.originated++; continue; }
    const source: 'ebgp' | 'ibgp' = r.ibgp ? 'ibgp' : 'ebgp';
    const table = tableOf(bundle, r.segment);
    if (table === undefined) { skip(r, `segment ${r.segment} is not in the bundle`); continue; }
    const held = holder.get(key(r.segment, r.prefix));
    if (held !== undefined && SOURCE_RANK[held] < SOURCE_RANK[source]) { skip(r, `shadowed by a ${held} route`); continue; }
    if (r.prefix.includes(':')) {
      const j = judgeV6(r, (nh) => judge(r.segment, nh));
      if (!j.dev || !j.kind || !j.via) { skip(r, j.reason!); continue; }
      install(r, source, table, j.via, j.dev, j.kind);
      continue;
    }
    if (!r.nextHop || !isIPv4(r.nextHop)) { skip(r, `next hop ${r.nextHop ?? 'missing'} is not IPv4`); continue; }
    const { dev, kind, reason } = judge(r.segment, r.nextHop);
    if (reason === 'recursive') { deferred.push({ r, source, table }); continue; }
    if (!dev || !kind) { skip(r, reason!); continue; }
    install(r, source, table, r.nextHop, dev, kind);
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
    install(r, source, table, cover.via, cover.dev, kind);
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

/**
 * Best-path changes merged per slice by {@link updateInSlices}: ~0.1–0.3 s of merge and kernel diff per
 * slice at 1 M routes, well inside BGP's keepalive interval.
 */
export const MERGE_SLICE = 16_384;

/**
 * Apply a batch of changes to `fib` in slices of `slice`, in order, awaiting `write` with each slice's delta
 * and yielding to the event loop before the next slice. The end state equals one `fib.update(changes)`
 * (an update is correct for any split of a sequence). Why: a full table is one batch, and one 500 000-change
 * merge held the agent's event loop for seconds — no KEEPALIVE went out and the twin's BIRD (hold time 3 s)
 * dropped the session, withdrew the table and re-sent it, over and over (issue 6, docs/benchmarks.md bgp-fib).
 */
export async function updateInSlices(fib: IncrementalFib, changes: readonly BgpFibChange[], write: (d: FibDelta) => Promise<void>, slice = MERGE_SLICE): Promise<void> {
  if (changes.length <= slice) return write(fib.update(changes)); // an empty batch too: one (empty) write
  for (let i = 0; i < changes.length; i += slice) {
    if (i > 0) await new Promise((r) => setImmediate(r));
    await write(fib.update(changes.slice(i, i + slice)));
  }
}

/** Sort position of a BGP route in the merge: pass (0 connected next hop, 1 recursive), segment, address, length. */
interface Order {
  pass: 0 | 1;
  segment: string;
  /** IPv4 address × 64 + prefix length; Infinity for anything else (then `prefix` decides). */
  n: number;
  prefix: string;
}

/**
 * "a.b.c.d/len" → address × 64 + len, or -1 for anything else (then the callers' general parse decides):
 * one pass over the characters, as `isIPv4` + `split` did per prefix — a million times per full table.
 * Accepts exactly what those accept: octets 0–255 without leading zeros, a length 0–32.
 */
function fastPrefix4(p: string): number {
  let a = 0, octet = 0, digits = 0, dots = 0, i = 0;
  for (; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 1 && octet === 0) return -1;
      octet = octet * 10 + c - 48;
      if (++digits > 3 || octet > 255) return -1;
    } else if (c === 46 || c === 47) {
      if (digits === 0) return -1;
      a = a * 256 + octet;
      octet = 0; digits = 0;
      if (c === 47) break;
      if (++dots > 3) return -1;
    } else return -1;
  }
  if (dots !== 3 || i >= p.length) return -1;
  let len = 0, ld = 0;
  for (i++; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c < 48 || c > 57 || (ld === 1 && len === 0)) return -1;
    len = len * 10 + c - 48;
    if (++ld > 2) return -1;
  }
  return ld === 0 || len > 32 ? -1 : a * 64 + len;
}

function orderOf(segment: string, prefix: string, pass: 0 | 1): Order {
  const f = fastPrefix4(prefix);
  if (f >= 0) return { pass, segment, n: f, prefix };
  const slash = prefix.indexOf('/');
  const base = slash < 0 ? prefix : prefix.slice(0, slash);
  const n = isIPv4(base) ? ip4(base) * 64 + Number(slash < 0 ? 32 : prefix.slice(slash + 1)) : Infinity;
  return { pass, segment, n, prefix };
}

function compareOrder(a: Order, b: Order): number {
  if (a.pass !== b.pass) return a.pass - b.pass;
  if (a.segment !== b.segment) return a.segment < b.segment ? -1 : 1;
  if (a.n !== b.n) return a.n < b.n ? -1 : 1;
  return a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0;
}

/** One change of the speaker's best paths: the new best path of (segment, prefix), or none (withdrawn). */
export interface BgpFibChange {
  segment: string;
  prefix: string;
  /** The new best path; undefined when the prefix has none any more. */
  route?: BgpFibRoute;
}

/** What one {@link IncrementalFib.update} changed, for the kernel writer and the overlay maps. */
export interface FibDelta {
  /** Kernel routes new or different since the update began (replace them). */
  upsert: KernelRoute[];
  /** Kernel routes written before and not wanted any more (delete them). */
  remove: KernelRoute[];
  /** Whether the overlay routes (see {@link IncrementalFib.overlay}) changed. */
  overlayChanged: boolean;
  /**
   * The overlay routes that changed, for writing only them into pt_routes4/pt_routes6: `remove` (entries
   * that lost their place; only segment and prefix matter) before `upsert` (entries that hold one now and
   * did not, or whose kind or interface may have changed). A full table arriving in address-scattered
   * batches changes the first 60 000 places on almost every batch; re-planning all of them each time was
   * the agent's main cost at 1 M prefixes (docs/benchmarks.md, bgp-fib).
   */
  overlay: { upsert: OverlayRouteChange[]; remove: OverlayRouteChange[] };
}

/** One overlay route of a segment, e.g. `{ segment: 'default', route: { prefix: '20.0.1.0/24', kind: 'internet' } }`. */
export interface OverlayRouteChange {
  segment: string;
  route: BundleRoute;
}

/** Per (segment, prefix) state of the incremental merge. */
interface Entry extends Order {
  r: BgpFibRoute;
  key: string;
  table?: number | 'main';
  /** Installed route (undefined: not installed). */
  kr?: KernelRoute;
  kind?: 'local' | 'internet';
  skip?: string;
  /** Recursive next hop: the resolution this entry depends on. */
  res?: Resolution;
  /** Overlay place: 0 none, 1 holds one (the set S), 2 waits for one (the set R). */
  ov: 0 | 1 | 2;
  /** Family (0 IPv4, 1 IPv6): which map's places it competes for. */
  fam: 0 | 1;
  /** Bumped on every overlay move: heap items of an older generation are stale. */
  gen: number;
}

interface Resolution {
  table: number | 'main';
  nh: string;
  a: number;
  cover?: KernelRoute | typeof UNRESOLVED;
  deps: Set<Entry>;
}
const UNRESOLVED = Symbol('unresolved');

/** The overlay route of an installed entry. */
const overlayRoute = (e: Entry): BundleRoute => (e.kind === 'local' ? { prefix: e.r.prefix, kind: 'local', interface: e.kr!.dev! } : { prefix: e.r.prefix, kind: 'internet' });

/** A binary heap of entries with lazily deleted items (an item is live while its generation matches). */
class EntryHeap {
  items: { e: Entry; g: number }[] = [];
  constructor(private readonly before: (a: Entry, b: Entry) => boolean, private readonly live: (e: Entry) => boolean) {}
  push(e: Entry): void {
    const a = this.items;
    a.push({ e, g: e.gen });
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(a[i]!.e, a[p]!.e)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  private pop(): void {
    const a = this.items;
    const last = a.pop()!;
    if (!a.length) return;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < a.length && this.before(a[l]!.e, a[m]!.e)) m = l;
      if (r < a.length && this.before(a[r]!.e, a[m]!.e)) m = r;
      if (m === i) break;
      [a[i], a[m]] = [a[m]!, a[i]!];
      i = m;
    }
  }
  /** The first live entry (stale items on top are dropped). */
  peek(): Entry | undefined {
    while (this.items.length && !(this.items[0]!.g === this.items[0]!.e.gen && this.live(this.items[0]!.e))) this.pop();
    return this.items[0]?.e;
  }
  /** Rebuild from live items when stale ones dominate (bounds memory under churn). */
  compact(liveCount: number): void {
    if (this.items.length < 2 * liveCount + 4096) return;
    const keep = this.items.filter((x) => x.g === x.e.gen && this.live(x.e)).map((x) => x.e);
    this.items = [];
    for (const e of keep) this.push(e);
  }
}

/**
 * The route merge kept as state and updated per changed prefix — the agent's FIB between bundle applies.
 * Built from a bundle, its kernel plan and the speaker's best paths it equals {@link mergeRoutes} (a bundle
 * apply builds a new one: the full merge); {@link update} then takes a batch of best-path changes, touches
 * only those prefixes (and the recursive routes whose covering route changed) and returns the kernel
 * routes to replace and delete, so a BGP batch costs O(changes), not O(table). After any sequence of
 * updates {@link merged} equals `mergeRoutes` over the current best paths (test/dataplane/agent-fib.test.ts
 * checks this over random sequences).
 *
 * The overlay map's places (at most {@link OVERLAY_BGP_ROUTE_LIMIT} with the bundle's routes) go to the
 * first installed routes in merge order; the incremental form keeps that as two heaps — the holders (largest
 * first) and the waiting (smallest first) — so an insert evicts at most one holder and a withdrawal
 * promotes at most one waiting route.
 *
 * @example
 *   const fib = new IncrementalFib(bundle, planKernelRoutes(bundle), speakerRoutes);
 *   await writer.write(fib.kernelPlan(), { full: true });
 *   const d = fib.update([{ segment: 'default', prefix: '198.18.0.0/16' }]);  // withdrawn
 *   // d.remove = [{ dst: '198.18.0.0/16', via: '100.64.0.1', dev: 'wan0', table: 'main' }]
 */
export class IncrementalFib {
  private readonly entries = new Map<string, Entry>();
  private readonly holder = new Map<string, RouteSource>();
  private readonly hops = new Map<string, HopJudgement>();
  /** Per table: prefix length → network → route; the bundle's routes and the directly installed BGP routes. */
  private readonly lpm = new Map<number | 'main', Map<number, Map<number, KernelRoute>>>();
  private readonly resolutions = new Map<number | 'main', Map<string, Resolution>>();
  private readonly tables = new Map<string, number | 'main'>();
  private readonly lanNames: Set<string>;
  /** Per family (index 0 IPv4, 1 IPv6): overlay places, holders, waiting routes and their counts. */
  private readonly overlayPlaces: [number, number];
  private readonly holders = [0, 1].map(() => new EntryHeap((a, b) => compareOrder(a, b) > 0, (e) => e.ov === 1));
  private readonly waiting = [0, 1].map(() => new EntryHeap((a, b) => compareOrder(a, b) < 0, (e) => e.ov === 2));
  private readonly held = [0, 0];
  private readonly waitingCount = [0, 0];
  private readonly skippedSet = new Set<Entry>();
  private readonly accepted = new Map<string, number>();
  /** BGP routes installed in the kernel. */
  installedCount = 0;
  /** Best paths this edge originates itself. */
  originated = 0;
  // Per update: entry key → its kernel route when the update began; touched resolutions; entries to (re)judge.
  private kernelBefore = new Map<string, KernelRoute | undefined>();
  private dirtyRes = new Set<Resolution>();
  private pending = new Set<Entry>();
  private overlayChanged = false;
  /** Per update: entries whose overlay place moved → whether they held one when the update began. */
  private ovBefore = new Map<Entry, boolean>();
  /** Off while the constructor runs the full merge: nothing was written before it. */
  private tracking = false;

  constructor(private readonly bundle: Bundle, private readonly plan: RoutePlan, bgp: Iterable<BgpFibRoute>) {
    this.overlayPlaces = [OVERLAY_BGP_ROUTE_LIMIT, OVERLAY_BGP_ROUTE_LIMIT];
    for (const s of bundle.segments) for (const r of s.routes) this.overlayPlaces[famOf(r.prefix)]--;
    this.lanNames = new Set(bundle.interfaces.lan.map((l) => l.name));
    bundle.segments.forEach((s, i) => this.tables.set(s.name, i === 0 ? 'main' : segmentTable(s.id)));
    const claim = (segment: string, prefix: string, src: RouteSource) => {
      const k = `${segment}|${prefix}`;
      const cur = this.holder.get(k);
      if (cur === undefined || SOURCE_RANK[src] < SOURCE_RANK[cur]) this.holder.set(k, src);
    };
    for (const seg of bundle.segments) {
      for (const l of bundle.interfaces.lan.filter((x) => x.segment === seg.name)) {
        for (const a of l.ipv4) claim(seg.name, networkOf(a), 'connected');
        for (const a of l.ipv6 ?? []) claim(seg.name, networkOfAny(a), 'connected');
      }
      for (const w of bundle.interfaces.wan) {
        for (const a of w.ipv4) claim(seg.name, networkOf(a), 'connected');
        for (const a of w.ipv6 ?? []) claim(seg.name, networkOfAny(a), 'connected');
      }
      for (const r of seg.routes) claim(seg.name, r.prefix, r.kind === 'local' ? 'connected' : 'bundle');
    }
    const segOfTable = new Map([...this.tables].map(([s, t]) => [t, s] as const));
    for (const r of plan.routes) {
      const seg = segOfTable.get(r.table);
      if (seg !== undefined) claim(seg, r.dst === 'default' ? '0.0.0.0/0' : r.dst, 'bundle');
      this.lpmSet(r, true);
    }
    this.update((function* () { for (const route of bgp) yield { segment: route.segment, prefix: route.prefix, route }; })());
    this.tracking = true;
  }

  /**
   * Apply a batch of best-path changes (the last change of a prefix wins) and return what the kernel and
   * the overlay maps need. Pure bookkeeping: nothing is written here.
   */
  update(changes: Iterable<BgpFibChange>): FibDelta {
    this.kernelBefore = new Map();
    this.dirtyRes = new Set();
    this.pending = new Set();
    this.overlayChanged = false;
    this.ovBefore = new Map();
    for (const c of changes) {
      const key = `${c.segment}|${c.prefix}`;
      const old = this.entries.get(key);
      if (old) this.detach(old);
      if (!c.route) { this.entries.delete(key); continue; }
      const o = orderOf(c.segment, c.prefix, 0);
      // Every field from the start: one object shape for a million entries keeps V8's accesses monomorphic.
      const e: Entry = { pass: 0, segment: o.segment, n: o.n, prefix: o.prefix, r: c.route, key, table: undefined, kr: undefined, kind: undefined, skip: undefined, res: undefined, ov: 0, fam: famOf(c.prefix), gen: 0 };
      this.entries.set(key, e);
      this.attach(e);
    }
    // Recursive next hops last, as in the full merge: the covering routes are final now.
    for (const res of this.dirtyRes) {
      if (!res.deps.size) continue;
      const cover = this.resolve(res.table, res.a);
      if (cover === res.cover) continue;
      res.cover = cover;
      for (const d of res.deps) this.pending.add(d);
    }
    for (const e of this.pending) if (this.entries.get(e.key) === e && e.res) this.judgeRecursive(e);
    const upsert: KernelRoute[] = [], remove: KernelRoute[] = [];
    for (const [key, before] of this.kernelBefore) {
      const now = this.entries.get(key)?.kr;
      if (now) { if (!before || before.via !== now.via || before.dev !== now.dev) upsert.push(now); }
      else if (before) remove.push(before);
    }
    for (const f of [0, 1]) { this.holders[f]!.compact(this.held[f]!); this.waiting[f]!.compact(this.waitingCount[f]!); }
    const overlay: FibDelta['overlay'] = { upsert: [], remove: [] };
    for (const [e, before] of this.ovBefore) {
      if (e.ov === 1) overlay.upsert.push({ segment: e.segment, route: overlayRoute(e) });
      else if (before) overlay.remove.push({ segment: e.segment, route: { prefix: e.r.prefix, kind: e.kind ?? 'internet' } });
    }
    this.ovBefore = new Map();
    return { upsert, remove, overlayChanged: this.overlayChanged, overlay };
  }

  private attach(e: Entry): void {
    const r = e.r;
    if (r.peer === undefined) { this.originated++; return; }
    const source = r.ibgp ? 'ibgp' : 'ebgp';
    e.table = this.tables.get(r.segment);
    if (e.table === undefined) return this.skip(e, `segment ${r.segment} is not in the bundle`);
    const held = this.holder.get(e.key);
    if (held !== undefined && SOURCE_RANK[held] < SOURCE_RANK[source]) return this.skip(e, `shadowed by a ${held} route`);
    if (e.fam === 1) {
      const j = judgeV6(r, (nh) => this.judge(r.segment, nh));
      if (!j.dev || !j.kind || !j.via) return this.skip(e, j.reason!);
      return this.install(e, j.via, j.dev, j.kind);
    }
    if (!r.nextHop || !isIPv4(r.nextHop)) return this.skip(e, `next hop ${r.nextHop ?? 'missing'} is not IPv4`);
    const { dev, kind, reason } = this.judge(r.segment, r.nextHop);
    if (reason === 'recursive') {
      e.pass = 1;
      let byNh = this.resolutions.get(e.table);
      if (!byNh) this.resolutions.set(e.table, (byNh = new Map()));
      let res = byNh.get(r.nextHop);
      if (!res) {
        byNh.set(r.nextHop, (res = { table: e.table, nh: r.nextHop, a: ip4(r.nextHop), cover: UNRESOLVED, deps: new Set() }));
        this.dirtyRes.add(res);
      }
      res.deps.add(e);
      e.res = res;
      this.pending.add(e);
      return;
    }
    if (!dev || !kind) return this.skip(e, reason!);
    this.install(e, r.nextHop, dev, kind);
  }

  private judgeRecursive(e: Entry): void {
    if (e.kr) this.uninstall(e);
    if (e.skip !== undefined) { this.skippedSet.delete(e); e.skip = undefined; }
    const cover = e.res!.cover;
    const nh = e.r.nextHop!;
    if (!cover || cover === UNRESOLVED) return this.skip(e, `next hop ${nh} is neither on a connected subnet nor covered by a route`);
    if (cover.blackhole || !cover.via || !cover.dev) return this.skip(e, `next hop ${nh} resolves to ${cover.dst}, which has no gateway (${cover.blackhole ? 'blackhole' : 'no next hop'})`);
    this.install(e, cover.via, cover.dev, this.lanNames.has(cover.dev) ? 'local' : 'internet');
  }

  private detach(e: Entry): void {
    if (e.r.peer === undefined) { this.originated--; return; }
    if (e.kr) this.uninstall(e);
    if (e.skip !== undefined) this.skippedSet.delete(e);
    if (e.res) {
      e.res.deps.delete(e);
      if (!e.res.deps.size) this.resolutions.get(e.res.table)?.delete(e.res.nh);
    }
  }

  private skip(e: Entry, reason: string): void {
    e.skip = reason;
    this.skippedSet.add(e);
  }

  private noteKernel(e: Entry): void {
    if (this.tracking && !this.kernelBefore.has(e.key)) this.kernelBefore.set(e.key, e.kr);
  }

  private install(e: Entry, via: string, dev: string, kind: 'local' | 'internet'): void {
    this.noteKernel(e);
    e.kr = { dst: e.r.prefix, via, dev, table: e.table! };
    e.kind = kind;
    if (e.pass === 0) this.lpmSet(e.kr, true);
    this.installedCount++;
    this.accepted.set(e.r.peer!, (this.accepted.get(e.r.peer!) ?? 0) + 1);
    this.addCandidate(e);
  }

  private uninstall(e: Entry): void {
    this.noteKernel(e);
    if (e.pass === 0) this.lpmSet(e.kr!, false);
    this.removeCandidate(e);
    this.installedCount--;
    const n = (this.accepted.get(e.r.peer!) ?? 1) - 1;
    if (n) this.accepted.set(e.r.peer!, n); else this.accepted.delete(e.r.peer!);
    e.kr = undefined;
  }

  private judge(segment: string, nh: string): HopJudgement {
    const k = `${segment}|${nh}`;
    let j = this.hops.get(k);
    if (!j) this.hops.set(k, (j = judgeNextHop(this.bundle, segment, nh)));
    return j;
  }

  /** Add (or remove) a route of the covering-route index; recursive next hops under it are re-resolved at the end of the update. */
  private lpmSet(kr: KernelRoute, add: boolean): void {
    const dst = kr.dst === 'default' ? '0.0.0.0/0' : kr.dst;
    const f = fastPrefix4(dst);
    let bits: number, net: number;
    if (f >= 0) {
      bits = f % 64;
      net = ((f - bits) / 64) & maskOf(bits);
    } else {
      const [base, len] = dst.split('/');
      if (!isIPv4(base!)) return;
      bits = Number(len ?? 32);
      net = ip4(base!) & maskOf(bits);
    }
    let byLen = this.lpm.get(kr.table);
    if (!byLen) this.lpm.set(kr.table, (byLen = new Map()));
    let m = byLen.get(bits);
    if (!m) byLen.set(bits, (m = new Map()));
    if (add) m.set(net, kr);
    else if (m.get(net) === kr) m.delete(net);
    else return;
    const byNh = this.resolutions.get(kr.table);
    if (byNh?.size) for (const res of byNh.values()) if ((res.a & maskOf(bits)) === net) this.dirtyRes.add(res);
  }

  private resolve(table: number | 'main', a: number): KernelRoute | undefined {
    const byLen = this.lpm.get(table);
    if (!byLen) return undefined;
    for (let bits = 32; bits >= 0; bits--) {
      const hit = byLen.get(bits)?.get(a & maskOf(bits));
      if (hit) return hit;
    }
    return undefined;
  }

  private addCandidate(e: Entry): void {
    if (this.held[e.fam]! < this.overlayPlaces[e.fam]) return this.place(e, 1);
    const top = this.holders[e.fam]!.peek();
    if (top && compareOrder(e, top) < 0) { this.place(top, 2); this.place(e, 1); } else this.place(e, 2);
  }

  private removeCandidate(e: Entry): void {
    const was = e.ov;
    this.place(e, 0);
    if (was !== 1) return;
    const next = this.waiting[e.fam]!.peek();
    if (next) this.place(next, 1);
  }

  private place(e: Entry, ov: 0 | 1 | 2): void {
    const f = e.fam;
    if (this.tracking && !this.ovBefore.has(e)) this.ovBefore.set(e, e.ov === 1);
    if (e.ov === 1) { this.held[f]!--; this.overlayChanged = true; }
    if (e.ov === 2) this.waitingCount[f]!--;
    e.ov = ov;
    e.gen++;
    if (ov === 1) { this.held[f]!++; this.overlayChanged = true; this.holders[f]!.push(e); }
    if (ov === 2) { this.waitingCount[f]!++; this.waiting[f]!.push(e); }
  }

  /** Installed entries in merge order. */
  private installedEntries(): Entry[] {
    const out: Entry[] = [];
    for (const e of this.entries.values()) if (e.kr) out.push(e);
    return out.sort(compareOrder);
  }

  /** The kernel plan: the bundle's routes and every installed BGP route (for a full kernel write). */
  kernelPlan(): RoutePlan {
    const routes = [...this.plan.routes];
    for (const e of this.entries.values()) if (e.kr) routes.push(e.kr);
    return { routes, rules: this.plan.rules, skipped: this.plan.skipped };
  }

  /** Kernel routes wanted: the bundle's plus the installed BGP routes. */
  get kernelRouteCount(): number { return this.plan.routes.length + this.installedCount; }

  /** Installed in the kernel but without an overlay map place. */
  get overlayOmitted(): number { return this.installedCount - this.held[0]! - this.held[1]!; }

  /** The BGP routes holding an overlay map place, per segment, in merge order (what {@link withOverlayRoutes} takes). */
  overlay(): Map<string, BundleRoute[]> {
    const held: Entry[] = [];
    for (const h of this.holders) for (const e of h.items) if (e.g === e.e.gen && e.e.ov === 1) held.push(e.e);
    held.sort(compareOrder);
    const out = new Map<string, BundleRoute[]>();
    for (const e of held) {
      const list = out.get(e.segment) ?? [];
      list.push(overlayRoute(e));
      out.set(e.segment, list);
    }
    return out;
  }

  /** Best paths not installed and why, in merge order. */
  skipped(): MergedFib['bgp']['skipped'] {
    return [...this.skippedSet].sort(compareOrder).map((e) => ({ segment: e.segment, prefix: e.prefix, reason: e.skip! }));
  }

  /** Installed routes per neighbour address (the speaker's `accepted` counts). */
  acceptedByPeer(): ReadonlyMap<string, number> { return this.accepted; }

  /** The whole merge as {@link mergeRoutes} returns it (O(table log table): for status reads and tests). */
  merged(): MergedFib {
    const inst = this.installedEntries();
    const overlay = new Map<string, BundleRoute[]>();
    for (const e of inst) {
      if (e.ov !== 1) continue;
      const list = overlay.get(e.segment) ?? [];
      list.push(overlayRoute(e));
      overlay.set(e.segment, list);
    }
    return {
      kernel: { routes: [...this.plan.routes, ...inst.map((e) => e.kr!)], rules: [...this.plan.rules], skipped: [...this.plan.skipped] },
      overlay,
      bgp: {
        installed: inst.map((e) => ({
          segment: e.segment, prefix: e.r.prefix, nextHop: e.r.nextHop!, dev: e.kr!.dev!, kind: e.kind!, source: e.r.ibgp ? 'ibgp' as const : 'ebgp' as const, peer: e.r.peer!,
          ...(e.kr!.via !== e.r.nextHop ? { via: e.kr!.via! } : {}),
        })),
        skipped: this.skipped(),
        originated: this.originated,
        overlayOmitted: this.overlayOmitted,
      },
    };
  }
}
