/**
 * The probe wire format: one fixed 56-byte UDP payload for both directions (TWAMP-light style, so a
 * reflector never answers with more bytes than it received and cannot be used as an amplifier).
 * All fields big-endian; timestamps are microseconds of the clock that wrote them.
 *
 * ```
 * off len field
 *   0   2 magic 0x5054 ("PT")
 *   2   1 version (1)
 *   3   1 type: 1 request, 2 reply
 *   4   2 path id (the sender's BundlePath.id)
 *   6   2 reserved, 0
 *   8   4 sequence number (per path, wraps)
 *  12   8 sender transmit timestamp, µs (echoed unchanged in the reply)
 *  20   8 reflector receive timestamp, µs (0 in requests)
 *  28   8 reflector transmit timestamp, µs (0 in requests)
 *  36   2 observed source port (replies: the port the reflector saw the request come from)
 *  38   1 observed address family: 0 none, 4 IPv4, 6 IPv6
 *  39   1 reserved, 0
 *  40  16 observed source address (IPv4 in the first 4 bytes, rest 0)
 * ```
 * Optional receive-report block (16 bytes at offset 56, so such probes are 72 bytes long):
 * ```
 *  56   1 block type 1 = receive report
 *  57   1 flags: bit 0 = the counters below are valid
 *  58   2 reserved, 0
 *  60   4 data packets received on this path from the prober (cumulative, wraps at 2^32)
 *  64   4 data packets missing from the path's sequence numbers (cumulative, wraps)
 *  68   4 data packets that arrived out of order (cumulative, wraps)
 * ```
 * A request carries the block empty (flags 0) to make room: the reflector fills it with what its data
 * plane saw arriving on the prober's path (passive loss of the direction the prober steers) and answers
 * with exactly as many bytes as it received. Other trailing bytes are ignored (room for PMTU padding).
 * Decoding never throws: a malformed datagram is returned as a {@link ProbeDecodeError}.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { addrToBigint, bigintToAddr } from '../net.ts';

export const PROBE_MAGIC = 0x5054;
export const PROBE_VERSION = 1;
/** Bytes of the base probe payload (request and reply). */
export const PROBE_LENGTH = 56;
/** Bytes of a probe carrying the receive-report block. */
export const PROBE_REPORT_LENGTH = 72;
const REPORT_BLOCK = 1;
/** Default UDP port of the responder (the BFD multihop port, 4784). */
export const PROBE_PORT = 4784;

export type ProbeType = 'request' | 'reply';

/** One decoded probe. Timestamps in milliseconds (fractional: µs resolution on the wire). */
export interface ProbeMessage {
  type: ProbeType;
  pathId: number;
  seq: number;
  /** Sender's clock when the request left, ms. */
  senderTs: number;
  /** Reflector's clock when the request arrived / when the reply left, ms; 0 in requests. */
  reflectorRxTs: number;
  reflectorTxTs: number;
  /** Replies: the source address and port the reflector saw (the sender's public side behind NAT). */
  observed?: { address: string; port: number };
  /** The receive-report block is present (requests: empty, as room for the reply's report). */
  ext?: boolean;
  /** Replies: the reflector's passive counters for data arriving on this path (u32, cumulative). */
  rxReport?: RxReport;
}

/** Cumulative data-plane receive counters of one path, each wrapping at 2^32. */
export interface RxReport {
  received: number;
  lost: number;
  reordered: number;
}

/** Why a datagram is not a probe. */
export interface ProbeDecodeError {
  code: 'truncated' | 'bad-magic' | 'bad-version' | 'bad-type' | 'bad-family';
  detail: string;
}

export type DecodeResult = { ok: true; msg: ProbeMessage } | { ok: false; error: ProbeDecodeError };

const TYPE_CODE: Record<ProbeType, number> = { request: 1, reply: 2 };

const toMicros = (ms: number) => BigInt(Math.max(0, Math.round(ms * 1000)));

/** Encode a probe. Example: `encodeProbe({type: 'request', pathId: 1, seq: 7, senderTs: Date.now(), reflectorRxTs: 0, reflectorTxTs: 0})`. */
export function encodeProbe(m: ProbeMessage): Buffer {
  const b = Buffer.alloc(m.ext || m.rxReport ? PROBE_REPORT_LENGTH : PROBE_LENGTH);
  if (b.length === PROBE_REPORT_LENGTH) {
    b.writeUInt8(REPORT_BLOCK, 56);
    if (m.rxReport) {
      b.writeUInt8(1, 57);
      b.writeUInt32BE(m.rxReport.received >>> 0, 60);
      b.writeUInt32BE(m.rxReport.lost >>> 0, 64);
      b.writeUInt32BE(m.rxReport.reordered >>> 0, 68);
    }
  }
  b.writeUInt16BE(PROBE_MAGIC, 0);
  b.writeUInt8(PROBE_VERSION, 2);
  b.writeUInt8(TYPE_CODE[m.type], 3);
  b.writeUInt16BE(m.pathId & 0xffff, 4);
  b.writeUInt32BE(m.seq >>> 0, 8);
  b.writeBigUInt64BE(toMicros(m.senderTs), 12);
  b.writeBigUInt64BE(toMicros(m.reflectorRxTs), 20);
  b.writeBigUInt64BE(toMicros(m.reflectorTxTs), 28);
  if (m.observed) {
    const { address, port } = m.observed;
    const n = addrToBigint(address);
    if (n === undefined) throw new RangeError(`observed address ${JSON.stringify(address)} is not an IP address`);
    b.writeUInt16BE(port & 0xffff, 36);
    if (isIPv4(address)) {
      b.writeUInt8(4, 38);
      b.writeUInt32BE(Number(n), 40);
    } else {
      b.writeUInt8(6, 38);
      b.writeBigUInt64BE(n >> 64n, 40);
      b.writeBigUInt64BE(n & 0xffff_ffff_ffff_ffffn, 48);
    }
  }
  return b;
}

const fail = (code: ProbeDecodeError['code'], detail: string): DecodeResult => ({ ok: false, error: { code, detail } });

/** Decode a datagram; never throws. */
export function decodeProbe(b: Uint8Array): DecodeResult {
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.length < PROBE_LENGTH) return fail('truncated', `expected at least ${PROBE_LENGTH} bytes, got ${buf.length}`);
  const magic = buf.readUInt16BE(0);
  if (magic !== PROBE_MAGIC) return fail('bad-magic', `expected magic 0x5054, got 0x${magic.toString(16).padStart(4, '0')}`);
  const version = buf.readUInt8(2);
  if (version !== PROBE_VERSION) return fail('bad-version', `expected version ${PROBE_VERSION}, got ${version}`);
  const t = buf.readUInt8(3);
  const type: ProbeType | undefined = t === 1 ? 'request' : t === 2 ? 'reply' : undefined;
  if (!type) return fail('bad-type', `expected type 1 (request) or 2 (reply), got ${t}`);
  const fam = buf.readUInt8(38);
  let observed: ProbeMessage['observed'];
  if (fam === 4) observed = { address: bigintToAddr(BigInt(buf.readUInt32BE(40)), 4), port: buf.readUInt16BE(36) };
  else if (fam === 6) observed = { address: bigintToAddr((buf.readBigUInt64BE(40) << 64n) | buf.readBigUInt64BE(48), 6), port: buf.readUInt16BE(36) };
  else if (fam !== 0) return fail('bad-family', `expected address family 0, 4 or 6, got ${fam}`);
  const msg: ProbeMessage = {
    type,
    pathId: buf.readUInt16BE(4),
    seq: buf.readUInt32BE(8),
    senderTs: Number(buf.readBigUInt64BE(12)) / 1000,
    reflectorRxTs: Number(buf.readBigUInt64BE(20)) / 1000,
    reflectorTxTs: Number(buf.readBigUInt64BE(28)) / 1000,
  };
  if (observed) msg.observed = observed;
  if (buf.length >= PROBE_REPORT_LENGTH && buf.readUInt8(56) === REPORT_BLOCK) {
    msg.ext = true;
    if (buf.readUInt8(57) & 1) msg.rxReport = { received: buf.readUInt32BE(60), lost: buf.readUInt32BE(64), reordered: buf.readUInt32BE(68) };
  }
  return { ok: true, msg };
}

/** True when `s` is an address the codec can carry in the observed field. */
export const isProbeAddress = (s: string) => isIPv4(s) || isIPv6(s);
