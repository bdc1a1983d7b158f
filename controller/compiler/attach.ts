/**
 * Attaching the inventory to the intent: which edges belong to which site, which WAN interfaces ride which
 * transport, and which segment each LAN interface serves. Mismatches that make a bundle wrong are
 * {@link InputError}s naming the intent file and key path; harmless ones (an interface the intent does not
 * use) are warnings.
 */
import { InputError, zodIssues, type InputIssue } from '../../dataplane/validate.ts';
import { Inventory, type InventoryInterface } from '../../dataplane/inventory.ts';
import { networkOf, overlaps, parsePrefix } from '../../dataplane/net.ts';
import type { Intent, Site, Transport } from '../intent/index.ts';

/** A WAN interface with its transport; `mtu` is the interface MTU capped by the transport's. */
export interface WanAttachment { iface: InventoryInterface; transport: Transport; mtu: number }
/** A LAN interface with the segment it serves. */
export interface LanAttachment { iface: InventoryInterface; segment: string }

/** One inventory edge seen through the intent. Lists are sorted by interface name. */
export interface EdgeView {
  node: string;
  site: Site;
  wans: WanAttachment[];
  lans: LanAttachment[];
}

export interface Attachment {
  /** Sorted by node name. */
  edges: EdgeView[];
  /** Transports at least one edge attaches to, active first, then backup, last-resort; by name within a role. */
  attached: string[];
  warnings: string[];
}

const ROLE_RANK = { active: 0, backup: 1, 'last-resort': 2 } as const;
const known = (names: Iterable<string>) => [...new Set(names)].sort().join(', ') || 'none';
const byName = <T extends { iface: { name: string } }>(a: T, b: T) => (a.iface.name < b.iface.name ? -1 : a.iface.name > b.iface.name ? 1 : 0);

/** The segment of a LAN interface: the first (by id) whose prefixes at this site contain its subnet, else default. */
function lanSegment(iface: InventoryInterface, site: Site, intent: Intent): string {
  const addr = iface.ipv4[0] ?? iface.ipv6[0];
  if (addr) {
    const subnet = parsePrefix(networkOf(addr))!;
    const segs = Object.values(intent.segments).sort((a, b) => a.id - b.id);
    for (const seg of segs) {
      for (const text of site.lanPrefixes[seg.name] ?? []) {
        const p = parsePrefix(text)!;
        if (p.len <= subnet.len && overlaps(p, subnet)) return seg.name;
      }
    }
  }
  return 'default';
}

/**
 * Check the inventory against the intent and build one {@link EdgeView} per edge.
 * @throws InputError (inventory file) when the inventory is structurally invalid or names an edge twice;
 *   InputError (intent file) when an edge's site is not in the intent, an intent site has no edge, or a
 *   rule prefers a transport no edge attaches to.
 */
export function attachInventory(inventory: Inventory, intent: Intent, intentFile: string, inventoryFile: string): Attachment {
  const parsed = Inventory.safeParse(inventory);
  if (!parsed.success) throw new InputError(inventoryFile, zodIssues(parsed.error));
  const inv = parsed.data;

  const invIssues: InputIssue[] = [];
  const firstAt = new Map<string, number>();
  inv.edges.forEach((e, i) => {
    const first = firstAt.get(e.node);
    if (first !== undefined) invIssues.push({ path: ['edges', i, 'node'], message: `edge "${e.node}" is listed twice (first at edges[${first}])` });
    else firstAt.set(e.node, i);
  });
  if (invIssues.length) throw new InputError(inventoryFile, invIssues);

  const issues: InputIssue[] = [];
  const warnings: string[] = [];
  const siteNames = Object.keys(intent.sites);
  const edges: EdgeView[] = [];
  for (const e of [...inv.edges].sort((a, b) => (a.node < b.node ? -1 : 1))) {
    const site = intent.sites[e.site];
    if (!site) {
      issues.push({ path: ['sites'], message: `site "${e.site}" of inventory edge "${e.node}" is not defined (known: ${known(siteNames)})` });
      continue;
    }
    const wans: WanAttachment[] = [];
    const lans: LanAttachment[] = [];
    for (const iface of e.interfaces) {
      if (iface.role === 'lan') lans.push({ iface, segment: lanSegment(iface, site, intent) });
      if (iface.role !== 'wan') continue;
      if (iface.transport === undefined) {
        warnings.push(`${e.node}: WAN interface ${iface.name} names no transport; it carries no overlay path`);
        continue;
      }
      const transport = intent.transports[iface.transport];
      if (!transport) {
        warnings.push(`${e.node}: WAN interface ${iface.name} attaches to transport "${iface.transport}", which the intent does not define (known: ${known(Object.keys(intent.transports))}); it is ignored`);
        continue;
      }
      if (iface.ipv4.length === 0) warnings.push(`${e.node}: WAN interface ${iface.name} has no IPv4 address; it carries no overlay path`);
      wans.push({ iface, transport, mtu: Math.min(iface.mtu, transport.mtu ?? Infinity) });
    }
    edges.push({ node: e.node, site, wans: wans.sort(byName), lans: lans.sort(byName) });
  }

  const withEdges = new Set(edges.map((e) => e.site.name));
  const edgeList = edges.map((e) => `${e.node} (${e.site.name})`).join(', ') || 'none';
  for (const s of siteNames) {
    if (!withEdges.has(s)) issues.push({ path: ['sites', s], message: `no inventory edge belongs to this site (inventory edges: ${edgeList})` });
  }

  const attachedSet = new Set(edges.flatMap((e) => e.wans.map((w) => w.transport.name)));
  const attached = [...attachedSet].sort((a, b) => ROLE_RANK[intent.transports[a]!.role] - ROLE_RANK[intent.transports[b]!.role] || (a < b ? -1 : 1));
  // With no edge at all the missing sites already say everything; every transport would be "unattached".
  if (edges.length) intent.rules.forEach((r, i) => r.paths.preferred.forEach((t, j) => {
    if (!attachedSet.has(t)) {
      issues.push({ path: ['rules', i, 'paths', 'preferred', j], message: `transport "${t}" is not attached to any edge in the inventory (attached: ${known(attachedSet)})` });
    }
  }));
  if (issues.length) throw new InputError(intentFile, issues);
  return { edges, attached, warnings };
}
