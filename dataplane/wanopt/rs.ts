/**
 * Systematic Reed–Solomon erasure code over GF(2^8) (polynomial 0x11d), written here: k data shards and m
 * parity shards; any k of the k + m shards give back the data. Parity row i, column j of the generator is
 * the Cauchy element 1 / (x_i + y_j) with x_i = k + i and y_j = j; every square submatrix of a Cauchy matrix
 * is invertible, so the code is MDS for any k + m ≤ 256. Decoding inverts the k × k submatrix of the
 * received rows by Gauss–Jordan elimination. Byte loops use a 64 KiB multiplication table.
 */
import { FecError } from './errors.ts';

const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
const MUL = new Uint8Array(65536);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255]!;
  for (let a = 1; a < 256; a++) for (let b = 1; b < 256; b++) MUL[(a << 8) | b] = EXP[LOG[a]! + LOG[b]!]!;
}

/** a · b in GF(256). */
export function gfMul(a: number, b: number): number { return MUL[(a << 8) | b]!; }

/** 1 / a in GF(256); throws for 0. */
export function gfInv(a: number): number {
  if (a === 0) throw new FecError('GF(256): 0 has no inverse');
  return EXP[255 - LOG[a]!]!;
}

function checkKM(k: number, m: number): void {
  if (!Number.isInteger(k) || !Number.isInteger(m) || k < 1 || m < 0 || k + m > 256) throw new FecError(`reed-solomon: need integers k >= 1, m >= 0, k + m <= 256; got k=${k} m=${m}`);
}

/** Generator row for shard `index` (0..k-1 data: identity; k..k+m-1 parity: Cauchy). */
function row(index: number, k: number): Uint8Array {
  const r = new Uint8Array(k);
  if (index < k) { r[index] = 1; return r; }
  for (let j = 0; j < k; j++) r[j] = gfInv(index ^ j);
  return r;
}

/** out ^= c · src, byte by byte. */
function mulAdd(out: Uint8Array, src: Uint8Array, c: number): void {
  if (c === 0) return;
  if (c === 1) { for (let i = 0; i < src.length; i++) out[i]! ^= src[i]!; return; }
  const base = c << 8;
  for (let i = 0; i < src.length; i++) out[i]! ^= MUL[base | src[i]!]!;
}

/**
 * m parity shards for `data` (k shards, all the same length). Example: `rsEncode([a, b, c], 2)` gives two
 * shards such that any 3 of the 5 recover a, b, c.
 */
export function rsEncode(data: readonly Uint8Array[], m: number): Buffer[] {
  const k = data.length;
  checkKM(k, m);
  const len = data[0]!.length;
  if (data.some((d) => d.length !== len)) throw new FecError('reed-solomon: data shards must all have the same length');
  const out: Buffer[] = [];
  for (let i = 0; i < m; i++) {
    const r = row(k + i, k), p = Buffer.alloc(len);
    for (let j = 0; j < k; j++) mulAdd(p, data[j]!, r[j]!);
    out.push(p);
  }
  return out;
}

/**
 * The k data shards from any k of the k + m shards. `shards[i]` is shard i (data 0..k-1, then parity) or
 * null when lost; present shards must have the same length. Returns undefined when fewer than k are present.
 */
export function rsDecode(shards: readonly (Uint8Array | null)[], k: number, m: number): Buffer[] | undefined {
  checkKM(k, m);
  if (shards.length !== k + m) throw new FecError(`reed-solomon: expected ${k + m} shard slots, got ${shards.length}`);
  const present: number[] = [];
  for (let i = 0; i < k + m && present.length < k; i++) if (shards[i]) present.push(i);
  if (present.length < k) return undefined;
  const len = shards[present[0]!]!.length;
  if (present.some((i) => shards[i]!.length !== len)) throw new FecError('reed-solomon: shards must all have the same length');
  if (present.every((i, j) => i === j)) return present.map((i) => Buffer.from(shards[i]!));
  // Invert the k × k matrix of the present rows (augmented with the identity).
  const a = present.map((i) => row(i, k));
  const inv = present.map((_, j) => { const r = new Uint8Array(k); r[j] = 1; return r; });
  for (let col = 0; col < k; col++) {
    let piv = col;
    while (a[piv]![col] === 0) piv++;
    if (piv >= k) throw new FecError('reed-solomon: singular matrix (cannot happen for a Cauchy code)');
    [a[col], a[piv]] = [a[piv]!, a[col]!];
    [inv[col], inv[piv]] = [inv[piv]!, inv[col]!];
    const s = gfInv(a[col]![col]!);
    for (let j = 0; j < k; j++) { a[col]![j] = gfMul(a[col]![j]!, s); inv[col]![j] = gfMul(inv[col]![j]!, s); }
    for (let r = 0; r < k; r++) {
      const f = a[r]![col]!;
      if (r === col || f === 0) continue;
      for (let j = 0; j < k; j++) { a[r]![j]! ^= gfMul(f, a[col]![j]!); inv[r]![j]! ^= gfMul(f, inv[col]![j]!); }
    }
  }
  const out: Buffer[] = [];
  for (let d = 0; d < k; d++) {
    if (shards[d]) { out.push(Buffer.from(shards[d]!)); continue; }
    const b = Buffer.alloc(len);
    for (let j = 0; j < k; j++) mulAdd(b, shards[present[j]!]!, inv[d]![j]!);
    out.push(b);
  }
  return out;
}
