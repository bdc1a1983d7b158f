/**
 * IPv4/IPv6 prefix and address helpers used by the schemas (inventory, bundle, lab, intent): parsing,
 * canonical form, containment and overlap. Addresses are handled as bigint so v4 and v6 share one code path.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';

/** A parsed prefix: family, network address as bigint, length. */
export interface Prefix { family: 4 | 6; addr: bigint; len: number }

export function addrToBigint(a: string): bigint | undefined {
  if (isIPv4(a)) return a.split('.').reduce((n, o) => (n << 8n) | BigInt(Number(o)), 0n);
  if (!isIPv6(a)) return undefined;
  let s = a;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const n = addrToBigint(v4[1]!)!;
    s = s.slice(0, -v4[1]!.length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

export function bigintToAddr(n: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');
  const g = Array.from({ length: 8 }, (_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  // RFC 5952: compress the longest run (≥2) of zero groups.
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== '0') { i++; continue; }
    let j = i; while (j < 8 && g[j] === '0') j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return g.join(':');
  return `${g.slice(0, best).join(':')}::${g.slice(best + bestLen).join(':')}`;
}

/** Parse "10.1.0.0/24" (host bits must be zero unless `allowHost`). Returns undefined when malformed. */
export function parsePrefix(s: string, allowHost = false): Prefix | undefined {
  const [a, l, extra] = s.split('/');
  if (!a || l === undefined || extra !== undefined || !/^\d+$/.test(l)) return undefined;
  const family = isIPv4(a) ? 4 : isIPv6(a) ? 6 : undefined;
  if (!family) return undefined;
  const len = Number(l);
  const bits = family === 4 ? 32 : 128;
  if (len > bits) return undefined;
  const addr = addrToBigint(a)!;
  const mask = ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - len)) - 1n);
  if (!allowHost && (addr & ~mask & ((1n << BigInt(bits)) - 1n)) !== 0n) return undefined;
  return { family, addr: allowHost ? addr : addr & mask, len };
}

/** Network part of an interface address: "10.1.0.1/24" → "10.1.0.0/24". */
export function networkOf(ifaddr: string): string {
  const p = parsePrefix(ifaddr, true);
  if (!p) throw new Error(`not an interface address: ${ifaddr}`);
  const bits = p.family === 4 ? 32 : 128;
  const mask = ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - p.len)) - 1n);
  return `${bigintToAddr(p.addr & mask, p.family)}/${p.len}`;
}

/** Address part of "10.1.0.1/24" → "10.1.0.1". */
export const hostOf = (ifaddr: string) => ifaddr.split('/')[0]!;

/** True when two prefixes share any address. */
export function overlaps(a: Prefix, b: Prefix): boolean {
  if (a.family !== b.family) return false;
  const bits = a.family === 4 ? 32 : 128;
  const len = Math.min(a.len, b.len);
  const shift = BigInt(bits - len);
  return a.addr >> shift === b.addr >> shift;
}

/** True when `addr` (a plain address) lies inside `p`. */
export function contains(p: Prefix, addr: string): boolean {
  const n = addrToBigint(addr);
  if (n === undefined || (isIPv4(addr) ? 4 : 6) !== p.family) return false;
  const bits = p.family === 4 ? 32 : 128;
  return n >> BigInt(bits - p.len) === p.addr >> BigInt(bits - p.len);
}

/** zod: an IPv4 or IPv6 address. */
export const IpAddress = () => z.string().refine((s) => isIPv4(s) || isIPv6(s), { message: 'expected an IPv4 or IPv6 address like "10.1.0.1"' });
/** zod: a network prefix with host bits zero, "10.1.0.0/24". */
export const IpPrefix = () => z.string().refine((s) => parsePrefix(s) !== undefined, { message: 'expected a prefix like "10.1.0.0/24" (host bits zero)' });
/** zod: an interface address with its prefix length, "10.1.0.1/24". */
export const IfAddress = () => z.string().refine((s) => parsePrefix(s, true) !== undefined, { message: 'expected an address with prefix length like "10.1.0.1/24"' });
