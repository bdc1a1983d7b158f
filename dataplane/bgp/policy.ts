/**
 * Import and export policy: an ordered list of rules, first match wins, each rule matching on prefix
 * lists (with ge/le), AS-path regular expressions, neighbour/origin AS and communities, then setting
 * LOCAL_PREF, MED, communities (add/strip) or prepending, and accepting or denying. A route no rule
 * matches gets the policy's default (accept). Policies are data validated by {@link PolicySchema}.
 *
 * Example (YAML as a bundle would carry it):
 * ```yaml
 * rules:
 *   - match: { prefixes: [{ prefix: 10.0.0.0/8, ge: 16, le: 24 }], community: ["65000:666"] }
 *     action: deny
 *   - match: { asPath: "^65001( |$)" }
 *     set: { localPref: 200, addCommunities: ["65010:1"], removeCommunities: ["65001:*"] }
 * default: accept
 * ```
 */
import { z } from 'zod';
import { asPathLength, canonicalPrefix, formatAsPath, parsePrefix, type PathAttributes } from './codec/index.ts';

/** 32-bit community from "65000:100" or a well-known name; undefined when malformed. */
export function parseCommunity(s: string): number | undefined {
  const named: Record<string, number> = { 'no-export': 0xffffff01, 'no-advertise': 0xffffff02, 'no-export-subconfed': 0xffffff03 };
  if (named[s] !== undefined) return named[s];
  const m = /^(\d{1,5}):(\d{1,5})$/.exec(s);
  if (!m || Number(m[1]) > 65535 || Number(m[2]) > 65535) return undefined;
  return Number(m[1]) * 65536 + Number(m[2]);
}

/** Large community from "4200000000:1:2"; undefined when malformed. */
export function parseLargeCommunity(s: string): [number, number, number] | undefined {
  const m = /^(\d{1,10}):(\d{1,10}):(\d{1,10})$/.exec(s);
  if (!m) return undefined;
  const v = [Number(m[1]), Number(m[2]), Number(m[3])] as [number, number, number];
  return v.every((x) => x <= 0xffffffff) ? v : undefined;
}

const u32 = z.number().int().min(0).max(0xffffffff);
const CommunityPattern = z.string().refine((s) => /^(\d{1,10}|\*):(\d{1,10}|\*)(:(\d{1,10}|\*))?$/.test(s) || parseCommunity(s) !== undefined, {
  message: 'expected a community "ASN:VALUE", a large community "GLOBAL:LOCAL1:LOCAL2" (either may use * as a wildcard) or no-export/no-advertise',
});
const CommunityValue = z.string().refine((s) => parseCommunity(s) !== undefined || parseLargeCommunity(s) !== undefined, {
  message: 'expected a community "ASN:VALUE" (each 0-65535), a large community "GLOBAL:LOCAL1:LOCAL2" or no-export/no-advertise',
});

/** One prefix-list entry: `prefix` alone matches exactly; `ge`/`le` widen the accepted lengths (Cisco semantics). */
export const PrefixMatch = z.strictObject({
  prefix: z.string().refine((s) => canonicalPrefix(s) !== undefined, { message: 'expected an IPv4 or IPv6 prefix like 10.0.0.0/8' }),
  ge: z.number().int().min(0).max(128).optional(),
  le: z.number().int().min(0).max(128).optional(),
});

export const PolicyRule = z.strictObject({
  /** All given conditions must hold; an absent match matches every route. */
  match: z.strictObject({
    /** Any entry matches. */
    prefixes: z.array(PrefixMatch).optional(),
    /** Regular expression over the AS path as text, e.g. "^65001 " or "(^| )64512$". */
    asPath: z.string().refine((s) => { try { new RegExp(s); return true; } catch { return false; } }, { message: 'expected a valid regular expression' }).optional(),
    /** First AS of the path (the neighbouring AS). */
    neighborAsn: u32.optional(),
    /** Last AS of the path (the originator). */
    originAsn: u32.optional(),
    /** Any listed community or large community present (wildcards allowed). */
    community: z.array(CommunityPattern).optional(),
    family: z.enum(['ipv4', 'ipv6']).optional(),
    maxAsPathLength: z.number().int().min(0).optional(),
  }).optional(),
  /** accept (default) or deny. */
  action: z.enum(['accept', 'deny']).default('accept'),
  set: z.strictObject({
    localPref: u32.optional(),
    med: u32.optional(),
    addCommunities: z.array(CommunityValue).optional(),
    /** Patterns to strip; "*:*" strips every standard community, "*:*:*" every large one. */
    removeCommunities: z.array(CommunityPattern).optional(),
    /** Prepend our AS this many extra times (export). */
    prepend: z.number().int().min(1).max(16).optional(),
  }).optional(),
});

export const PolicySchema = z.strictObject({
  rules: z.array(PolicyRule).default([]),
  default: z.enum(['accept', 'deny']).default('accept'),
});
export type Policy = z.output<typeof PolicySchema>;
export type PolicyInput = z.input<typeof PolicySchema>;

/** The route facts a policy looks at. */
export interface PolicyRoute { prefix: string; attrs: PathAttributes }

type Matcher = (r: PolicyRoute) => boolean;

function patternMatcher(p: string): { std?: (c: number) => boolean; large?: (l: [number, number, number]) => boolean } {
  const fixed = parseCommunity(p);
  if (fixed !== undefined && !p.includes('*')) return { std: (c) => c === fixed };
  const parts = p.split(':');
  const eq = (pat: string, v: number) => pat === '*' || Number(pat) === v;
  if (parts.length === 2) return { std: (c) => eq(parts[0]!, Math.floor(c / 65536)) && eq(parts[1]!, c % 65536) };
  return { large: (l) => eq(parts[0]!, l[0]) && eq(parts[1]!, l[1]) && eq(parts[2]!, l[2]) };
}

function prefixMatcher(list: z.output<typeof PrefixMatch>[]): Matcher {
  const entries = list.map((e) => {
    const p = parsePrefix(e.prefix)!;
    const max = p.bytes.length * 8;
    const lo = e.ge ?? p.len, hi = e.le ?? (e.ge !== undefined ? max : p.len);
    return { p, lo, hi };
  });
  return (r) => {
    const q = parsePrefix(r.prefix);
    if (!q) return false;
    return entries.some(({ p, lo, hi }) => {
      if (q.afi !== p.afi || q.len < lo || q.len > hi || q.len < p.len) return false;
      for (let bit = 0; bit < p.len; bit += 8) {
        const n = Math.min(8, p.len - bit), mask = (0xff << (8 - n)) & 0xff;
        if ((q.bytes[bit >> 3]! & mask) !== (p.bytes[bit >> 3]! & mask)) return false;
      }
      return true;
    });
  };
}

function firstAs(a: PathAttributes): number | undefined {
  const s = a.asPath?.find((x) => x.type === 1 || x.type === 2);
  return s?.asns[0];
}
function lastAs(a: PathAttributes): number | undefined {
  const segs = (a.asPath ?? []).filter((x) => x.type === 1 || x.type === 2);
  const s = segs[segs.length - 1];
  return s?.asns[s.asns.length - 1];
}

/**
 * A compiled policy. `apply` returns the route's (possibly new) attributes or undefined when denied;
 * it never mutates its input, because routes from one UPDATE share one attributes object.
 * Example: `new CompiledPolicy(PolicySchema.parse({rules: [{action: 'deny'}]})).apply(r, 65010)` is undefined.
 */
export class CompiledPolicy {
  private rules: { match: Matcher; deny: boolean; set: z.output<typeof PolicyRule>['set'] }[];
  private deny: boolean;
  constructor(policy: Policy) {
    this.deny = policy.default === 'deny';
    this.rules = policy.rules.map((rule) => {
      const ms: Matcher[] = [];
      const m = rule.match ?? {};
      if (m.prefixes) ms.push(prefixMatcher(m.prefixes));
      if (m.asPath !== undefined) { const re = new RegExp(m.asPath); ms.push((r) => re.test(formatAsPath(r.attrs.asPath))); }
      if (m.neighborAsn !== undefined) ms.push((r) => firstAs(r.attrs) === m.neighborAsn);
      if (m.originAsn !== undefined) ms.push((r) => lastAs(r.attrs) === m.originAsn);
      if (m.family) ms.push((r) => r.prefix.includes(':') === (m.family === 'ipv6'));
      if (m.maxAsPathLength !== undefined) ms.push((r) => asPathLength(r.attrs.asPath) <= m.maxAsPathLength!);
      if (m.community) {
        const pats = m.community.map(patternMatcher);
        ms.push((r) => pats.some((p) => (p.std ? (r.attrs.communities ?? []).some(p.std) : (r.attrs.largeCommunities ?? []).some(p.large!))));
      }
      return { match: (r: PolicyRoute) => ms.every((f) => f(r)), deny: rule.action === 'deny', set: rule.set };
    });
  }

  /** True when the policy accepts every route unchanged (no rules, default accept): callers may skip `apply`. */
  get acceptsAll(): boolean { return this.rules.length === 0 && !this.deny; }

  /** Attributes after the first matching rule (or the default), undefined when denied. `localAsn` is used by `prepend`. */
  apply(r: PolicyRoute, localAsn = 0): PathAttributes | undefined {
    for (const rule of this.rules) {
      if (!rule.match(r)) continue;
      if (rule.deny) return undefined;
      return rule.set ? applySet(r.attrs, rule.set, localAsn) : r.attrs;
    }
    return this.deny ? undefined : r.attrs;
  }
}

function applySet(a: PathAttributes, set: NonNullable<z.output<typeof PolicyRule>['set']>, localAsn: number): PathAttributes {
  const out: PathAttributes = { ...a };
  if (set.localPref !== undefined) out.localPref = set.localPref;
  if (set.med !== undefined) out.med = set.med;
  if (set.removeCommunities) {
    const pats = set.removeCommunities.map(patternMatcher);
    if (out.communities) out.communities = out.communities.filter((c) => !pats.some((p) => p.std?.(c)));
    if (out.largeCommunities) out.largeCommunities = out.largeCommunities.filter((l) => !pats.some((p) => p.large?.(l)));
  }
  for (const c of set.addCommunities ?? []) {
    const std = parseCommunity(c);
    if (std !== undefined) { if (!out.communities?.includes(std)) out.communities = [...(out.communities ?? []), std]; continue; }
    const l = parseLargeCommunity(c)!;
    if (!out.largeCommunities?.some((x) => x[0] === l[0] && x[1] === l[1] && x[2] === l[2])) out.largeCommunities = [...(out.largeCommunities ?? []), l];
  }
  if (out.communities?.length === 0) delete out.communities;
  if (out.largeCommunities?.length === 0) delete out.largeCommunities;
  if (set.prepend) {
    const extra = new Array<number>(set.prepend).fill(localAsn);
    const segs = out.asPath ?? [];
    out.asPath = segs[0]?.type === 2 ? [{ type: 2, asns: [...extra, ...segs[0].asns] }, ...segs.slice(1)] : [{ type: 2, asns: extra }, ...segs];
  }
  return out;
}

/** The policy that accepts everything unchanged. */
export const ACCEPT_ALL = new CompiledPolicy({ rules: [], default: 'accept' });
