/**
 * Content-defined chunking (FastCDC-style) with SHA-256 fingerprints.
 *
 * A 32-bit gear hash `h = (h << 1) + GEAR[byte]` runs over the data from `min` bytes into a chunk; a chunk
 * ends where `h & mask` is 0, with a harder mask (log2(avg)+2 top bits) before `avg` and an easier one
 * (log2(avg)-2 bits) after it (normalised chunking, level 2), and at `max` at the latest. Bit 31 of `h`
 * depends on the last 32 bytes only, so an insertion moves only the boundaries next to it. The native loop
 * advances two bytes per step (a shorter dependency chain) but tests the hash after each byte, so its cut
 * points are exactly those of the one-byte loop below.
 *
 * The hot loop runs in the native addon (native/src/cdc.cc, SHA-256 from OpenSSL) when it is built; the
 * pure-JS fallback below gives identical cut points (checked by test/dataplane/wanopt-chunker.test.ts) and
 * uses node:crypto for SHA-256 — the same digests, slower.
 */
import { createHash } from 'node:crypto';
import { WanoptError } from './errors.ts';
import { wanoptAddon } from './native.ts';

/** Chunk size bounds in bytes. `avg` is rounded to the nearest power of two for the masks. */
export interface ChunkParams {
  /** Smallest chunk (a flow's last chunk may be shorter). Default 2048. */
  min: number;
  /** Target average, where normalisation switches masks. Default 8192. */
  avg: number;
  /** Largest chunk. Default 65536. */
  max: number;
}

/** 2 / 8 / 64 KiB. */
export const DEFAULT_CHUNK_PARAMS: Readonly<ChunkParams> = Object.freeze({ min: 2048, avg: 8192, max: 65536 });

/** Bytes in a SHA-256 fingerprint. */
export const DIGEST_LEN = 32;

/** Result of {@link chunkBuffer}: chunk end offsets and, when hashed, 32 bytes of SHA-256 per chunk. */
export interface Chunks {
  /** End offset of each chunk in the input; chunk i is `[cuts[i-1] ?? 0, cuts[i])`. */
  cuts: Uint32Array;
  /** `cuts.length * 32` bytes of SHA-256, in chunk order; undefined when `hash` was false. */
  digests: Buffer | undefined;
  /** Bytes covered by `cuts` (the input length when `final`). */
  consumed: number;
}

/** Options of {@link chunkBuffer}. */
export interface ChunkOptions {
  /** The input ends here (default true). When false, the tail shorter than `max` is left unconsumed. */
  final?: boolean;
  /** Compute SHA-256 fingerprints (default true). */
  hash?: boolean;
  /** Force an implementation (default: native when built, else js). */
  impl?: 'native' | 'js';
}

/** Throws a {@link WanoptError} naming the bad bound unless 64 <= min <= avg <= max < 2^31. */
export function checkChunkParams(p: ChunkParams): ChunkParams {
  for (const k of ['min', 'avg', 'max'] as const) {
    if (!Number.isInteger(p[k]) || p[k] < 64 || p[k] > 0x7fffffff) throw new WanoptError(`chunk params: ${k} must be an integer in 64..2^31-1, got ${p[k]}`);
  }
  if (!(p.min <= p.avg && p.avg <= p.max)) throw new WanoptError(`chunk params: expected min <= avg <= max, got ${p.min}/${p.avg}/${p.max}`);
  return p;
}

/** Which implementation {@link chunkBuffer} uses by default: 'native' when the addon is built. */
export function chunkerImpl(): 'native' | 'js' {
  return wanoptAddon() ? 'native' : 'js';
}

/**
 * Chunk `buf` in one call. Example: `const { cuts, digests } = chunkBuffer(data)` splits `data` into
 * ~8 KiB chunks and fingerprints each.
 */
export function chunkBuffer(buf: Uint8Array, params: ChunkParams = DEFAULT_CHUNK_PARAMS, opts: ChunkOptions = {}): Chunks {
  checkChunkParams(params);
  const final = opts.final ?? true, hash = opts.hash ?? true;
  const native = opts.impl === 'js' ? undefined : wanoptAddon();
  if (opts.impl === 'native' && !native) throw new WanoptError('chunker: the native addon is not built (run `node scripts/build.mjs`)');
  if (native) {
    const r = native.chunk(buf, params.min, params.avg, params.max, final, hash);
    return { cuts: r.cuts, digests: r.digests, consumed: r.consumed };
  }
  return jsChunk(buf, params, final, hash);
}

/** SHA-256 of `data` (node:crypto). */
export function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

/** One chunk of a stream: its bytes and SHA-256 fingerprint. */
export interface Chunk {
  data: Buffer;
  digest: Buffer;
}

/**
 * Streaming chunker: {@link push} bytes as they arrive and get the chunks whose boundaries are settled;
 * {@link flush} ends the current run (end of flow, or an idle flow that must not wait for more bytes).
 * Boundaries equal those of {@link chunkBuffer} over the concatenated input when no flush interrupts it.
 */
export class Chunker {
  private pending: Buffer = Buffer.alloc(0);
  constructor(readonly params: ChunkParams = DEFAULT_CHUNK_PARAMS, private readonly impl?: 'native' | 'js') {
    checkChunkParams(params);
  }

  /** Bytes held back waiting for a boundary. */
  get buffered(): number { return this.pending.length; }

  /** Add bytes; returns the chunks completed by them. */
  push(data: Uint8Array): Chunk[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, data]) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (this.pending.length < this.params.max) return [];
    return this.take(false);
  }

  /** Chunk everything held back. */
  flush(): Chunk[] {
    return this.pending.length ? this.take(true) : [];
  }

  private take(final: boolean): Chunk[] {
    const buf = this.pending;
    const r = chunkBuffer(buf, this.params, { final, hash: true, impl: this.impl });
    const out: Chunk[] = [];
    let start = 0;
    for (let i = 0; i < r.cuts.length; i++) {
      const end = r.cuts[i]!;
      out.push({ data: buf.subarray(start, end), digest: r.digests!.subarray(i * DIGEST_LEN, (i + 1) * DIGEST_LEN) });
      start = end;
    }
    // Copy the tail so the chunks handed out do not pin a growing buffer.
    this.pending = Buffer.from(buf.subarray(r.consumed));
    return out;
  }
}

/** The gear table: splitmix64 from the seed "PATRONUS", high 32 bits of each output (as in native/src/cdc.cc). */
export const GEAR: Uint32Array = (() => {
  const t = new Uint32Array(256);
  const M = (1n << 64n) - 1n;
  let x = 0x504154524f4e5553n;
  for (let i = 0; i < 256; i++) {
    x = (x + 0x9e3779b97f4a7c15n) & M;
    let z = x;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
    z ^= z >> 31n;
    t[i] = Number(z >> 32n);
  }
  return t;
})();

/** Masks as in native/src/cdc.cc make_params: `[maskS, maskL]` as int32. */
export function gearMasks(avg: number): [number, number] {
  let bits = 0;
  while (2 ** (bits + 1) <= avg) bits++;
  if (bits < 31 && avg >= (3 * 2 ** bits) / 2) bits++;
  const top = (n: number) => (n <= 0 ? 0 : n >= 32 ? -1 : ~((1 << (32 - n)) - 1) | 0);
  return [top(bits + 2), top(bits - 2)];
}

function jsNextCut(data: Uint8Array, off: number, n: number, p: ChunkParams, maskS: number, maskL: number): number {
  if (n <= p.min) return n;
  if (n > p.max) n = p.max;
  const normal = Math.min(p.avg, n);
  const g = GEAR;
  let h = 0, i = p.min;
  for (; i < normal; i++) {
    h = ((h << 1) + g[data[off + i]!]!) | 0;
    if ((h & maskS) === 0) return i + 1;
  }
  for (; i < n; i++) {
    h = ((h << 1) + g[data[off + i]!]!) | 0;
    if ((h & maskL) === 0) return i + 1;
  }
  return n;
}

function jsChunk(buf: Uint8Array, p: ChunkParams, final: boolean, hash: boolean): Chunks {
  const [maskS, maskL] = gearMasks(p.avg);
  const cuts: number[] = [];
  let off = 0;
  while (off < buf.length) {
    const rest = buf.length - off;
    if (!final && rest < p.max) break;
    off += jsNextCut(buf, off, rest, p, maskS, maskL);
    cuts.push(off);
  }
  let digests: Buffer | undefined;
  if (hash) {
    digests = Buffer.allocUnsafe(cuts.length * DIGEST_LEN);
    let start = 0;
    cuts.forEach((end, i) => { sha256(buf.subarray(start, end)).copy(digests!, i * DIGEST_LEN); start = end; });
  }
  return { cuts: Uint32Array.from(cuts), digests, consumed: off };
}
