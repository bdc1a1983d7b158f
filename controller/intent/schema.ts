/**
 * Intent v1: what operators edit every day, as one YAML file. This module holds the structural zod
 * schema (strict objects: an unknown key is an error) and the types of both forms:
 *
 * - {@link IntentDocument}: the file as written, after template expansion and structural validation
 *   (defaults filled, units parsed, short forms still as written so errors can point at them).
 * - {@link Intent}: the resolved form the compiler reads — ids assigned, colours filled, the `default`
 *   segment present, `lanPrefixes` normalised to per-segment lists of canonical prefixes, every map sorted
 *   by name (so key order in the YAML never matters).
 *
 * Units (dataplane/units.ts): durations → milliseconds ("150ms"), rates → bit/s ("100mbit"), percentages →
 * a fraction ("1%" → 0.01).
 *
 * Minimal example:
 *   apiVersion: patronus.dev/v1
 *   name: acme
 *   transports: { mpls: { type: private, restrict: true }, inet: {} }
 *   sites:
 *     hq:  { role: hub, lanPrefixes: [10.0.0.0/16] }
 *     br1: { lanPrefixes: [10.1.0.0/24] }
 *   rules:
 *     - { name: all, app: default, paths: { preferred: [mpls, inet] } }
 */
import { z } from 'zod';
import { Duration, Percent, Rate } from '../../dataplane/units.ts';
import { IpPrefix } from '../../dataplane/net.ts';
import { NeighborSchema, NetworkSchema, PolicySchema } from '../../dataplane/bgp/index.ts';

/** The only apiVersion this schema accepts. */
export const INTENT_API_VERSION = 'patronus.dev/v1';
/** Name of the segment that always exists (id 1 unless declared otherwise). */
export const DEFAULT_SEGMENT = 'default';
/** Name of the built-in application class (id 0) that matches all traffic. */
export const DEFAULT_APP_CLASS = 'default';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const NAME_HINT = 'expected a name of letters, digits, "_", "." or "-" (at most 63, starting with a letter or digit)';

/** A name of a transport, segment, site, class, rule or template. */
export const Name = () => z.string().regex(NAME_RE, NAME_HINT);

/** A map keyed by names; a bad key says which key and what a name looks like. */
function named<V extends z.ZodType>(value: V) {
  return z.record(z.string().regex(NAME_RE), value, {
    error: (iss) => (iss.code === 'invalid_key' ? `invalid name: ${NAME_HINT}` : undefined),
  });
}

/** Either one value or a list of them; the output is always a list. */
function oneOrMany<S extends z.ZodType>(item: S, expectation: string) {
  // Wrap before the union joins: a port range is itself an array, so the output shape cannot tell.
  return z.union([item.transform((v): z.output<S>[] => [v]), z.array(item)], {
    error: (iss) => {
      if (iss.code !== 'invalid_union') return undefined;
      // A single value of the right type but a wrong value: its own message says more than the union's.
      const own = iss.errors.flat().find((e) => e.code === 'custom' && e.path?.length === 0);
      return own?.message ?? `expected ${expectation}, or a list of them`;
    },
  });
}

// ---------------------------------------------------------------------------------------------- ports, DSCP

/** A port range as [first, last]. */
export type PortRange = [number, number];

/** Parse 80, "80" or "16384-32767" into a range; undefined when malformed. */
export function parsePortRange(v: number | string): PortRange | undefined {
  const m = typeof v === 'number' ? [String(v), String(v), undefined] : /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5}))?\s*$/.exec(v);
  if (!m) return undefined;
  const lo = Number(m[1]), hi = Number(m[2] ?? m[1]);
  if (!Number.isInteger(lo) || lo < 0 || hi > 65535 || hi < lo) return undefined;
  return [lo, hi];
}

// `continue: true` on these issues lets oneOrMany's union report them with the list index.
const Port = z.union([z.number(), z.string()]).transform((v, ctx): PortRange => {
  const r = parsePortRange(v);
  if (!r) {
    ctx.addIssue({ code: 'custom', continue: true, message: `expected a port 0–65535 like 443, "443" or a range "16384-32767", got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return r;
});

/** DSCP names (RFC 2474, 2597, 3246, 5865, 8622) → code points. */
export const DSCP_NAMES: Readonly<Record<string, number>> = Object.freeze({
  be: 0, default: 0, le: 1,
  cs0: 0, cs1: 8, cs2: 16, cs3: 24, cs4: 32, cs5: 40, cs6: 48, cs7: 56,
  af11: 10, af12: 12, af13: 14, af21: 18, af22: 20, af23: 22,
  af31: 26, af32: 28, af33: 30, af41: 34, af42: 36, af43: 38,
  va: 44, ef: 46,
});

/** A DSCP code point 0–63, or a name such as "ef", "af41", "cs3". */
export const Dscp = () => z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = typeof v === 'number' ? v : /^\d+$/.test(v.trim()) ? Number(v) : DSCP_NAMES[v.trim().toLowerCase()];
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > 63) {
    ctx.addIssue({ code: 'custom', continue: true, message: `expected a DSCP value 0–63 or a name like "ef", "af41", "cs3", got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return n;
}).describe('DSCP code point 0–63 or a name: ef, va, af11…af43, cs0…cs7, be, le');

// ------------------------------------------------------------------------------------------------ sections

const Role = z.enum(['active', 'backup', 'last-resort']);

/** A WAN transport (underlay), e.g. `mpls`, `inet`, `lte`. Inventory WAN interfaces name it in `transport`. */
export const TransportSpec = z.strictObject({
  colour: Name().optional().describe('Tunnel colour; defaults to the transport name. Same colour always builds tunnels'),
  type: z.enum(['public', 'private']).default('public')
    .describe('public (internet-reachable) or private (e.g. MPLS); default public'),
  restrict: z.boolean().default(false).describe('Only build tunnels to the same colour; default false'),
  role: Role.default('active').describe('active, backup or last-resort; default active'),
  metered: z.boolean().default(false).describe('Billed by volume (e.g. LTE); default false'),
  bandwidth: z.strictObject({ up: Rate(), down: Rate() }).optional().describe('Link rates like "100mbit"'),
  mtu: z.number().int().min(576).max(9216).optional().describe('Underlay MTU in bytes; caps the interface MTU'),
  probeBudget: Rate().optional().describe('Most bandwidth probes may use on this transport, like "64kbit"'),
  encryption: z.enum(['wireguard', 'none']).default('none')
    .describe('wireguard: paths on this transport run through per-path WireGuard tunnels; none: the plaintext overlay (trusted underlays); default none'),
});

/** A segment (VRF): its numeric id travels in the overlay. */
export const SegmentSpec = z.strictObject({
  id: z.number().int().min(1).max(65535).describe('Segment id 1–65535, unique'),
});

const PrefixList = z.array(IpPrefix());

/** A site. Its edges come from the inventory (edge.site), not from here. */
export const SiteSpec = z.strictObject({
  id: z.number().int().min(1).max(65535).optional()
    .describe('Site id 1–65535; default: assigned in sorted name order, skipping explicit ids'),
  role: z.enum(['hub', 'spoke']).default('spoke').describe('hub or spoke; default spoke'),
  region: Name().optional().describe('Region for the regional topology policy'),
  lanPrefixes: z.union([PrefixList, named(PrefixList)], {
    error: 'expected a list of prefixes (default segment) or a map segment → list of prefixes',
  }).default([]).describe('LAN prefixes: a list (default segment) or a map segment → list'),
  template: Name().optional().describe('Template to expand under this site'),
  vars: named(z.union([z.string(), z.number(), z.boolean()])).optional().describe('Values for the template variables'),
  description: z.string().optional(),
});

const SiteFieldInTemplate = z.unknown().optional();
/**
 * A site template: any site field (except `template` and `vars`), where strings may hold `${var}`
 * placeholders; a string that is exactly one placeholder takes the variable's value with its type
 * (so `id: ${id}` gives a number). `variables` declares every placeholder name used.
 */
export const TemplateSpec = z.strictObject({
  variables: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a variable name like "n" or "site_id"')).default([]),
  id: SiteFieldInTemplate, role: SiteFieldInTemplate, region: SiteFieldInTemplate, lanPrefixes: SiteFieldInTemplate,
  description: SiteFieldInTemplate,
});

/** How sites peer. */
export const TopologySpec = z.strictObject({
  policy: z.enum(['hub-spoke', 'full-mesh', 'regional']).default('hub-spoke')
    .describe('hub-spoke (default): spokes ↔ hubs, hubs mesh; full-mesh; regional: mesh within a region plus spokes ↔ hubs'),
  hubs: z.array(Name()).optional().describe('Hub sites in order of preference; default: sites with role hub, by name'),
  onDemand: z.strictObject({
    enabled: z.boolean().default(false),
    idleTimeout: Duration().default(300_000).describe('Tear an idle on-demand tunnel down after this; default 5m'),
  }).prefault({}).describe('Spoke-to-spoke tunnels built on demand instead of hairpinning through a hub'),
}).prefault({});

/** An SLA class: the thresholds a path must meet for the traffic steered with it. */
export const SlaClassSpec = z.strictObject({
  latency: Duration().describe('One-way latency bound like "150ms"'),
  jitter: Duration().describe('Jitter bound like "30ms"'),
  loss: Percent().describe('Loss bound like "1%"'),
  fallback: z.enum(['best-of-worst', 'strict-drop']).default('best-of-worst')
    .describe('When no path complies: keep the best non-compliant one (default) or drop'),
});

/** One classifier entry; all given fields must match (empty = everything). */
export const AppMatchSpec = z.strictObject({
  protocol: z.enum(['tcp', 'udp', 'icmp', 'any']).default('any'),
  ports: oneOrMany(Port, 'a port like 443 or a range "16384-32767"').optional().describe('Destination ports'),
  srcPorts: oneOrMany(Port, 'a port like 443 or a range "16384-32767"').optional(),
  prefixes: oneOrMany(IpPrefix(), 'a prefix like "10.1.0.0/24"').optional().describe('Destination prefixes'),
  srcPrefixes: oneOrMany(IpPrefix(), 'a prefix like "10.1.0.0/24"').optional(),
  dscp: oneOrMany(Dscp(), 'a DSCP value or name').optional(),
});

/** An application class. The built-in `default` class (id 0) matches everything and cannot be redefined. */
export const AppClassSpec = z.strictObject({
  id: z.number().int().min(1).max(255).optional()
    .describe('Class id 1–255; default: assigned in sorted name order, skipping explicit ids'),
  match: z.array(AppMatchSpec).default([]),
  fqdn: z.array(z.string().min(1)).optional().describe('Domain names (kept for DNS-based classification, not compiled yet)'),
  sni: z.array(z.string().min(1)).optional().describe('TLS SNI names (kept for later, not compiled yet)'),
  description: z.string().optional(),
});

/** A QoS class for the WAN shaper. */
export const QosClassSpec = z.strictObject({
  priority: z.boolean().default(false).describe('Strict-priority (real-time) queue; default false'),
  weight: z.number().int().min(1).max(1000).default(1).describe('Share among weighted classes 1–1000; default 1'),
  dscp: Dscp().optional().describe('DSCP to mark on the underlay'),
});

/** One steering rule; rules are evaluated in order. */
export const RuleSpec = z.strictObject({
  name: Name(),
  app: Name().describe('Application class (or "default" for all traffic)'),
  segment: Name().default(DEFAULT_SEGMENT),
  sla: Name().optional(),
  qos: Name().optional(),
  service: z.enum(['overlay', 'direct-internet', 'backhaul']).default('overlay'),
  paths: z.strictObject({
    preferred: z.array(Name()).default([]).describe('Transports in order of preference; default all, active first'),
    strategy: z.enum(['preference', 'best-quality', 'load-balance', 'duplicate']).default('preference')
      .describe('preference (first compliant in order), best-quality (best score), load-balance, duplicate; default preference'),
    perPacket: z.boolean().default(false),
  }).prefault({}),
  description: z.string().optional(),
});

/** Probe tuning that a transport may override (all optional; the agent's defaults in docs/probing.md). */
const probeTuning = {
  interval: Duration().optional().describe('Probe interval while busy or unhealthy, ≥ 10ms; default 100ms'),
  idleInterval: Duration().optional().describe('Probe interval while up, idle and loss-free; default 1s'),
  downAfter: z.number().int().min(1).max(100).optional().describe('Consecutive misses to declare a path down; default 3'),
  holdDown: Duration().optional().describe('A path (and each SLA class) must stay good this long to recover; default 5s'),
  timeoutFloor: Duration().optional().describe('Lower bound of the RTT-adaptive probe timeout; default 50ms'),
  timeoutCeiling: Duration().optional().describe('Upper bound of the probe timeout (high-latency links); default 3s'),
  minOutage: Duration().optional().describe('Declare down only after this long without an answer as well; default 0'),
};
const ProbeTuningSpec = z.strictObject(probeTuning);

/** Probing and steering hysteresis for every edge; `transports` overrides the probe tuning per transport. */
export const ProbingSpec = z.strictObject({
  ...probeTuning,
  lossWindow: Duration().optional().describe('Time window of the SLA loss figure; default 10s'),
  passive: z.boolean().optional().describe('Use passive loss from data traffic (the peer\'s echoed counters); default true'),
  failbackHold: Duration().optional().describe('A better or more preferred path must stay good this long before traffic moves to it; default 10s'),
  minDwell: Duration().optional().describe('A compliant selection is kept at least this long; default 10s'),
  failoverScore: z.number().min(0).max(100).optional().describe('Leave a path whose score falls below this; default 30'),
  failbackScore: z.number().min(0).max(100).optional().describe('A path must score at least this to win traffic back; default 50'),
  betterBy: z.number().min(0).max(100).optional().describe('best-quality/duplicate switch only for this many score points; default 10'),
  transports: z.record(z.string(), ProbeTuningSpec).optional().describe('Transport name → probe tuning overrides'),
}).superRefine((p, ctx) => {
  const over = p.failoverScore ?? 30, back = p.failbackScore ?? 50;
  if (over >= back) {
    ctx.addIssue({ code: 'custom', path: [p.failoverScore !== undefined ? 'failoverScore' : 'failbackScore'], message: `the failover threshold failoverScore (${over}) must be below the failback threshold failbackScore (${back}), or traffic would flap between the two` });
  }
  const check = (t: { interval?: number | undefined; timeoutFloor?: number | undefined; timeoutCeiling?: number | undefined }, at: (string | number)[]) => {
    if (t.interval !== undefined && t.interval < 10) ctx.addIssue({ code: 'custom', path: [...at, 'interval'], message: `expected a probe interval of at least 10ms, got ${t.interval}ms` });
    const floor = t.timeoutFloor ?? p.timeoutFloor ?? 50, ceil = t.timeoutCeiling ?? p.timeoutCeiling ?? 3000;
    if (floor > ceil) ctx.addIssue({ code: 'custom', path: [...at, t.timeoutFloor !== undefined ? 'timeoutFloor' : 'timeoutCeiling'], message: `timeoutFloor (${floor}ms) must not exceed timeoutCeiling (${ceil}ms)` });
  };
  check(p, []);
  for (const [name, t] of Object.entries(p.transports ?? {})) check(t, ['transports', name]);
});

/**
 * BGP of one site: every edge of the site runs a speaker with this configuration (neighbour fields and
 * network entries as in docs/bgp.md; a neighbour's `segment` names an intent segment). `advertiseLan`
 * originates the site's own LAN prefixes (each in its segment) besides `networks`.
 */
export const BgpSiteSpec = z.strictObject({
  asn: z.number().int().min(1).max(0xffffffff).describe('AS number of the site'),
  routerId: z.ipv4({ message: 'expected an IPv4 address like 10.0.0.1' }).optional()
    .describe("Router id; default: the edge's first WAN (else LAN) IPv4 address"),
  neighbors: z.array(NeighborSchema).default([]).describe('BGP neighbours (ISP, LAN or DC routers)'),
  networks: z.array(NetworkSchema).default([]).describe('Prefixes to originate'),
  advertiseLan: z.boolean().default(false).describe("Also originate the site's lanPrefixes"),
});

/**
 * BGP: per-site speakers and the policies their neighbours name.
 *   bgp: { policies: { from-isp: {...} }, sites: { s1: { asn: 65010, neighbors: [{ address: 10.255.0.2, asn: 65001, import: from-isp }] } } }
 */
export const BgpSpec = z.strictObject({
  sites: named(BgpSiteSpec).optional().describe('Site name → BGP of its edges'),
  policies: z.record(z.string(), PolicySchema).optional().describe('Import/export policies (docs/bgp.md)'),
});

const ServicePort = (def: number) => z.number().int().min(1).max(65535).default(def);

/**
 * WAN optimisation (docs/wanopt.md). The TCP flows of the application classes in `classes` go through the
 * edges' WAN-opt proxy (dedup + compression; which flows is what the classes match: protocol, ports,
 * prefixes); the UDP flows of the classes in `fec` are protected by Reed–Solomon FEC, k data + m parity
 * packets per block (k ≤ 128, m ≤ 64, so one Reed–Solomon block over GF(256)). `ports` are the edges' local service ports. Class names are checked
 * against `appClasses` by the compiler. Example:
 *   wanopt: { classes: [bulk], fec: { voip: { k: 8, m: 2, interleave: 4 } } }
 */
export const WanoptSpec = z.strictObject({
  classes: z.array(Name()).default([]).describe('Application classes whose TCP flows the edges carry through the WAN-opt proxy'),
  fec: named(z.strictObject({
    k: z.number().int().min(1).max(128).default(8).describe('Data packets per FEC block; default 8'),
    m: z.number().int().min(1).max(64).default(2).describe('Parity packets per block (any m losses are repaired); default 2'),
    holdMs: z.number().int().min(1).max(1000).default(50).describe('How long the receiver waits for a missing packet, ms; default 50'),
    interleave: z.number().int().min(1).max(64).default(1).describe('Block interleaving depth d: d blocks sent round-robin, so bursts of up to d·m consecutive losses are repaired, at up to d·k packet intervals of added delay for a repaired packet (holdMs must cover it); default 1 = off'),
  })).default({}).describe('Application class → FEC of its UDP flows'),
  ports: z.strictObject({
    intercept: ServicePort(7770).describe('Local TPROXY listener of intercepted flows; default 7770'),
    session: ServicePort(7771).describe('TCP port edges accept WAN-opt sessions on (WAN addresses); default 7771'),
    fec: ServicePort(7772).describe('UDP port of the FEC relay (WAN addresses); default 7772'),
  }).prefault({}),
}).superRefine((w, ctx) => {
  const seen = new Map<number, string>();
  for (const [k, v] of Object.entries(w.ports)) {
    if (seen.has(v)) ctx.addIssue({ code: 'custom', path: ['ports', k], message: `port ${v} is already used by ports.${seen.get(v)}; the three service ports must differ` });
    seen.set(v, k);
  }
  w.classes.forEach((c, i) => { if (w.classes.indexOf(c) !== i) ctx.addIssue({ code: 'custom', path: ['classes', i], message: `class "${c}" is listed twice` }); });
});

/**
 * How edges take a new version of this intent. `commitConfirm`: after applying a bundle an edge must find
 * itself healthy within this deadline (paths up to every peer, BGP Established, controller reachable) or it
 * reverts to its last-good bundle by itself (docs/edge-api.md). Absent: the agent's default (30 s, or its
 * `--commit-confirm` flag). Example: `rollout: { commitConfirm: 45s }`.
 */
export const RolloutSpec = z.strictObject({
  commitConfirm: Duration().pipe(z.number().min(1000, 'expected at least 1s').max(600_000, 'expected at most 10m')).optional()
    .describe('Commit-confirmed deadline on the edge after an apply, 1s..10m; default 30s'),
});

/** The intent file, structurally (see the module comment for the resolved {@link Intent}). */
export const IntentDocument = z.strictObject({
  apiVersion: z.literal(INTENT_API_VERSION, { error: `expected "${INTENT_API_VERSION}"` }),
  name: Name(),
  description: z.string().optional(),
  transports: named(TransportSpec).default({}),
  segments: named(SegmentSpec).default({}),
  sites: named(SiteSpec).default({}),
  topology: TopologySpec,
  slaClasses: named(SlaClassSpec).default({}),
  appClasses: named(AppClassSpec).default({}),
  qosClasses: named(QosClassSpec).default({}),
  rules: z.array(RuleSpec).default([]),
  templates: named(TemplateSpec).default({}),
  bgp: BgpSpec.default({}).describe('BGP speakers per site (docs/bgp.md)'),
  probing: ProbingSpec.optional().describe('Probe and steering tuning for every edge (docs/probing.md)'),
  wanopt: WanoptSpec.prefault({}).describe('WAN optimisation: proxied TCP classes and FEC-protected UDP classes (docs/wanopt.md)'),
  rollout: RolloutSpec.optional().describe('How edges take a new version: the commit-confirmed deadline (docs/edge-api.md)'),
});
export type IntentDocument = z.output<typeof IntentDocument>;

// ---------------------------------------------------------------------------------------------- resolved

/** A transport with its colour filled. Rates in bit/s (0 = unknown), MTU in bytes. */
export interface Transport {
  name: string;
  colour: string;
  type: 'public' | 'private';
  restrict: boolean;
  role: 'active' | 'backup' | 'last-resort';
  metered: boolean;
  bandwidth?: { up: number; down: number };
  mtu?: number;
  probeBudget?: number;
  /** `wireguard`: a path with this transport at either end is encrypted (docs/overlay.md); absent = none. */
  encryption?: 'wireguard' | 'none';
}

export interface Segment { name: string; id: number }

/** A site with its id assigned and template expanded; `lanPrefixes` maps segment → canonical prefixes. */
export interface Site {
  name: string;
  id: number;
  role: 'hub' | 'spoke';
  region?: string;
  lanPrefixes: Record<string, string[]>;
  template?: string;
  description?: string;
}

export interface Topology {
  policy: 'hub-spoke' | 'full-mesh' | 'regional';
  /** Hub site names in order of preference (never empty for hub-spoke with two or more sites). */
  hubs: string[];
  /** idleTimeout in milliseconds. */
  onDemand: { enabled: boolean; idleTimeout: number };
}

/** Durations in milliseconds, loss as a fraction 0..1. */
export interface SlaClass { name: string; id: number; latency: number; jitter: number; loss: number; fallback: 'best-of-worst' | 'strict-drop' }

export interface AppMatch {
  protocol: 'tcp' | 'udp' | 'icmp' | 'any';
  ports: PortRange[];
  srcPorts: PortRange[];
  prefixes: string[];
  srcPrefixes: string[];
  dscp: number[];
}

export interface AppClass { name: string; id: number; match: AppMatch[]; fqdn: string[]; sni: string[]; builtin: boolean }

export interface QosClass { name: string; id: number; priority: boolean; weight: number; dscp?: number }

export interface Rule {
  name: string;
  app: string;
  segment: string;
  sla?: string;
  qos?: string;
  service: 'overlay' | 'direct-internet' | 'backhaul';
  /** An empty `preferred` means every transport attached in the inventory (the compiler orders them: active first, then by name). */
  paths: { preferred: string[]; strategy: 'preference' | 'best-quality' | 'load-balance' | 'duplicate'; perPacket: boolean };
}

/** The resolved intent the compiler reads. Every map is sorted by name; `appClasses` includes `default`. */
export interface Intent {
  apiVersion: typeof INTENT_API_VERSION;
  name: string;
  description?: string;
  transports: Record<string, Transport>;
  segments: Record<string, Segment>;
  sites: Record<string, Site>;
  topology: Topology;
  slaClasses: Record<string, SlaClass>;
  appClasses: Record<string, AppClass>;
  qosClasses: Record<string, QosClass>;
  rules: Rule[];
  bgp: z.output<typeof BgpSpec>;
  /** Probe/steering tuning (durations in ms), as written; absent when the intent has none. */
  probing?: z.output<typeof ProbingSpec>;
  /** WAN-opt classes and FEC per class, as written with defaults filled (names checked by the compiler). */
  wanopt: z.output<typeof WanoptSpec>;
  /** Rollout settings (commitConfirm in ms), as written; absent when the intent has none. */
  rollout?: z.output<typeof RolloutSpec>;
}
