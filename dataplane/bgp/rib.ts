/**
 * Routing information bases for one segment (a VRF-like routing table): Adj-RIB-In per peer (routes
 * accepted by import policy), the Loc-RIB (all candidate paths per prefix with the best one first) and
 * the decision process of RFC 4271 §9.1.2.2 plus RFC 4456 tie-breaks, in BIRD's order:
 * locally originated, highest LOCAL_PREF, shortest AS_PATH, lowest ORIGIN, lowest MED among routes from
 * the same neighbouring AS, eBGP over iBGP, lowest router id (ORIGINATOR_ID when reflected), shortest
 * CLUSTER_LIST, lowest peer address. Also the export rules (eBGP/iBGP, NO_EXPORT/NO_ADVERTISE, route
 * reflection with ORIGINATOR_ID and CLUSTER_LIST, next-hop-self, Partial bit on carried attributes).
 * Adj-RIB-Out lives in the speaker, which knows each session's encoding.
 */
import { F_PARTIAL, F_TRANSITIVE, NO_ADVERTISE, NO_EXPORT, asPathLength, parseIp, afiOf, type PathAttributes } from './codec/index.ts';

/** A neighbour as the RIB sees it. */
export interface PeerRef {
  /** Peer address (unique per speaker), e.g. "10.255.0.1". */
  id: string;
  asn: number;
  routerId: string;
  /** Same AS as ours. */
  ibgp: boolean;
  /** We reflect routes to and from this iBGP peer as a route-reflector client (RFC 4456). */
  rrClient?: boolean;
}

/**
 * One path to a prefix. `peer` is undefined for locally originated routes. Attributes may be shared
 * between routes of one UPDATE and must be treated as immutable.
 */
export interface Route { prefix: string; attrs: PathAttributes; peer: PeerRef | undefined }

/** A best-path change in a segment: `best` undefined means the prefix is gone. */
export interface BestChange { segment: string; prefix: string; best: Route | undefined; previous: Route | undefined }

const ipKey = (ip: string): string => {
  const b = parseIp(ip, afiOf(ip));
  return b ? Buffer.from(b).toString('hex').padStart(32, '0') : ip;
};
const neighborAs = (r: Route): number => {
  const s = r.attrs.asPath?.find((x) => x.type === 1 || x.type === 2);
  return s?.asns[0] ?? 0;
};
const routerIdOf = (r: Route): string => r.attrs.originatorId ?? r.peer?.routerId ?? '0.0.0.0';

type Step = (rs: Route[]) => Route[];
const keepMax = (f: (r: Route) => number): Step => (rs) => { const m = Math.max(...rs.map(f)); return rs.filter((r) => f(r) === m); };
const keepMin = (f: (r: Route) => number): Step => (rs) => { const m = Math.min(...rs.map(f)); return rs.filter((r) => f(r) === m); };
const keepMinKey = (f: (r: Route) => string): Step => (rs) => { const keys = rs.map(f); const m = keys.reduce((a, b) => (b < a ? b : a)); return rs.filter((_, i) => keys[i] === m); };

/**
 * The decision steps in order; each narrows the candidate set. MED (step 5) is the RFC 4271 elimination:
 * a route loses if another route from the same neighbouring AS has a lower MED (missing MED = 0).
 */
export const DECISION_STEPS: readonly { name: string; step: Step }[] = [
  { name: 'locally originated', step: (rs) => (rs.some((r) => !r.peer) ? rs.filter((r) => !r.peer) : rs) },
  { name: 'highest LOCAL_PREF', step: keepMax((r) => r.attrs.localPref ?? 100) },
  { name: 'shortest AS_PATH', step: keepMin((r) => asPathLength(r.attrs.asPath)) },
  { name: 'lowest ORIGIN', step: keepMin((r) => r.attrs.origin ?? 2) },
  { name: 'lowest MED from the same AS', step: (rs) => rs.filter((r) => !rs.some((o) => o !== r && neighborAs(o) === neighborAs(r) && (o.attrs.med ?? 0) < (r.attrs.med ?? 0))) },
  { name: 'eBGP over iBGP', step: (rs) => (rs.some((r) => r.peer && !r.peer.ibgp) ? rs.filter((r) => r.peer && !r.peer.ibgp) : rs) },
  { name: 'lowest router id', step: keepMinKey((r) => ipKey(routerIdOf(r))) },
  { name: 'shortest CLUSTER_LIST', step: keepMin((r) => r.attrs.clusterList?.length ?? 0) },
  { name: 'lowest peer address', step: keepMinKey((r) => (r.peer ? ipKey(r.peer.id) : '')) },
];

/** The best of several paths to one prefix, and the step that decided (for `show route` explanations). */
export function selectBest(routes: readonly Route[]): { best: Route | undefined; decidedBy: string } {
  if (routes.length <= 1) return { best: routes[0], decidedBy: 'only path' };
  let rs = routes.slice();
  for (const { name, step } of DECISION_STEPS) {
    rs = step(rs);
    if (rs.length === 1) return { best: rs[0], decidedBy: name };
  }
  return { best: rs[0], decidedBy: 'first received' };
}

/**
 * Adj-RIB-In and Loc-RIB of one segment. Feed it accepted routes with {@link Rib.update} and
 * withdrawals with {@link Rib.withdraw}; it calls `onChange` for each best-path change.
 * The Adj-RIB-In is not a second table: each peer's post-policy path sits in the Loc-RIB candidate list
 * (tagged with its peer), so a full table costs one map entry per prefix; {@link Rib.adjRibIn} derives a
 * peer's view and {@link Rib.dropPeer} walks the table once. Pre-policy routes are not kept: a policy
 * change asks the peer for a ROUTE-REFRESH instead.
 * Example: `const rib = new Rib('default', (c) => fib.apply(c)); rib.update(peer, '10.0.0.0/8', attrs);`
 */
export class Rib {
  /** Loc-RIB: every candidate path per prefix (one per peer), best first. */
  readonly loc = new Map<string, Route[]>();
  private counts = new Map<string, number>();

  constructor(readonly segment: string, private readonly onChange: (c: BestChange) => void = () => {}) {}

  /** Installs or replaces a peer's (or, with `peer` undefined, our own) path. */
  update(peer: PeerRef | undefined, prefix: string, attrs: PathAttributes): void {
    const route: Route = { prefix, attrs, peer };
    const key = peer?.id ?? '';
    const list = this.loc.get(prefix);
    if (!list) {
      this.loc.set(prefix, [route]);
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      this.onChange({ segment: this.segment, prefix, best: route, previous: undefined });
      return;
    }
    const previous = list[0];
    const i = list.findIndex((r) => (r.peer?.id ?? '') === key);
    if (i >= 0) list[i] = route;
    else { list.push(route); this.counts.set(key, (this.counts.get(key) ?? 0) + 1); }
    this.reselect(prefix, list, previous);
  }

  /** Removes a peer's path; a no-op when it had none. */
  withdraw(peer: PeerRef | undefined, prefix: string): void {
    const key = peer?.id ?? '';
    const list = this.loc.get(prefix);
    const i = list ? list.findIndex((r) => (r.peer?.id ?? '') === key) : -1;
    if (!list || i < 0) return;
    this.counts.set(key, this.counts.get(key)! - 1);
    const previous = list[0];
    list.splice(i, 1);
    if (!list.length) { this.loc.delete(prefix); this.onChange({ segment: this.segment, prefix, best: undefined, previous }); return; }
    this.reselect(prefix, list, previous);
  }

  /** Removes every path from a peer (session down). */
  dropPeer(peerId: string): void {
    if (!this.counts.get(peerId)) return;
    const gone: [PeerRef | undefined, string][] = [];
    for (const [prefix, list] of this.loc) for (const r of list) if ((r.peer?.id ?? '') === peerId) gone.push([r.peer, prefix]);
    for (const [peer, prefix] of gone) this.withdraw(peer, prefix);
    this.counts.delete(peerId);
  }

  /** Number of paths a peer has in this segment (its Adj-RIB-In size, post policy). */
  received(peerId: string): number { return this.counts.get(peerId) ?? 0; }

  /** A peer's Adj-RIB-In (post policy), derived from the Loc-RIB; for displays, O(table). */
  adjRibIn(peerId: string): Map<string, Route> {
    const out = new Map<string, Route>();
    for (const [prefix, list] of this.loc) for (const r of list) if ((r.peer?.id ?? '') === peerId) out.set(prefix, r);
    return out;
  }

  best(prefix: string): Route | undefined { return this.loc.get(prefix)?.[0]; }
  /** Number of prefixes with a best path. */
  get size(): number { return this.loc.size; }
  /** Every best path. */
  *bests(): IterableIterator<Route> { for (const l of this.loc.values()) yield l[0]!; }

  private reselect(prefix: string, list: Route[], previous: Route | undefined): void {
    const { best } = selectBest(list);
    if (best !== list[0]) { list.splice(list.indexOf(best!), 1); list.unshift(best!); }
    if (best !== previous) this.onChange({ segment: this.segment, prefix, best, previous });
  }
}

/** What the exporting side knows about itself and the receiving session. */
export interface ExportContext {
  localAsn: number;
  routerId: string;
  /** RFC 4456 cluster id (default: router id) when this speaker reflects routes. */
  clusterId?: string;
  /** Our address on the receiving session, used as next hop where next-hop-self applies. */
  nextHop4: string;
  /** Our IPv6 next hop for that session (a global address), when IPv6 is exported. */
  nextHop6?: string;
  /** Treat as next-hop-self even on iBGP (default true for locally originated routes only). */
  nextHopSelf?: boolean;
}

/**
 * Attributes to advertise `route` with to peer `to`, before export policy, or undefined when the route
 * must not go there. Rules: never back to its source; NO_ADVERTISE never, NO_EXPORT not over eBGP;
 * iBGP-learned to iBGP only when reflecting (client -> everyone, non-client -> clients);
 * eBGP: prepend our AS, next hop self, drop LOCAL_PREF, MED (unless ours), ORIGINATOR_ID, CLUSTER_LIST;
 * iBGP: LOCAL_PREF present (default 100), next hop kept unless ours or next-hop-self.
 * Unknown optional transitive attributes pass with the Partial bit; non-transitive ones stop here.
 */
export function exportAttributes(route: Route, to: PeerRef, ctx: ExportContext): PathAttributes | undefined {
  const from = route.peer;
  if (from && from.id === to.id) return undefined;
  const a = route.attrs;
  if (a.communities?.includes(NO_ADVERTISE)) return undefined;
  if (!to.ibgp && a.communities?.includes(NO_EXPORT)) return undefined;
  const v6 = route.prefix.includes(':');
  const out: PathAttributes = { ...a };
  delete out.mpReach; delete out.mpUnreach;
  if (a.unknown) {
    const keep = a.unknown.filter((u) => u.flags & F_TRANSITIVE).map((u) => ({ ...u, flags: u.flags | F_PARTIAL }));
    if (keep.length) out.unknown = keep; else delete out.unknown;
  }
  if (!to.ibgp) {
    const segs = a.asPath ?? [];
    out.asPath = segs[0]?.type === 2 && segs[0].asns.length < 255 ? [{ type: 2, asns: [ctx.localAsn, ...segs[0].asns] }, ...segs.slice(1)] : [{ type: 2, asns: [ctx.localAsn] }, ...segs];
    out.nextHop = v6 ? ctx.nextHop6 ?? ctx.nextHop4 : ctx.nextHop4;
    delete out.localPref; delete out.originatorId; delete out.clusterList;
    if (from) delete out.med;
    return out;
  }
  if (from?.ibgp) {
    if (!from.rrClient && !to.rrClient) return undefined;
    out.originatorId = a.originatorId ?? from.routerId;
    if (out.originatorId === to.routerId) return undefined;
    out.clusterList = [ctx.clusterId ?? ctx.routerId, ...(a.clusterList ?? [])];
  }
  out.localPref = a.localPref ?? 100;
  out.asPath = a.asPath ?? [];
  if (!from || ctx.nextHopSelf || !a.nextHop) out.nextHop = v6 ? ctx.nextHop6 ?? ctx.nextHop4 : ctx.nextHop4;
  return out;
}
