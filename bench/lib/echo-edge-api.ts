/**
 * bench/lib/echo-edge-api.ts — the same-run baseline of bench/controller-load.ts: a minimal Node HTTPS server
 * with the edge API's TLS setup (the same CA, `requestCert`, P-256 server certificate) and none of its work.
 * It answers every POST at once with `{"ok":true}` after reading the body (no parsing, no store), a bundle
 * GET without a matching `have` at once with that edge's envelope (held in memory, so the reply is the same
 * size as the controller's), and holds a GET whose `have` matches for `wait` seconds before a 204, as a
 * long-poll does. The edge is the client certificate's CN, read once per connection.
 *
 * Forked with IPC: send `{type:'init', keyPem, certPem, caPem, envelopesFile}` (a JSON file
 * `{edge: {hash, version, text}}`); it answers `{type:'listening', port}`. SIGTERM ends it.
 */
import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';

/** What the echo server holds per edge: the envelope text and its hash and version. */
export interface EchoEnvelope { hash: string; version: number; text: string }

process.once('message', (m: { type: 'init'; keyPem: string; certPem: string; caPem: string; envelopesFile: string }) => {
  const envelopes = JSON.parse(readFileSync(m.envelopesFile, 'utf8')) as Record<string, EchoEnvelope>;
  const cn = new WeakMap<TLSSocket, string>();
  const server = createServer({ key: m.keyPem, cert: m.certPem, ca: [m.caPem], requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const socket = req.socket as TLSSocket;
    let edge = cn.get(socket);
    if (edge === undefined) { edge = String(socket.getPeerCertificate().subject?.CN ?? ''); cn.set(socket, edge); }
    if (req.method === 'GET') {
      const url = new URL(req.url ?? '/', 'https://echo');
      const env = envelopes[edge];
      if (!env) { res.writeHead(404).end(); return; }
      if (url.searchParams.get('have') !== env.hash) {
        res.writeHead(200, { 'content-type': 'application/json', 'x-patronus-version': String(env.version), etag: `"${env.hash}"` });
        res.end(env.text);
        return;
      }
      const timer = setTimeout(() => { res.writeHead(204); res.end(); }, Number(url.searchParams.get('wait') ?? 0) * 1000);
      req.on('close', () => clearTimeout(timer));
      return;
    }
    req.on('data', () => undefined);
    req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"ok":true}\n'); });
  });
  server.listen(0, '127.0.0.1', () => process.send!({ type: 'listening', port: (server.address() as AddressInfo).port }));
  process.once('SIGTERM', () => { server.close(); server.closeAllConnections(); process.exit(0); });
});
