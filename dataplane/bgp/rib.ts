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
import {
  AFI_IPV4, F_PARTIAL, F_TRANSITIVE, NO_ADVERTISE, NO_EXPORT, asPathLength, afiOf, forEachNlri4, formatIp, parseIp, parsePrefix, prefix4Text, type PathAttributes,
} from './codec/index.ts';

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
 * One peer's path as the Loc-RIB holds it: attributes + peer, shared by every prefix that arrived in the
 * same UPDATE (as BIRD shares its `rta`), so a full table costs one map entry per prefix and no object.
 */
class Path {
  constructor(readonly attrs: PathAttributes, readonly peer: PeerRef | undefined) {}
}

/** The public view of a path to one prefix, made when someone asks (events, `bests()`); the prefix text is built on first read. */
class RibRoute implements Route {
  private text: string | undefined;
  readonly attrs: PathAttributes;
  readonly peer: PeerRef | undefined;
  constructor(readonly path: Path, readonly address: number, readonly length: number, text?: string) { this.attrs = path.attrs; this.peer = path.peer; this.text = text; }
  get prefix(): string { return (this.text ??= prefix4Text(this.address, this.length)); }
  toJSON(): Route { return { prefix: this.prefix, attrs: this.attrs, peer: this.peer }; }
}

/** A best-path change; its routes (and their prefix text) are made on first read. */
class RibChange implements BestChange {
  private b: RibRoute | undefined;
  private p: RibRoute | undefined;
  constructor(readonly segment: string, private readonly bestPath: Path | undefined, private readonly previousPath: Path | undefined, private readonly address: number, private readonly length: number, private text: string | undefined) {}
  get best(): Route | undefined { return this.bestPath && (this.b ??= this.view(this.bestPath)); }
  get previous(): Route | undefined { return this.previousPath && (this.p ??= this.view(this.previousPath)); }
  get prefix(): string { return (this.best ?? this.previous)!.prefix; }
  /** The new best path's peer id without making a route view (undefined: gone or our own). */
  get bestPeerId(): string | undefined { return this.bestPath?.peer?.id; }
  toJSON(): BestChange { return { segment: this.segment, prefix: this.prefix, best: this.best, previous: this.previous }; }
  private view(path: Path): RibRoute {
    const r = new RibRoute(path, this.address, this.length, this.text);
    this.text = r.prefix;
    return r;
  }
}

/** Peer id of a change's new best path (cheap for the RIB's own change objects). */
export const bestPeerIdOf = (c: BestChange): string | undefined => (c instanceof RibChange ? c.bestPeerId : c.best?.peer?.id);

/** One prefix's candidates: a single path (the common case, no array), or all paths best first. */
type Slot = Path | Path[];
const ownerOf = (r: { peer: PeerRef | undefined }): string => r.peer?.id ?? '';
const V6 = -1;
const key4 = (b: Uint8Array): number => (b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!;

/**
 * Adj-RIB-In and Loc-RIB of one segment. Feed it accepted routes with {@link Rib.update} and
 * withdrawals with {@link Rib.withdraw} (or a whole IPv4 NLRI field with {@link Rib.updateNlri4} /
 * {@link Rib.withdrawNlri4}); it calls `onChange` synchronously for each best-path change.
 * The Adj-RIB-In is not a second table: each peer's post-policy path sits in the Loc-RIB candidate list
 * (tagged with its peer), so a full table costs one map entry and one small object per prefix; IPv4
 * prefixes are keyed by number in one map per prefix length, IPv6 ones by canonical text.
 * {@link Rib.adjRibIn} derives a peer's view and {@link Rib.dropPeer} walks the table once. Pre-policy
 * routes are not kept: a policy change asks the peer for a ROUTE-REFRESH instead.
 * Example: `const rib = new Rib('default', (c) => fib.apply(c)); rib.update(peer, '10.0.0.0/8', attrs);`
 */
export class Rib {
  /** IPv4 Loc-RIB: index = prefix length, key = address as a signed 32-bit number (a small integer to V8). */
  private readonly v4: (Map<number, Slot> | undefined)[] = [];
  /** IPv6 Loc-RIB by canonical prefix text. */
  private readonly v6 = new Map<string, Slot>();
  private n = 0;
  private counts = new Map<string, number>();
  /** Paths added/removed by the current operation, for the per-peer counts. */
  private added = 0;
  private removed = 0;
  /** The last path made by {@link update}, reused while the same peer sends the same attribute object. */
  private last: Path | undefined;

  constructor(readonly segment: string, private readonly onChange: (c: BestChange) => void = () => {}) {}

  /** Installs or replaces a peer's (or, with `peer` undefined, our own) path; `prefix` as text, e.g. "10.1.0.0/16". */
  update(peer: PeerRef | undefined, prefix: string, attrs: PathAttributes): void {
    const p = parsePrefix(prefix);
    if (!p) return;
    const path = this.last?.attrs === attrs && this.last.peer === peer ? this.last : (this.last = new Path(attrs, peer));
    this.added = 0;
    if (p.afi === AFI_IPV4) this.put(this.map4(p.len), key4(p.bytes), path, p.len, undefined);
    else this.put(this.v6, `${formatIp(p.bytes, p.afi)}/${p.len}`, path, V6, `${formatIp(p.bytes, p.afi)}/${p.len}`);
    this.bump(peer?.id ?? '', this.added);
  }

  /** Removes a peer's path; a no-op when it had none. */
  withdraw(peer: PeerRef | undefined, prefix: string): void {
    const p = parsePrefix(prefix);
    if (!p) return;
    const owner = peer?.id ?? '';
    this.removed = 0;
    if (p.afi === AFI_IPV4) { const m = this.v4[p.len]; if (m) this.take(m, key4(p.bytes), owner, p.len, undefined); }
    else { const t = `${formatIp(p.bytes, p.afi)}/${p.len}`; this.take(this.v6, t, owner, V6, t); }
    this.bump(owner, -this.removed);
  }

  /**
   * Installs a peer's path, with the same attributes, for every prefix of a validated IPv4 NLRI field
   * (an UPDATE's classic NLRI, see `CodecContext.rawNlri`): one tight loop, one shared path object, no
   * string or object per prefix. Example: `rib.updateNlri4(peer, update.nlriRaw, update.attrs)`.
   */
  updateNlri4(peer: PeerRef | undefined, nlri: Uint8Array, attrs: PathAttributes): void {
    const path = new Path(attrs, peer);
    this.added = 0;
    forEachNlri4(nlri, (a, len) => this.put(this.map4(len), a | 0, path, len, undefined));
    this.bump(peer?.id ?? '', this.added);
  }

  /** Removes a peer's paths for every prefix of a validated IPv4 NLRI field (withdrawn routes). */
  withdrawNlri4(peer: PeerRef | undefined, nlri: Uint8Array): void {
    const owner = peer?.id ?? '';
    this.removed = 0;
    forEachNlri4(nlri, (a, len) => { const m = this.v4[len]; if (m) this.take(m, a | 0, owner, len, undefined); });
    this.bump(owner, -this.removed);
  }

  /** Removes every path from a peer (session down). */
  dropPeer(peerId: string): void {
    if (!this.counts.get(peerId)) return;
    const has = (slot: Slot) => (Array.isArray(slot) ? slot.some((r) => ownerOf(r) === peerId) : ownerOf(slot) === peerId);
    this.v4.forEach((m, len) => {
      if (!m) return;
      const gone: number[] = [];
      for (const [k, slot] of m) if (has(slot)) gone.push(k);
      for (const k of gone) this.take(m, k, peerId, len, undefined);
    });
    const gone6: string[] = [];
    for (const [k, slot] of this.v6) if (has(slot)) gone6.push(k);
    for (const k of gone6) this.take(this.v6, k, peerId, V6, k);
    this.counts.delete(peerId);
  }

  /** Number of paths a peer has in this segment (its Adj-RIB-In size, post policy). */
  received(peerId: string): number { return this.counts.get(peerId) ?? 0; }

  /** A peer's Adj-RIB-In (post policy) by prefix text, derived from the Loc-RIB; for displays, O(table). */
  adjRibIn(peerId: string): Map<string, Route> {
    const out = new Map<string, Route>();
    for (const r of this.all((slot) => (Array.isArray(slot) ? slot.find((x) => ownerOf(x) === peerId) : ownerOf(slot) === peerId ? slot : undefined))) out.set(r.prefix, r);
    return out;
  }

  /** The best path to a prefix given as text, e.g. `rib.best('10.1.0.0/16')`. */
  best(prefix: string): Route | undefined {
    const p = parsePrefix(prefix);
    if (!p) return undefined;
    const v4 = p.afi === AFI_IPV4;
    const slot = v4 ? this.v4[p.len]?.get(key4(p.bytes)) : this.v6.get(`${formatIp(p.bytes, p.afi)}/${p.len}`);
    if (!slot) return undefined;
    const a = v4 ? key4(p.bytes) >>> 0 : 0;
    return new RibRoute(Array.isArray(slot) ? slot[0]! : slot, a, v4 ? p.len : V6, v4 ? undefined : `${formatIp(p.bytes, p.afi)}/${p.len}`);
  }

  /** Number of prefixes with a best path (IPv4 and IPv6). */
  get size(): number { return this.n; }

  /** Every best path: IPv4 by prefix length then arrival, then IPv6. */
  bests(): IterableIterator<Route> { return this.all((slot) => (Array.isArray(slot) ? slot[0] : slot)); }

  private *all(pick: (s: Slot) => Path | undefined): IterableIterator<Route> {
    for (let len = 0; len < this.v4.length; len++) {
      const m = this.v4[len];
      if (m) for (const [k, slot] of m) { const p = pick(slot); if (p) yield new RibRoute(p, k >>> 0, len); }
    }
    for (const [k, slot] of this.v6) { const p = pick(slot); if (p) yield new RibRoute(p, 0, V6, k); }
  }

  private map4(len: number): Map<number, Slot> { return (this.v4[len] ??= new Map()); }
  private bump(owner: string, by: number): void { if (by) this.counts.set(owner, (this.counts.get(owner) ?? 0) + by); }
  private change(best: Path | undefined, previous: Path | undefined, k: number | string, len: number, text: string | undefined): void {
    this.onChange(new RibChange(this.segment, best, previous, typeof k === 'number' ? k >>> 0 : 0, len, text));
  }

  private put<K extends number | string>(m: Map<K, Slot>, k: K, path: Path, len: number, text: string | undefined): void {
    const slot = m.get(k);
    if (slot === undefined) {
      m.set(k, path);
      this.n++;
      this.added++;
      this.change(path, undefined, k, len, text);
      return;
    }
    const owner = ownerOf(path);
    if (!Array.isArray(slot)) {
      if (ownerOf(slot) === owner) { m.set(k, path); if (slot !== path) this.change(path, slot, k, len, text); return; }
      this.added++;
      const list = [slot, path];
      m.set(k, list);
      this.reselect(list, slot, k, len, text);
      return;
    }
    const previous = slot[0]!;
    const i = slot.findIndex((r) => ownerOf(r) === owner);
    if (i >= 0) slot[i] = path; else { slot.push(path); this.added++; }
    this.reselect(slot, previous, k, len, text);
  }

  /** Removes `owner`'s path at `k`; counts into `removed`. */
  private take<K extends number | string>(m: Map<K, Slot>, k: K, owner: string, len: number, text: string | undefined): void {
    const slot = m.get(k);
    if (slot === undefined) return;
    if (!Array.isArray(slot)) {
      if (ownerOf(slot) !== owner) return;
      m.delete(k);
      this.n--;
      this.removed++;
      this.change(undefined, slot, k, len, text);
      return;
    }
    const i = slot.findIndex((r) => ownerOf(r) === owner);
    if (i < 0) return;
    this.removed++;
    const previous = slot[0]!;
    slot.splice(i, 1);
    if (slot.length === 1) m.set(k, slot[0]!);
    this.reselect(slot, previous, k, len, text);
  }

  private reselect(list: Path[], previous: Path, k: number | string, len: number, text: string | undefined): void {
    const best = selectBest(list as unknown as Route[]).best as unknown as Path;
    if (best !== list[0]) { list.splice(list.indexOf(best), 1); list.unshift(best); }
    if (best !== previous) this.change(best, previous, k, len, text);
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
  delete out.mpReach; delete out.mpUnreach; delete out.nextHopLinkLocal;
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
