/**
 * The lab file: a physical network to emulate, containerlab-like so users feel at home.
 *
 *   name: two-site-dual-wan
 *   topology:
 *     defaults: {...}                 # node fields every node inherits
 *     kinds:  { edge: {...}, ... }    # then per kind
 *     groups: { branch: {...} }       # then per group
 *     nodes:
 *       edge1: { kind: edge, site: s1 }
 *       mpls:  { kind: wan, wan: { mode: bridge, transport: mpls, subnet: 172.16.0.0/24 } }
 *     links:
 *       - endpoints: ["edge1:wan0", "mpls:p1"]                       # short form
 *       - endpoints: [{node: host1, interface: eth0, ipv4: 10.1.0.10/24}, "edge1:lan0"]   # typed endpoints
 *         impair: { delay: 20ms, loss: 1%, rate: 50mbit }
 *
 * Node kinds: edge (runs the Patronus agent), router (BIRD or FRR), host (a traffic endpoint), wan (an
 * underlay cloud: a bridge joining its links, or a router giving each link its own /30).
 * This file holds the structural zod schema; normalise.ts merges inheritance, checks references and fills
 * addresses.
 */
import { z } from 'zod';
import { Duration, Percent, Rate } from '../../dataplane/units.ts';
import { IfAddress, IpAddress, IpPrefix } from '../../dataplane/net.ts';

export const NODE_KINDS = ['edge', 'router', 'host', 'wan'] as const;
export type NodeKind = (typeof NODE_KINDS)[number];

/** Lab and node names: they become parts of namespace names (`pt.<lab>.<node>`). */
export const LabName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'expected 1–32 lower-case letters, digits or "-", starting with a letter or digit');
export const NodeName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'expected 1–32 lower-case letters, digits or "-", starting with a letter or digit');
export const IfName = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,14}$/, 'expected an interface name of 1–15 letters, digits, "_" or "-", starting with a letter');

/** Link impairment, one direction or both. Units: delay/jitter in ms, loss as a fraction, rate in bit/s. */
export const Impair = z.strictObject({
  delay: Duration().optional(),
  jitter: Duration().optional(),
  loss: Percent().optional(),
  rate: Rate().optional(),
  down: z.boolean().optional(),
});
export type Impair = z.output<typeof Impair>;

export const RouterConfig = z.strictObject({
  /** Routing daemon: BIRD 2 (default) or FRR bgpd + zebra. */
  daemon: z.enum(['bird', 'frr']).default('bird'),
  asn: z.number().int().min(1).max(4294967295),
  routerId: IpAddress().optional(),
  /** BGP neighbours by address; hold time is 3 s in the twin so failures show fast. */
  neighbors: z.array(z.strictObject({ address: IpAddress(), asn: z.number().int().min(1).max(4294967295) })).default([]),
  /** Extra prefixes to originate besides connected networks. */
  networks: z.array(IpPrefix()).default([]),
});

export const WanConfig = z.strictObject({
  /** bridge: one L2 segment, peers on-link (like an MPLS L2/L3VPN); routed: a router, a /30 per link (like the internet). */
  mode: z.enum(['bridge', 'routed']).default('bridge'),
  /** Transport colour of this underlay, as the intent names it (default: the node name). */
  transport: z.string().optional(),
  /** Addresses for attached endpoints that do not set their own. */
  subnet: IpPrefix(),
});

const StaticRoute = z.strictObject({ dst: z.union([z.literal('default'), IpPrefix()]), via: IpAddress() });

/** Fields a node may set, also usable in defaults/kinds/groups. */
export const NodeFields = z.strictObject({
  kind: z.enum(NODE_KINDS).optional(),
  group: z.string().optional(),
  /** edge: the site it belongs to. */
  site: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  /** IPv4 default gateway. */
  gateway: IpAddress().optional(),
  routes: z.array(StaticRoute).optional(),
  /** Commands run inside the node after deploy (argv split on spaces), like containerlab's exec. */
  exec: z.array(z.string()).optional(),
  /** Kernel sysctls inside the node's namespace, e.g. { "net.ipv4.ip_forward": "1" }. */
  sysctls: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
  router: RouterConfig.optional(),
  wan: WanConfig.optional(),
});
export type NodeFields = z.output<typeof NodeFields>;

/** "node:interface". */
export const ShortEndpoint = z.string().regex(/^[^:\s]+:[^:\s]+$/, 'expected "node:interface"');
export const TypedEndpoint = z.strictObject({
  node: z.string(),
  interface: z.string(),
  ipv4: IfAddress().optional(),
  ipv6: IfAddress().optional(),
  mac: z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i, 'expected a MAC like "02:00:00:00:00:01"').optional(),
  /** Impairment on traffic leaving this endpoint (overrides the link's for this direction). */
  impair: Impair.optional(),
});

export const LinkSpec = z.strictObject({
  type: z.literal('veth').default('veth'),
  endpoints: z.array(z.union([ShortEndpoint, TypedEndpoint])).length(2, 'expected exactly two endpoints'),
  /** Both directions. */
  impair: Impair.optional(),
  mtu: z.number().int().min(576).max(9216).default(1500),
  /** Shared-risk tags: links that fail together in scenarios. */
  srlg: z.array(z.string()).optional(),
});

export const LabFile = z.strictObject({
  name: LabName,
  /** Free text. */
  description: z.string().optional(),
  topology: z.strictObject({
    defaults: NodeFields.optional(),
    kinds: z.partialRecord(z.enum(NODE_KINDS), NodeFields).optional(),
    groups: z.record(z.string(), NodeFields).optional(),
    nodes: z.record(z.string(), NodeFields.nullable()),
    links: z.array(LinkSpec).default([]),
  }),
});
export type LabFile = z.output<typeof LabFile>;
