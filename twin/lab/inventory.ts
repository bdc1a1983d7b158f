/**
 * Inventory from a lab: the edges, their interfaces and addresses, and which underlay each WAN interface
 * attaches to — the same shape real edges report at enrolment, so the compiler never reads a lab.
 * An edge interface is `wan` when its link leads to a wan cloud (transport = the cloud's colour) or to a
 * router (transport = the router's `transport` label, else its name), and `lan` otherwise.
 */
import type { Inventory, InventoryInterface } from '../../dataplane/inventory.ts';
import type { Lab } from './normalise.ts';

export function labInventory(lab: Lab): Inventory {
  const edges: Inventory['edges'] = [];
  for (const node of Object.values(lab.nodes)) {
    if (node.kind !== 'edge') continue;
    const interfaces: InventoryInterface[] = [];
    for (const link of lab.links) {
      const i = link.endpoints.findIndex((e) => e.node === node.name);
      if (i < 0) continue;
      const me = link.endpoints[i]!;
      const peer = lab.nodes[link.endpoints[1 - i]!.node]!;
      const transport = peer.kind === 'wan' ? peer.wan!.transport : peer.kind === 'router' ? (peer.labels.transport ?? peer.name) : undefined;
      interfaces.push({
        name: me.interface,
        role: transport ? 'wan' : 'lan',
        ipv4: me.ipv4 ? [me.ipv4] : [],
        ipv6: me.ipv6 ? [me.ipv6] : [],
        mtu: link.mtu,
        ...(transport && { transport }),
        ...(transport && me.gateway && { gateway: me.gateway }),
      });
    }
    interfaces.sort((a, b) => a.name.localeCompare(b.name));
    edges.push({ node: node.name, site: node.site!, interfaces });
  }
  edges.sort((a, b) => a.node.localeCompare(b.node));
  return { source: `lab:${lab.name}`, edges };
}
