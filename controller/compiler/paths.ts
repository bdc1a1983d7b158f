/**
 * Overlay paths of one edge: for every peer edge the topology lets it reach, every (local WAN interface,
 * remote WAN interface) pair whose transports are {@link compatible} and whose NATs let a direct path form
 * (nat.ts: a pair that cannot is left out, so its traffic goes through a hub). Ids are 1-based in the order
 * (peer site id, peer node, local interface, remote interface), so they are stable for a given input.
 */
import type { BundlePath } from '../../dataplane/bundle/index.ts';
import { hostOf } from '../../dataplane/net.ts';
import type { Intent } from '../intent/index.ts';
import type { EdgeView } from './attach.ts';
import { compatible, peering } from './topology.ts';
import { directPossible, reachableAddress } from './nat.ts';

const ROLE_RANK = { active: 0, backup: 1, 'last-resort': 2 } as const;
const ROLES = ['active', 'backup', 'last-resort'] as const;

/**
 * Paths from `edge` to the other edges. remoteAddress is the peer interface's first IPv4 host address (its
 * reflexive address when it sits behind NAT),
 * gateway the local interface's underlay next hop, mtu the smaller of both ends (each capped by its
 * transport's mtu), role the weaker of both transports' roles (a path onto a peer's backup link is a backup
 * path), probe true for always-on peers and false for on-demand ones.
 */
export function buildPaths(intent: Intent, edge: EdgeView, edges: EdgeView[]): BundlePath[] {
  const rows: Omit<BundlePath, 'id'>[] = [];
  const peers = edges.filter((p) => p.site.name !== edge.site.name)
    .sort((a, b) => a.site.id - b.site.id || (a.node < b.node ? -1 : 1));
  for (const peer of peers) {
    const how = peering(intent, edge.site, peer.site);
    if (how === 'none') continue;
    for (const local of edge.wans) {
      const localAddr = local.iface.ipv4[0];
      if (!localAddr) continue;
      for (const remote of peer.wans) {
        const remoteAddr = remote.iface.ipv4[0];
        if (!remoteAddr || !compatible(local.transport, remote.transport) || !directPossible(local.iface, remote.iface)) continue;
        rows.push({
          peerNode: peer.node,
          peerSite: peer.site.name,
          peerSiteId: peer.site.id,
          transport: local.transport.name,
          remoteTransport: remote.transport.name,
          localInterface: local.iface.name,
          localAddress: hostOf(localAddr),
          remoteAddress: reachableAddress(remote.iface),
          ...(local.iface.gateway !== undefined ? { gateway: local.iface.gateway } : {}),
          mtu: Math.min(local.mtu, remote.mtu),
          role: ROLES[Math.max(ROLE_RANK[local.transport.role], ROLE_RANK[remote.transport.role])]!,
          probe: how === 'direct',
        });
      }
    }
  }
  // Peers come sorted; within a peer the wans are sorted by local then remote interface name already.
  if (rows.length > 0xffff) throw new Error(`${edge.node}: ${rows.length} paths exceed the 65535 path ids of a bundle`);
  return rows.map((r, i) => ({ id: i + 1, ...r }));
}
