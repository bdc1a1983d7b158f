/**
 * The WAN-opt stream protocol's frames: pure encode/decode functions. Every frame is a 12-byte header and a
 * payload (all integers big-endian):
 *
 *   magic u16 = 0x5057 ("PW") | version u8 = 1 | type u8 | flow u32 | length u32 | payload[length]
 *
 * | type | name    | flow  | payload                                                    |
 * |------|---------|-------|------------------------------------------------------------|
 * | 1    | HELLO   | 0     | maxFrame u32 (largest payload the sender accepts)         |
 * | 2    | OPEN    | id    | metadata (opaque bytes, e.g. the original destination)    |
 * | 3    | LITERAL | id    | digest[32] codec u8 rawLen u32 data                       |
 * | 4    | REF     | id    | digest[32] rawLen u32                                     |
 * | 5    | REQUEST | 0     | digest[32] — "I do not hold this chunk, send it"          |
 * | 6    | RESEND  | 0     | digest[32] codec u8 rawLen u32 data — answer to REQUEST   |
 * | 7    | ACK     | 0     | refs u32 — REF frames processed so far (mod 2^32)         |
 * | 8    | CLOSE   | id    | (empty) — the sender's direction of the flow has ended    |
 * | 9    | RESET   | id/0  | UTF-8 reason — abort one flow, or with flow 0 the session |
 * | 10   | WINDOW  | id    | credit u32 — the receiver accepts this many more raw bytes |
 *
 * Decoding returns errors as data ({@link DecodeResult}); a caller never sees an exception from bad bytes.
 */
import { DIGEST_LEN } from './chunker.ts';
import { ProtocolError } from './errors.ts';

export const FRAME_MAGIC = 0x5057;
export const PROTOCOL_VERSION = 1;
export const HEADER_LEN = 12;
/** Default largest payload accepted: 1 MiB (a chunk is at most 64 KiB by default). */
export const DEFAULT_MAX_FRAME = 1 << 20;
/** Largest OPEN metadata and RESET reason, bytes. */
export const MAX_META = 4096;

export const FrameType = { HELLO: 1, OPEN: 2, LITERAL: 3, REF: 4, REQUEST: 5, RESEND: 6, ACK: 7, CLOSE: 8, RESET: 9, WINDOW: 10 } as const;
export type FrameTypeName = keyof typeof FrameType;

/** A decoded frame. Chunk-carrying frames share the `digest`, `codec`, `rawLen`, `data` fields. */
export type Frame =
  | { type: 'HELLO'; flow: 0; maxFrame: number }
  | { type: 'OPEN'; flow: number; meta: Buffer }
  | { type: 'LITERAL' | 'RESEND'; flow: number; digest: Buffer; codec: number; rawLen: number; data: Buffer }
  | { type: 'REF'; flow: number; digest: Buffer; rawLen: number }
  | { type: 'REQUEST'; flow: 0; digest: Buffer }
  | { type: 'ACK'; flow: 0; refs: number }
  | { type: 'CLOSE'; flow: number }
  | { type: 'RESET'; flow: number; reason: string }
  | { type: 'WINDOW'; flow: number; credit: number };

/** Outcome of {@link decodeFrame}: a frame and the bytes it used, "need more bytes", or an error. */
export type DecodeResult =
  | { ok: true; frame: Frame; used: number }
  | { ok: false; need: number }
  | { ok: false; error: ProtocolError };

/** Encode one frame (header + payload). Example: `encodeFrame({ type: 'CLOSE', flow: 3 })`. */
export function encodeFrame(f: Frame): Buffer {
  let payload: Buffer;
  switch (f.type) {
    case 'HELLO': payload = u32(f.maxFrame); break;
    case 'OPEN': payload = f.meta; break;
    case 'LITERAL': case 'RESEND': {
      const h = Buffer.allocUnsafe(DIGEST_LEN + 5);
      Buffer.from(f.digest).copy(h, 0);
      h.writeUInt8(f.codec, DIGEST_LEN);
      h.writeUInt32BE(f.rawLen, DIGEST_LEN + 1);
      return withHeader(f.type, f.flow, [h, f.data]);
    }
    case 'REF': payload = Buffer.concat([f.digest, u32(f.rawLen)]); break;
    case 'REQUEST': payload = Buffer.from(f.digest); break;
    case 'ACK': payload = u32(f.refs >>> 0); break;
    case 'CLOSE': payload = Buffer.alloc(0); break;
    case 'RESET': payload = Buffer.from(f.reason.slice(0, MAX_META), 'utf8').subarray(0, MAX_META); break;
    case 'WINDOW': payload = u32(f.credit); break;
  }
  return withHeader(f.type, f.flow, [payload]);
}

/**
 * Decode the frame at `buf[off..]`. `maxFrame` bounds the payload length (oversized frames are rejected from
 * the header alone, before their bytes arrive).
 */
export function decodeFrame(buf: Buffer, off = 0, maxFrame = DEFAULT_MAX_FRAME): DecodeResult {
  const avail = buf.length - off;
  if (avail < HEADER_LEN) {
    // Reject a wrong magic or version as soon as its bytes are there rather than waiting for a full header.
    if (avail >= 2 && buf.readUInt16BE(off) !== FRAME_MAGIC) return err('bad-magic', `expected magic 0x5057, got 0x${buf.readUInt16BE(off).toString(16)}`);
    if (avail >= 3 && buf[off + 2] !== PROTOCOL_VERSION) return err('bad-version', `expected version ${PROTOCOL_VERSION}, got ${buf[off + 2]}`);
    return { ok: false, need: HEADER_LEN - avail };
  }
  const magic = buf.readUInt16BE(off), version = buf[off + 2]!, typeId = buf[off + 3]!;
  const flow = buf.readUInt32BE(off + 4), len = buf.readUInt32BE(off + 8);
  if (magic !== FRAME_MAGIC) return err('bad-magic', `expected magic 0x5057, got 0x${magic.toString(16)}`);
  if (version !== PROTOCOL_VERSION) return err('bad-version', `expected version ${PROTOCOL_VERSION}, got ${version}`);
  const type = (Object.keys(FrameType) as FrameTypeName[]).find((k) => FrameType[k] === typeId);
  if (!type) return err('unknown-type', `frame type ${typeId}`);
  if (len > maxFrame) return err('oversized', `${type} frame of ${len} bytes exceeds the limit of ${maxFrame}`);
  if (avail < HEADER_LEN + len) return { ok: false, need: HEADER_LEN + len - avail };
  const p = buf.subarray(off + HEADER_LEN, off + HEADER_LEN + len);
  const used = HEADER_LEN + len;
  const sessionLevel = type === 'HELLO' || type === 'REQUEST' || type === 'ACK' || type === 'RESEND';
  if (sessionLevel && flow !== 0) return err('malformed', `${type} must have flow 0, got ${flow}`);
  if (!sessionLevel && type !== 'RESET' && flow === 0) return err('malformed', `${type} needs a flow id, got 0`);
  const exact = (n: number) => (len === n ? undefined : err('malformed', `${type} payload must be ${n} bytes, got ${len}`));
  switch (type) {
    case 'HELLO': return exact(4) ?? ok({ type, flow: 0, maxFrame: p.readUInt32BE(0) }, used);
    case 'OPEN': return len > MAX_META ? err('malformed', `OPEN metadata of ${len} bytes exceeds ${MAX_META}`) : ok({ type, flow, meta: Buffer.from(p) }, used);
    case 'LITERAL': case 'RESEND': {
      if (len < DIGEST_LEN + 5) return err('truncated', `${type} payload of ${len} bytes is shorter than its ${DIGEST_LEN + 5}-byte header`);
      return ok({ type, flow, digest: Buffer.from(p.subarray(0, DIGEST_LEN)), codec: p[DIGEST_LEN]!, rawLen: p.readUInt32BE(DIGEST_LEN + 1), data: p.subarray(DIGEST_LEN + 5) } as Frame, used);
    }
    case 'REF': return exact(DIGEST_LEN + 4) ?? ok({ type, flow, digest: Buffer.from(p.subarray(0, DIGEST_LEN)), rawLen: p.readUInt32BE(DIGEST_LEN) }, used);
    case 'REQUEST': return exact(DIGEST_LEN) ?? ok({ type, flow: 0, digest: Buffer.from(p) }, used);
    case 'ACK': return exact(4) ?? ok({ type, flow: 0, refs: p.readUInt32BE(0) }, used);
    case 'CLOSE': return exact(0) ?? ok({ type, flow }, used);
    case 'RESET': return len > MAX_META ? err('malformed', `RESET reason of ${len} bytes exceeds ${MAX_META}`) : ok({ type, flow, reason: p.toString('utf8') }, used);
    case 'WINDOW': return exact(4) ?? ok({ type, flow, credit: p.readUInt32BE(0) }, used);
  }
}

/**
 * Splits a byte stream into frames. `push` returns the frames completed so far; after an error every later
 * push returns the same error (a stream cannot resynchronise after a bad frame).
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  private failed: ProtocolError | undefined;
  constructor(readonly maxFrame = DEFAULT_MAX_FRAME) {}

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number { return this.buf.length; }

  push(data: Buffer): { frames: Frame[]; error?: ProtocolError } {
    if (this.failed) return { frames: [], error: this.failed };
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    const frames: Frame[] = [];
    let off = 0;
    for (;;) {
      const r = decodeFrame(this.buf, off, this.maxFrame);
      if (r.ok) { frames.push(r.frame); off += r.used; continue; }
      if ('error' in r) { this.failed = r.error; this.buf = Buffer.alloc(0); return { frames, error: r.error }; }
      break;
    }
    // Copy the remainder: frames hand out subarrays of the old buffer, which must not be overwritten.
    this.buf = off === this.buf.length ? Buffer.alloc(0) : Buffer.from(this.buf.subarray(off));
    return { frames };
  }

  /** Call at end of stream: a partial frame left over is a truncation error. */
  end(): ProtocolError | undefined {
    if (this.failed) return this.failed;
    if (this.buf.length) return (this.failed = new ProtocolError('truncated', `stream ended inside a frame (${this.buf.length} bytes left over)`));
    return undefined;
  }
}

function u32(v: number): Buffer { const b = Buffer.allocUnsafe(4); b.writeUInt32BE(v >>> 0); return b; }

function withHeader(type: FrameTypeName, flow: number, parts: Buffer[]): Buffer {
  const len = parts.reduce((s, p) => s + p.length, 0);
  const h = Buffer.allocUnsafe(HEADER_LEN);
  h.writeUInt16BE(FRAME_MAGIC, 0);
  h.writeUInt8(PROTOCOL_VERSION, 2);
  h.writeUInt8(FrameType[type], 3);
  h.writeUInt32BE(flow >>> 0, 4);
  h.writeUInt32BE(len, 8);
  return Buffer.concat([h, ...parts]);
}

function ok(frame: Frame, used: number): DecodeResult { return { ok: true, frame, used }; }
function err(code: ProtocolError['code'], message: string): DecodeResult { return { ok: false, error: new ProtocolError(code, message) }; }
