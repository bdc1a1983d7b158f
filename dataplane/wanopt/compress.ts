/**
 * Per-chunk compression with an automatic choice of codec. The choice comes from measured compressibility:
 * the order-0 entropy of a sample of the chunk (bits per byte). Near-random data (≥ `noneAbove`, default
 * 7.6 bits/byte: already compressed or encrypted) goes as is; otherwise the policy's codec is tried —
 * zstd (better ratio, for slow WAN links; the default) or lz4 (cheaper CPU, for fast links) — and the
 * result is kept only when it is actually smaller, else the chunk goes uncompressed.
 */
import { createRequire } from 'node:module';
import type * as Lz4 from 'lz4-napi';
import type * as Zstd from 'zstd-napi';
import { WanoptError } from './errors.ts';

// Loaded on first use through createRequire: the esbuild bundles in dist/ leave these native packages to
// node_modules instead of trying to inline their .node files, and importing dataplane/ stays cheap.
let codecs: { lz4: typeof Lz4; zstd: typeof Zstd } | undefined;
function native(): { lz4: typeof Lz4; zstd: typeof Zstd } {
  if (!codecs) {
    const req = createRequire(import.meta.url);
    codecs = { lz4: req('lz4-napi') as typeof Lz4, zstd: req('zstd-napi') as typeof Zstd };
  }
  return codecs;
}

/** Codec ids as they appear on the wire (one byte). */
export const Codec = { none: 0, zstd: 1, lz4: 2 } as const;
export type CodecName = keyof typeof Codec;
export type CodecId = (typeof Codec)[CodecName];

/** Compression policy. */
export interface CompressPolicy {
  /** 'auto' (default) chooses per chunk; a codec name forces it (still falling back to none when larger). */
  mode: 'auto' | CodecName;
  /** Codec 'auto' uses for compressible chunks (default 'zstd'). */
  prefer: 'zstd' | 'lz4';
  /** zstd level (default 3). */
  zstdLevel: number;
  /** Entropy in bits/byte at or above which 'auto' sends a chunk uncompressed (default 7.6). */
  noneAbove: number;
}

export const DEFAULT_COMPRESS_POLICY: Readonly<CompressPolicy> = Object.freeze({ mode: 'auto', prefer: 'zstd', zstdLevel: 3, noneAbove: 7.6 });

/** A compressed chunk: codec id and payload (the raw bytes when codec is none). */
export interface Compressed { codec: CodecId; payload: Buffer }

/** Order-0 entropy (bits per byte, 0..8) of up to 4 KiB sampled evenly from `data`. */
export function sampleEntropy(data: Uint8Array): number {
  if (data.length === 0) return 0;
  const counts = new Uint32Array(256);
  const want = Math.min(4096, data.length);
  const step = data.length / want;
  for (let i = 0; i < want; i++) counts[data[Math.floor(i * step)]!]!++;
  let h = 0;
  for (const c of counts) if (c) { const p = c / want; h -= p * Math.log2(p); }
  // A 4 KiB sample of random bytes measures ~7.95 bits, not 8: small-sample bias, irrelevant at 7.6.
  return h;
}

/** Compresses chunks under one policy; keeps a reusable zstd context. */
export class ChunkCompressor {
  readonly policy: CompressPolicy;
  private readonly zc: Zstd.Compressor;
  private readonly zd: Zstd.Decompressor;
  private readonly lz4: typeof Lz4;
  constructor(policy: Partial<CompressPolicy> = {}) {
    this.policy = { ...DEFAULT_COMPRESS_POLICY, ...policy };
    const n = native();
    this.zc = new n.zstd.Compressor();
    this.zd = new n.zstd.Decompressor();
    this.lz4 = n.lz4;
    this.zc.setParameters({ compressionLevel: this.policy.zstdLevel });
  }

  /** The codec {@link compress} would try for `data` (before the "is it smaller" check). */
  choose(data: Uint8Array): CodecName {
    if (this.policy.mode !== 'auto') return this.policy.mode;
    return sampleEntropy(data) >= this.policy.noneAbove ? 'none' : this.policy.prefer;
  }

  /** Compress one chunk. */
  compress(data: Buffer): Compressed {
    const name = this.choose(data);
    if (name === 'none') return { codec: Codec.none, payload: data };
    const out = name === 'zstd' ? this.zc.compress(data) : this.lz4.compressSync(data);
    return out.length < data.length ? { codec: Codec[name], payload: out } : { codec: Codec.none, payload: data };
  }

  /** Decompress; throws a {@link WanoptError} on an unknown codec, a corrupt payload or a size other than `rawLen`. */
  decompress(codec: number, payload: Buffer, rawLen: number): Buffer {
    // Both codecs allocate the size their header announces: check it against rawLen first, so a hostile
    // header cannot make us allocate gigabytes.
    if (codec === Codec.zstd && zstdContentSize(payload) !== rawLen) throw new WanoptError(`decompress: zstd frame does not announce ${rawLen} bytes`);
    if (codec === Codec.lz4 && (payload.length < 4 || payload.readUInt32LE(0) !== rawLen)) throw new WanoptError(`decompress: lz4 block does not announce ${rawLen} bytes`);
    let out: Buffer;
    try {
      if (codec === Codec.none) out = payload;
      else if (codec === Codec.zstd) out = this.zd.decompress(payload);
      else if (codec === Codec.lz4) out = this.lz4.uncompressSync(payload);
      else throw new WanoptError(`unknown codec ${codec}`);
    } catch (e) {
      throw e instanceof WanoptError ? e : new WanoptError(`decompress: codec ${codec}: ${(e as Error).message}`, { cause: e });
    }
    if (out.length !== rawLen) throw new WanoptError(`decompress: codec ${codec} gave ${out.length} bytes, expected ${rawLen}`);
    return out;
  }
}

/** Frame content size from a zstd frame header (RFC 8878 §3.1.1.1), or undefined when absent or malformed. */
export function zstdContentSize(frame: Uint8Array): number | undefined {
  if (frame.length < 6 || frame[0] !== 0x28 || frame[1] !== 0xb5 || frame[2] !== 0x2f || frame[3] !== 0xfd) return undefined;
  const fhd = frame[4]!;
  const fcsFlag = fhd >> 6, single = (fhd >> 5) & 1, dictFlag = fhd & 3;
  const pos = 5 + (single ? 0 : 1) + [0, 1, 2, 4][dictFlag]!;
  const size = fcsFlag === 0 ? single : [1, 2, 4, 8][fcsFlag]!;
  if (size === 0 || frame.length < pos + size) return undefined;
  const v = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  if (size === 1) return v[pos]!;
  if (size === 2) return v.readUInt16LE(pos) + 256;
  if (size === 4) return v.readUInt32LE(pos);
  const big = v.readBigUInt64LE(pos);
  return big > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(big);
}
