/** Per-chunk compression: the automatic codec choice, round trips, and corrupt or hostile payloads. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { ChunkCompressor, Codec, sampleEntropy, zstdContentSize } from '../../dataplane/wanopt/index.ts';

const text = Buffer.from('GET /api/v1/sites/edge-12/paths HTTP/1.1\r\nHost: controller\r\n\r\n'.repeat(150));
const random = randomBytes(8192);

test('measured compressibility picks none for random data and the preferred codec for text', () => {
  assert.ok(sampleEntropy(random) > 7.6 && sampleEntropy(text) < 6, `entropies ${sampleEntropy(random)} ${sampleEntropy(text)}`);
  const z = new ChunkCompressor();
  assert.is(z.choose(random), 'none');
  assert.is(z.choose(text), 'zstd');
  assert.is(z.compress(random).codec, Codec.none);
  assert.is(z.compress(text).codec, Codec.zstd);
  assert.is(new ChunkCompressor({ prefer: 'lz4' }).compress(text).codec, Codec.lz4);
  assert.is(sampleEntropy(Buffer.alloc(0)), 0);
});

test('every codec round-trips, and a forced codec that would grow the chunk falls back to none', () => {
  for (const mode of ['auto', 'zstd', 'lz4', 'none'] as const) {
    const c = new ChunkCompressor({ mode });
    for (const data of [text, random, Buffer.alloc(0), Buffer.from('x'), Buffer.alloc(65536, 3)]) {
      const r = c.compress(data);
      assert.ok(r.payload.length <= data.length, `${mode}: never larger`);
      assert.ok(c.decompress(r.codec, r.payload, data.length).equals(data), `${mode} ${data.length}`);
    }
    if (mode !== 'none') assert.is(c.compress(random).codec, Codec.none);
  }
});

test('corrupt payloads, unknown codecs and wrong sizes give a clean error', () => {
  const c = new ChunkCompressor();
  const z = c.compress(text), l = new ChunkCompressor({ prefer: 'lz4' }).compress(text);
  const flip = (b: Buffer, i: number) => { const x = Buffer.from(b); x[i]! ^= 0xff; return x; };
  const cases: [number, Buffer, number][] = [
    [Codec.zstd, z.payload, text.length + 1],
    [Codec.zstd, z.payload.subarray(0, z.payload.length - 3), text.length],
    [Codec.zstd, flip(z.payload, 0), text.length],
    [Codec.lz4, l.payload, text.length - 1],
    [Codec.lz4, l.payload.subarray(0, 10), text.length],
    [Codec.lz4, Buffer.from([1, 2]), 5],
    [Codec.none, text, text.length + 1],
    [9, text, text.length],
  ];
  for (const [codec, payload, raw] of cases) assert.throws(() => c.decompress(codec, payload, raw), /decompress|codec/);
  for (let i = 4; i < z.payload.length; i += 7) {
    try { const out = c.decompress(Codec.zstd, flip(z.payload, i), text.length); assert.is(out.length, text.length); } catch (e) { assert.match((e as Error).message, /decompress/); }
  }
});

test('a hostile size in a zstd or lz4 header is refused before anything is allocated', () => {
  const c = new ChunkCompressor();
  // zstd frame header: single segment, 8-byte content size 2^40, then an empty raw last block.
  const zstd = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0]);
  assert.is(zstdContentSize(zstd), 2 ** 40);
  assert.throws(() => c.decompress(Codec.zstd, zstd, 100), /does not announce 100 bytes/);
  const lz4 = Buffer.from([0xff, 0xff, 0xff, 0x7f, 0x10, 0x41]);
  assert.throws(() => c.decompress(Codec.lz4, lz4, 100), /does not announce 100 bytes/);
  assert.is(zstdContentSize(Buffer.from('nope')), undefined);
});

test.run();
