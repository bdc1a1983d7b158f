/** The chunk store: LRU bounds, the disk tier, fingerprint checks on entry and on read-back. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkStore, sha256, FingerprintError } from '../../dataplane/wanopt/index.ts';

const dirs: string[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), `pt-wanopt-store-${process.pid}-`)); dirs.push(d); return d; };
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const chunk = (n = 1000) => { const data = randomBytes(n); return { data, digest: sha256(data) }; };

test('stores and returns chunks by fingerprint, copying the bytes', () => {
  const s = new ChunkStore({ maxBytes: 10_000 });
  const c = chunk();
  s.put(c.digest, c.data);
  const got = s.get(c.digest)!;
  assert.ok(got.equals(c.data));
  c.data[0]! ^= 1;
  assert.ok(!s.get(c.digest)!.equals(c.data), 'store must hold its own copy');
  assert.ok(s.has(c.digest));
  assert.is(s.get(sha256(Buffer.from('nope'))), undefined);
});

test('rejects data that does not match its fingerprint and stores nothing', () => {
  const s = new ChunkStore();
  const c = chunk();
  const bad = Buffer.from(c.data); bad[10]! ^= 0x40;
  assert.throws(() => s.put(c.digest, bad), (e: unknown) => e instanceof FingerprintError);
  assert.throws(() => s.put(Buffer.alloc(5), c.data), (e: unknown) => e instanceof FingerprintError);
  assert.not.ok(s.has(c.digest));
  assert.is(s.stats().rejected, 1);
});

test('memory stays within maxBytes and evicts the least recently used chunk', () => {
  const s = new ChunkStore({ maxBytes: 3000 });
  const [a, b, c, d] = [chunk(), chunk(), chunk(), chunk()];
  s.put(a.digest, a.data); s.put(b.digest, b.data); s.put(c.digest, c.data);
  s.get(a.digest); // a is now more recent than b
  s.put(d.digest, d.data);
  assert.ok(s.has(a.digest) && s.has(c.digest) && s.has(d.digest));
  assert.not.ok(s.has(b.digest), 'b was least recently used');
  assert.ok(s.stats().memBytes <= 3000);
  assert.is(s.stats().evictions, 1);
});

test('the disk tier keeps what memory evicts, within its own bound, and survives a restart', () => {
  const dir = tmp();
  const s = new ChunkStore({ maxBytes: 2000, diskDir: dir, diskMaxBytes: 3000 });
  const cs = Array.from({ length: 6 }, () => chunk());
  for (const c of cs) s.put(c.digest, c.data);
  // 2 in memory, 3 on disk, the oldest dropped.
  assert.is(s.stats().memChunks, 2);
  assert.is(s.stats().diskChunks, 3);
  assert.not.ok(s.has(cs[0]!.digest));
  assert.ok(s.get(cs[1]!.digest)!.equals(cs[1]!.data));
  assert.is(s.stats().diskHits, 1);
  const again = new ChunkStore({ maxBytes: 2000, diskDir: dir, diskMaxBytes: 3000 });
  const onDisk = cs.filter((c) => again.has(c.digest));
  assert.ok(onDisk.length >= 2, 'files from the first store are indexed');
  for (const c of onDisk) assert.ok(again.get(c.digest)!.equals(c.data));
  again.clear();
  assert.equal(readdirSync(dir), []);
});

test('a damaged disk file is a miss, never wrong bytes', () => {
  const dir = tmp();
  const s = new ChunkStore({ maxBytes: 1000, diskDir: dir });
  const a = chunk(), b = chunk();
  s.put(a.digest, a.data); s.put(b.digest, b.data); // a goes to disk
  const file = join(dir, a.digest.toString('hex'));
  const bad = Buffer.from(a.data); bad[0]! ^= 1;
  writeFileSync(file, bad);
  assert.is(s.get(a.digest), undefined);
  assert.not.ok(s.has(a.digest));
  assert.is(s.stats().rejected, 1);
});

test.run();
