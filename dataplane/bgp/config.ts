/**
 * The speaker's configuration: a plain object (a bundle's `bgp` section will carry it) validated by one
 * zod schema. Times in seconds. Bad input becomes an {@link InputError} naming the file and key path.
 *
 * Example:
 * ```yaml
 * asn: 65010
 * routerId: 10.0.0.1
 * neighbors:
 *   - { address: 10.255.0.1, asn: 65001, holdTime: 3, connectRetryTime: 1, import: from-isp }
 *   - { address: 10.0.0.2, asn: 65010, rrClient: true }
 * networks: [10.10.0.0/16, { prefix: "2001:db8:10::/48", communities: ["65010:100"] }]
 * policies: { from-isp: { rules: [{ match: { prefixes: [{ prefix: 0.0.0.0/0, le: 24 }] } }], default: deny } }
 * ```
 */
import { isIPv4, isIP } from 'node:net';
import { z } from 'zod';
import { InputError, validate } from '../errors.ts';
import { canonicalPrefix } from './codec/index.ts';
import { PolicySchema } from './policy.ts';

const u32 = z.number().int().min(0).max(0xffffffff);
const Asn = z.number().int().min(1).max(0xffffffff);
const Ipv4 = z.string().refine((s) => isIPv4(s), { message: 'expected an IPv4 address like 10.0.0.1' });
const Ip = z.string().refine((s) => isIP(s) !== 0, { message: 'expected an IPv4 or IPv6 address' });
const Prefix = z.string().refine((s) => canonicalPrefix(s) !== undefined, { message: 'expected a prefix like 10.0.0.0/8 or 2001:db8::/32' }).transform((s) => canonicalPrefix(s)!);
const HoldTime = z.number().int().min(0).max(65535).refine((h) => h === 0 || h >= 3, { message: 'expected 0 or at least 3 seconds' });

export const NeighborSchema = z.strictObject({
  address: Ip,
  asn: Asn,
  /** Wait for the peer to connect; never dial (default false). */
  passive: z.boolean().default(false),
  /** Proposed hold time, s (default 90; 0 or ≥ 3). */
  holdTime: HoldTime.default(90),
  /** Keepalive interval, s (default a third of the negotiated hold time). */
  keepaliveTime: z.number().int().min(1).optional(),
  /** Seconds between connection attempts (default 5; RFC 4271 suggests 120). */
  connectRetryTime: z.number().min(0.1).default(5),
  /** Seconds in Idle after an error before trying again (default 1). */
  idleHoldTime: z.number().min(0).default(1),
  /** TCP port of the peer (default 179). */
  port: z.number().int().min(1).max(65535).default(179),
  /** Source address for outgoing connections. */
  localAddress: Ip.optional(),
  /** Segment (routing table) this session feeds and is fed from (default "default"). */
  segment: z.string().min(1).default('default'),
  /** Names of policies in `policies`. */
  import: z.string().optional(),
  export: z.string().optional(),
  /** Reflect iBGP routes to and from this peer (RFC 4456); makes this speaker a route reflector. */
  rrClient: z.boolean().default(false),
  /** Rewrite the next hop to ourselves on iBGP too (default false: only for our own routes). */
  nextHopSelf: z.boolean().default(false),
  /** Global IPv6 next hop to announce IPv6 routes with on this session (default: the session address when it is IPv6). */
  nextHop6: Ip.optional(),
  /** Families to negotiate (default both). */
  families: z.array(z.enum(['ipv4', 'ipv6'])).min(1).default(['ipv4', 'ipv6']),
});

export const NetworkSchema = z.union([
  Prefix.transform((prefix) => ({ prefix, segment: 'default' })),
  z.strictObject({
    prefix: Prefix,
    segment: z.string().min(1).default('default'),
    communities: z.array(z.string()).optional(),
    largeCommunities: z.array(z.string()).optional(),
    med: u32.optional(),
    localPref: u32.optional(),
  }),
]);

export const SpeakerConfigSchema = z.strictObject({
  asn: Asn,
  routerId: Ipv4,
  /** RFC 4456 cluster id when reflecting (default: router id). */
  clusterId: Ipv4.optional(),
  /** Address and port to accept connections on (default all addresses, port 179; port 0 = none). */
  listen: z.strictObject({ address: Ip.optional(), port: z.number().int().min(0).max(65535).default(179) }).default({ port: 179 }),
  neighbors: z.array(NeighborSchema).default([]),
  /** Locally originated prefixes. */
  networks: z.array(NetworkSchema).default([]),
  policies: z.record(z.string(), PolicySchema).default({}),
});

export type SpeakerConfig = z.output<typeof SpeakerConfigSchema>;
export type SpeakerConfigInput = z.input<typeof SpeakerConfigSchema>;
export type NeighborConfig = z.output<typeof NeighborSchema>;

/**
 * Validates a speaker configuration, including cross-references (policy names, duplicate neighbours,
 * community syntax in networks). Throws {@link InputError} for `file`.
 */
export function parseSpeakerConfig(data: unknown, file = '<bgp config>'): SpeakerConfig {
  const cfg = validate(SpeakerConfigSchema, data, file);
  const issues: { path: (string | number)[]; message: string }[] = [];
  const known = Object.keys(cfg.policies);
  const seen = new Set<string>();
  cfg.neighbors.forEach((n, i) => {
    if (seen.has(n.address)) issues.push({ path: ['neighbors', i, 'address'], message: `neighbour ${n.address} is listed twice` });
    seen.add(n.address);
    for (const k of ['import', 'export'] as const) {
      const name = n[k];
      if (name !== undefined && !known.includes(name)) issues.push({ path: ['neighbors', i, k], message: `policy "${name}" is not defined (known: ${known.join(', ') || 'none'})` });
    }
  });
  cfg.networks.forEach((net, i) => {
    if (!('communities' in net)) return;
    const check = PolicySchema.safeParse({ rules: [{ set: { addCommunities: [...(net.communities ?? []), ...(net.largeCommunities ?? [])] } }] });
    if (!check.success) issues.push({ path: ['networks', i, 'communities'], message: check.error.issues[0]!.message });
  });
  if (issues.length) throw new InputError(file, issues);
  return cfg;
}
