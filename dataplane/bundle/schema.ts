/**
 * The bundle: everything one edge needs, compiled by the controller from inventory + intent. It is the
 * agent's input contract, so it lives here; the compiler imports it. A bundle is deterministic and
 * content-addressed: `bundleHash` is the sha256 of its canonical JSON (keys sorted, no whitespace).
 *
 * Units: durations in milliseconds, rates in bit/s, loss as a fraction 0..1, sizes in bytes.
 */
import { z } from 'zod';
import { IfAddress, IpAddress, IpPrefix } from '../net.ts';
import { NeighborSchema, NetworkSchema } from '../bgp/config.ts';
import { PolicySchema } from '../bgp/policy.ts';

export const BUNDLE_API_VERSION = 'patronus.dev/bundle/v1';

const Name = z.string().min(1);
const Id16 = z.number().int().min(0).max(0xffff);

export const BundleWanInterface = z.strictObject({
  name: Name,
  transport: Name,
  ipv4: z.array(IfAddress()),
  /** IPv6 interface addresses ("2001:db8::1/64"); absent = none (bundles of IPv4-only inventories omit it). */
  ipv6: z.array(IfAddress()).optional(),
  gateway: IpAddress().optional(),
  mtu: z.number().int(),
  role: z.enum(['active', 'backup', 'last-resort']),
  metered: z.boolean(),
  /** bit/s; 0 = unknown. */
  bandwidthUp: z.number().nonnegative(),
  bandwidthDown: z.number().nonnegative(),
  /**
   * Egress shaping of this interface (docs/qos.md): an HTB shaper at `rateBps` (bit/s, the transport's
   * committed upstream rate) with one class per QoS class. Absent = unshaped (XDP fast path).
   */
  shape: z.strictObject({ rateBps: z.number().int().positive() }).optional(),
});

export const BundleLanInterface = z.strictObject({
  name: Name,
  segment: Name,
  ipv4: z.array(IfAddress()),
  /** IPv6 interface addresses; absent = none (as on WAN interfaces). */
  ipv6: z.array(IfAddress()).optional(),
  vlan: z.number().int().optional(),
});

/**
 * One route in a segment. kind: local (a LAN of this site), remote (another site, through the overlay),
 * internet (direct internet breakout via a WAN interface), drop (blackhole).
 */
export const BundleRoute = z.strictObject({
  prefix: IpPrefix(),
  kind: z.enum(['local', 'remote', 'internet', 'drop']),
  /** remote: destination site and its numeric id. */
  site: Name.optional(),
  siteId: Id16.optional(),
  /** remote: the site whose edge this edge sends to (a hub when the route is backhauled). */
  via: Name.optional(),
  /** local: the LAN interface. */
  interface: Name.optional(),
});

export const BundleSegment = z.strictObject({
  name: Name,
  id: Id16,
  routes: z.array(BundleRoute),
});

/** One WireGuard tunnel of an encrypted path (the fields of `BundlePath.wireguard`). */
export const WgTunnel = z.strictObject({
  listenPort: z.number().int().min(1).max(65535),
  peerPort: z.number().int().min(1).max(65535),
  peerPublicKey: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'expected a WireGuard public key (44 characters of base64)').optional(),
  address: z.ipv4({ message: 'expected an IPv4 address like 169.254.0.0' }),
  peerAddress: z.ipv4({ message: 'expected an IPv4 address like 169.254.0.1' }),
  /** Generation of this edge's own key the tunnel uses (0 = the first key, +1 per rotation); absent = the edge's current key. */
  keyGeneration: z.number().int().min(0).optional(),
});

/** One overlay path: a (local WAN interface, remote edge WAN address) pair. */
export const BundlePath = z.strictObject({
  /** Unique within the bundle; carried in the overlay header. */
  id: Id16,
  peerNode: Name,
  peerSite: Name,
  peerSiteId: Id16,
  /** Local transport colour and the peer's. */
  transport: Name,
  remoteTransport: Name,
  localInterface: Name,
  localAddress: IpAddress(),
  remoteAddress: IpAddress(),
  /** Underlay next hop when the peer is not on-link. */
  gateway: IpAddress().optional(),
  /** Path MTU for inner packets before overlay overhead is subtracted (min of both ends). */
  mtu: z.number().int(),
  role: z.enum(['active', 'backup', 'last-resort']),
  /** Whether this edge actively probes this path (the topology policy decides). */
  probe: z.boolean(),
  /**
   * The same path's id in the peer's bundle (the reverse direction). Overlay packets carry the sender's
   * path id, so the receiver's per-path state and whitelist are keyed by this.
   */
  peerPathId: Id16.optional(),
  /**
   * Present when the path is encrypted (docs/overlay.md, "Encrypted paths"): the edge runs one WireGuard
   * device for it, listening on UDP `listenPort`, with the peer at `peerPublicKey` (base64; absent until the
   * controller knows the peer's key — the path stays down meanwhile) reached at remoteAddress:`peerPort`.
   * `address` / `peerAddress` are the tunnel's inner /31 (169.254.0.0/16, never routed): probes of the path
   * run between them through the tunnel. The private key never leaves the edge. Example:
   * `{listenPort: 51821, peerPort: 51822, peerPublicKey: 'hT…=', address: '169.254.0.0', peerAddress: '169.254.0.1'}`
   */
  wireguard: WgTunnel.extend({
    /**
     * During a key rotation (docs/overlay.md, "Key rotation"): a second tunnel beside this one, with the
     * rotating end's next key (its own `keyGeneration` on that edge, the next `peerPublicKey` on the other),
     * another listen port and /31. The edge brings it up beside the first and moves the path into it once its
     * handshake is confirmed; the next bundle, without the old tunnel, removes the first.
     */
    next: WgTunnel.optional(),
  }).optional(),
});

export const PortRange = z.tuple([z.number().int().min(0).max(65535), z.number().int().min(0).max(65535)]);

export const BundleClassRule = z.strictObject({
  /** Application class name and numeric id (carried in the overlay header). */
  appClass: Name,
  classId: z.number().int().min(0).max(255),
  /** Lower runs first. */
  priority: z.number().int(),
  protocol: z.enum(['tcp', 'udp', 'icmp', 'any']).default('any'),
  srcPorts: z.array(PortRange).default([]),
  dstPorts: z.array(PortRange).default([]),
  srcPrefixes: z.array(IpPrefix()).default([]),
  dstPrefixes: z.array(IpPrefix()).default([]),
  dscp: z.array(z.number().int().min(0).max(63)).default([]),
});

export const BundleRule = z.strictObject({
  name: Name,
  segment: Name,
  appClass: Name,
  slaClass: Name.optional(),
  qosClass: Name.optional(),
  service: z.enum(['overlay', 'direct-internet', 'backhaul']),
  strategy: z.enum(['preference', 'best-quality', 'load-balance', 'duplicate']),
  /** Transports in order of preference (local colours). */
  preferred: z.array(Name),
  /** Steer per packet instead of per flow. */
  perPacket: z.boolean(),
});

const ms = z.number().nonnegative();
/** Probe tuning a transport may override; every field optional (the agent's defaults, docs/probing.md). */
const bundleProbeTuning = {
  intervalMs: z.number().min(10).optional(),
  idleIntervalMs: z.number().min(10).optional(),
  downAfter: z.number().int().min(1).optional(),
  holdDownMs: ms.optional(),
  timeoutFloorMs: z.number().min(1).optional(),
  timeoutCeilingMs: z.number().min(1).optional(),
  minOutageMs: ms.optional(),
};

/**
 * Probing and steering tuning from the intent's `probing` section, in ms and score points, plus the probe
 * budget (bit/s) of each transport that sets one. Absent fields keep the agent's defaults; the agent's
 * command-line flags override all of it (benches). Example: `{intervalMs: 50, transports: {lte: {intervalMs: 1000}}, budgets: {lte: 16000}}`.
 */
export const BundleProbing = z.strictObject({
  ...bundleProbeTuning,
  lossWindowMs: z.number().min(100).optional(),
  passive: z.boolean().optional(),
  failbackHoldMs: ms.optional(),
  minDwellMs: ms.optional(),
  failoverScore: z.number().min(0).max(100).optional(),
  failbackScore: z.number().min(0).max(100).optional(),
  betterBy: z.number().min(0).max(100).optional(),
  /** Transport name → overrides of the probe tuning for its paths. */
  transports: z.record(z.string(), z.strictObject(bundleProbeTuning)).optional(),
  /** Transport name → probe budget, bit/s. */
  budgets: z.record(z.string(), z.number().positive()).optional(),
});

export const BundleSlaClass = z.strictObject({
  name: Name,
  id: z.number().int().min(0).max(255),
  latencyMs: z.number().nonnegative(),
  jitterMs: z.number().nonnegative(),
  loss: z.number().min(0).max(1),
  /** When no path complies: keep the best of the non-compliant ones, or drop. */
  fallback: z.enum(['best-of-worst', 'strict-drop']),
});

export const BundleQosClass = z.strictObject({
  name: Name,
  id: z.number().int().min(0).max(255),
  /** Strict priority (real-time) or weighted. */
  priority: z.boolean(),
  weight: z.number().int().min(1).max(1000),
  /** DSCP to mark, if any. */
  dscp: z.number().int().min(0).max(63).optional(),
  /**
   * Application class ids (BundleClassRule.classId, as carried in the overlay header) whose packets this
   * class shapes: the first rule naming an application class with a QoS class decides. Default [].
   */
  classIds: z.array(z.number().int().min(0).max(255)).default([]),
});

/**
 * The BGP section: the speaker's configuration (dataplane/bgp/config.ts, docs/bgp.md) with everything but
 * `asn` optional. `{}` (no `asn`) means "no BGP" — bundles compiled from intents without BGP carry exactly
 * that. `routerId` defaults (in the agent) to the edge's first WAN, else LAN, IPv4 address. Policy names
 * are cross-checked when the agent builds the speaker (`parseSpeakerConfig`), before anything is applied.
 */
export const BundleBgp = z.strictObject({
  asn: z.number().int().min(1).max(0xffffffff).optional(),
  routerId: z.ipv4({ message: 'expected an IPv4 address like 10.0.0.1' }).optional(),
  listen: z.strictObject({ address: IpAddress().optional(), port: z.number().int().min(0).max(65535).optional() }).optional(),
  neighbors: z.array(NeighborSchema).optional(),
  networks: z.array(NetworkSchema).optional(),
  policies: z.record(z.string(), PolicySchema).optional(),
}).superRefine((b, ctx) => {
  if (b.asn === undefined && Object.keys(b).length > 0) ctx.addIssue({ code: 'custom', path: ['asn'], message: 'asn is required when the bgp section is not empty ({} means no BGP)' });
});

/**
 * WAN optimisation of this edge (docs/wanopt.md); `{}` = none (bundles of intents without `wanopt`).
 * `classes`: application classes whose TCP flows the LAN program hands to the local stack, where nftables
 * TPROXY diverts them to the proxy on 127.0.0.1:`interceptPort`; the proxy carries them over one session per
 * peer edge to the peer's `sessionPort` (TCP, on its WAN addresses). `fec`: classes whose UDP packets are
 * handed to the agent's FEC relay and sent, k data + m parity per block, to the peer's `fecPort` (UDP);
 * `holdMs` is the receiver's reorder/repair wait; `interleave` the block interleaving depth (1 = off). Example:
 *   `{ interceptPort: 7770, sessionPort: 7771, fecPort: 7772, classes: [{ appClass: 'bulk', classId: 2 }],
 *      fec: [{ appClass: 'voip', classId: 1, k: 8, m: 2, holdMs: 50, interleave: 1 }] }`
 */
export const BundleWanopt = z.strictObject({
  interceptPort: z.number().int().min(1).max(65535).optional(),
  sessionPort: z.number().int().min(1).max(65535).optional(),
  fecPort: z.number().int().min(1).max(65535).optional(),
  classes: z.array(z.strictObject({ appClass: Name, classId: z.number().int().min(0).max(255) })).optional(),
  fec: z.array(z.strictObject({
    appClass: Name,
    classId: z.number().int().min(0).max(255),
    k: z.number().int().min(1).max(128),
    m: z.number().int().min(1).max(64),
    holdMs: z.number().int().min(1).max(1000),
    /** Block interleaving depth (1 = off); absent in bundles compiled before it existed. */
    interleave: z.number().int().min(1).max(64).default(1),
  })).optional(),
});

export const Bundle = z.strictObject({
  apiVersion: z.literal(BUNDLE_API_VERSION),
  node: Name,
  site: Name,
  siteId: Id16,
  /** Name of the intent this bundle came from. */
  intent: Name,
  interfaces: z.strictObject({ wan: z.array(BundleWanInterface), lan: z.array(BundleLanInterface) }),
  segments: z.array(BundleSegment),
  paths: z.array(BundlePath),
  classifier: z.array(BundleClassRule),
  rules: z.array(BundleRule),
  slaClasses: z.array(BundleSlaClass),
  qosClasses: z.array(BundleQosClass),
  /** BGP speaker configuration; `{}` = no BGP (see {@link BundleBgp}). */
  bgp: BundleBgp.default({}),
  /** Probe and steering tuning; absent = the agent's defaults (see {@link BundleProbing}). */
  probing: BundleProbing.optional(),
  /** WAN-opt proxy and FEC classes; `{}` = none (see {@link BundleWanopt}). */
  wanopt: BundleWanopt.default({}),
  /**
   * Commit-confirmed deadline (ms) the agent gives this bundle after applying it (intent `rollout.commitConfirm`);
   * absent = the agent's default (30,000, or its `--commit-confirm` flag). Example: 45000.
   */
  commitConfirmMs: z.number().int().min(1000).max(600_000).optional(),
});
export type Bundle = z.output<typeof Bundle>;
export type BundlePath = z.output<typeof BundlePath>;
export type WgTunnel = z.output<typeof WgTunnel>;
export type BundleRoute = z.output<typeof BundleRoute>;
export type BundleBgp = z.output<typeof BundleBgp>;
export type BundleProbing = z.output<typeof BundleProbing>;
export type BundleQosClass = z.output<typeof BundleQosClass>;
export type BundleWanInterface = z.output<typeof BundleWanInterface>;
export type BundleWanopt = z.output<typeof BundleWanopt>;
