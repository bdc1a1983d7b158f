/**
 * The path attribute table: ONE entry per type code with its name, expected flags, RFC 7606 error action,
 * decode, encode and format (the shape of BIRD's bgp_attr_table). The UPDATE decoder walks the attribute
 * list and consults this table; nothing else knows attribute layouts.
 */
import { AFI_IPV4, AFI_IPV6, AS_TRANS, type AsPathSegment, type CodecContext, type ErrorAction, type PathAttributes } from './types.ts';
import { formatIp, formatIpv4, parseIp, parseIpv4, readNlri, nlriSize, writeNlri } from './prefix.ts';

export const F_OPTIONAL = 0x80;
export const F_TRANSITIVE = 0x40;
export const F_PARTIAL = 0x20;
export const F_EXTENDED = 0x10;

/** A decode failure inside one attribute: the UPDATE error subcode (RFC 4271 §6.3) and why. */
export interface AttrFault { subcode: number; reason: string }

/** One row of the attribute table. */
export interface AttrSpec {
  code: number;
  name: string;
  /** Expected Optional and Transitive bits (Partial and Extended Length are not checked). */
  flags: number;
  /** What RFC 7606 §7 says to do when this attribute is malformed. */
  onError: ErrorAction;
  /** Fills `attrs` from the attribute's value, or reports why it is malformed. */
  decode(data: Uint8Array, ctx: CodecContext, attrs: PathAttributes): AttrFault | undefined;
  /** The attribute's value bytes for `attrs`, or undefined when it is not to be sent. */
  encode(attrs: PathAttributes, ctx: CodecContext): Uint8Array | undefined;
  /** Human text of the attribute's value (undefined when absent). */
  format(attrs: PathAttributes): string | undefined;
}

const u16 = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!;
const u32 = (b: Uint8Array, i: number) => ((b[i]! << 24) >>> 0) + ((b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!);
const put16 = (b: Uint8Array, i: number, v: number) => { b[i] = v >>> 8; b[i + 1] = v & 0xff; };
const put32 = (b: Uint8Array, i: number, v: number) => { b[i] = v >>> 24; b[i + 1] = (v >>> 16) & 0xff; b[i + 2] = (v >>> 8) & 0xff; b[i + 3] = v & 0xff; };
const lenErr = (name: string, got: number, want: string): AttrFault => ({ subcode: 5, reason: `${name} length ${got}, expected ${want}` });

/** AS_PATH / AS4_PATH segments with 2- or 4-octet AS numbers; a string says what is malformed. */
export function decodeAsPath(b: Uint8Array, asSize: 2 | 4): AsPathSegment[] | string {
  const segs: AsPathSegment[] = [];
  let i = 0;
  while (i < b.length) {
    if (i + 2 > b.length) return 'segment header overruns the attribute';
    const type = b[i]!, count = b[i + 1]!;
    if (type < 1 || type > 4) return `segment type ${type} is not 1-4`;
    if (count === 0) return 'empty segment';
    if (i + 2 + count * asSize > b.length) return 'segment overruns the attribute';
    const asns: number[] = [];
    for (let k = 0; k < count; k++) asns.push(asSize === 4 ? u32(b, i + 2 + 4 * k) : u16(b, i + 2 + 2 * k));
    segs.push({ type: type as AsPathSegment['type'], asns });
    i += 2 + count * asSize;
  }
  return segs;
}

/** Segments in wire form; segments longer than 255 ASes are split. ASes above 65535 become AS_TRANS in 2-octet form. */
export function encodeAsPath(segs: readonly AsPathSegment[], asSize: 2 | 4): Uint8Array {
  const parts: { type: number; asns: number[] }[] = [];
  for (const s of segs) for (let k = 0; k < s.asns.length; k += 255) parts.push({ type: s.type, asns: s.asns.slice(k, k + 255) });
  const out = new Uint8Array(parts.reduce((n, p) => n + 2 + p.asns.length * asSize, 0));
  let i = 0;
  for (const p of parts) {
    out[i] = p.type; out[i + 1] = p.asns.length; i += 2;
    for (const a of p.asns) {
      if (asSize === 4) put32(out, i, a); else put16(out, i, a > 0xffff ? AS_TRANS : a);
      i += asSize;
    }
  }
  return out;
}

/** Path length for the decision process: a sequence counts its ASes, a set counts 1, confederation segments 0 (RFC 4271 §9.1.2.2, RFC 5065). */
export function asPathLength(segs: readonly AsPathSegment[] | undefined): number {
  let n = 0;
  for (const s of segs ?? []) n += s.type === 2 ? s.asns.length : s.type === 1 ? 1 : 0;
  return n;
}

/** "65001 65002 {65003 65004}" (BIRD's notation; confederation segments in parentheses/brackets). */
export function formatAsPath(segs: readonly AsPathSegment[] | undefined): string {
  return (segs ?? []).map((s) => (s.type === 2 ? s.asns.join(' ') : s.type === 1 ? `{${s.asns.join(' ')}}` : s.type === 3 ? `(${s.asns.join(' ')})` : `[${s.asns.join(' ')}]`)).join(' ');
}

const needs4 = (segs: readonly AsPathSegment[] | undefined) => (segs ?? []).some((s) => s.asns.some((a) => a > 0xffff));

function aggregatorCodec(asSize: 2 | 4) {
  return {
    decode(b: Uint8Array): { asn: number; address: string } | AttrFault {
      if (b.length !== asSize + 4) return lenErr('AGGREGATOR', b.length, String(asSize + 4));
      return { asn: asSize === 4 ? u32(b, 0) : u16(b, 0), address: formatIpv4(b, asSize) };
    },
    encode(a: { asn: number; address: string }): Uint8Array {
      const out = new Uint8Array(asSize + 4);
      if (asSize === 4) put32(out, 0, a.asn); else put16(out, 0, a.asn > 0xffff ? AS_TRANS : a.asn);
      out.set(parseIpv4(a.address) ?? new Uint8Array(4), asSize);
      return out;
    },
  };
}

/** "65000:1"; well-known ones by name. */
export function formatCommunity(c: number): string {
  const names: Record<number, string> = { 0xffffff01: 'no-export', 0xffffff02: 'no-advertise', 0xffffff03: 'no-export-subconfed' };
  return names[c] ?? `${Math.floor(c / 65536)}:${c % 65536}`;
}

const isFault = (x: unknown): x is AttrFault => typeof x === 'object' && x !== null && 'subcode' in x;

function decodeMpNextHops(b: Uint8Array, afi: number): string[] | undefined {
  if (afi === AFI_IPV4 && b.length === 4) return [formatIpv4(b)];
  if (afi === AFI_IPV6 && (b.length === 16 || b.length === 32)) return b.length === 16 ? [formatIp(b, AFI_IPV6)] : [formatIp(b, AFI_IPV6), formatIp(b, AFI_IPV6, 16)];
  return undefined;
}

const TABLE_ROWS: AttrSpec[] = [
  {
    code: 1, name: 'ORIGIN', flags: F_TRANSITIVE, onError: 'treat-as-withdraw',
    decode(b, _c, a) {
      if (b.length !== 1) return lenErr('ORIGIN', b.length, '1');
      if (b[0]! > 2) return { subcode: 6, reason: `ORIGIN value ${b[0]} is not 0, 1 or 2` };
      a.origin = b[0] as 0 | 1 | 2;
      return undefined;
    },
    encode: (a) => (a.origin === undefined ? undefined : Uint8Array.of(a.origin)),
    format: (a) => (a.origin === undefined ? undefined : ['IGP', 'EGP', 'Incomplete'][a.origin]),
  },
  {
    code: 2, name: 'AS_PATH', flags: F_TRANSITIVE, onError: 'treat-as-withdraw',
    decode(b, c, a) {
      const r = decodeAsPath(b, c.as4 ? 4 : 2);
      if (typeof r === 'string') return { subcode: 11, reason: `AS_PATH: ${r}` };
      a.asPath = r;
      return undefined;
    },
    encode: (a, c) => (a.asPath === undefined ? undefined : encodeAsPath(a.asPath, c.as4 ? 4 : 2)),
    format: (a) => (a.asPath === undefined ? undefined : formatAsPath(a.asPath)),
  },
  {
    code: 3, name: 'NEXT_HOP', flags: F_TRANSITIVE, onError: 'treat-as-withdraw',
    decode(b, _c, a) {
      if (b.length !== 4) return lenErr('NEXT_HOP', b.length, '4');
      a.nextHop = formatIpv4(b);
      return undefined;
    },
    encode: (a) => (a.nextHop === undefined ? undefined : parseIpv4(a.nextHop)),
    format: (a) => a.nextHop,
  },
  {
    code: 4, name: 'MULTI_EXIT_DISC', flags: F_OPTIONAL, onError: 'treat-as-withdraw',
    decode(b, _c, a) {
      if (b.length !== 4) return lenErr('MULTI_EXIT_DISC', b.length, '4');
      a.med = u32(b, 0);
      return undefined;
    },
    encode: (a) => { if (a.med === undefined) return undefined; const o = new Uint8Array(4); put32(o, 0, a.med); return o; },
    format: (a) => (a.med === undefined ? undefined : String(a.med)),
  },
  {
    code: 5, name: 'LOCAL_PREF', flags: F_TRANSITIVE, onError: 'treat-as-withdraw',
    decode(b, _c, a) {
      if (b.length !== 4) return lenErr('LOCAL_PREF', b.length, '4');
      a.localPref = u32(b, 0);
      return undefined;
    },
    encode: (a) => { if (a.localPref === undefined) return undefined; const o = new Uint8Array(4); put32(o, 0, a.localPref); return o; },
    format: (a) => (a.localPref === undefined ? undefined : String(a.localPref)),
  },
  {
    code: 6, name: 'ATOMIC_AGGREGATE', flags: F_TRANSITIVE, onError: 'attribute-discard',
    decode(b, _c, a) {
      if (b.length !== 0) return lenErr('ATOMIC_AGGREGATE', b.length, '0');
      a.atomicAggregate = true;
      return undefined;
    },
    encode: (a) => (a.atomicAggregate ? new Uint8Array(0) : undefined),
    format: (a) => (a.atomicAggregate ? 'yes' : undefined),
  },
  {
    code: 7, name: 'AGGREGATOR', flags: F_OPTIONAL | F_TRANSITIVE, onError: 'attribute-discard',
    decode(b, c, a) {
      const r = aggregatorCodec(c.as4 ? 4 : 2).decode(b);
      if (isFault(r)) return r;
      a.aggregator = r;
      return undefined;
    },
    encode: (a, c) => (a.aggregator === undefined ? undefined : aggregatorCodec(c.as4 ? 4 : 2).encode(a.aggregator)),
    format: (a) => (a.aggregator === undefined ? undefined : `${a.aggregator.address} AS${a.aggregator.asn}`),
  },
  {
    code: 8, name: 'COMMUNITIES', flags: F_OPTIONAL | F_TRANSITIVE, onError: 'treat-as-withdraw',
    decode(b, _c, a) {
      if (b.length % 4 !== 0) return lenErr('COMMUNITIES', b.length, 'a multiple of 4');
      const cs: number[] = [];
      for (let i = 0; i < b.length; i += 4) cs.push(u32(b, i));
      a.communities = cs;
      return undefined;
    },
    encode: (a) => {
      if (a.communities === undefined) return undefined;
      const o = new Uint8Array(4 * a.communities.length);
      a.communities.forEach((c, i) => put32(o, 4 * i, c));
      return o;
    },
    format: (a) => a.communities?.map((c) => `(${formatCommunity(c).replace(':', ',')})`).join(' '),
  },
  {
    code: 9, name: 'ORIGINATOR_ID', flags: F_OPTIONAL, onError: 'treat-as-withdraw',
    decode(b, _c, a) {
      if (b.length !== 4) return lenErr('ORIGINATOR_ID', b.length, '4');
      a.originatorId = formatIpv4(b);
      return undefined;
    },
    encode: (a) => (a.originatorId === undefined ? undefined : parseIpv4(a.originatorId)),
    format: (a) => a.originatorId,
  },
  {
    code: 10, name: 'CLUSTER_LIST', flags: F_OPTIONAL, onError: 'treat-as-withdraw',
    decode(b, _c, a) {
      if (b.length % 4 !== 0) return lenErr('CLUSTER_LIST', b.length, 'a multiple of 4');
      const ids: string[] = [];
      for (let i = 0; i < b.length; i += 4) ids.push(formatIpv4(b, i));
      a.clusterList = ids;
      return undefined;
    },
    encode: (a) => {
      if (a.clusterList === undefined) return undefined;
      const o = new Uint8Array(4 * a.clusterList.length);
      a.clusterList.forEach((id, i) => o.set(parseIpv4(id) ?? new Uint8Array(4), 4 * i));
      return o;
    },
    format: (a) => a.clusterList?.join(' '),
  },
  {
    code: 14, name: 'MP_REACH_NLRI', flags: F_OPTIONAL, onError: 'session-reset',
    decode(b, _c, a) {
      if (b.length < 5) return { subcode: 9, reason: `MP_REACH_NLRI too short (${b.length} bytes)` };
      const afi = u16(b, 0), safi = b[2]!, nhLen = b[3]!;
      if (4 + nhLen + 1 > b.length) return { subcode: 9, reason: `MP_REACH_NLRI next hop length ${nhLen} overruns the attribute` };
      if ((afi !== AFI_IPV4 && afi !== AFI_IPV6) || safi !== 1) {
        // A family we did not negotiate: keep nothing (RFC 4760 §7 lets us ignore it).
        a.mpReach = { afi, safi, nextHops: [], nlri: [] };
        return undefined;
      }
      const nextHops = decodeMpNextHops(b.subarray(4, 4 + nhLen), afi);
      if (!nextHops) return { subcode: 9, reason: `MP_REACH_NLRI next hop length ${nhLen} is invalid for AFI ${afi}` };
      const nlri = readNlri(b.subarray(5 + nhLen), afi);
      if (typeof nlri === 'string') return { subcode: 9, reason: `MP_REACH_NLRI: ${nlri}` };
      a.mpReach = { afi, safi, nextHops, nlri };
      return undefined;
    },
    encode: (a) => {
      const m = a.mpReach;
      if (!m) return undefined;
      const nh = m.nextHops.map((h) => parseIp(h, m.afi) ?? new Uint8Array(m.afi === AFI_IPV4 ? 4 : 16));
      const nhLen = nh.reduce((n, x) => n + x.length, 0);
      const o = new Uint8Array(5 + nhLen + nlriSize(m.nlri));
      put16(o, 0, m.afi); o[2] = m.safi; o[3] = nhLen;
      let i = 4;
      for (const x of nh) { o.set(x, i); i += x.length; }
      o[i++] = 0;
      writeNlri(o, i, m.nlri);
      return o;
    },
    format: (a) => a.mpReach && `afi ${a.mpReach.afi} safi ${a.mpReach.safi} via ${a.mpReach.nextHops.join(' ')}: ${a.mpReach.nlri.join(' ')}`,
  },
  {
    code: 15, name: 'MP_UNREACH_NLRI', flags: F_OPTIONAL, onError: 'session-reset',
    decode(b, _c, a) {
      if (b.length < 3) return { subcode: 9, reason: `MP_UNREACH_NLRI too short (${b.length} bytes)` };
      const afi = u16(b, 0), safi = b[2]!;
      if ((afi !== AFI_IPV4 && afi !== AFI_IPV6) || safi !== 1) { a.mpUnreach = { afi, safi, withdrawn: [] }; return undefined; }
      const w = readNlri(b.subarray(3), afi);
      if (typeof w === 'string') return { subcode: 9, reason: `MP_UNREACH_NLRI: ${w}` };
      a.mpUnreach = { afi, safi, withdrawn: w };
      return undefined;
    },
    encode: (a) => {
      const m = a.mpUnreach;
      if (!m) return undefined;
      const o = new Uint8Array(3 + nlriSize(m.withdrawn));
      put16(o, 0, m.afi); o[2] = m.safi;
      writeNlri(o, 3, m.withdrawn);
      return o;
    },
    format: (a) => a.mpUnreach && `afi ${a.mpUnreach.afi} safi ${a.mpUnreach.safi}: ${a.mpUnreach.withdrawn.join(' ')}`,
  },
  {
    code: 17, name: 'AS4_PATH', flags: F_OPTIONAL | F_TRANSITIVE, onError: 'attribute-discard',
    decode(b, c, a) {
      if (c.as4) return undefined; // RFC 6793 §4.1: a NEW speaker ignores AS4_PATH from a NEW speaker
      const r = decodeAsPath(b, 4);
      if (typeof r === 'string') return { subcode: 11, reason: `AS4_PATH: ${r}` };
      a.as4Path = r;
      return undefined;
    },
    // Generated from AS_PATH on 2-octet sessions when some AS needs 4 octets; never sent on 4-octet ones.
    encode: (a, c) => (c.as4 ? undefined : a.as4Path ? encodeAsPath(a.as4Path, 4) : needs4(a.asPath) ? encodeAsPath(a.asPath!, 4) : undefined),
    format: (a) => (a.as4Path === undefined ? undefined : formatAsPath(a.as4Path)),
  },
  {
    code: 18, name: 'AS4_AGGREGATOR', flags: F_OPTIONAL | F_TRANSITIVE, onError: 'attribute-discard',
    decode(b, c, a) {
      if (c.as4) return undefined;
      const r = aggregatorCodec(4).decode(b);
      if (isFault(r)) return r;
      a.as4Aggregator = r;
      return undefined;
    },
    encode: (a, c) => {
      if (c.as4) return undefined;
      const agg = a.as4Aggregator ?? (a.aggregator && a.aggregator.asn > 0xffff ? a.aggregator : undefined);
      return agg && aggregatorCodec(4).encode(agg);
    },
    format: (a) => (a.as4Aggregator === undefined ? undefined : `${a.as4Aggregator.address} AS${a.as4Aggregator.asn}`),
  },
  {
    code: 32, name: 'LARGE_COMMUNITY', flags: F_OPTIONAL | F_TRANSITIVE, onError: 'treat-as-withdraw',
    decode(b, _c, a) {
      if (b.length % 12 !== 0 || b.length === 0) return lenErr('LARGE_COMMUNITY', b.length, 'a non-zero multiple of 12');
      const ls: [number, number, number][] = [];
      for (let i = 0; i < b.length; i += 12) ls.push([u32(b, i), u32(b, i + 4), u32(b, i + 8)]);
      a.largeCommunities = ls;
      return undefined;
    },
    encode: (a) => {
      if (!a.largeCommunities?.length) return undefined;
      const o = new Uint8Array(12 * a.largeCommunities.length);
      a.largeCommunities.forEach(([g, l1, l2], i) => { put32(o, 12 * i, g); put32(o, 12 * i + 4, l1); put32(o, 12 * i + 8, l2); });
      return o;
    },
    format: (a) => a.largeCommunities?.map((l) => `(${l.join(', ')})`).join(' '),
  },
];

/** The attribute table keyed by type code. */
export const ATTRS: ReadonlyMap<number, AttrSpec> = new Map(TABLE_ROWS.map((r) => [r.code, r]));

/**
 * RFC 6793 §4.2.3: rebuild the real AS path from a 2-octet session's AS_PATH and AS4_PATH, and the real
 * aggregator from AGGREGATOR and AS4_AGGREGATOR. Mutates and returns `a`; drops the AS4_* keys.
 */
export function mergeAs4(a: PathAttributes): PathAttributes {
  const as4Path = a.as4Path, as4Agg = a.as4Aggregator;
  delete a.as4Path; delete a.as4Aggregator;
  if (a.aggregator && a.aggregator.asn !== AS_TRANS) return a; // the aggregator was a 2-octet speaker: AS4_* are stale
  if (as4Agg) a.aggregator = as4Agg;
  if (!as4Path || !a.asPath) return a;
  const n = asPathLength(a.asPath), n4 = asPathLength(as4Path);
  if (n < n4) return a;
  let keep = n - n4;
  const head: AsPathSegment[] = [];
  for (const s of a.asPath) {
    if (keep <= 0) break;
    if (s.type === 2) { const take = s.asns.slice(0, keep); head.push({ type: 2, asns: take }); keep -= take.length; }
    else { head.push(s); if (s.type === 1) keep -= 1; }
  }
  const last = head[head.length - 1], first = as4Path[0];
  // Join the seam so "65001 4200000000" stays one AS_SEQUENCE, as the sender had it.
  if (last?.type === 2 && first?.type === 2) a.asPath = [...head.slice(0, -1), { type: 2, asns: [...last.asns, ...first.asns] }, ...as4Path.slice(1)];
  else a.asPath = [...head, ...as4Path];
  return a;
}

/** Attributes as "NAME: value" lines in type-code order (BIRD `show route all` style); for logs and CLI. */
export function formatAttributes(a: PathAttributes): string[] {
  const out: string[] = [];
  for (const spec of ATTRS.values()) { const v = spec.format(a); if (v !== undefined) out.push(`${spec.name}: ${v}`); }
  for (const u of a.unknown ?? []) out.push(`attr${u.code} (flags 0x${u.flags.toString(16)}): ${Buffer.from(u.data).toString('hex')}`);
  return out;
}

