/**
 * The compiler: inventory + intent → one bundle per edge. Pure (no I/O) and deterministic: the same inputs
 * give byte-identical bundles and hashes, whatever the key order of the source files. A bundle holds only
 * what its edge uses — the segments it carries, their rules and the SLA / QoS classes those rules name —
 * so an intent change touches exactly the bundles it affects. The classifier is the same on every edge.
 *
 * Bundle `transport` fields carry intent transport names (what inventory interfaces name); colours only
 * decide which interface pairs become paths. `probing` carries the intent's probe/steering tuning and the
 * transports' probeBudget (probing.ts). Not carried yet: topology.onDemand.idleTimeout, app-class fqdn/sni. `wanopt` resolves the
 * WAN-opt / FEC classes to class ids (wanopt.ts), `{}` without them. `bgp` is the edge's site's speaker configuration (bgp.ts), `{}` without BGP.
 */
import { BUNDLE_API_VERSION, Bundle, contentHash } from '../../dataplane/bundle/index.ts';
import type { Inventory } from '../../dataplane/inventory.ts';
import type { Intent } from '../intent/index.ts';
import { attachInventory, type EdgeView } from './attach.ts';
import { buildBgp, checkBgpNeighbors } from './bgp.ts';
import { buildProbing } from './probing.ts';
import { buildWanopt } from './wanopt.ts';
import { buildTables } from './classifier.ts';
import { buildPaths } from './paths.ts';
import { addWireguard } from './wireguard.ts';
import { reachedAs } from './nat.ts';
import { buildSegments, carriedSegments } from './routes.ts';
import { compatible, peering } from './topology.ts';

/** Options of {@link compile}; the file names only appear in error messages. */
export interface CompileOptions {
  /** Intent file named by errors about the intent (default "intent"). */
  intentFile?: string;
  /** Inventory source named by errors about the inventory itself (default "inventory"). */
  inventoryFile?: string;
}

/** One compiled bundle and its content hash (sha256 hex of its canonical JSON). */
export interface CompiledBundle { bundle: Bundle; hash: string }

export interface CompileResult {
  /** Keyed by node name, in sorted node order. */
  bundles: Map<string, CompiledBundle>;
  /** Things that compile but probably are not what the operator meant, e.g. "edge3: WAN interface wan2 …". */
  warnings: string[];
}

function pairWarnings(intent: Intent, edges: EdgeView[], warnings: string[]) {
  for (const a of edges) {
    for (const b of edges) {
      if (a.node >= b.node || a.site.name === b.site.name || peering(intent, a.site, b.site) === 'none') continue;
      const has = a.wans.some((x) => b.wans.some((y) => x.iface.ipv4.length > 0 && y.iface.ipv4.length > 0 && compatible(x.transport, y.transport)));
      if (!has) {
        const list = (e: EdgeView) => e.wans.map((w) => w.transport.name).join(', ') || 'none';
        warnings.push(`${a.node} ↔ ${b.node}: no compatible transport pair (${a.node}: ${list(a)}; ${b.node}: ${list(b)}); their traffic goes through a hub if one is reachable`);
      }
    }
  }
}

/**
 * The QoS classes `rules` name, each with the application class ids it shapes: the first rule naming an
 * application class with a QoS class decides (the overlay header carries the class, not the rule); a later
 * rule giving the same application class another QoS class is warned about.
 */
function qosClassesOf(tables: ReturnType<typeof buildTables>, rules: Bundle['rules'], node: string, warnings: string[]): Bundle['qosClasses'] {
  const appId = new Map(tables.classifier.map((c) => [c.appClass, c.classId]));
  const qosOfApp = new Map<string, string>();
  for (const r of rules) {
    if (r.qosClass === undefined || r.service === 'direct-internet') continue;
    const had = qosOfApp.get(r.appClass);
    if (had === undefined) qosOfApp.set(r.appClass, r.qosClass);
    else if (had !== r.qosClass) warnings.push(`${node}: rule ${r.name} gives application class ${r.appClass} QoS class ${r.qosClass}, but an earlier rule gave it ${had}; the WAN shaper uses ${had}`);
  }
  const qosNames = new Set(rules.map((r) => r.qosClass));
  return tables.qosClasses.filter((c) => qosNames.has(c.name)).map((c) => ({
    ...c,
    classIds: [...qosOfApp].filter(([, q]) => q === c.name).map(([app]) => appId.get(app)).filter((id): id is number => id !== undefined).sort((a, b) => a - b),
  }));
}

/**
 * Compile `intent` (from {@link loadIntent}) for every edge of `inventory`.
 *
 * Example:
 *   const { bundles, warnings } = compile(inventory, loadIntent('labs/two-site-dual-wan/intent.yaml'),
 *     { intentFile: 'labs/two-site-dual-wan/intent.yaml' });
 *   bundles.get('edge1')!.bundle.paths   // [{ id: 1, peerNode: 'edge2', transport: 'inet', … }, …]
 *
 * @throws InputError naming the intent file and key path when inventory and intent disagree: an edge on a
 *   site the intent lacks, an intent site with no edge, a rule preferring a transport no edge attaches to,
 *   an IPv6 BGP neighbour of a site whose edge has no IPv6 address.
 */
export function compile(inventory: Inventory, intent: Intent, opts: CompileOptions = {}): CompileResult {
  const warnings: string[] = [];
  const { edges, attached, warnings: attachWarnings } = attachInventory(inventory, intent, opts.intentFile ?? 'intent', opts.inventoryFile ?? 'inventory');
  warnings.push(...attachWarnings);
  pairWarnings(intent, edges, warnings);
  checkBgpNeighbors(intent, edges, opts.intentFile ?? 'intent');
  const tables = buildTables(intent, attached, warnings);
  // A revoked edge (every certificate revoked) gets no bundle, and nobody a path, route or key towards it.
  const revoked = new Set(inventory.edges.filter((e) => e.revoked).map((e) => e.node));
  const live = edges.filter((e) => !revoked.has(e.node));
  if (revoked.size) warnings.push(`${[...revoked].sort().join(', ')}: revoked; no bundle for it, and no path or WireGuard peer towards it in any other`);
  const sitesWithEdges = new Set(live.map((e) => e.site.name));
  const wanopt = buildWanopt(intent, opts.intentFile ?? 'intent', warnings);

  const bundles = new Map<string, CompiledBundle>();
  const pathsOf = new Map(live.map((e) => [e.node, buildPaths(intent, e, live)]));
  // Each path learns the id its peer gave the reverse direction (same two addresses, swapped; behind NAT a
  // remote address is the peer's reflexive one).
  const seenAs = reachedAs(inventory);
  for (const [node, paths] of pathsOf) {
    for (const p of paths) {
      const back = pathsOf.get(p.peerNode)?.find((q) => q.peerNode === node && seenAs(p.peerNode, q.localAddress, p.remoteAddress) && seenAs(node, p.localAddress, q.remoteAddress));
      if (back) p.peerPathId = back.id;
    }
  }
  addWireguard(intent, inventory, pathsOf, warnings);
  for (const edge of live) {
    const paths = pathsOf.get(edge.node)!;
    const carried = carriedSegments(intent, edge);
    // Only what this edge uses: rules of its segments and the SLA / QoS classes those rules name.
    const rules = tables.rules.filter((r) => carried.has(r.segment));
    const slaNames = new Set(rules.map((r) => r.slaClass));
    const draft: Bundle = {
      apiVersion: BUNDLE_API_VERSION,
      node: edge.node,
      site: edge.site.name,
      siteId: edge.site.id,
      intent: intent.name,
      interfaces: {
        wan: edge.wans.map((w) => ({
          name: w.iface.name, transport: w.transport.name, ipv4: [...w.iface.ipv4],
          ...(w.iface.ipv6.length ? { ipv6: [...w.iface.ipv6] } : {}),
          ...(w.iface.gateway !== undefined ? { gateway: w.iface.gateway } : {}),
          mtu: w.mtu, role: w.transport.role, metered: w.transport.metered,
          bandwidthUp: w.transport.bandwidth?.up ?? 0, bandwidthDown: w.transport.bandwidth?.down ?? 0,
          // A committed upstream rate is what the edge shapes to (docs/qos.md).
          ...(w.transport.bandwidth?.up ? { shape: { rateBps: Math.round(w.transport.bandwidth.up) } } : {}),
        })),
        lan: edge.lans.map((l) => ({
          name: l.iface.name, segment: l.segment, ipv4: [...l.iface.ipv4],
          ...(l.iface.ipv6.length ? { ipv6: [...l.iface.ipv6] } : {}),
          ...(l.iface.vlan !== undefined ? { vlan: l.iface.vlan } : {}),
        })),
      },
      segments: buildSegments(intent, edge, paths, sitesWithEdges, carried, warnings),
      paths,
      classifier: structuredClone(tables.classifier),
      rules: structuredClone(rules),
      slaClasses: tables.slaClasses.filter((c) => slaNames.has(c.name)).map((c) => ({ ...c })),
      qosClasses: qosClassesOf(tables, rules, edge.node, warnings),
      bgp: buildBgp(intent, edge),
      wanopt: structuredClone(wanopt),
    };
    const probing = buildProbing(intent, edge.wans.map((w) => w.transport.name));
    if (probing) draft.probing = probing;
    // Only when the intent says so: bundles of intents without it stay byte-identical (and their hashes).
    if (intent.rollout?.commitConfirm !== undefined) draft.commitConfirmMs = Math.round(intent.rollout.commitConfirm);
    const checked = Bundle.safeParse(draft);
    if (!checked.success) {
      throw new Error(`compiler produced an invalid bundle for ${edge.node} (a compiler bug): ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    bundles.set(edge.node, { bundle: checked.data, hash: contentHash(checked.data) });
  }
  return { bundles, warnings: [...new Set(warnings)] };
}
