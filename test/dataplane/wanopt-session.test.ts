// timeout: 120
/**
 * The WAN-opt session over real loopback TCP: many flows byte-exact in both directions, dedup on a repeat,
 * two stores that disagree (evicted or cleared chunks answered by request + resend), and corrupt, truncated
 * or oversized frames ending the session cleanly.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import {
  ChunkStore, encodeFrame, FrameReader, isProtocolError, sha256, WanoptSession, type Frame, type ProtocolError, type SessionOptions, type WanoptFlow,
} from '../../dataplane/wanopt/index.ts';

function prng(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; b[i] = x & 255; }
  return b;
}
/** Mixed content: random blocks and repetitive text, so every codec choice occurs. */
function mixed(n: number, seed: number): Buffer {
  const parts: Buffer[] = [];
  let len = 0, i = 0;
  while (len < n) {
    const p = i++ % 2 ? prng(20_000 + (seed % 7) * 1000, seed + i) : Buffer.from(`line ${seed} ${i}: the quick brown fox\n`.repeat(500));
    parts.push(p); len += p.length;
  }
  return Buffer.concat(parts).subarray(0, n);
}

const servers: Server[] = [];
const sockets: Socket[] = [];
test.after.each(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

interface Pair { client: WanoptSession; server: WanoptSession; serverErrors: Error[]; clientErrors: Error[] }

async function pair(clientOpts: Partial<SessionOptions>, serverOpts: Partial<SessionOptions>, onFlow: (f: WanoptFlow, meta: Buffer) => void): Promise<Pair> {
  const serverErrors: Error[] = [], clientErrors: Error[] = [];
  let server!: WanoptSession;
  const srv = createServer((sock) => {
    sockets.push(sock);
    server = new WanoptSession(sock, { role: 'server', store: new ChunkStore(), ...serverOpts });
    server.on('error', (e) => serverErrors.push(e));
    server.on('flow', onFlow);
  });
  servers.push(srv);
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const sock = connect((srv.address() as { port: number }).port, '127.0.0.1');
  sockets.push(sock);
  await once(sock, 'connect');
  const client = new WanoptSession(sock, { role: 'client', store: new ChunkStore(), ...clientOpts });
  client.on('error', (e) => clientErrors.push(e));
  while (!server) await new Promise((r) => setTimeout(r, 5));
  return { client, server, serverErrors, clientErrors };
}

/** Everything a flow delivers until its peer closes it (without destroying the flow, which stays writable). */
function readAll(s: WanoptFlow): Promise<Buffer> {
  const parts: Buffer[] = [];
  return new Promise((res, rej) => {
    s.on('data', (c: Buffer) => parts.push(c));
    s.on('end', () => res(Buffer.concat(parts)));
    s.on('error', rej);
  });
}

/** Write `data` to a flow in uneven pieces, then end it. */
async function writeAll(f: WanoptFlow, data: Buffer, step = 50_000): Promise<void> {
  for (let i = 0; i < data.length; i += step) if (!f.write(data.subarray(i, i + step))) await once(f, 'drain');
  f.end();
}

/** An echo-with-a-twist server: replies with sha256(request) followed by the request reversed in blocks. */
function reply(req: Buffer): Buffer { return Buffer.concat([sha256(req), Buffer.from(req).reverse()]); }

function echoServer(f: WanoptFlow): void {
  readAll(f).then((req) => writeAll(f, reply(req))).catch(() => f.destroy());
}

test('many concurrent flows arrive byte-exact in both directions', async () => {
  const p = await pair({}, {}, echoServer);
  const sizes = [0, 1, 100, 2047, 2048, 70_000, 300_000, 1_000_000, 65_536, 5, 123_457, 8192, 600_000, 3, 40_000, 250_000, 9, 16_384, 777, 1_500_000];
  const results = await Promise.all(sizes.map(async (n, i) => {
    const data = mixed(n, i + 1);
    const f = p.client.openFlow(Buffer.from(`flow-${i}`));
    const got = readAll(f);
    await writeAll(f, data, 1 + (i * 7919) % 70_000);
    return { data, got: await got };
  }));
  for (const [i, r] of results.entries()) assert.ok(r.got.equals(reply(r.data)), `flow ${i} (${sizes[i]} bytes)`);
  assert.equal(p.serverErrors, []);
  assert.equal(p.clientErrors, []);
  assert.is(p.client.flowCount, 0);
  p.client.close();
});

test('the flow metadata reaches the peer and a repeat transfer travels as references', async () => {
  const metas: string[] = [];
  const received: Buffer[] = [];
  const p = await pair({}, {}, (f, meta) => { metas.push(meta.toString()); readAll(f).then((b) => { received.push(b); f.end(); }); });
  const file = mixed(2_000_000, 42);
  const after: { wireOut: number; literalsOut: number; refsOut: number }[] = [];
  for (const name of ['first', 'second']) {
    const f = p.client.openFlow(Buffer.from(`10.0.0.9:80 ${name}`));
    f.resume();
    await writeAll(f, file);
    await once(f, 'close');
    after.push({ ...p.client.stats });
  }
  assert.equal(metas, ['10.0.0.9:80 first', '10.0.0.9:80 second']);
  assert.ok(received[0]!.equals(file) && received[1]!.equals(file));
  const [a, b] = after as [typeof after[0], typeof after[0]];
  console.log(`  first pass: wire ${a.wireOut} B for ${file.length} B; repeat: wire ${b.wireOut - a.wireOut} B, ${b.literalsOut - a.literalsOut} literals, ${b.refsOut - a.refsOut} refs`);
  assert.is(b.literalsOut - a.literalsOut, 0, 'the repeat sends no literal');
  // Each chunk of the repeat costs one 48-byte REF frame (plus OPEN and CLOSE).
  assert.ok(b.wireOut - a.wireOut <= (b.refsOut - a.refsOut) * 48 + 64);
  p.client.close();
});

for (const [name, clientStore, serverStore, between] of [
  ['the receiver evicted the chunks (small store)', () => new ChunkStore(), () => new ChunkStore({ maxBytes: 100_000 }), undefined],
  ['the receiver lost its whole store', () => new ChunkStore(), () => new ChunkStore(), (s: ChunkStore) => s.clear()],
  ['the receiver lost its store and the sender holds the chunks only as pinned references', () => new ChunkStore({ maxBytes: 20_000 }), () => new ChunkStore(), (s: ChunkStore) => s.clear()],
] as const) {
  test(`stores that disagree recover by request and resend: ${name}`, async () => {
    const cs = clientStore(), ss = serverStore();
    const received: Buffer[] = [];
    const p = await pair({ store: cs }, { store: ss }, (f) => readAll(f).then((b) => { received.push(b); f.end(); }));
    const file = mixed(1_500_000, 7);
    for (let pass = 0; pass < 2; pass++) {
      const f = p.client.openFlow();
      f.resume();
      await writeAll(f, file, 30_000);
      await once(f, 'close');
      if (pass === 0 && between) between(ss);
    }
    assert.is(received.length, 2);
    assert.ok(received[0]!.equals(file), 'first pass');
    assert.ok(received[1]!.equals(file), 'second pass');
    assert.ok(p.server.stats.requestsOut > 0, 'the receiver had to ask');
    assert.is(p.client.stats.resendsOut, p.server.stats.requestsOut);
    assert.equal(p.serverErrors, []);
    assert.equal(p.clientErrors, []);
    p.client.close();
  });
}

/** A raw TCP peer that speaks frames by hand to a real server session. */
async function rawPeer(): Promise<{ sock: Socket; errors: Error[]; flows: WanoptFlow[]; flowErrors: Error[]; got: Frame[]; closed: Promise<unknown> }> {
  const errors: Error[] = [], flows: WanoptFlow[] = [], flowErrors: Error[] = [];
  let ready = false;
  const srv = createServer((s) => {
    sockets.push(s);
    const sess = new WanoptSession(s, { role: 'server', store: new ChunkStore(), maxFrame: 100_000 });
    sess.on('error', (e) => errors.push(e));
    sess.on('flow', (f: WanoptFlow) => { flows.push(f); f.on('error', (e) => flowErrors.push(e)); f.resume(); });
    ready = true;
  });
  servers.push(srv);
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const sock = connect((srv.address() as { port: number }).port, '127.0.0.1');
  sockets.push(sock);
  await once(sock, 'connect');
  while (!ready) await new Promise((r) => setTimeout(r, 2));
  const got: Frame[] = [];
  const rd = new FrameReader();
  sock.on('data', (d) => got.push(...rd.push(d).frames));
  sock.on('error', () => {});
  return { sock, errors, flows, flowErrors, got, closed: once(sock, 'close') };
}

const hello = encodeFrame({ type: 'HELLO', flow: 0, maxFrame: 1 << 20 });
const good = Buffer.from('hello, edge');
const goodDigest = createHash('sha256').update(good).digest();
const open1 = encodeFrame({ type: 'OPEN', flow: 1, meta: Buffer.alloc(0) });

const attacks: [string, Buffer[], ProtocolError['code']][] = [
  ['garbage instead of a frame', [hello, Buffer.from('GET / HTTP/1.1\r\n\r\n')], 'bad-magic'],
  ['a frame of a future version', [hello, Buffer.from('5057020800000001000000', 'hex')], 'bad-version'],
  ['an oversized frame', [hello, open1, Buffer.from('505701030000000100200000', 'hex')], 'oversized'],
  ['data before HELLO', [open1], 'malformed'],
  ['a literal whose bytes do not match its fingerprint', [hello, open1, encodeFrame({ type: 'LITERAL', flow: 1, digest: Buffer.alloc(32, 1), codec: 0, rawLen: good.length, data: good })], 'digest-mismatch'],
  ['a literal that does not decompress', [hello, open1, encodeFrame({ type: 'LITERAL', flow: 1, digest: goodDigest, codec: 1, rawLen: good.length, data: good })], 'decompress'],
  ['a reference for a flow never opened', [hello, encodeFrame({ type: 'REF', flow: 11, digest: goodDigest, rawLen: 5 })], 'unknown-flow'],
  ['a request for a chunk the session never had', [hello, encodeFrame({ type: 'REQUEST', flow: 0, digest: goodDigest })], 'unknown-chunk'],
  ['a resend nobody asked for', [hello, encodeFrame({ type: 'RESEND', flow: 0, digest: goodDigest, codec: 0, rawLen: good.length, data: good })], 'malformed'],
  ['an OPEN with the server\'s flow-id parity', [hello, encodeFrame({ type: 'OPEN', flow: 2, meta: Buffer.alloc(0) })], 'malformed'],
];

for (const [name, frames, code] of attacks) {
  test(`a peer sending ${name} gets a clean ${code} error and a closed session`, async () => {
    const r = await rawPeer();
    for (const f of frames) r.sock.write(f);
    await r.closed;
    assert.is(r.errors.length, 1, `errors: ${r.errors.map(String)}`);
    assert.ok(isProtocolError(r.errors[0]), String(r.errors[0]));
    assert.is((r.errors[0] as ProtocolError).code, code);
    assert.ok(r.got.some((f) => f.type === 'RESET' && f.flow === 0 && f.reason.includes(code)), 'the peer is told why');
    for (const f of r.flows) assert.ok(f.destroyed, 'open flows are destroyed');
    assert.is(r.flowErrors.length, r.flows.length, 'flows end with an error, not a clean end');
  });
}

test('a connection that ends inside a frame is a truncation error; the good data before it was delivered', async () => {
  const r = await rawPeer();
  const lit = encodeFrame({ type: 'LITERAL', flow: 1, digest: goodDigest, codec: 0, rawLen: good.length, data: good });
  const got: Buffer[] = [];
  r.sock.write(Buffer.concat([hello, open1, lit, lit.subarray(0, 20)]));
  await new Promise((res) => setTimeout(res, 50));
  r.flows[0]!.on('data', (d: Buffer) => got.push(d));
  r.sock.end();
  await r.closed;
  assert.is((r.errors[0] as ProtocolError).code, 'truncated');
  assert.ok(r.flows[0]!.destroyed);
});

test.run();
