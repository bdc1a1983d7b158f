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
 * One peer's path as the Loc-RIB holds it: attributes + peer, interned — one object per (attribute set
 * object, peer), shared by every prefix that carries it (as BIRD shares its `rta`). The decoder interns
 * equal attribute bytes into one attribute object per session (codec `rawNlri`), so a table's ~60 000
 * distinct attribute sets make ~60 000 paths, each counted by the prefixes holding it and numbered so
 * the IPv4 table can hold it as a number.
 */
class Path {
  /** Number in the RIB's path registry (index into `paths`). */
  id = -1;
  /** Prefixes holding this path (alone or in a candidate list); at 0 it leaves the registry. */
  refs = 0;
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

/** Options of a {@link Rib}. */
export interface RibOptions {
  /**
   * Receives the best-path changes of one operation (an `update`/`withdraw` call, a whole NLRI field,
   * a `dropPeer`) as one array, in order, instead of one `onChange` call per prefix; when given,
   * `onChange` is not called. The array is the RIB's to hand over: the receiver may keep it.
   */
  onChanges?: (changes: BestChange[]) => void;
}

/** "No entry" for {@link Table4.get}. */
const NONE = -0x80000000;

/**
 * IPv4 prefix → 32-bit number (the RIB's slot code), open addressing with linear probing and
 * backward-shift deletion over three typed arrays (address, length + 1 with 0 = empty, value): 9 bytes
 * per place, 35–70 % of places used (1 M prefixes: 2^21 places, 18 MB), nothing the garbage collector has
 * to walk — a `Map` per prefix length cost more memory, and GC of its million entries was a quarter of
 * the ingest time. (One interleaved array was no faster in a 1 M-insert test.) Iteration order is not
 * kept (see {@link Rib.bests} for the order callers get).
 */
class Table4 {
  size = 0;
  private mask = 1023;
  private addr = new Int32Array(1024);
  private len1 = new Uint8Array(1024);
  private val = new Int32Array(1024);

  private static hash(a: number, len: number): number {
    let h = Math.imul(a ^ Math.imul(len + 1, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 15;
    h = Math.imul(h, 0xc2b2ae35);
    return h ^ (h >>> 13);
  }

  /** Index of (a, len), or of the empty place where it would go. */
  private find(a: number, len: number): number {
    const l1 = len + 1, mask = this.mask, addr = this.addr, lens = this.len1;
    let i = Table4.hash(a, len) & mask;
    for (;;) {
      const l = lens[i]!;
      if (l === 0 || (l === l1 && addr[i] === a)) return i;
      i = (i + 1) & mask;
    }
  }

  get(a: number, len: number): number {
    const i = this.find(a, len);
    return this.len1[i] === 0 ? NONE : this.val[i]!;
  }

  set(a: number, len: number, v: number): void {
    const i = this.find(a, len);
    if (this.len1[i] === 0) {
      this.addr[i] = a;
      this.len1[i] = len + 1;
      this.val[i] = v;
      if (++this.size * 10 > (this.mask + 1) * 7) this.grow();
      return;
    }
    this.val[i] = v;
  }

  delete(a: number, len: number): void {
    let i = this.find(a, len);
    if (this.len1[i] === 0) return;
    this.size--;
    const mask = this.mask, addr = this.addr, lens = this.len1, val = this.val;
    // Backward shift: pull later entries of the probe run into the hole when their home allows it.
    for (let j = (i + 1) & mask; lens[j] !== 0; j = (j + 1) & mask) {
      const home = Table4.hash(addr[j]!, lens[j]! - 1) & mask;
      if (((j - home) & mask) >= ((j - i) & mask)) {
        addr[i] = addr[j]!; lens[i] = lens[j]!; val[i] = val[j]!;
        i = j;
      }
    }
    lens[i] = 0;
  }

  private grow(): void {
    const { addr, len1, val } = this;
    const cap = (this.mask + 1) * 2;
    this.mask = cap - 1;
    this.addr = new Int32Array(cap);
    this.len1 = new Uint8Array(cap);
    this.val = new Int32Array(cap);
    for (let j = 0; j < len1.length; j++) {
      if (len1[j] === 0) continue;
      const i = this.find(addr[j]!, len1[j]! - 1);
      this.addr[i] = addr[j]!; this.len1[i] = len1[j]!; this.val[i] = val[j]!;
    }
  }

  /** Every entry as (address, length, value), in table order; the callback must not change the table. */
  forEach(fn: (a: number, len: number, v: number) => void): void {
    const { addr, len1, val } = this;
    for (let i = 0; i < len1.length; i++) if (len1[i] !== 0) fn(addr[i]!, len1[i]! - 1, val[i]!);
  }

  /** Keys sorted by prefix length, then address: `length * 2^32 + unsigned address`. */
  sortedKeys(): Float64Array {
    const out = new Float64Array(this.size);
    let n = 0;
    this.forEach((a, len) => { out[n++] = len * 4294967296 + (a >>> 0); });
    return out.sort();
  }
}

/**
 * Adj-RIB-In and Loc-RIB of one segment. Feed it accepted routes with {@link Rib.update} and
 * withdrawals with {@link Rib.withdraw} (or a whole IPv4 NLRI field with {@link Rib.updateNlri4} /
 * {@link Rib.withdrawNlri4}); it calls `onChange` synchronously for each best-path change, or
 * `opts.onChanges` once per operation with all of them (a full table: one call per UPDATE, not per prefix).
 * A path that is re-announced with the same attribute object (an interned one) is no change.
 * The Adj-RIB-In is not a second table: each peer's post-policy path sits in the Loc-RIB candidate list
 * (tagged with its peer), so a full table costs one table entry per prefix; IPv4 prefixes live in one
 * typed-array hash table ({@link Table4}) holding a path number (or a candidate-list number), IPv6 ones
 * in a Map by canonical text. {@link Rib.adjRibIn} derives a peer's view and {@link Rib.dropPeer} walks
 * the table once. Pre-policy routes are not kept: a policy change asks the peer for a ROUTE-REFRESH instead.
 * Example: `const rib = new Rib('default', (c) => fib.apply(c)); rib.update(peer, '10.0.0.0/8', attrs);`
 */
export class Rib {
  /** IPv4 Loc-RIB: (address, length) → slot code: path id (≥ 0) or -(list id + 1). */
  private readonly v4 = new Table4();
  /** IPv6 Loc-RIB by canonical prefix text. */
  private readonly v6 = new Map<string, Slot>();
  private n = 0;
  /** Prefixes whose best path is our own (peer undefined). */
  private own = 0;
  private counts = new Map<string, number>();
  /** Paths added/removed by the current operation, for the per-peer counts. */
  private added = 0;
  private removed = 0;
  /** Path registry (by id, with free ids) and the interned path per attribute object. */
  private readonly paths: (Path | undefined)[] = [];
  private readonly freePaths: number[] = [];
  private readonly interned = new Map<PathAttributes, Path>();
  /** Candidate lists of IPv4 prefixes with more than one path (by id, with free ids). */
  private readonly lists: (Path[] | undefined)[] = [];
  private readonly freeLists: number[] = [];
  /** Changes of the current operation when batching (see {@link RibOptions.onChanges}). */
  private batch: BestChange[] | undefined;

  constructor(readonly segment: string, private readonly onChange: (c: BestChange) => void = () => {}, private readonly opts: RibOptions = {}) {}

  /** The one path object for (attrs, peer), made and registered when new. */
  private pathOf(attrs: PathAttributes, peer: PeerRef | undefined): Path {
    const p = this.interned.get(attrs);
    if (p && p.peer === peer) return p;
    const fresh = new Path(attrs, peer);
    fresh.id = this.freePaths.pop() ?? this.paths.length;
    this.paths[fresh.id] = fresh;
    if (!p) this.interned.set(attrs, fresh);
    return fresh;
  }

  private ref(p: Path): void { p.refs++; }
  /** One prefix less holds `p`; the last one takes it out of the registry. */
  private unref(p: Path): void {
    if (--p.refs > 0) return;
    this.paths[p.id] = undefined;
    this.freePaths.push(p.id);
    if (this.interned.get(p.attrs) === p) this.interned.delete(p.attrs);
  }

  /** Starts an operation's change batch (when batching). */
  private begin(): void { if (this.opts.onChanges) this.batch = []; }
  /** Hands the operation's batch over, if it holds anything; forgets a path no prefix took. */
  private end(path?: Path): void {
    if (path && path.refs === 0) { path.refs = 1; this.unref(path); }
    const b = this.batch;
    this.batch = undefined;
    if (b?.length) this.opts.onChanges!(b);
  }

  /** Installs or replaces a peer's (or, with `peer` undefined, our own) path; `prefix` as text, e.g. "10.1.0.0/16". */
  update(peer: PeerRef | undefined, prefix: string, attrs: PathAttributes): void {
    const p = parsePrefix(prefix);
    if (!p) return;
    const path = this.pathOf(attrs, peer);
    this.added = 0;
    this.begin();
    if (p.afi === AFI_IPV4) this.put4(key4(p.bytes), p.len, path);
    else { const t = `${formatIp(p.bytes, p.afi)}/${p.len}`; this.put(this.v6, t, path, V6, t); }
    this.bump(peer?.id ?? '', this.added);
    this.end(path);
  }

  /** Removes a peer's path; a no-op when it had none. */
  withdraw(peer: PeerRef | undefined, prefix: string): void {
    const p = parsePrefix(prefix);
    if (!p) return;
    const owner = peer?.id ?? '';
    this.removed = 0;
    this.begin();
    if (p.afi === AFI_IPV4) this.take4(key4(p.bytes), p.len, owner);
    else { const t = `${formatIp(p.bytes, p.afi)}/${p.len}`; this.take(this.v6, t, owner, V6, t); }
    this.bump(owner, -this.removed);
    this.end();
  }

  /**
   * Installs a peer's path, with the same attributes, for every prefix of a validated IPv4 NLRI field
   * (an UPDATE's classic NLRI, see `CodecContext.rawNlri`): one tight loop, one shared (interned) path
   * object, no string per prefix. Example: `rib.updateNlri4(peer, update.nlriRaw, update.attrs)`.
   */
  updateNlri4(peer: PeerRef | undefined, nlri: Uint8Array, attrs: PathAttributes): void {
    const path = this.pathOf(attrs, peer);
    this.added = 0;
    this.begin();
    forEachNlri4(nlri, (a, len) => this.put4(a | 0, len, path));
    this.bump(peer?.id ?? '', this.added);
    this.end(path);
  }

  /** Removes a peer's paths for every prefix of a validated IPv4 NLRI field (withdrawn routes). */
  withdrawNlri4(peer: PeerRef | undefined, nlri: Uint8Array): void {
    const owner = peer?.id ?? '';
    this.removed = 0;
    this.begin();
    forEachNlri4(nlri, (a, len) => this.take4(a | 0, len, owner));
    this.bump(owner, -this.removed);
    this.end();
  }

  /** Removes every path from a peer (session down). */
  dropPeer(peerId: string): void {
    if (!this.counts.get(peerId)) return;
    const has = (slot: Slot) => (Array.isArray(slot) ? slot.some((r) => ownerOf(r) === peerId) : ownerOf(slot) === peerId);
    this.begin();
    const gone: number[] = [];
    this.v4.forEach((a, len, v) => { if (has(this.slotOf(v))) gone.push(a, len); });
    for (let i = 0; i < gone.length; i += 2) this.take4(gone[i]!, gone[i + 1]!, peerId);
    const gone6: string[] = [];
    for (const [k, slot] of this.v6) if (has(slot)) gone6.push(k);
    for (const k of gone6) this.take(this.v6, k, peerId, V6, k);
    this.counts.delete(peerId);
    this.end();
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
    if (p.afi === AFI_IPV4) {
      const v = this.v4.get(key4(p.bytes), p.len);
      if (v === NONE) return undefined;
      const slot = this.slotOf(v);
      return new RibRoute(Array.isArray(slot) ? slot[0]! : slot, key4(p.bytes) >>> 0, p.len);
    }
    const t = `${formatIp(p.bytes, p.afi)}/${p.len}`;
    const slot = this.v6.get(t);
    return slot && new RibRoute(Array.isArray(slot) ? slot[0]! : slot, 0, V6, t);
  }

  /** Number of prefixes with a best path (IPv4 and IPv6). */
  get size(): number { return this.n; }

  /** Number of prefixes whose best path was learned from a peer (not originated here); O(1). */
  get learned(): number { return this.n - this.own; }

  /** Every best path: IPv4 by prefix length then address, then IPv6 in arrival order. */
  bests(): IterableIterator<Route> { return this.all((slot) => (Array.isArray(slot) ? slot[0] : slot)); }

  private *all(pick: (s: Slot) => Path | undefined): IterableIterator<Route> {
    for (const k of this.v4.sortedKeys()) {
      const len = Math.floor(k / 4294967296), a = k - len * 4294967296;
      const v = this.v4.get(a | 0, len);
      if (v === NONE) continue; // removed while iterating
      const p = pick(this.slotOf(v));
      if (p) yield new RibRoute(p, a, len);
    }
    for (const [k, slot] of this.v6) { const p = pick(slot); if (p) yield new RibRoute(p, 0, V6, k); }
  }

  private slotOf(v: number): Slot { return v >= 0 ? this.paths[v]! : this.lists[-v - 1]!; }

  private bump(owner: string, by: number): void { if (by) this.counts.set(owner, (this.counts.get(owner) ?? 0) + by); }
  private change(best: Path | undefined, previous: Path | undefined, k: number | string, len: number, text: string | undefined): void {
    if (best && !best.peer) this.own++;
    if (previous && !previous.peer) this.own--;
    const c = new RibChange(this.segment, best, previous, typeof k === 'number' ? k >>> 0 : 0, len, text);
    if (this.batch) this.batch.push(c); else this.onChange(c);
  }

  /** {@link put} for the IPv4 table: slot codes in, slot codes out. */
  private put4(a: number, len: number, path: Path): void {
    const v = this.v4.get(a, len);
    if (v === NONE) {
      this.v4.set(a, len, path.id);
      this.ref(path);
      this.n++;
      this.added++;
      this.change(path, undefined, a, len, undefined);
      return;
    }
    if (v >= 0) {
      const slot = this.paths[v]!;
      if (slot === path) return;
      if (ownerOf(slot) === ownerOf(path)) { this.v4.set(a, len, path.id); this.ref(path); this.unref(slot); this.change(path, slot, a, len, undefined); return; }
      const id = this.freeLists.pop() ?? this.lists.length;
      const list = [slot, path];
      this.lists[id] = list;
      this.v4.set(a, len, -id - 1);
      this.ref(path);
      this.added++;
      this.reselect(list, slot, a, len, undefined);
      return;
    }
    this.putInList(this.lists[-v - 1]!, path, a, len, undefined);
  }

  /** {@link take} for the IPv4 table. */
  private take4(a: number, len: number, owner: string): void {
    const v = this.v4.get(a, len);
    if (v === NONE) return;
    if (v >= 0) {
      const slot = this.paths[v]!;
      if (ownerOf(slot) !== owner) return;
      this.v4.delete(a, len);
      this.n--;
      this.removed++;
      this.unref(slot);
      this.change(undefined, slot, a, len, undefined);
      return;
    }
    const list = this.lists[-v - 1]!;
    const i = list.findIndex((r) => ownerOf(r) === owner);
    if (i < 0) return;
    this.removed++;
    const previous = list[0]!;
    const [gone] = list.splice(i, 1);
    this.unref(gone!);
    if (list.length === 1) { this.lists[-v - 1] = undefined; this.freeLists.push(-v - 1); this.v4.set(a, len, list[0]!.id); }
    this.reselect(list, previous, a, len, undefined);
  }

  private put<K extends number | string>(m: Map<K, Slot>, k: K, path: Path, len: number, text: string | undefined): void {
    const slot = m.get(k);
    if (slot === undefined) {
      m.set(k, path);
      this.ref(path);
      this.n++;
      this.added++;
      this.change(path, undefined, k, len, text);
      return;
    }
    const owner = ownerOf(path);
    if (!Array.isArray(slot)) {
      if (slot === path) return;
      if (ownerOf(slot) === owner) { m.set(k, path); this.ref(path); this.unref(slot); this.change(path, slot, k, len, text); return; }
      this.added++;
      this.ref(path);
      const list = [slot, path];
      m.set(k, list);
      this.reselect(list, slot, k, len, text);
      return;
    }
    this.putInList(slot, path, k, len, text);
  }

  /** Adds or replaces `path`'s owner's entry in a candidate list and re-selects. */
  private putInList(list: Path[], path: Path, k: number | string, len: number, text: string | undefined): void {
    const previous = list[0]!;
    const owner = ownerOf(path);
    const i = list.findIndex((r) => ownerOf(r) === owner);
    if (i >= 0) {
      if (list[i] === path) return;
      this.unref(list[i]!);
      list[i] = path;
    } else { list.push(path); this.added++; }
    this.ref(path);
    this.reselect(list, previous, k, len, text);
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
      this.unref(slot);
      this.change(undefined, slot, k, len, text);
      return;
    }
    const i = slot.findIndex((r) => ownerOf(r) === owner);
    if (i < 0) return;
    this.removed++;
    const previous = slot[0]!;
    const [gone] = slot.splice(i, 1);
    this.unref(gone!);
    if (slot.length === 1) m.set(k, slot[0]!);
    this.reselect(slot, previous, k, len, text);
  }

  private reselect(list: Path[], previous: Path, k: number | string, len: number, text: string | undefined): void {
    const best = selectBest(list as unknown as Route[]).best as unknown as Path;
    if (best !== list[0]) { list.splice(list.indexOf(best), 1); list.unshift(best); }
    if (best !== previous) this.change(best, previous, k, len, text);
  }

  /** Paths and candidate lists held (for tests of the interning: equal attribute objects share one path). */
  get registry(): { paths: number; lists: number; interned: number } {
    return { paths: this.paths.length - this.freePaths.length, lists: this.lists.length - this.freeLists.length, interned: this.interned.size };
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
