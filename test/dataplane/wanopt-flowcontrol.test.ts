// timeout: 60
/**
 * Per-flow flow control of the WAN-opt session over loopback TCP: a flow whose reader does not read holds
 * at most its window (plus one chunk) at the receiver, its sender stops at the window, other flows of the
 * same session keep going, and everything arrives byte-exact once the reader reads. A WINDOW beyond 2^32
 * bytes of credit ends the session.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { ChunkStore, DEFAULT_CHUNK_PARAMS, WanoptSession, type WanoptFlow } from '../../dataplane/wanopt/index.ts';

function prng(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; b[i] = x & 255; }
  return b;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const closers: (() => void)[] = [];
test.after.each(() => { for (const c of closers.splice(0)) c(); });

async function pair(window: number) {
  const flows: WanoptFlow[] = [];
  let server!: WanoptSession;
  const srv: Server = createServer((sock) => {
    server = new WanoptSession(sock, { role: 'server', store: new ChunkStore(), flowWindow: window });
    server.on('flow', (f: WanoptFlow) => { f.on('error', () => {}); flows.push(f); });
    server.on('error', () => {});
    closers.push(() => sock.destroy());
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  closers.push(() => srv.close());
  const sock: Socket = connect((srv.address() as { port: number }).port, '127.0.0.1');
  await once(sock, 'connect');
  closers.push(() => sock.destroy());
  const client = new WanoptSession(sock, { role: 'client', store: new ChunkStore(), flowWindow: window });
  while (!server) await sleep(2);
  return { client, server, flows };
}

test('an unread flow buffers at most its window and stalls only itself', async () => {
  const window = 128 * 1024;
  const { client, server, flows } = await pair(window);
  const data = prng(8_000_000, 5);
  client.on('error', () => {});
  const f1 = client.openFlow(Buffer.from('stalled'));
  f1.on('error', () => {});
  let accepted = 0;
  // Write in pieces, as a socket would, honouring the Writable's back-pressure.
  const writer = (async () => {
    for (let i = 0; i < data.length; i += 65536) {
      if (!f1.write(data.subarray(i, i + 65536))) await once(f1, 'drain');
      accepted = i + 65536;
    }
    f1.end();
  })();
  while (flows.length < 1) await sleep(5);
  await sleep(300);
  const s1 = flows[0]!;
  s1.pause();
  await sleep(300);
  const held = s1.readableLength;
  assert.ok(held <= window + DEFAULT_CHUNK_PARAMS.max, `the receiver holds ${held} bytes, window ${window}`);
  assert.ok(client.stats.rawOut <= window + held + DEFAULT_CHUNK_PARAMS.max, `the sender sent ${client.stats.rawOut} bytes`);
  assert.ok(accepted < data.length, 'the writer is held back');

  const f2 = client.openFlow(Buffer.from('other'));
  f2.on('error', () => {});
  const small = prng(300_000, 9);
  f2.end(small);
  while (flows.length < 2) await sleep(5);
  const got2: Buffer[] = [];
  flows[1]!.on('data', (d: Buffer) => got2.push(d));
  await once(flows[1]!, 'end');
  assert.ok(Buffer.concat(got2).equals(small), 'the other flow went through');

  const got1: Buffer[] = [];
  s1.on('data', (d: Buffer) => got1.push(d));
  s1.resume();
  await once(s1, 'end');
  await writer;
  assert.ok(Buffer.concat(got1).equals(data), 'the stalled flow delivered everything byte-exact once read');
  assert.ok(server.stats.rawIn >= data.length);
});

test('a WINDOW granting more than 2^32-1 bytes of credit ends the session', async () => {
  const { client, server } = await pair(1 << 20);
  const f = client.openFlow(Buffer.from('x'));
  f.on('error', () => {});
  const errors: Error[] = [];
  client.on('error', (e) => errors.push(e));
  await sleep(50);
  // The server already granted 1 MiB; one more grant of 2^32-1 overflows.
  (server as any).send({ type: 'WINDOW', flow: f.id, credit: 0xffffffff });
  await sleep(100);
  assert.ok(errors.some((e) => /WINDOW of flow 1 grants more than/.test(e.message)), errors.map((e) => e.message).join('; '));
});

test.run();
