/**
 * NAT traversal in the compiler (docs/overlay.md, "NAT traversal"): which address a peer is reached at and
 * whether two WAN interfaces can form a direct path at all, from the interfaces' reflexive endpoints in the
 * inventory (learned by the agents from the hubs' probe echoes, dataplane/agent/reflexive.ts).
 *
 * A direct path between two interfaces forms when
 * - at least one end is not behind NAT (no reflexive endpoint, or one equal to its own address): the NATed
 *   end dials out, its NAT maps the reply direction, and WireGuard's roaming answers whatever port the
 *   public end saw; or
 * - both ends sit behind NATs with endpoint-independent, port-preserving mapping (most CPE routers, RFC
 *   6888 carrier NAT): each end's WireGuard listen port is reachable at its reflexive address once it has
 *   sent out, so both ends' keepalives punch the hole from each side.
 * Otherwise (an endpoint-dependent / symmetric NAT, or a mapping not known well enough, at either end of a
 * NAT–NAT pair) the compiler leaves the pair's paths out and the routes go through a hub (routes.ts
 * `viaFor`): the hub relays.
 */
import type { Inventory, InventoryInterface } from '../../dataplane/inventory.ts';
import { hostOf } from '../../dataplane/net.ts';

/** How an interface sits behind NAT, as far as the inventory tells. */
export type NatKind = 'none' | 'traversable' | 'relay-only';

/**
 * `none`: no NAT seen; `traversable`: endpoint-independent, port-preserving NAT; `relay-only`: any other NAT.
 * Example: `natKind({ ..., ipv4: ['192.168.50.2/30'], reflexive: { address: '198.51.100.2', port: 40001, mapping: 'endpoint-dependent', portPreserving: false } })` → 'relay-only'.
 */
export function natKind(iface: InventoryInterface): NatKind {
  const r = iface.reflexive;
  const own = iface.ipv4[0];
  if (!r || !own || r.address === hostOf(own)) return 'none';
  return r.mapping === 'endpoint-independent' && r.portPreserving ? 'traversable' : 'relay-only';
}

/** Whether a direct path between interfaces `a` and `b` can form (see the file comment). */
export function directPossible(a: InventoryInterface, b: InventoryInterface): boolean {
  const ka = natKind(a), kb = natKind(b);
  return ka === 'none' || kb === 'none' || (ka === 'traversable' && kb === 'traversable');
}

/** The address peers reach `iface` at: its reflexive address behind NAT, else its own first IPv4 host address. */
export function reachableAddress(iface: InventoryInterface): string {
  return natKind(iface) === 'none' ? hostOf(iface.ipv4[0]!) : iface.reflexive!.address;
}

/**
 * Whether `seen` (a path's remoteAddress) names the interface of `node` whose own address is `own`: equal,
 * or its reflexive address behind NAT. Pairs a path with its reverse (compile.ts) once addresses differ by
 * NAT. Example: `reachedAs(inventory)('s1', '192.168.50.2', '198.51.100.6')` → true when s1 sits behind that NAT.
 */
export function reachedAs(inventory: Inventory): (node: string, own: string, seen: string) => boolean {
  const alias = new Map<string, string>();
  for (const e of inventory.edges) {
    for (const f of e.interfaces) if (f.role === 'wan' && f.ipv4[0]) alias.set(`${e.node}|${hostOf(f.ipv4[0])}`, reachableAddress(f));
  }
  return (node, own, seen) => own === seen || alias.get(`${node}|${own}`) === seen;
}
