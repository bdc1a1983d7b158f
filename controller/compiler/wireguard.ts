/**
 * Encrypted paths (docs/overlay.md, "Encrypted paths"): a path is encrypted when the transport at either end
 * has `encryption: wireguard` (a mismatch encrypts: the safer reading). Each encrypted path gets its WireGuard
 * parameters here, once the paths of every edge and their reverse ids are known:
 * - `listenPort` = {@link WG_BASE_PORT} + path id (unique per edge, since path ids are), `peerPort` the
 *   peer's listen port of the reverse path;
 * - `address` / `peerAddress`: a /31 out of 169.254.0.0/16 per edge pair path, numbered in (node, path id)
 *   order, the lower node name taking the even address — the same on both ends, and deterministic;
 * - `peerPublicKey`: the peer edge's `wireguardKey` from the inventory, when it has reported one (the twin's
 *   bring-up collects them from the agents; the controller will take them from enrolment).
 */
import type { BundlePath } from '../../dataplane/bundle/index.ts';
import type { Inventory } from '../../dataplane/inventory.ts';
import type { Intent } from '../intent/index.ts';

/** First WireGuard listen port; a path with id n listens on WG_BASE_PORT + n. */
export const WG_BASE_PORT = 51820;
/** /31 tunnels that fit in 169.254.0.0/16. */
const MAX_TUNNELS = 32768;

/**
 * Fill `wireguard` on every encrypted path of `pathsOf` (node → paths, reverse ids already set), in place.
 * Warnings name edges whose key is still unknown (their peers' paths stay down until it is).
 * Example: `addWireguard(intent, inventory, pathsOf, warnings)`; then `pathsOf.get('edge1')[1].wireguard.listenPort` → 51822.
 */
export function addWireguard(intent: Intent, inventory: Inventory, pathsOf: Map<string, BundlePath[]>, warnings: string[]): void {
  const keys = new Map(inventory.edges.map((e) => [e.node, e.wireguardKey]));
  const encrypted = (p: BundlePath) => intent.transports[p.transport]?.encryption === 'wireguard' || intent.transports[p.remoteTransport]?.encryption === 'wireguard';
  let next = 0;
  const missing = new Set<string>();
  for (const node of [...pathsOf.keys()].sort()) {
    for (const p of pathsOf.get(node)!) {
      if (!encrypted(p) || p.peerPathId === undefined || p.peerNode < node) continue;
      const back = pathsOf.get(p.peerNode)?.find((q) => q.id === p.peerPathId);
      if (!back) continue;
      if (next >= MAX_TUNNELS) throw new Error(`more than ${MAX_TUNNELS} encrypted paths: the 169.254.0.0/16 tunnel addresses are exhausted`);
      const port = (id: number) => {
        if (WG_BASE_PORT + id > 65535) throw new Error(`path id ${id} gives WireGuard listen port ${WG_BASE_PORT + id}, above 65535`);
        return WG_BASE_PORT + id;
      };
      const addr = (n: number) => `169.254.${n >> 8}.${n & 255}`;
      const a = addr(2 * next), b = addr(2 * next + 1);
      next++;
      const key = (n: string) => { const k = keys.get(n); if (!k) missing.add(n); return k !== undefined ? { peerPublicKey: k } : {}; };
      p.wireguard = { listenPort: port(p.id), peerPort: port(back.id), ...key(p.peerNode), address: a, peerAddress: b };
      back.wireguard = { listenPort: port(back.id), peerPort: port(p.id), ...key(node), address: b, peerAddress: a };
    }
  }
  for (const n of [...missing].sort()) warnings.push(`${n}: no WireGuard public key in the inventory yet; encrypted paths towards it stay down until it is known`);
}
