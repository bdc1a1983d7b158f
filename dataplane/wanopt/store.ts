/**
 * The chunk store each edge keeps: chunks by SHA-256 fingerprint, bounded memory with LRU eviction and an
 * optional disk tier (one file per chunk, named by its hex fingerprint, also LRU-bounded) that takes what
 * memory evicts. Everything entering is verified against its fingerprint (unless the caller has just
 * computed it), and everything read back from disk is verified again, so a store never returns wrong bytes:
 * a damaged file is a miss. Disk I/O is synchronous (chunks are ≤ 64 KiB; an async tier is future work).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIGEST_LEN, sha256 } from './chunker.ts';
import { FingerprintError, WanoptError } from './errors.ts';

/** Options of {@link ChunkStore}. */
export interface ChunkStoreOptions {
  /** Memory bound in bytes of chunk data (default 256 MiB). */
  maxBytes?: number;
  /** Directory of the disk tier; none when unset. Files already there (from an earlier run) are indexed. */
  diskDir?: string;
  /** Disk tier bound in bytes (default 4 GiB). */
  diskMaxBytes?: number;
}

/** Counters of a {@link ChunkStore}. */
export interface ChunkStoreStats {
  memBytes: number; memChunks: number; diskBytes: number; diskChunks: number;
  hits: number; diskHits: number; misses: number; evictions: number; rejected: number;
}

const HEX_NAME = /^[0-9a-f]{64}$/;

/**
 * Example: `const s = new ChunkStore({ maxBytes: 64 << 20 }); s.put(digest, bytes); s.get(digest)`.
 */
export class ChunkStore {
  readonly maxBytes: number;
  readonly diskMaxBytes: number;
  private readonly mem = new Map<string, Buffer>();
  private readonly disk = new Map<string, number>();
  private readonly s: ChunkStoreStats = { memBytes: 0, memChunks: 0, diskBytes: 0, diskChunks: 0, hits: 0, diskHits: 0, misses: 0, evictions: 0, rejected: 0 };

  constructor(readonly opts: ChunkStoreOptions = {}) {
    this.maxBytes = opts.maxBytes ?? 256 << 20;
    this.diskMaxBytes = opts.diskMaxBytes ?? 4 * 2 ** 30;
    if (!(this.maxBytes >= 0) || !(this.diskMaxBytes >= 0)) throw new WanoptError('chunk store: maxBytes and diskMaxBytes must be >= 0');
    if (opts.diskDir) {
      mkdirSync(opts.diskDir, { recursive: true });
      for (const name of readdirSync(opts.diskDir)) {
        if (!HEX_NAME.test(name)) continue;
        const size = statSync(join(opts.diskDir, name)).size;
        this.disk.set(name, size);
        this.s.diskBytes += size;
      }
      this.trimDisk();
    }
  }

  /** Whether the chunk is held (memory or disk); does not touch LRU order. */
  has(digest: Uint8Array): boolean {
    const k = key(digest);
    return this.mem.has(k) || this.disk.has(k);
  }

  /** The chunk's bytes, or undefined; a hit becomes most recently used (a disk hit moves back to memory). */
  get(digest: Uint8Array): Buffer | undefined {
    const k = key(digest);
    const m = this.mem.get(k);
    if (m) {
      this.mem.delete(k);
      this.mem.set(k, m);
      this.s.hits++;
      return m;
    }
    if (this.disk.has(k)) {
      const data = this.readDisk(k, digest);
      if (data) {
        this.s.diskHits++;
        this.insertMem(k, data);
        return data;
      }
    }
    this.s.misses++;
    return undefined;
  }

  /**
   * Store a chunk. Throws {@link FingerprintError} when `sha256(data)` is not `digest`, unless `trusted`
   * (the caller computed the digest from these very bytes). The bytes are copied.
   */
  put(digest: Uint8Array, data: Uint8Array, trusted = false): void {
    if (digest.length !== DIGEST_LEN) throw new FingerprintError(`chunk store: fingerprint must be ${DIGEST_LEN} bytes, got ${digest.length}`);
    if (!trusted && !sha256(data).equals(digest)) {
      this.s.rejected++;
      throw new FingerprintError(`chunk store: data of ${data.length} bytes does not match fingerprint ${key(digest).slice(0, 16)}…`);
    }
    const k = key(digest);
    if (this.mem.has(k)) { this.get(digest); return; }
    this.insertMem(k, Buffer.from(data));
  }

  /** Drop a chunk from both tiers. */
  delete(digest: Uint8Array): void {
    const k = key(digest);
    const m = this.mem.get(k);
    if (m) { this.mem.delete(k); this.s.memBytes -= m.length; }
    this.dropDisk(k);
  }

  /** A snapshot of the counters. */
  stats(): ChunkStoreStats {
    return { ...this.s, memChunks: this.mem.size, diskChunks: this.disk.size };
  }

  /** Empty both tiers (removes this store's disk files, not the directory). */
  clear(): void {
    this.mem.clear();
    this.s.memBytes = 0;
    for (const k of [...this.disk.keys()]) this.dropDisk(k);
  }

  private insertMem(k: string, data: Buffer): void {
    if (data.length > this.maxBytes) { this.toDisk(k, data); return; }
    this.mem.set(k, data);
    this.s.memBytes += data.length;
    while (this.s.memBytes > this.maxBytes) {
      const [oldK, oldV] = this.mem.entries().next().value as [string, Buffer];
      this.mem.delete(oldK);
      this.s.memBytes -= oldV.length;
      this.s.evictions++;
      this.toDisk(oldK, oldV);
    }
  }

  private toDisk(k: string, data: Buffer): void {
    const dir = this.opts.diskDir;
    if (!dir || data.length > this.diskMaxBytes) return;
    if (this.disk.has(k)) { this.disk.delete(k); this.disk.set(k, data.length); return; }
    // Write then rename so a crash never leaves a half-written file under a fingerprint's name.
    const tmp = join(dir, `.${k}.tmp`);
    writeFileSync(tmp, data);
    renameSync(tmp, join(dir, k));
    this.disk.set(k, data.length);
    this.s.diskBytes += data.length;
    this.trimDisk();
  }

  private readDisk(k: string, digest: Uint8Array): Buffer | undefined {
    const path = join(this.opts.diskDir!, k);
    let data: Buffer;
    try { data = readFileSync(path); } catch { this.dropDisk(k); return undefined; }
    if (!sha256(data).equals(digest)) { this.s.rejected++; this.dropDisk(k); return undefined; }
    return data;
  }

  private trimDisk(): void {
    while (this.s.diskBytes > this.diskMaxBytes && this.disk.size) this.dropDisk(this.disk.keys().next().value as string);
  }

  private dropDisk(k: string): void {
    const size = this.disk.get(k);
    if (size === undefined) return;
    this.disk.delete(k);
    this.s.diskBytes -= size;
    const path = join(this.opts.diskDir!, k);
    if (existsSync(path)) rmSync(path, { force: true });
  }
}

function key(digest: Uint8Array): string {
  return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString('hex');
}
