/**
 * Whole BGP messages: the 19-byte header and framing of a TCP byte stream, OPEN with capabilities,
 * UPDATE (walking the attribute table), NOTIFICATION, KEEPALIVE and ROUTE-REFRESH. Pure functions: bytes
 * in, message or {@link BgpError} out; nothing throws on peer input.
 */
import {
  AFI_IPV4, ErrCode, MsgType, bgpError,
  type BgpError, type BgpMessage, type Capabilities, type CodecContext, type OpenMessage, type PathAttributes, type UpdateMessage,
} from './types.ts';
import { ATTRS, F_EXTENDED, F_OPTIONAL, F_TRANSITIVE, mergeAs4 } from './attrs.ts';
import { formatIpv4, nlriCount, nlriSize, parseIpv4, readNlri, writeNlri } from './prefix.ts';

/** Header size and the RFC 4271 maximum message size (extended messages, RFC 8654, are not negotiated). */
export const HEADER_LEN = 19;
export const MAX_MESSAGE_LEN = 4096;

export type Decoded<T> = { ok: true; msg: T } | { ok: false; error: BgpError };

const u16 = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!;
const put16 = (b: Uint8Array, i: number, v: number) => { b[i] = v >>> 8; b[i + 1] = v & 0xff; };
const bytes16 = (v: number) => Uint8Array.of(v >>> 8, v & 0xff);
const MIN_LEN: Record<number, number> = { 1: 29, 2: 23, 3: 21, 4: 19, 5: 23 };

/**
 * Checks the header at `off` in a stream buffer. Returns the message length when a whole message is
 * present, 0 when more bytes are needed, or the error to send before closing (RFC 4271 §6.1).
 */
export function frameLength(buf: Uint8Array, off = 0): number | BgpError {
  const avail = buf.length - off;
  if (avail < HEADER_LEN) return 0;
  for (let i = 0; i < 16; i++) if (buf[off + i] !== 0xff) return bgpError(ErrCode.HEADER, 1, 'session-reset', 'marker is not all ones');
  const len = u16(buf, off + 16), type = buf[off + 18]!;
  if (len < HEADER_LEN || len > MAX_MESSAGE_LEN) return bgpError(ErrCode.HEADER, 2, 'session-reset', `message length ${len} outside 19-4096`, bytes16(len));
  if (type < 1 || type > 5) return bgpError(ErrCode.HEADER, 3, 'session-reset', `message type ${type} unknown`, Uint8Array.of(type));
  if (len < MIN_LEN[type]! || (type === MsgType.KEEPALIVE && len !== 19) || (type === MsgType.ROUTE_REFRESH && len !== 23)) {
    return bgpError(ErrCode.HEADER, 2, 'session-reset', `length ${len} is wrong for message type ${type}`, bytes16(len));
  }
  return avail >= len ? len : 0;
}

/**
 * Decodes one whole message (header included). Errors that RFC 7606 resolves without a reset come back
 * inside the UPDATE (`treatAsWithdraw`, `errors`); only session-reset errors make `ok` false.
 * Example: `decodeMessage(Buffer.from('ffffffffffffffffffffffffffffffff001304', 'hex'), {as4: true})` is a KEEPALIVE.
 */
export function decodeMessage(b: Uint8Array, ctx: CodecContext): Decoded<BgpMessage> {
  const f = frameLength(b, 0);
  if (typeof f !== 'number') return { ok: false, error: f };
  if (f === 0) return { ok: false, error: bgpError(ErrCode.HEADER, 2, 'session-reset', `truncated message: ${b.length} bytes`, b.length >= 18 ? bytes16(u16(b, 16)) : undefined) };
  if (f !== b.length) return { ok: false, error: bgpError(ErrCode.HEADER, 2, 'session-reset', `length field ${u16(b, 16)} but ${b.length} bytes given`, bytes16(u16(b, 16))) };
  const body = b.subarray(HEADER_LEN);
  switch (b[18]) {
    case MsgType.OPEN: return decodeOpen(body);
    case MsgType.UPDATE: return decodeUpdate(body, ctx);
    case MsgType.NOTIFICATION: return { ok: true, msg: { type: 'notification', code: body[0]!, subcode: body[1]!, data: body.slice(2) } };
    case MsgType.KEEPALIVE: return { ok: true, msg: { type: 'keepalive' } };
    default: return { ok: true, msg: { type: 'route-refresh', afi: u16(body, 0), safi: body[3]! } };
  }
}

const openErr = (sub: number, reason: string, data?: Uint8Array): Decoded<OpenMessage> => ({ ok: false, error: bgpError(ErrCode.OPEN, sub, 'session-reset', reason, data) });

/** OPEN body (after the header), RFC 4271 §4.2 with capabilities per RFC 5492 and extended parameters per RFC 9072. */
export function decodeOpen(b: Uint8Array): Decoded<OpenMessage> {
  if (b.length < 10) return openErr(0, `OPEN body of ${b.length} bytes is too short`);
  const version = b[0]!;
  if (version !== 4) return openErr(1, `version ${version} is not 4`, bytes16(4));
  const holdTime = u16(b, 3);
  if (holdTime === 1 || holdTime === 2) return openErr(6, `hold time ${holdTime} s is neither 0 nor ≥ 3`);
  const routerId = formatIpv4(b, 5);
  if (routerId === '0.0.0.0') return openErr(3, 'BGP identifier 0.0.0.0');
  let optLen = b[9]!, i = 10, ext = false;
  if (optLen === 255 && b[10] === 255) { // RFC 9072 extended optional parameters
    if (b.length < 13) return openErr(0, 'extended optional parameters header truncated');
    optLen = u16(b, 11); i = 13; ext = true;
  }
  if (i + optLen !== b.length) return openErr(0, `optional parameters length ${optLen} disagrees with the message length`);
  const caps: Capabilities = { multiprotocol: [], routeRefresh: false, unknown: [] };
  const end = i + optLen;
  while (i < end) {
    const hdr = ext ? 3 : 2;
    if (i + hdr > end) return openErr(0, 'optional parameter header overruns');
    const ptype = b[i]!, plen = ext ? u16(b, i + 1) : b[i + 1]!;
    i += hdr;
    if (i + plen > end) return openErr(0, `optional parameter ${ptype} overruns`);
    if (ptype !== 2) return openErr(4, `optional parameter type ${ptype} unsupported`);
    const err = decodeCapabilities(b.subarray(i, i + plen), caps);
    if (err) return openErr(0, err);
    i += plen;
  }
  return { ok: true, msg: { type: 'open', version, myAs: u16(b, 1), holdTime, routerId, capabilities: caps } };
}

function decodeCapabilities(b: Uint8Array, caps: Capabilities): string | undefined {
  let i = 0;
  while (i < b.length) {
    if (i + 2 > b.length) return 'capability header overruns';
    const code = b[i]!, len = b[i + 1]!, v = b.subarray(i + 2, i + 2 + len);
    if (i + 2 + len > b.length) return `capability ${code} overruns`;
    i += 2 + len;
    if (code === 1 && len === 4) caps.multiprotocol.push({ afi: u16(v, 0), safi: v[3]! });
    else if ((code === 2 || code === 128) && len === 0) caps.routeRefresh = true;
    else if (code === 65 && len === 4) caps.as4 = ((v[0]! << 24) >>> 0) + ((v[1]! << 16) | (v[2]! << 8) | v[3]!);
    else if (code === 64 && len >= 2 && (len - 2) % 4 === 0) {
      const families = [];
      for (let k = 2; k < len; k += 4) families.push({ afi: u16(v, k), safi: v[k + 2]!, forwardingPreserved: (v[k + 3]! & 0x80) !== 0 });
      caps.gracefulRestart = { restarting: (v[0]! & 0x80) !== 0, restartTime: u16(v, 0) & 0x0fff, families };
    } else caps.unknown.push({ code, data: v.slice() });
  }
  return undefined;
}

/**
 * UPDATE body per RFC 4271 §4.3 with RFC 7606 error handling: framing errors reset the session, a
 * malformed attribute withdraws the UPDATE's prefixes or is discarded as its table row says, a repeated
 * attribute keeps the first (MP_REACH/MP_UNREACH repeats reset), missing mandatory attributes withdraw.
 */
export function decodeUpdate(b: Uint8Array, ctx: CodecContext): Decoded<UpdateMessage> {
  const reset = (sub: number, reason: string, data?: Uint8Array): Decoded<UpdateMessage> => ({ ok: false, error: bgpError(ErrCode.UPDATE, sub, 'session-reset', reason, data) });
  if (b.length < 4) return reset(1, 'UPDATE body shorter than its two length fields');
  const wLen = u16(b, 0);
  if (2 + wLen + 2 > b.length) return reset(1, `withdrawn routes length ${wLen} overruns the message`);
  const aLen = u16(b, 2 + wLen);
  const aStart = 4 + wLen;
  if (aStart + aLen > b.length) return reset(1, `total path attribute length ${aLen} overruns the message`);
  let withdrawn: string[] | string = [], nlri: string[] | string = [], withdrawnRaw: Uint8Array | undefined, nlriRaw: Uint8Array | undefined;
  let nlriN: number;
  if (ctx.rawNlri) {
    withdrawnRaw = b.subarray(2, 2 + wLen);
    const w = nlriCount(withdrawnRaw, AFI_IPV4);
    if (typeof w === 'string') return reset(10, `withdrawn routes: ${w}`);
    nlriRaw = b.subarray(aStart + aLen);
    const n = nlriCount(nlriRaw, AFI_IPV4);
    if (typeof n === 'string') return reset(10, `NLRI: ${n}`);
    nlriN = n;
  } else {
    withdrawn = readNlri(b.subarray(2, 2 + wLen), AFI_IPV4);
    if (typeof withdrawn === 'string') return reset(10, `withdrawn routes: ${withdrawn}`);
    nlri = readNlri(b.subarray(aStart + aLen), AFI_IPV4);
    if (typeof nlri === 'string') return reset(10, `NLRI: ${nlri}`);
    nlriN = nlri.length;
  }

  const end = aStart + aLen;
  // Interning (rawNlri contexts): equal attribute bytes give the one attribute object decoded before.
  const cache = ctx.rawNlri ? attrCacheOf(ctx) : undefined;
  const key = cache && aLen > 0 && aLen <= INTERN_MAX_BYTES ? hashBytes(b, aStart, end) : undefined;
  const hit = key === undefined ? undefined : cache!.get(key);
  if (hit && sameBytes(hit.bytes, b, aStart, end)) {
    const msg: UpdateMessage = { type: 'update', withdrawn, attrs: hit.attrs, nlri };
    if (withdrawnRaw) { msg.withdrawnRaw = withdrawnRaw; msg.nlriRaw = nlriRaw; }
    return { ok: true, msg };
  }

  const attrs: PathAttributes = {};
  const errors: BgpError[] = [];
  const seen = new Set<number>();
  let i = aStart;
  while (i < end) {
    if (i + 3 > end || ((b[i]! & F_EXTENDED) !== 0 && i + 4 > end)) {
      // RFC 7606 §4: an attribute header that cannot be read: treat-as-withdraw (no MP attribute can be hidden in it).
      errors.push(bgpError(ErrCode.UPDATE, 1, 'treat-as-withdraw', 'attribute header overruns the attribute list'));
      break;
    }
    const flags = b[i]!, code = b[i + 1]!;
    const hdr = flags & F_EXTENDED ? 4 : 3;
    const len = flags & F_EXTENDED ? u16(b, i + 2) : b[i + 2]!;
    const raw = b.subarray(i, Math.min(end, i + hdr + len));
    if (i + hdr + len > end) {
      if (code === 14 || code === 15) return reset(1, `${code === 14 ? 'MP_REACH_NLRI' : 'MP_UNREACH_NLRI'} overruns the attribute list`, raw.slice());
      errors.push(bgpError(ErrCode.UPDATE, 1, 'treat-as-withdraw', `attribute ${code} length ${len} overruns the attribute list`, raw.slice()));
      break;
    }
    const data = b.subarray(i + hdr, i + hdr + len);
    i += hdr + len;
    if (seen.has(code)) {
      if (code === 14 || code === 15) return reset(1, `attribute ${code} repeated`);
      errors.push(bgpError(ErrCode.UPDATE, 1, 'attribute-discard', `attribute ${code} repeated; the first is kept`, raw.slice()));
      continue;
    }
    seen.add(code);
    const spec = ATTRS.get(code);
    if (!spec) {
      if (!(flags & F_OPTIONAL)) return reset(2, `unrecognised well-known attribute ${code}`, raw.slice());
      (attrs.unknown ??= []).push({ flags: flags & ~F_EXTENDED, code, data: data.slice() });
      continue;
    }
    if ((flags & (F_OPTIONAL | F_TRANSITIVE)) !== spec.flags) {
      const e = bgpError(ErrCode.UPDATE, 4, spec.onError, `${spec.name} flags 0x${flags.toString(16)}, expected 0x${spec.flags.toString(16)}`, raw.slice());
      if (e.action === 'session-reset') return { ok: false, error: e };
      errors.push(e);
      continue;
    }
    const fault = spec.decode(data, ctx, attrs);
    if (fault) {
      const e = bgpError(ErrCode.UPDATE, fault.subcode, spec.onError, fault.reason, raw.slice());
      if (e.action === 'session-reset') return { ok: false, error: e };
      errors.push(e);
    }
  }
  if (!ctx.as4) mergeAs4(attrs);

  const announces = nlriN > 0 || (attrs.mpReach?.nlri.length ?? 0) > 0;
  if (announces) {
    const missing = [attrs.origin === undefined && !seen.has(1) && 1, attrs.asPath === undefined && !seen.has(2) && 2, nlriN > 0 && attrs.nextHop === undefined && !seen.has(3) && 3].filter((x): x is number => x !== false);
    for (const code of missing) errors.push(bgpError(ErrCode.UPDATE, 3, 'treat-as-withdraw', `missing well-known attribute ${ATTRS.get(code)!.name}`, Uint8Array.of(code)));
  }
  // Only a clean, complete, NLRI-free attribute set is interned: then a hit needs no error check (none
  // can arise from the same bytes, and the mandatory ones are present whatever the NLRI).
  if (key !== undefined && !errors.length && !attrs.mpReach && !attrs.mpUnreach && attrs.origin !== undefined && attrs.asPath !== undefined && attrs.nextHop !== undefined) {
    if (cache!.size >= INTERN_MAX_SETS) cache!.clear();
    cache!.set(key, { bytes: b.slice(aStart, end), attrs });
  }
  const msg: UpdateMessage = { type: 'update', withdrawn, attrs, nlri };
  if (withdrawnRaw) { msg.withdrawnRaw = withdrawnRaw; msg.nlriRaw = nlriRaw; }
  if (errors.length) {
    msg.errors = errors;
    if (errors.some((e) => e.action === 'treat-as-withdraw')) msg.treatAsWithdraw = true;
  }
  return { ok: true, msg };
}

/** Attribute fields longer than this are not interned (long AS paths or many communities rarely repeat). */
const INTERN_MAX_BYTES = 1024;
/** Interned attribute sets per session; the cache starts over when full (a table has ~60 000). */
const INTERN_MAX_SETS = 200_000;
/** Per codec context (one per session): hash of the attribute bytes → those bytes and their decoded attributes (a colliding set replaces the other). */
const attrCaches = new WeakMap<CodecContext, Map<number, { bytes: Uint8Array; attrs: PathAttributes }>>();
function attrCacheOf(ctx: CodecContext): Map<number, { bytes: Uint8Array; attrs: PathAttributes }> {
  let c = attrCaches.get(ctx);
  if (!c) attrCaches.set(ctx, (c = new Map()));
  return c;
}

/** FNV-1a over b[from, to), as a small integer. */
function hashBytes(b: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h & 0x3fffffff;
}
const sameBytes = (x: Uint8Array, b: Uint8Array, from: number, to: number): boolean => {
  if (x.length !== to - from) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== b[from + i]) return false;
  return true;
};

function frame(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_LEN + body.length);
  out.fill(0xff, 0, 16);
  put16(out, 16, out.length);
  out[18] = type;
  out.set(body, HEADER_LEN);
  return out;
}

function encodeCapabilities(c: Capabilities): Uint8Array[] {
  const caps: Uint8Array[] = [];
  for (const f of c.multiprotocol) caps.push(Uint8Array.of(1, 4, f.afi >> 8, f.afi & 0xff, 0, f.safi));
  if (c.routeRefresh) caps.push(Uint8Array.of(2, 0));
  if (c.gracefulRestart) {
    const g = c.gracefulRestart, v = new Uint8Array(4 + 4 * g.families.length);
    v[0] = 64; v[1] = 2 + 4 * g.families.length;
    put16(v, 2, (g.restarting ? 0x8000 : 0) | (g.restartTime & 0x0fff));
    g.families.forEach((f, k) => { put16(v, 4 + 4 * k, f.afi); v[6 + 4 * k] = f.safi; v[7 + 4 * k] = f.forwardingPreserved ? 0x80 : 0; });
    caps.push(v);
  }
  if (c.as4 !== undefined) { const a = c.as4; caps.push(Uint8Array.of(65, 4, a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff)); }
  for (const u of c.unknown) caps.push(Uint8Array.of(u.code, u.data.length, ...u.data));
  return caps;
}

/** Encodes an OPEN: each capability in its own optional parameter of type 2 (what BIRD and FRR send). */
export function encodeOpen(m: OpenMessage): Uint8Array {
  const params = encodeCapabilities(m.capabilities).map((c) => Uint8Array.of(2, c.length, ...c));
  const optLen = params.reduce((n, p) => n + p.length, 0);
  const body = new Uint8Array(10 + optLen);
  body[0] = m.version; put16(body, 1, m.myAs); put16(body, 3, m.holdTime);
  body.set(parseIpv4(m.routerId) ?? new Uint8Array(4), 5);
  body[9] = optLen;
  let i = 10;
  for (const p of params) { body.set(p, i); i += p.length; }
  return frame(MsgType.OPEN, body);
}

/** Path attributes in wire form, in type-code order, unknown ones last; Extended Length only where needed. */
export function encodeAttributes(a: PathAttributes, ctx: CodecContext): Uint8Array {
  const parts: Uint8Array[] = [];
  const push = (flags: number, code: number, v: Uint8Array) => {
    const ext = v.length > 255;
    const h = ext ? Uint8Array.of(flags | F_EXTENDED, code, v.length >> 8, v.length & 0xff) : Uint8Array.of(flags & ~F_EXTENDED, code, v.length);
    parts.push(h, v);
  };
  for (const spec of ATTRS.values()) { const v = spec.encode(a, ctx); if (v) push(spec.flags, spec.code, v); }
  for (const u of a.unknown ?? []) push(u.flags, u.code, u.data);
  return Buffer.concat(parts);
}

/**
 * Encodes an UPDATE. Throws RangeError when it exceeds 4096 bytes: callers split prefixes with
 * {@link chunkPrefixes} first. `treatAsWithdraw` and `errors` are decoder outputs and are ignored.
 */
export function encodeUpdate(m: Pick<UpdateMessage, 'withdrawn' | 'attrs' | 'nlri'>, ctx: CodecContext): Uint8Array {
  const attrs = encodeAttributes(m.attrs, ctx);
  const wLen = nlriSize(m.withdrawn), nLen = nlriSize(m.nlri);
  const body = new Uint8Array(4 + wLen + attrs.length + nLen);
  put16(body, 0, wLen);
  writeNlri(body, 2, m.withdrawn);
  put16(body, 2 + wLen, attrs.length);
  body.set(attrs, 4 + wLen);
  writeNlri(body, 4 + wLen + attrs.length, m.nlri);
  if (body.length + HEADER_LEN > MAX_MESSAGE_LEN) throw new RangeError(`UPDATE of ${body.length + HEADER_LEN} bytes exceeds ${MAX_MESSAGE_LEN}`);
  return frame(MsgType.UPDATE, body);
}

/** Splits prefixes into groups whose NLRI encoding fits `budget` bytes (for packing UPDATEs). */
export function chunkPrefixes(prefixes: readonly string[], budget: number): string[][] {
  const out: string[][] = [];
  let cur: string[] = [], size = 0;
  for (const p of prefixes) {
    const n = 1 + Math.ceil(Number(p.slice(p.indexOf('/') + 1)) / 8);
    if (size + n > budget && cur.length) { out.push(cur); cur = []; size = 0; }
    cur.push(p); size += n;
  }
  if (cur.length) out.push(cur);
  return out;
}

/** Room left for NLRI in an UPDATE carrying these encoded attributes. */
export const nlriBudget = (encodedAttrsLen: number): number => MAX_MESSAGE_LEN - HEADER_LEN - 4 - encodedAttrsLen;

export const encodeKeepalive = (): Uint8Array => frame(MsgType.KEEPALIVE, new Uint8Array(0));
export const encodeNotification = (code: number, subcode: number, data: Uint8Array = new Uint8Array(0)): Uint8Array =>
  frame(MsgType.NOTIFICATION, Uint8Array.of(code, subcode, ...data));
export const encodeRouteRefresh = (afi: number, safi: number): Uint8Array => frame(MsgType.ROUTE_REFRESH, Uint8Array.of(afi >> 8, afi & 0xff, 0, safi));

/** Any message kind (the inverse of {@link decodeMessage}). */
export function encodeMessage(m: BgpMessage, ctx: CodecContext): Uint8Array {
  switch (m.type) {
    case 'open': return encodeOpen(m);
    case 'update': return encodeUpdate(m, ctx);
    case 'notification': return encodeNotification(m.code, m.subcode, m.data);
    case 'keepalive': return encodeKeepalive();
    case 'route-refresh': return encodeRouteRefresh(m.afi, m.safi);
  }
}

/** Text of a NOTIFICATION code/subcode for logs: "Cease / Administrative Shutdown". */
export function notificationText(code: number, subcode: number): string {
  const codes = ['', 'Message Header Error', 'OPEN Message Error', 'UPDATE Message Error', 'Hold Timer Expired', 'Finite State Machine Error', 'Cease', 'ROUTE-REFRESH Message Error'];
  const cease = ['', 'Maximum Number of Prefixes Reached', 'Administrative Shutdown', 'Peer De-configured', 'Administrative Reset', 'Connection Rejected', 'Other Configuration Change', 'Connection Collision Resolution', 'Out of Resources', 'Hard Reset'];
  const sub = code === 6 ? cease[subcode] : undefined;
  return `${codes[code] ?? `code ${code}`}${subcode || sub ? ` / ${sub ?? `subcode ${subcode}`}` : ''}`;
}

