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
import { Duration, Percent, Rate, parseDuration, parseSize } from '../../dataplane/units.ts';
import { IfAddress, IpAddress, IpPrefix } from '../../dataplane/net.ts';

export const NODE_KINDS = ['edge', 'router', 'host', 'wan'] as const;
export type NodeKind = (typeof NODE_KINDS)[number];

/** Lab and node names: they become parts of namespace names (`pt.<lab>.<node>`). */
export const LabName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'expected 1–32 lower-case letters, digits or "-", starting with a letter or digit');
export const NodeName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'expected 1–32 lower-case letters, digits or "-", starting with a letter or digit');
export const IfName = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,14}$/, 'expected an interface name of 1–15 letters, digits, "_" or "-", starting with a letter');

/**
 * Packet loss: a percentage (uniform, `loss: 1%`), `{model: uniform, p: 1%}`, or the Gilbert–Elliott
 * two-state model `{model: gilbert-elliott, p: 1%, r: 30%, lossGood: 0%, lossBad: 100%}` where p is the
 * chance per packet of going good → bad, r of bad → good, and lossGood/lossBad the loss in each state
 * (defaults 0% and 100%: the Gilbert model; netem's h = 1 − lossBad, k = 1 − lossGood). Mean burst length
 * is 1/r packets; mean loss p/(p+r)·lossBad + r/(p+r)·lossGood. Decisions come from the lab's seed.
 */
export const LossModel = z.union([
  Percent(),
  z.strictObject({ model: z.literal('uniform'), p: Percent() }),
  z.strictObject({ model: z.literal('gilbert-elliott'), p: Percent(), r: Percent(), lossGood: Percent().default(0), lossBad: Percent().default(1) }),
]);
export type LossModel = z.output<typeof LossModel>;

/**
 * Buffer depth of a rate limit: a size ("64kb", bytes when a bare number) or a duration at the configured
 * rate ("50ms"). Default 50 ms.
 */
export const BufferDepth = z.union([z.number().nonnegative(), z.string()]).transform((v, ctx): { bytes: number } | { ms: number } => {
  if (typeof v === 'number') return { bytes: v };
  const ms = /^\s*[\d.]+\s*(ns|us|µs|ms|s)\s*$/i.test(v) ? parseDuration(v) : undefined;
  if (ms !== undefined) return { ms };
  const bytes = parseSize(v);
  if (bytes !== undefined) return { bytes };
  ctx.addIssue({ code: 'custom', message: `expected a buffer depth as a size like "64kb" or a duration like "50ms", got ${JSON.stringify(v)}` });
  return z.NEVER;
});

/** The fields one impairment state holds (also one step of a schedule). */
const ImpairState = {
  /** One-way delay (ms). */
  delay: Duration().optional(),
  /** Each packet's delay is drawn uniformly from delay ± jitter, but never overtakes the packet ahead (FIFO). */
  jitter: Duration().optional(),
  loss: LossModel.optional(),
  /** Bottleneck rate (bit/s), a token bucket with `buffer` depth. */
  rate: Rate().optional(),
  buffer: BufferDepth.optional(),
  down: z.boolean().optional(),
};

/** One step of a schedule: from `at` (since deploy or since the schedule started) the link has these fields. */
export const ImpairStep = z.strictObject({ at: Duration(), ...ImpairState });
export type ImpairStep = z.output<typeof ImpairStep>;

/**
 * Link impairment, one direction or both. Units: delay/jitter in ms, loss as a fraction or a loss model,
 * rate in bit/s, buffer as {bytes} or {ms}. A link can also follow a time series: `schedule` (steps
 * listed in the lab) or `trace` (a CSV file of time, delay, loss, relative to the lab file; see
 * docs/impairment.md), repeating every `repeat` when set.
 * Example: `impair: { delay: 20ms, jitter: 2ms, loss: 1%, rate: 20mbit, buffer: 30ms }`.
 */
export const Impair = z.strictObject({
  ...ImpairState,
  schedule: z.strictObject({ repeat: Duration().optional(), steps: z.array(ImpairStep).min(1) }).optional(),
  trace: z.union([z.string(), z.strictObject({ file: z.string(), repeat: Duration().optional() })]).optional(),
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
  /** Raw lines appended to the generated daemon configuration (e.g. an extra BIRD protocol or FRR neighbour options). */
  extraConfig: z.array(z.string()).optional(),
});

export const WanConfig = z.strictObject({
  /** bridge: one L2 segment, peers on-link (like an MPLS L2/L3VPN); routed: a router, a /30 per link (like the internet). */
  mode: z.enum(['bridge', 'routed']).default('bridge'),
  /** Transport colour of this underlay, as the intent names it (default: the node name). */
  transport: z.string().optional(),
  /** Addresses for attached endpoints that do not set their own. */
  subnet: IpPrefix(),
  /**
   * Source NAT from the attached ("inside") links to the `outside` ones, routed mode only:
   * none (default); port-preserving (masquerade keeping source ports when free); symmetric (masquerade
   * with a fresh random port per mapping, so each destination sees another port); cgn (two layers: this
   * node NATs into `shared` space and a generated node "<name>-cgn" NATs that to the outside). See docs/twin.md.
   */
  nat: z.enum(['none', 'port-preserving', 'symmetric', 'cgn']).default('none'),
  /**
   * This node's own interfaces facing upstream, e.g. ["up0"]: not addressed from `subnet`; a link to
   * another wan cloud is addressed by that cloud and its gateway becomes this node's default route.
   */
  outside: z.array(IfName).optional(),
  /** cgn: the shared address space between the two NAT layers (default 100.127.255.0/30, RFC 6598 space). */
  shared: IpPrefix().optional(),
});

/** Signed duration in ms ("-150ms", "2s", or a number): a clock offset may point either way. */
const SignedDuration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const neg = typeof v === 'string' && v.trim().startsWith('-');
  const ms = typeof v === 'number' ? v : parseDuration(neg ? v.trim().slice(1) : v);
  if (ms === undefined || !Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like "150ms" or "-2s", got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return neg ? -ms : ms;
});

/**
 * Edge nodes: the clock the agent reads, skewed like a real edge's: time = offset + elapsed × (1 + drift·1e-6).
 * Example: `clock: { offset: 150ms, drift: 50 }` (50 ppm fast, 150 ms ahead). Default: the host clock.
 */
export const ClockConfig = z.strictObject({
  /** Offset from the host clock at agent start (ms; "-2s" for behind). */
  offset: SignedDuration.default(0),
  /** Rate error in parts per million (positive: runs fast); real crystals sit within about ±100. */
  drift: z.number().min(-1e5).max(1e5).default(0),
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
  /** edge: clock offset and drift for the agent (see {@link ClockConfig}). */
  clock: ClockConfig.optional(),
});
export type NodeFields = z.output<typeof NodeFields>;

/** "node:interface". */
export const ShortEndpoint = z.string().regex(/^[^:\s]+:[^:\s]+$/, 'expected "node:interface"');
export const TypedEndpoint = z.strictObject({
  node: z.string(),
  interface: z.string(),
  ipv4: IfAddress().refine((a) => !a.includes(':'), { message: 'expected an IPv4 address with prefix length like "10.1.0.1/24" (IPv6 goes in ipv6)' }).optional(),
  ipv6: IfAddress().refine((a) => a.includes(':'), { message: 'expected an IPv6 address with prefix length like "2001:db8::1/64" (IPv4 goes in ipv4)' }).optional(),
  mac: z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i, 'expected a MAC like "02:00:00:00:00:01"').optional(),
  /** Next hop reached through this interface (an edge's underlay gateway on a link to a provider router). */
  gateway: IpAddress().optional(),
  /** Impairment on traffic leaving this endpoint (overrides the link's for this direction). */
  impair: Impair.optional(),
});

export const LinkSpec = z.strictObject({
  type: z.literal('veth').default('veth'),
  endpoints: z.array(z.union([ShortEndpoint, TypedEndpoint])).length(2, 'expected exactly two endpoints'),
  /** Both directions. */
  impair: Impair.optional(),
  /** Give the link a delay line even without `impair`, so impairments can be set at runtime (default: the lab's `impairable`). */
  impairable: z.boolean().optional(),
  mtu: z.number().int().min(576).max(9216).default(1500),
  /** Shared-risk tags: links that fail together in scenarios. */
  srlg: z.array(z.string()).optional(),
});

export const LabFile = z.strictObject({
  name: LabName,
  /** Free text. */
  description: z.string().optional(),
  /** Scenario seed: loss decisions on every link derive from it, so a seed reproduces the same loss pattern. */
  seed: z.number().int().min(0).max(2 ** 53 - 1).default(1),
  /** Give every link a delay line (runtime impairment anywhere, at some CPU cost); default false. */
  impairable: z.boolean().default(false),
  topology: z.strictObject({
    defaults: NodeFields.optional(),
    kinds: z.partialRecord(z.enum(NODE_KINDS), NodeFields).optional(),
    groups: z.record(z.string(), NodeFields).optional(),
    nodes: z.record(z.string(), NodeFields.nullable()),
    links: z.array(LinkSpec).default([]),
  }),
});
export type LabFile = z.output<typeof LabFile>;
