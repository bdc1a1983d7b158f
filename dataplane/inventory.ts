/**
 * Inventory: what each edge has — interfaces, addresses, and which underlay (transport colour) each WAN
 * interface attaches to. A lab is one source of inventory (twin/ derives it); real edges report theirs at
 * enrolment. The compiler reads inventory + intent, never a lab directly.
 *
 * Example (one edge):
 *   { node: "edge1", site: "s1", interfaces: [
 *       { name: "wan0", role: "wan", transport: "mpls", ipv4: ["172.16.0.1/24"], mtu: 1500 },
 *       { name: "lan0", role: "lan", ipv4: ["10.1.0.1/24"], mtu: 1500 } ] }
 */
import { z } from 'zod';
import { IfAddress, IpAddress } from './net.ts';

export const InventoryInterface = z.strictObject({
  /** Kernel interface name (≤15 characters). */
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'expected an interface name of 1–15 letters, digits, _ . -'),
  /** wan: attaches to an underlay; lan: a site network; mgmt: out of band. */
  role: z.enum(['wan', 'lan', 'mgmt']),
  /** Interface addresses with prefix length. */
  ipv4: z.array(IfAddress()).default([]),
  ipv6: z.array(IfAddress()).default([]),
  /** Bytes; the interface MTU, not the path MTU. */
  mtu: z.number().int().min(576).max(9216).default(1500),
  /** WAN only: the underlay colour this interface attaches to (matches an intent transport name). */
  transport: z.string().optional(),
  /** WAN only: next hop into the underlay when the underlay is routed; absent when peers are on-link. */
  gateway: IpAddress().optional(),
  /** LAN only: VLAN id when the segment arrives tagged. */
  vlan: z.number().int().min(1).max(4094).optional(),
  /**
   * WAN only: the interface's reflexive endpoint — the address and port the peers' probe responders saw its
   * requests come from (agent status `reflexive[]`, dataplane/agent/reflexive.ts) — and the NAT's mapping
   * behaviour: `endpoint-independent` (one mapping for every destination), `endpoint-dependent`
   * (symmetric / per-destination), `unknown` (a single reflector answered). `portPreserving`: the NAT kept
   * the source port. Absent until learned; an address equal to the interface's own means no NAT. Example:
   * `{ address: "198.51.100.2", port: 40001, mapping: "endpoint-independent", portPreserving: true }`.
   */
  reflexive: z.strictObject({
    address: IpAddress(),
    port: z.number().int().min(1).max(65535),
    mapping: z.enum(['endpoint-independent', 'endpoint-dependent', 'unknown']),
    portPreserving: z.boolean(),
  }).optional(),
});
export type InventoryInterface = z.output<typeof InventoryInterface>;

export const InventoryEdge = z.strictObject({
  /** Edge name (the agent's node name). */
  node: z.string().min(1),
  /** Site the edge belongs to (matches an intent site name). */
  site: z.string().min(1),
  interfaces: z.array(InventoryInterface).min(1),
  /**
   * The edge's WireGuard public key (base64 of 32 bytes), as the edge reports it (agent `GET /wg-key`);
   * absent until known. The compiler puts it into the peers' bundles for encrypted paths.
   */
  wireguardKey: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'expected a WireGuard public key (44 characters of base64)').optional(),
  /** Generation of `wireguardKey` (0 = the edge's first key, +1 per rotation); it picks each tunnel's port and /31 slot. */
  wireguardKeyGeneration: z.number().int().min(0).optional(),
  /**
   * The edge's next public key while a key rotation is under way (agent `POST /wg-key/rotate`), generation
   * `wireguardKeyGeneration + 1`: the compiler gives the edge's encrypted paths a second tunnel with it
   * (docs/overlay.md, "Key rotation"). The controller ends the rotation by making it `wireguardKey`.
   */
  wireguardKeyNext: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'expected a WireGuard public key (44 characters of base64)').optional(),
  /**
   * Set by the controller when every certificate of the edge is revoked (controller/versions/inventory.ts):
   * the compiler gives it no bundle and no other edge a path, route or WireGuard peer towards it.
   */
  revoked: z.boolean().optional(),
});
export type InventoryEdge = z.output<typeof InventoryEdge>;

export const Inventory = z.strictObject({
  /** Where this inventory came from, e.g. "lab:two-site-dual-wan" or "enrolment". */
  source: z.string(),
  edges: z.array(InventoryEdge),
});
export type Inventory = z.output<typeof Inventory>;
