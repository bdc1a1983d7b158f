// timeout: 120
/**
 * The WAN-opt proxy pair over loopback TCP (no interception: a plain listener hands connections to
 * `carry`, as the transparent listener does): byte-exact relaying in both directions with half-close, a
 * repeat that crosses the session as references, reset and connect-failure propagation, and per-flow
 * back-pressure (a destination that does not read stalls only its own flow, with bounded buffering).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { ChunkStore, WanoptProxy, decodeDestination, encodeDestination } from '../../dataplane/wanopt/index.ts';

function prng(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; b[i] = x & 255; }
  return b;
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const cleanup: (() => unknown)[] = [];
test.after.each(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });

async function listen(onConn: (s: Socket) => void): Promise<{ srv: Server; port: number }> {
  const conns = new Set<Socket>();
  const srv = createServer({ allowHalfOpen: true }, (s) => { conns.add(s); s.on('close', () => conns.delete(s)); onConn(s); });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  cleanup.push(() => { for (const s of conns) s.destroy(); return new Promise((r) => srv.close(r)); });
  return { srv, port: (srv.address() as { port: number }).port };
}

/** Proxy B (receiving side) and proxy A (intercepting side) whose "intercepted" connections go to `dstPort`. */
async function proxies(dstPort: number, window?: number) {
  const session = window ? { flowWindow: window } : {};
  const b = new WanoptProxy({ store: new ChunkStore(), interceptPort: 0, sessionPort: 0, peerFor: () => undefined, session });
  // Port 0 means "no listener" to the proxy, so B listens through a plain server of its own here.
  const sb = await listen((s) => (b as any).acceptSession(s));
  const a = new WanoptProxy({ store: new ChunkStore(), interceptPort: 0, sessionPort: sb.port, session,
    peerFor: () => ({ key: 'b', address: '127.0.0.1' }) });
  const entry = await listen((s) => a.carry(s, { address: '127.0.0.1', port: dstPort }));
  cleanup.push(() => a.close(), () => b.close());
  return { a, b, entryPort: entry.port };
}

function collect(s: Socket): Promise<{ data: Buffer; ended: boolean; error?: Error }> {
  const parts: Buffer[] = [];
  let ended = false, error: Error | undefined;
  s.on('data', (d) => parts.push(d));
  s.on('end', () => { ended = true; });
  s.on('error', (e) => { error = e; });
  return new Promise((r) => s.on('close', () => r({ data: Buffer.concat(parts), ended, ...(error && { error }) })));
}

test('destination metadata round-trips and rejects what is not address:port', () => {
  assert.equal(decodeDestination(encodeDestination({ address: '10.2.0.10', port: 5001 })), { address: '10.2.0.10', port: 5001 });
  for (const bad of ['10.2.0.10', '10.2.0.10:0', '10.2.0.10:70000', 'host:80', '']) assert.is(decodeDestination(Buffer.from(bad)), undefined, bad);
});

test('relays both directions byte-exact with half-close, and a repeat crosses as references', async () => {
  const up = prng(3_000_000, 7), down = prng(700_000, 9);
  // The server reads until the client's FIN, then answers with the digest of what it got and its own bytes.
  const dst = await listen((s) => {
    const parts: Buffer[] = [];
    s.on('data', (d) => parts.push(d));
    s.on('end', () => { s.write(sha(Buffer.concat(parts))); s.end(down); });
  });
  const { a, entryPort } = await proxies(dst.port);
  for (let round = 0; round < 2; round++) {
    const before = a.stats().wireOut;
    const c = connect(entryPort, '127.0.0.1');
    await once(c, 'connect');
    const got = collect(c);
    c.end(up);
    const r = await got;
    assert.ok(r.ended && !r.error, `round ${round}: clean end`);
    assert.is(r.data.subarray(0, 64).toString(), sha(up), `round ${round}: server received the exact bytes`);
    assert.is(sha(r.data.subarray(64)), sha(down), `round ${round}: client received the exact bytes`);
    const wire = a.stats().wireOut - before;
    if (round === 0) assert.ok(wire > up.length * 0.9, `first round sends the bytes (${wire})`);
    else assert.ok(wire < up.length / 20, `repeat sends references only (${wire} wire bytes for ${up.length})`);
  }
  assert.is(a.stats().flowsIntercepted, 2);
});

test('a session from an address acceptFrom refuses is closed before any flow', async () => {
  const dst = await listen((sock) => sock.end('should not be reached'));
  const b = new WanoptProxy({ store: new ChunkStore(), interceptPort: 0, sessionPort: 0, peerFor: () => undefined, acceptFrom: (a) => a === '192.0.2.1' });
  const sb = await listen((s) => (b as any).acceptSession(s));
  const a = new WanoptProxy({ store: new ChunkStore(), interceptPort: 0, sessionPort: sb.port, peerFor: () => ({ key: 'b', address: '127.0.0.1' }) });
  const entry = await listen((s) => a.carry(s, { address: '127.0.0.1', port: dst.port }));
  cleanup.push(() => a.close(), () => b.close());
  const c = connect(entry.port, '127.0.0.1');
  c.end('hello');
  const r = await collect(c);
  assert.is(r.data.length, 0, 'nothing came back');
  assert.is(b.stats().sessionsRefused, 1);
  assert.is(b.stats().flowsAccepted, 0);
});

test('a reset by the destination resets the client, and an unreachable destination too', async () => {
  const dst = await listen((s) => s.once('data', () => s.resetAndDestroy()));
  const { entryPort } = await proxies(dst.port);
  const c = connect(entryPort, '127.0.0.1');
  const got = collect(c);
  c.write('hello');
  const r = await got;
  assert.not.ok(r.ended, 'no clean end after a reset');
  assert.ok(r.error, 'the client sees an error');

  const closed = await listen(() => {});
  const port = closed.port;
  await new Promise((res) => closed.srv.close(res));
  const p2 = await proxies(port);
  const c2 = connect(p2.entryPort, '127.0.0.1');
  const r2 = await collect(c2);
  assert.not.ok(r2.ended, 'connect failure is not a clean end');
  assert.ok(p2.b.stats().flowsFailed >= 1);
});

test('a destination that does not read stalls only its own flow, with bounded buffering', async () => {
  const window = 256 * 1024;
  let stalled: Socket | undefined, stalledFirst: Buffer | undefined;
  const received: Buffer[] = [];
  const dst = await listen((s) => {
    s.once('data', (d) => {
      if (d.subarray(0, 5).toString() === 'STALL') { stalled = s; stalledFirst = d; s.pause(); }
      else { s.on('data', (x) => received.push(x)); received.push(d); s.on('end', () => s.end()); }
    });
  });
  const { a, entryPort } = await proxies(dst.port, window);
  const big = Buffer.concat([Buffer.from('STALL'), prng(40_000_000, 3)]);
  const c1 = connect(entryPort, '127.0.0.1');
  await once(c1, 'connect');
  c1.write(big);
  // Let the pipeline fill up to its bounds.
  let last = -1;
  for (let i = 0; i < 100 && a.stats().rawOut !== last; i++) { last = a.stats().rawOut; await new Promise((r) => setTimeout(r, 50)); }
  const inFlight = a.stats().rawOut;
  assert.ok(stalled, 'the stalled connection reached the destination');
  assert.ok(inFlight < big.length / 2, `the session stopped taking the stalled flow's bytes (${inFlight} of ${big.length})`);
  // Another flow on the same session still goes through.
  const c2 = connect(entryPort, '127.0.0.1');
  await once(c2, 'connect');
  const small = prng(500_000, 11);
  const done = collect(c2);
  c2.end(small);
  await done;
  assert.is(sha(Buffer.concat(received)), sha(small), 'the second flow delivered byte-exact while the first is stalled');
  // Reading resumes: every byte of the stalled flow arrives.
  const parts: Buffer[] = [stalledFirst!];
  stalled!.on('data', (d) => parts.push(d));
  const ended = once(stalled!, 'end');
  stalled!.resume();
  c1.end();
  await ended;
  assert.is(sha(Buffer.concat(parts)), sha(big), 'the stalled flow delivered byte-exact once read');
});

test.run();
