/**
 * Addresses and NLRI prefixes: dotted-quad / RFC 5952 text <-> bytes, and the length-prefixed prefix
 * encoding of RFC 4271 §4.3 / RFC 4760. Prefix strings are canonical (host bits cleared, IPv6 compressed)
 * so equal prefixes are equal strings.
 */
import { AFI_IPV4 } from './types.ts';

/** "192.0.2.1" -> 4 bytes; undefined when not a dotted quad. */
export function parseIpv4(s: string): Uint8Array | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

export const formatIpv4 = (b: Uint8Array, off = 0): string => `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;

/** "2001:db8::1" (also with an embedded dotted quad) -> 16 bytes; undefined when malformed. */
export function parseIpv6(s: string): Uint8Array | undefined {
  let text = s;
  if (text.includes('.')) {
    const colon = text.lastIndexOf(':');
    const v4 = colon < 0 ? undefined : parseIpv4(text.slice(colon + 1));
    if (!v4) return undefined;
    text = `${text.slice(0, colon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const words = (h: string) => (h === '' ? [] : h.split(':'));
  const head = words(halves[0]!);
  const tail = halves.length === 2 ? words(halves[1]!) : [];
  if (halves.length === 1 ? head.length !== 8 : head.length + tail.length > 7) return undefined;
  const groups = [...head, ...new Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    const w = parseInt(g, 16);
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  }
  return out;
}

/** 16 bytes -> RFC 5952 text (lower case, longest run of ≥ 2 zero groups compressed). */
export function formatIpv6(b: Uint8Array, off = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!);
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(w);
  return `${hex(w.slice(0, bestStart))}::${hex(w.slice(bestStart + bestLen))}`;
}

/** Address text for either family; undefined when malformed. */
export const parseIp = (s: string, afi: number): Uint8Array | undefined => (afi === AFI_IPV4 ? parseIpv4(s) : parseIpv6(s));
export const formatIp = (b: Uint8Array, afi: number, off = 0): string => (afi === AFI_IPV4 ? formatIpv4(b, off) : formatIpv6(b, off));

/** Address family of a prefix or address string: 1 (IPv4) or 2 (IPv6). */
export const afiOf = (prefix: string): number => (prefix.includes(':') ? 2 : 1);

/**
 * Canonical text of a prefix given its (possibly short) address bytes; bits beyond `len` are cleared.
 * Example: `prefixText(Uint8Array.of(10, 1, 255), 17, 1)` is "10.1.128.0/17".
 */
export function prefixText(bytes: Uint8Array, len: number, afi: number): string {
  const full = new Uint8Array(afi === AFI_IPV4 ? 4 : 16);
  full.set(bytes.subarray(0, Math.min(bytes.length, full.length)));
  clearHostBits(full, len);
  return `${formatIp(full, afi)}/${len}`;
}

function clearHostBits(a: Uint8Array, len: number): void {
  for (let i = 0; i < a.length; i++) {
    const keep = Math.max(0, Math.min(8, len - 8 * i));
    a[i]! &= (0xff << (8 - keep)) & 0xff;
  }
}

/** "10.0.0.0/8" -> {afi, len, bytes}; undefined when malformed. Host bits are cleared. */
export function parsePrefix(s: string): { afi: number; len: number; bytes: Uint8Array } | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const afi = afiOf(s);
  const bytes = parseIp(s.slice(0, slash), afi);
  const lenText = s.slice(slash + 1);
  const len = Number(lenText);
  if (!bytes || !/^\d{1,3}$/.test(lenText) || len > bytes.length * 8) return undefined;
  clearHostBits(bytes, len);
  return { afi, len, bytes };
}

/** Canonical form of a prefix string, or undefined when malformed: "10.1.2.3/16" -> "10.1.0.0/16". */
export function canonicalPrefix(s: string): string | undefined {
  const p = parsePrefix(s);
  return p && `${formatIp(p.bytes, p.afi)}/${p.len}`;
}

/** Encoded size of a list of prefixes in NLRI form. */
export function nlriSize(prefixes: readonly string[]): number {
  let n = 0;
  for (const p of prefixes) n += 1 + Math.ceil(Number(p.slice(p.indexOf('/') + 1)) / 8);
  return n;
}

/** Writes prefixes in NLRI form at `off`, returns the new offset. Throws on a malformed prefix (our own input). */
export function writeNlri(out: Uint8Array, off: number, prefixes: readonly string[]): number {
  for (const s of prefixes) {
    const p = parsePrefix(s);
    if (!p) throw new TypeError(`not a prefix: ${JSON.stringify(s)}`);
    out[off++] = p.len;
    const n = Math.ceil(p.len / 8);
    out.set(p.bytes.subarray(0, n), off);
    off += n;
  }
  return off;
}

/** Prefixes of one family in NLRI form; a string when the field is malformed (length overrun or too long). */
export function readNlri(b: Uint8Array, afi: number): string[] | string {
  const max = afi === AFI_IPV4 ? 32 : 128;
  const out: string[] = [];
  let i = 0;
  while (i < b.length) {
    const len = b[i]!;
    if (len > max) return `prefix length ${len} exceeds ${max}`;
    const n = (len + 7) >> 3;
    if (i + 1 + n > b.length) return `prefix of length ${len} overruns the field`;
    if (afi === AFI_IPV4) {
      // Fast path for the common case: no allocation beyond the string.
      const a = n > 0 ? b[i + 1]! : 0, c = n > 1 ? b[i + 2]! : 0, d = n > 2 ? b[i + 3]! : 0, e = n > 3 ? b[i + 4]! : 0;
      const v = (((a << 24) | (c << 16) | (d << 8) | e) >>> 0) & (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0);
      out.push(`${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}/${len}`);
    } else {
      out.push(prefixText(b.subarray(i + 1, i + 1 + n), len, afi));
    }
    i += 1 + n;
  }
  return out;
}

/**
 * Checks an NLRI field without decoding it: the number of prefixes, or a string when malformed (the same
 * errors as {@link readNlri}). Example: `nlriCount(Uint8Array.of(8, 10, 16, 10, 1), 1)` is 2.
 */
export function nlriCount(b: Uint8Array, afi: number): number | string {
  const max = afi === AFI_IPV4 ? 32 : 128;
  let i = 0, n = 0;
  while (i < b.length) {
    const len = b[i]!;
    if (len > max) return `prefix length ${len} exceeds ${max}`;
    i += 1 + ((len + 7) >> 3);
    if (i > b.length) return `prefix of length ${len} overruns the field`;
    n++;
  }
  return n;
}

/**
 * Walks a validated IPv4 NLRI field (see {@link nlriCount}) calling `fn(address, length)` per prefix, the
 * address as an unsigned 32-bit number with host bits cleared; no allocation per prefix.
 * Example: `forEachNlri4(Uint8Array.of(17, 10, 1, 255), (a, l) => …)` calls with (0x0a018000, 17).
 */
export function forEachNlri4(b: Uint8Array, fn: (address: number, length: number) => void): void {
  let i = 0;
  const end = b.length;
  while (i < end) {
    const len = b[i]!;
    const n = (len + 7) >> 3;
    let v = 0;
    if (n > 0) v = b[i + 1]! << 24;
    if (n > 1) v |= b[i + 2]! << 16;
    if (n > 2) v |= b[i + 3]! << 8;
    if (n > 3) v |= b[i + 4]!;
    fn(len === 0 ? 0 : (v & (-1 << (32 - len))) >>> 0, len);
    i += 1 + n;
  }
}

/** Text of an IPv4 prefix given as an unsigned 32-bit address and a length: (0x0a010000, 16) -> "10.1.0.0/16". */
export const prefix4Text = (address: number, len: number): string => `${address >>> 24}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}/${len}`;
