/**
 * Semantic intent diff and blast radius. The diff compares RESOLVED intents (templates expanded, defaults
 * filled, maps keyed by name), so reformatting, key order and a template rewrite that yields the same sites
 * are no change, while "voice latency 150ms → 120ms" is one change at `slaClasses.voice.latency`. The blast
 * radius comes from the stored bundles: an edge is affected iff its bundle hash differs.
 */
import { canonicalJson } from '../../dataplane/bundle/hash.ts';
import { parseIntent, type Intent } from '../intent/index.ts';
import type { Store } from '../store/index.ts';
import { UnknownVersionError } from './errors.ts';

/** One semantic change between two intents. */
export interface IntentChange {
  /** Top-level section: `transports`, `sites`, `slaClasses`, `rules`, `segments`, `bgp`, `topology`, … */
  area: string;
  /** Key path inside the intent; list members with a `name` are addressed by it: `rules[voice].sla`. */
  path: string;
  kind: 'added' | 'removed' | 'changed';
  /** The value before (changed, removed). */
  old?: unknown;
  /** The value after (changed, added). */
  new?: unknown;
}

const isPlain = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const named = (v: unknown): v is { name: string }[] =>
  Array.isArray(v) && v.length > 0 && v.every((x) => isPlain(x) && typeof x.name === 'string') &&
  new Set(v.map((x) => (x as { name: string }).name)).size === v.length;
const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);
const key = (path: string, k: string) => (/^[A-Za-z_][\w-]*$/.test(k) ? (path ? `${path}.${k}` : k) : `${path}[${JSON.stringify(k)}]`);

function walk(a: unknown, b: unknown, path: string, area: string, out: IntentChange[]): void {
  if (same(a, b)) return;
  if (a === undefined) { out.push({ area, path, kind: 'added', new: b }); return; }
  if (b === undefined) { out.push({ area, path, kind: 'removed', old: a }); return; }
  if (isPlain(a) && isPlain(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) walk(a[k], b[k], key(path, k), area, out);
    return;
  }
  // Lists of named things (rules) diff by name; a pure reordering is reported once, since order decides matching.
  if ((named(a) || (Array.isArray(a) && a.length === 0)) && (named(b) || (Array.isArray(b) && b.length === 0)) && (a.length || b.length)) {
    const am = new Map(a.map((x) => [x.name, x] as const));
    const bm = new Map(b.map((x) => [x.name, x] as const));
    for (const [n, x] of am) walk(x, bm.get(n), `${path}[${n}]`, area, out);
    for (const [n, y] of bm) if (!am.has(n)) out.push({ area, path: `${path}[${n}]`, kind: 'added', new: y });
    const aOrder = a.map((x) => x.name).filter((n) => bm.has(n));
    const bOrder = b.map((x) => x.name).filter((n) => am.has(n));
    if (!same(aOrder, bOrder)) out.push({ area, path: `${path}(order)`, kind: 'changed', old: aOrder, new: bOrder });
    return;
  }
  out.push({ area, path, kind: 'changed', old: a, new: b });
}

/**
 * Semantic differences from intent `a` to intent `b`, in a stable order (by section, then key path).
 * @example diffIntents(v1, v2) // [{ area: 'slaClasses', path: 'slaClasses.voice.latency', kind: 'changed', old: 150, new: 120 }]
 */
export function diffIntents(a: Intent, b: Intent): IntentChange[] {
  const out: IntentChange[] = [];
  const ra = a as unknown as Record<string, unknown>;
  const rb = b as unknown as Record<string, unknown>;
  for (const area of [...new Set([...Object.keys(ra), ...Object.keys(rb)])].sort()) walk(ra[area], rb[area], area, area, out);
  return out;
}

/** Which edges' bundles differ between two versions. */
export interface BlastRadius {
  /** Edges in both versions whose bundle hash changed. */
  changed: string[];
  /** Edges only in the newer version / only in the older one. */
  added: string[];
  removed: string[];
  unchanged: number;
  /** Edges in either version. */
  total: number;
  /** "changes the bundles of 412 of 500 edges" (plus added/removed when any). */
  summary: string;
}

/**
 * Blast radius of going from version `from` to version `to`, from their stored bundle hashes.
 * @throws UnknownVersionError when either version does not exist.
 */
export async function blastRadius(store: Store, from: number, to: number): Promise<BlastRadius> {
  const [va, vb] = await Promise.all([store.getVersion(from), store.getVersion(to)]);
  const latest = (await store.latestVersion())?.id ?? null;
  if (!va) throw new UnknownVersionError('diff', from, latest);
  if (!vb) throw new UnknownVersionError('diff', to, latest);
  const a = new Map((await store.listBundleHashes(from)).map((r) => [r.edge, r.hash]));
  const b = new Map((await store.listBundleHashes(to)).map((r) => [r.edge, r.hash]));
  const changed: string[] = [];
  const added: string[] = [];
  let unchanged = 0;
  for (const [edge, h] of b) {
    const old = a.get(edge);
    if (old === undefined) added.push(edge);
    else if (old !== h) changed.push(edge);
    else unchanged++;
  }
  const removed = [...a.keys()].filter((e) => !b.has(e));
  const total = new Set([...a.keys(), ...b.keys()]).size;
  const extra = [added.length ? `adds ${added.length}` : '', removed.length ? `removes ${removed.length}` : ''].filter(Boolean);
  const summary = `changes the bundles of ${changed.length} of ${total} edges${extra.length ? `, ${extra.join(', ')}` : ''}`;
  return { changed, added, removed, unchanged, total, summary };
}

/** {@link diffVersions}'s result: the semantic changes and the blast radius. */
export interface VersionDiff {
  from: number;
  to: number;
  changes: IntentChange[];
  blast: BlastRadius;
  /** How the inventories the two versions were compiled against differ; null when either was not recorded. */
  inventory: InventoryChange | null;
}

/** Edges added to or removed from the inventory, and per remaining edge the fields that differ. */
export interface InventoryChange {
  added: string[];
  removed: string[];
  /** Edge → changed fields: top-level keys (`site`, `wireguardKey`, …) or `interfaces.<name>[.<key>]`. */
  changed: { edge: string; fields: string[] }[];
}

type InvEdge = { node: string; interfaces?: ({ name: string } & Record<string, unknown>)[] } & Record<string, unknown>;

/**
 * The difference of two stored inventories (dataplane/inventory.ts shape), so a diff says when bundles changed
 * because the edges did (a new reflexive address, a rotated key) rather than the intent.
 * @example diffInventories({ edges: [{ node: 'e1', site: 's1', interfaces: [{ name: 'wan0', reflexive: { address: '1.2.3.4' } }] }] },
 *   { edges: [{ node: 'e1', site: 's1', interfaces: [{ name: 'wan0', reflexive: { address: '5.6.7.8' } }] }] })
 *   // → { added: [], removed: [], changed: [{ edge: 'e1', fields: ['interfaces.wan0.reflexive'] }] }
 */
export function diffInventories(a: unknown, b: unknown): InventoryChange {
  const edgesOf = (x: unknown) => new Map(((x as { edges?: InvEdge[] } | null)?.edges ?? []).map((e) => [e.node, e]));
  const ea = edgesOf(a), eb = edgesOf(b);
  const same = (x: unknown, y: unknown) => canonicalJson(x ?? null) === canonicalJson(y ?? null);
  const changed: InventoryChange['changed'] = [];
  for (const [name, x] of ea) {
    const y = eb.get(name);
    if (!y) continue;
    const fields: string[] = [];
    for (const k of [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()) {
      if (k === 'interfaces') {
        const ia = new Map((x.interfaces ?? []).map((i) => [i.name, i])), ib = new Map((y.interfaces ?? []).map((i) => [i.name, i]));
        for (const n of [...new Set([...ia.keys(), ...ib.keys()])].sort()) {
          const p = ia.get(n), q = ib.get(n);
          if (!p || !q) { fields.push(`interfaces.${n}`); continue; }
          for (const f of [...new Set([...Object.keys(p), ...Object.keys(q)])].sort()) if (!same(p[f], q[f])) fields.push(`interfaces.${n}.${f}`);
        }
      } else if (!same(x[k], y[k])) fields.push(k);
    }
    if (fields.length) changed.push({ edge: name, fields });
  }
  return { added: [...eb.keys()].filter((n) => !ea.has(n)).sort(), removed: [...ea.keys()].filter((n) => !eb.has(n)).sort(), changed: changed.sort((p, q) => p.edge.localeCompare(q.edge)) };
}

/**
 * Semantic diff plus blast radius between two stored versions.
 * @example const d = await diffVersions(store, 3, 4); console.log(d.blast.summary);
 */
export async function diffVersions(store: Store, from: number, to: number): Promise<VersionDiff> {
  const blast = await blastRadius(store, from, to);
  const [va, vb] = await Promise.all([store.getVersion(from), store.getVersion(to)]);
  const changes = diffIntents(parseIntent(va!.intentYaml, `version ${from}`), parseIntent(vb!.intentYaml, `version ${to}`));
  const inventory = va!.inventory && vb!.inventory ? diffInventories(va!.inventory, vb!.inventory) : null;
  return { from, to, changes, blast, inventory };
}
