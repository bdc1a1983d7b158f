/**
 * bench/lib/echo-edge-api.ts — the same-run baseline of bench/controller-load.ts: a minimal Node HTTPS server
 * with the edge API's TLS setup (the same CA, `requestCert`, P-256 server certificate) and none of its work.
 * It answers every POST at once with `{"ok":true}` after reading the body (no parsing, no store), a bundle
 * GET without a matching `have` at once with that edge's envelope (held in memory, so the reply is the same
 * size as the controller's), and holds a GET whose `have` matches for `wait` seconds before a 204, as a
 * long-poll does. The edge is the client certificate's CN, read once per connection. `{type:'fanout',
 * envelopesFile}` swaps in the next version's envelopes and answers every held poll with its edge's new one at
 * once — the fan-out baseline: the same clients fetching, verifying and acking the same bytes.
 *
 * Forked with IPC: send `{type:'init', keyPem, certPem, caPem, envelopesFile}` (a JSON file
 * `{edge: {hash, version, text}}`); it answers `{type:'listening', port}`. SIGTERM ends it.
 */
import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';

let envelopes: Record<string, EchoEnvelope> = {};
/** Each envelope's UTF-8 bytes, made once: the minimal server sends bytes it holds. */
const bytes = new WeakMap<EchoEnvelope, Buffer>();
const bytesOf = (e: EchoEnvelope) => bytes.get(e) ?? bytes.set(e, Buffer.from(e.text)).get(e)!;
/** Held long-polls per edge: each entry answers its poll with the edge's current envelope. */
const held = new Map<string, Set<() => void>>();

/** What the echo server holds per edge: the envelope text and its hash and version. */
export interface EchoEnvelope { hash: string; version: number; text: string }

process.on('message', (m: { type: 'init'; keyPem: string; certPem: string; caPem: string; envelopesFile: string } | { type: 'fanout'; envelopesFile: string }) => {
  if (m.type === 'fanout') {
    // A new version for every edge: swap the envelopes and answer each held poll at once, as the controller does.
    envelopes = JSON.parse(readFileSync(m.envelopesFile, 'utf8')) as Record<string, EchoEnvelope>;
    for (const [edge, wake] of held) if (envelopes[edge]) for (const w of [...wake]) w();
    return;
  }
  envelopes = JSON.parse(readFileSync(m.envelopesFile, 'utf8')) as Record<string, EchoEnvelope>;
  const cn = new WeakMap<TLSSocket, string>();
  const server = createServer({ key: m.keyPem, cert: m.certPem, ca: [m.caPem], requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const socket = req.socket as TLSSocket;
    let edge = cn.get(socket);
    if (edge === undefined) { edge = String(socket.getPeerCertificate().subject?.CN ?? ''); cn.set(socket, edge); }
    if (req.method === 'GET') {
      const url = new URL(req.url ?? '/', 'https://echo');
      const env = envelopes[edge];
      if (!env) { res.writeHead(404).end(); return; }
      const answer = (e: EchoEnvelope) => {
        const bytes = bytesOf(e);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': bytes.length, 'x-patronus-version': String(e.version), etag: `"${e.hash}"` });
        res.end(bytes);
      };
      if (url.searchParams.get('have') !== env.hash) { answer(env); return; }
      const mine = held.get(edge) ?? held.set(edge, new Set()).get(edge)!;
      const done = () => { clearTimeout(timer); mine.delete(wake); };
      const wake = () => { done(); answer(envelopes[edge]!); };
      const timer = setTimeout(() => { done(); res.writeHead(204); res.end(); }, Number(url.searchParams.get('wait') ?? 0) * 1000);
      mine.add(wake);
      req.on('close', done);
      return;
    }
    req.on('data', () => undefined);
    req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"ok":true}\n'); });
  });
  // The same listen backlog as the edge API (controller/edgeapi/server.ts LISTEN_BACKLOG).
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => process.send!({ type: 'listening', port: (server.address() as AddressInfo).port }));
  process.once('SIGTERM', () => { server.close(); server.closeAllConnections(); process.exit(0); });
});
