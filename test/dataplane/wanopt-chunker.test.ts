// timeout: 120
/** Content-defined chunking: reassembly, determinism, native vs JS cut points, shift resistance, bounds. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { chunkBuffer, Chunker, DEFAULT_CHUNK_PARAMS, GEAR, isWanoptError, wanoptAddon, type ChunkParams } from '../../dataplane/wanopt/index.ts';

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
function prng(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; b[i] = x & 255; }
  return b;
}

/** Text-like data with long repeats: the kind that makes chunkers hit min and max. */
function texty(n: number, seed: number): Buffer {
  const words = ['route', 'edge', 'tunnel', 'probe', 'latency', 'path', 'bundle', 'intent', '\n', ' ', 'the', 'a'];
  const r = prng(n, seed);
  const parts: string[] = [];
  let len = 0;
  for (let i = 0; len < n; i++) { const w = words[r[i % n]! % words.length]!; parts.push(w); len += w.length; }
  return Buffer.from(parts.join('')).subarray(0, n);
}

function pieces(buf: Buffer, cuts: Uint32Array): Buffer[] {
  const out: Buffer[] = [];
  let s = 0;
  for (const c of cuts) { out.push(buf.subarray(s, c)); s = c; }
  return out;
}

const inputs: [string, Buffer][] = [
  ['empty', Buffer.alloc(0)],
  ['one byte', Buffer.from([7])],
  ['shorter than min', prng(1000, 1)],
  ['exactly min', prng(2048, 2)],
  ['min + 1', prng(2049, 3)],
  ['zeros (no content boundary)', Buffer.alloc(300_000)],
  ['random 1 MiB', prng(1 << 20, 4)],
  ['random odd size', prng(777_777, 5)],
  ['text-like', texty(500_000, 6)],
];
const paramSets: ChunkParams[] = [DEFAULT_CHUNK_PARAMS, { min: 64, avg: 256, max: 1024 }, { min: 333, avg: 1000, max: 4001 }, { min: 4096, avg: 4096, max: 4096 }, { min: 1000, avg: 5000, max: 20000 }];

test('the native addon is built and uses the same gear table as the JS fallback', () => {
  const a = wanoptAddon();
  assert.ok(a, 'dataplane/wanopt/native is not built: run `node scripts/build.mjs`');
  assert.equal([...a.gearTable()], [...GEAR]);
});

test('chunks reassemble byte-exactly and each digest is the SHA-256 of its chunk', () => {
  for (const impl of ['native', 'js'] as const) {
    for (const p of paramSets) {
      for (const [name, buf] of inputs) {
        const r = chunkBuffer(buf, p, { impl });
        assert.is(r.consumed, buf.length, `${impl} ${name}`);
        const ps = pieces(buf, r.cuts);
        assert.ok(Buffer.concat(ps).equals(buf), `${impl} ${name}: reassembly`);
        ps.forEach((c, i) => assert.ok(createHash('sha256').update(c).digest().equals(r.digests!.subarray(i * 32, i * 32 + 32)), `${impl} ${name}: digest ${i}`));
      }
    }
  }
});

test('the native chunker and the JS fallback cut at identical points', () => {
  for (const p of paramSets) {
    for (const [name, buf] of inputs) {
      const n = chunkBuffer(buf, p, { impl: 'native' }), j = chunkBuffer(buf, p, { impl: 'js' });
      assert.equal([...n.cuts], [...j.cuts], `${name} ${JSON.stringify(p)}`);
      assert.ok(n.digests!.equals(j.digests!));
    }
  }
  for (let seed = 100; seed < 120; seed++) {
    const buf = prng(50_000 + seed * 977, seed);
    assert.equal([...chunkBuffer(buf, paramSets[1], { impl: 'native', hash: false }).cuts], [...chunkBuffer(buf, paramSets[1], { impl: 'js', hash: false }).cuts]);
  }
});

test('boundaries are deterministic across calls and across streaming pushes of any size', () => {
  const buf = Buffer.concat([prng(600_000, 9), texty(200_000, 10)]);
  const once = [...chunkBuffer(buf).cuts];
  assert.equal([...chunkBuffer(Buffer.from(buf)).cuts], once);
  for (const step of [1000, 4096, 65_536, 100_003]) {
    for (const impl of ['native', 'js'] as const) {
      const c = new Chunker(DEFAULT_CHUNK_PARAMS, impl);
      const got: number[] = [];
      let off = 0;
      const take = (chs: { data: Buffer }[]) => { for (const ch of chs) { off += ch.data.length; got.push(off); } };
      for (let i = 0; i < buf.length; i += step) take(c.push(buf.subarray(i, i + step)));
      take(c.flush());
      assert.equal(got, once, `step ${step} ${impl}`);
    }
  }
});

test('min and max are respected (only the last chunk may be shorter than min)', () => {
  for (const p of paramSets) {
    for (const [name, buf] of inputs) {
      const sizes = pieces(buf, chunkBuffer(buf, p).cuts).map((c) => c.length);
      sizes.forEach((s, i) => {
        assert.ok(s <= p.max, `${name}: chunk ${i} of ${s} > max ${p.max}`);
        if (i < sizes.length - 1) assert.ok(s >= p.min, `${name}: chunk ${i} of ${s} < min ${p.min}`);
      });
    }
  }
  // Zeros never satisfy the mask: every chunk is exactly max.
  const z = pieces(Buffer.alloc(300_000), chunkBuffer(Buffer.alloc(300_000)).cuts).map((c) => c.length);
  assert.equal(z.slice(0, -1), new Array(z.length - 1).fill(65_536));
});

test('non-final chunking leaves the tail shorter than max for the next call', () => {
  const buf = prng(200_000, 11);
  const r = chunkBuffer(buf, DEFAULT_CHUNK_PARAMS, { final: false });
  assert.ok(buf.length - r.consumed < DEFAULT_CHUNK_PARAMS.max);
  assert.is(r.cuts[r.cuts.length - 1], r.consumed);
  assert.equal([...r.cuts], [...chunkBuffer(buf).cuts].filter((c) => c <= r.consumed));
});

test('an insertion changes only the chunks next to it (fraction of chunks kept is measured)', () => {
  const base = prng(4 << 20, 12);
  const digestsOf = (b: Buffer) => { const r = chunkBuffer(b); const s = new Set<string>(); for (let i = 0; i < r.cuts.length; i++) s.add(r.digests!.subarray(i * 32, i * 32 + 32).toString('hex')); return s; };
  const before = digestsOf(base);
  const kept: number[] = [];
  for (const [at, len] of [[1_000_000, 1], [2_500_000, 100], [3_000_000, 5000], [10, 37]] as const) {
    const edited = Buffer.concat([base.subarray(0, at), prng(len, at), base.subarray(at)]);
    const after = digestsOf(edited);
    let same = 0;
    for (const d of after) if (before.has(d)) same++;
    kept.push(same / before.size);
    // An insertion can disturb the chunk it lands in and the boundaries up to a few chunks after it.
    assert.ok(before.size - same <= 4, `insert ${len} B at ${at}: ${before.size - same} of ${before.size} chunks changed`);
  }
  console.log(`  chunks kept after one insertion: ${kept.map((k) => (k * 100).toFixed(2) + '%').join(', ')} of ${before.size}`);
});

test('bad chunk parameters are rejected with a message naming the bound', () => {
  for (const [p, word] of [[{ min: 10, avg: 8192, max: 65536 }, 'min'], [{ min: 4096, avg: 2048, max: 65536 }, 'min <= avg <= max'], [{ min: 2048, avg: 8192, max: 1.5e10 }, 'max']] as const) {
    try { chunkBuffer(Buffer.alloc(10), p); assert.unreachable('accepted'); } catch (e) {
      assert.ok(isWanoptError(e), String(e));
      assert.match((e as Error).message, word);
    }
  }
});

test.run();
