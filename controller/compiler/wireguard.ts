/**
 * Encrypted paths (docs/overlay.md, "Encrypted paths"): a path is encrypted when the transport at either end
 * has `encryption: wireguard` (a mismatch encrypts: the safer reading). Each encrypted path gets its WireGuard
 * parameters here, once the paths of every edge and their reverse ids are known:
 * - `listenPort` = {@link WG_BASE_PORT} + path id (unique per edge, since path ids are), `peerPort` the
 *   peer's listen port of the reverse path;
 * - `address` / `peerAddress`: a /31 out of 169.254.0.0/16 per edge pair path, numbered in (node, path id)
 *   order, the lower node name taking the even address — the same on both ends, and deterministic;
 * - `peerPublicKey`: the peer edge's `wireguardKey` from the inventory, when it has reported one (the twin's
 *   bring-up collects them from the agents; the controller takes them from the edges' inventory reports).
 *
 * Key rotation (docs/overlay.md, "Key rotation"): each tunnel sits in one of two slots, (generation of one
 * end's key + generation of the other's) mod 2. Slot 1 listens on port + {@link WG_SLOT_PORT_OFFSET} and takes
 * its /31 from 169.254.128.0/17. While an edge has a `wireguardKeyNext`, its paths carry a second tunnel
 * (`wireguard.next`) with that key — one generation on, so always the other slot: old and new tunnels never
 * share a port or an address, and once the controller makes the next key the current one the new tunnel
 * keeps exactly the port and /31 it had. One end of a path rotates at a time (the lower node name first when
 * both have a next key). A tunnel names its own key by `keyGeneration` when that is above 0.
 */
import type { BundlePath } from '../../dataplane/bundle/index.ts';
import type { Inventory } from '../../dataplane/inventory.ts';
import type { Intent } from '../intent/index.ts';

/** First WireGuard listen port; a path with id n listens on WG_BASE_PORT + n. */
export const WG_BASE_PORT = 51820;
/** Port offset of slot-1 tunnels (the second tunnel of a path during a key rotation). */
export const WG_SLOT_PORT_OFFSET = 10000;
/** /31 tunnels that fit in 169.254.0.0/17 (slot 0; slot 1 is the same numbering in 169.254.128.0/17). */
const MAX_TUNNELS = 16384;

/**
 * Fill `wireguard` on every encrypted path of `pathsOf` (node → paths, reverse ids already set), in place.
 * Warnings name edges whose key is still unknown (their peers' paths stay down until it is).
 * Example: `addWireguard(intent, inventory, pathsOf, warnings)`; then `pathsOf.get('edge1')[1].wireguard.listenPort` → 51822.
 */
export function addWireguard(intent: Intent, inventory: Inventory, pathsOf: Map<string, BundlePath[]>, warnings: string[]): void {
  const edges = new Map(inventory.edges.map((e) => [e.node, e]));
  const encrypted = (p: BundlePath) => intent.transports[p.transport]?.encryption === 'wireguard' || intent.transports[p.remoteTransport]?.encryption === 'wireguard';
  let next = 0;
  const missing = new Set<string>();
  const port = (id: number, slot: number) => {
    const n = WG_BASE_PORT + id + slot * WG_SLOT_PORT_OFFSET;
    if (n > 65535) throw new Error(`path id ${id} gives WireGuard listen port ${n}, above 65535`);
    return n;
  };
  const addr = (n: number, slot: number) => `169.254.${(n >> 8) + 128 * slot}.${n & 255}`;
  for (const node of [...pathsOf.keys()].sort()) {
    for (const p of pathsOf.get(node)!) {
      if (!encrypted(p) || p.peerPathId === undefined || p.peerNode < node) continue;
      const back = pathsOf.get(p.peerNode)?.find((q) => q.id === p.peerPathId);
      if (!back) continue;
      if (next >= MAX_TUNNELS) throw new Error(`more than ${MAX_TUNNELS} encrypted paths: the 169.254.0.0/17 tunnel addresses are exhausted`);
      const n = next++;
      const me = edges.get(node), peer = edges.get(p.peerNode);
      if (!me?.wireguardKey) missing.add(node);
      if (!peer?.wireguardKey) missing.add(p.peerNode);
      // One tunnel given each end's (key, generation): both ends' halves, in the slot the generations pick.
      const tunnels = (ka: string | undefined, ga: number, kb: string | undefined, gb: number) => {
        const slot = (ga + gb) % 2, a = addr(2 * n, slot), b = addr(2 * n + 1, slot);
        return [
          { listenPort: port(p.id, slot), peerPort: port(back.id, slot), ...(kb !== undefined && { peerPublicKey: kb }), address: a, peerAddress: b, ...(ga > 0 && { keyGeneration: ga }) },
          { listenPort: port(back.id, slot), peerPort: port(p.id, slot), ...(ka !== undefined && { peerPublicKey: ka }), address: b, peerAddress: a, ...(gb > 0 && { keyGeneration: gb }) },
        ] as const;
      };
      const ga = me?.wireguardKeyGeneration ?? 0, gb = peer?.wireguardKeyGeneration ?? 0;
      const [mine, theirs] = tunnels(me?.wireguardKey, ga, peer?.wireguardKey, gb);
      p.wireguard = { ...mine };
      back.wireguard = { ...theirs };
      // A rotation: a second tunnel with the rotating end's next key (one end per path at a time).
      const rotating = me?.wireguardKey && me.wireguardKeyNext ? 'me' : peer?.wireguardKey && peer.wireguardKeyNext ? 'peer' : undefined;
      if (rotating) {
        const [m2, t2] = rotating === 'me'
          ? tunnels(me!.wireguardKeyNext, ga + 1, peer?.wireguardKey, gb)
          : tunnels(me?.wireguardKey, ga, peer!.wireguardKeyNext, gb + 1);
        p.wireguard.next = { ...m2 };
        back.wireguard.next = { ...t2 };
      }
    }
  }
  for (const n of [...missing].sort()) warnings.push(`${n}: no WireGuard public key in the inventory yet; encrypted paths towards it stay down until it is known`);
}
