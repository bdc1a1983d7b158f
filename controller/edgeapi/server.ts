/**
 * The edge API server: HTTPS on one port with `requestCert`. Enrolment needs no client certificate; every
 * other endpoint needs one the CA signed AND whose serial the store knows, unrevoked and in date — checked
 * when the connection is made (a bad certificate closes it before any request) and again on every request
 * (a keep-alive connection does not outlive a revocation).
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { appendFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import type { KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { z } from 'zod';
import type { Store } from '../store/index.ts';
import { checkPeerCertificate, issueEdgeCertificate, isPkiError, readCsr, type CertificateAuthority } from '../pki/index.ts';
import { AckRequest, EnrolRequest, HealthRequest, InventoryRequest, RenewRequest } from './messages.ts';
import { parseEnrolmentToken, tokenSecretHash } from './tokens.ts';
import { edgeBus, emitEdgeEvent, type EdgeEvent } from './desired.ts';

/** Longest long-poll a client may ask for, seconds. */
export const MAX_WAIT_S = 120;
const MAX_BODY = 1 << 20;
/**
 * Listen backlog (the kernel caps it at net.core.somaxconn). Node's default, 511, overflowed when a fleet
 * reconnected at once (after a controller restart, or every edge opening its second connection): the kernel
 * dropped the SYNs and the edges' handshakes waited out 1 s and 3 s SYN retransmissions.
 */
export const LISTEN_BACKLOG = 4096;

export interface EdgeApiOptions {
  store: Store;
  ca: CertificateAuthority;
  /** The server's TLS key and certificate (PEM), issued by `ca` (CertificateAuthority.issueServerCertificate). */
  tls: { key: string; cert: string };
  /** The controller's bundle-signing public keys (Ed25519), handed to edges at enrolment. */
  signingKeys: KeyObject[];
  /** Listen address. Default 127.0.0.1, port 0 (any free port). */
  host?: string;
  port?: number;
  /** Where telemetry batches are appended as JSON lines; absent = the last 10,000 records kept in memory. */
  telemetryFile?: string;
  /**
   * Takes every health report with its telemetry records before the edge gets its 200 (the controller's
   * analytics write-ahead log, controller/analytics); a throw answers 503 and the edge reports again at its
   * next interval. When set, `telemetryFile` and the in-memory records are not used.
   */
  healthSink?: (report: { edge: string; receivedAt: number; health: Record<string, unknown>; telemetry: Record<string, unknown>[] }) => void;
  /** Validity of issued edge certificates, days (default 30). */
  certDays?: number;
  /** Wall clock, ms. Default Date.now. */
  now?: () => number;
  /**
   * How often the server looks for desired versions changed by another process (a CLI, a promotion runner
   * elsewhere) and wakes those edges' long-polls, ms. A scan reads SQLite's data_version, and the edges' desired
   * versions only when another connection committed since. Default 500; 0 = never.
   */
  scanMs?: number;
  /**
   * How often the latest contact of each edge (last seen, last health report) is written to the store, ms;
   * {@link EdgeApi.flushContacts} writes at once. Default 500.
   */
  contactFlushMs?: number;
  /** Bundle bodies being written at once; further ones wait for a slot (see sendSlots). Default 32. */
  bundleSlots?: number;
}

/** A running edge API. */
export interface EdgeApi {
  server: Server;
  /** `https://host:port`. */
  url: string;
  port: number;
  /** Telemetry records held in memory when no telemetryFile is set (newest last). */
  telemetry(): unknown[];
  /** Writes the edges' latest contact (last seen, health) now; resolves when it is in the store. */
  flushContacts(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Group commit: store writes of many requests share one transaction, so one fsync (the store commits with
 * synchronous=FULL) carries all the acks (and their audit entries) that arrived while the previous commit ran.
 * Each request is still answered only after the commit that holds its write, so nothing is acknowledged
 * before it is durable. Every write runs in its own savepoint: one failing (say, a deleted edge) rejects
 * only its own request. better-sqlite3 commits synchronously, so without this a fan-out's 1,000 acks mean
 * 1,000 fsyncs blocking the event loop (bench/controller-load.ts). Health reports and "last seen" are not
 * written here but by {@link contactLog}.
 */
function groupCommit(store: Store): (run: (tx: Store) => Promise<unknown>) => Promise<void> {
  type Job = { run: (tx: Store) => Promise<unknown>; resolve: () => void; reject: (e: unknown) => void };
  let queue: Job[] = [];
  let scheduled = false;
  const flush = async () => {
    while (queue.length) {
      const batch = queue;
      queue = [];
      const failed = new Map<Job, unknown>();
      try {
        await store.tx(async (tx) => {
          for (const j of batch) await tx.tx((sp) => j.run(sp)).catch((e: unknown) => { failed.set(j, e); });
        });
      } catch (e) {
        for (const j of batch) if (!failed.has(j)) failed.set(j, e);
      }
      for (const j of batch) if (failed.has(j)) j.reject(failed.get(j)); else j.resolve();
    }
    scheduled = false;
  };
  return (run) => new Promise<void>((resolve, reject) => {
    queue.push({ run, resolve, reject });
    // setImmediate, not a microtask: the requests read in this turn of the event loop join the same commit.
    if (!scheduled) { scheduled = true; setImmediate(() => void flush()); }
  });
}

/** Edges written per transaction of a contact flush. */
const CONTACT_SLICE = 100;

/**
 * The latest contact per edge — `lastSeen` and the last health report — is soft state: kept in memory and
 * written for all edges in one transaction every `everyMs` (one fsync, not one per report). A report is
 * superseded by the edge's next one a second later; what a crash may lose is under `everyMs` of "last seen".
 * The durable record of every health report is the analytics write-ahead log (`healthSink`), appended before
 * the edge gets its 200. Acks, which the promotion workflow counts, stay durable before their answer.
 */
function contactLog(store: Store, everyMs: number): { note(edge: string, at: number, healthJson?: string): void; flush(): Promise<void>; stop(): Promise<void> } {
  // Health is held as JSON text: 1,000 report objects kept for up to `everyMs` outlived the young generation and
  // became old-generation garbage every flush.
  let pending = new Map<string, { edge: string; lastSeen: number; healthJson?: string }>();
  let running: Promise<void> | null = null;
  // `.finally`, not try/finally inside: with nothing pending the body ends synchronously, and `running` must not
  // keep a settled promise that would make every later flush a no-op.
  const flush = (): Promise<void> => (running ??= (async () => {
    while (pending.size) {
      const batch = [...pending.values()];
      pending = new Map();
      // A transaction per CONTACT_SLICE edges with a turn of the event loop between them: 1,000 rows with their
      // health JSON in one go held the loop ~15-20 ms twice a second, the edge API's p99 at 1,000 edges.
      for (let i = 0; i < batch.length; i += CONTACT_SLICE) {
        if (i > 0) await new Promise<void>((r) => setImmediate(r));
        const slice = batch.slice(i, i + CONTACT_SLICE);
        try {
          await store.recordContacts(slice);
        } catch {
          // Store busy or closing: keep what no newer contact replaced; the next tick tries again.
          for (const v of batch.slice(i)) if (!pending.has(v.edge)) pending.set(v.edge, v);
          return;
        }
      }
    }
  })().finally(() => { running = null; }));
  const timer = everyMs > 0 ? setInterval(() => void flush(), everyMs) : undefined;
  timer?.unref();
  return {
    note(edge, at, healthJson) {
      const c = pending.get(edge);
      if (!c) { pending.set(edge, { edge, lastSeen: at, ...(healthJson !== undefined && { healthJson }) }); return; }
      c.lastSeen = Math.max(c.lastSeen, at);
      if (healthJson !== undefined) c.healthJson = healthJson;
    },
    flush: async () => { await running; await flush(); },
    stop: async () => { if (timer) clearInterval(timer); await running; await flush(); },
  };
}

/**
 * Send slots for bundle bodies (0.1-0.6 MB each at 1,000 edges): a fan-out that answered every held poll at
 * once queued ~150 MB of TLS writes in one turn, and the health reports behind it timed out. A body holds a
 * slot until its response has been handed to the kernel ('finish') or its connection closed. Resolves with the
 * slot's release function (idempotent).
 */
function sendSlots(n: number): () => Promise<() => void> {
  let free = n;
  const queue: (() => void)[] = [];
  const grant = (resolve: (release: () => void) => void) => {
    let held = true;
    resolve(() => {
      if (!held) return;
      held = false;
      const next = queue.shift();
      if (next) next(); else free++;
    });
  };
  return () => new Promise((resolve) => {
    if (free > 0) { free--; grant(resolve); } else queue.push(() => grant(resolve));
  });
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

/**
 * Starts the edge API.
 * @example
 * const api = await startEdgeApi({ store, ca, tls: { key, cert }, signingKeys: [pub], host: '0.0.0.0', port: 8443 });
 */
export async function startEdgeApi(opts: EdgeApiOptions): Promise<EdgeApi> {
  const { store, ca } = opts;
  const now = opts.now ?? Date.now;
  const memTelemetry: unknown[] = [];
  const signingKeys = opts.signingKeys.map((k) => k.export({ type: 'spki', format: 'pem' }).toString());
  const polls = new Set<ServerResponse>();
  const write = groupCommit(store);
  const contacts = contactLog(store, opts.contactFlushMs ?? 500);
  const slot = sendSlots(opts.bundleSlots ?? 32);
  const peerOf = new WeakMap<TLSSocket, ReturnType<TLSSocket['getPeerCertificate']>>();
  // One bus listener for all polls: a fan-out to N edges then costs N wake-ups, not N × N listener calls.
  const waiters = new Map<string, Set<() => void>>();
  const onDesired = (e: EdgeEvent) => { if (e.kind === 'desired') for (const w of waiters.get(e.edge) ?? []) w(); };
  edgeBus(store).on('event', onDesired);

  const audit = (actor: string, action: string, target: string | null, outcome: 'ok' | 'denied' | 'error', detail: unknown) =>
    store.appendAudit({ at: now(), actor, action, target, outcome, detail }).catch(() => undefined);

  const server = createServer({ key: opts.tls.key, cert: opts.tls.cert, ca: [ca.certPem], requestCert: true, rejectUnauthorized: false });

  // A certificate that is presented must be good: refuse the connection before any request is read.
  server.on('secureConnection', (socket: TLSSocket) => {
    const peer = socket.getPeerCertificate();
    peerOf.set(socket, peer); // authenticate() reads it from here: once per connection
    if (!peer || Object.keys(peer).length === 0) return; // no certificate: enrolment only, checked per request
    if (!socket.authorized) {
      void audit('edge:?', 'edge.connect', null, 'denied', { reason: `certificate not from this CA: ${socket.authorizationError}`, subject: peer.subject?.CN ?? null, remote: socket.remoteAddress });
      socket.destroy();
      return;
    }
    socket.pause();
    void checkPeerCertificate(store, peer.serialNumber, now()).then((c) => {
      if (c.ok) { socket.resume(); return; }
      void audit(`edge:${peer.subject?.CN ?? '?'}`, 'edge.connect', null, 'denied', { reason: `certificate ${c.reason}`, serial: c.serial, remote: socket.remoteAddress });
      socket.destroy();
    }, () => socket.destroy());
  });

  async function body<T extends z.ZodType>(req: IncomingMessage, schema: T): Promise<z.infer<T>> {
    // Events, not `for await`: the async iterator cost a handful of promises per request at 1,000 reports a second.
    const text = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) { reject(new HttpError(413, `body larger than ${MAX_BODY} bytes`)); req.destroy(); return; }
        chunks.push(c);
      });
      req.on('end', () => resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
    let raw: unknown;
    try { raw = JSON.parse(text); } catch { throw new HttpError(400, 'body is not JSON'); }
    const r = schema.safeParse(raw);
    if (!r.success) {
      const i = r.error.issues[0]!;
      throw new HttpError(400, `${req.method} ${req.url}: body.${i.path.join('.') || '(root)'}: ${i.message}`);
    }
    return r.data;
  }

  /** The edge a request speaks for, from its client certificate; throws 401/403. */
  async function authenticate(req: IncomingMessage, action: string): Promise<string> {
    const socket = req.socket as TLSSocket;
    // The certificate of a connection does not change: read it once per socket (getPeerCertificate builds a new
    // object each call, ~6 % of the controller's CPU at 1,000 edges); the store check below still runs per request.
    let peer = peerOf.get(socket);
    if (!peer) { peer = socket.getPeerCertificate(); peerOf.set(socket, peer); }
    if (!peer || Object.keys(peer).length === 0 || !socket.authorized) {
      void audit('edge:?', action, null, 'denied', { reason: 'no valid client certificate', remote: socket.remoteAddress });
      throw new HttpError(401, 'a client certificate from this controller is required (enrol first)');
    }
    const c = await checkPeerCertificate(store, peer.serialNumber, now());
    if (!c.ok) {
      void audit(`edge:${peer.subject?.CN ?? '?'}`, action, null, 'denied', { reason: `certificate ${c.reason}`, serial: c.serial });
      throw new HttpError(403, `client certificate ${c.serial} is ${c.reason}`);
    }
    return c.edge;
  }

  async function enrol(req: IncomingMessage): Promise<unknown> {
    const b = await body(req, EnrolRequest);
    const t = parseEnrolmentToken(b.token);
    const remote = req.socket.remoteAddress;
    if (!t) { void audit('edge:?', 'edge.enrol', null, 'denied', { reason: 'malformed token', remote }); throw new HttpError(403, 'enrolment token is malformed (expected pt1.<secret>.<pin>)'); }
    // A bad CSR is refused before the token is spent.
    let cn: string | null;
    try { cn = (await readCsr(b.csr)).commonName; } catch (e) { throw new HttpError(400, (e as Error).message); }
    const consumed = await store.consumeEnrolmentToken(tokenSecretHash(t.secret), now());
    if (!consumed.ok) {
      void audit(`edge:${cn ?? '?'}`, 'edge.enrol', null, 'denied', { reason: `token ${consumed.reason}`, remote });
      throw new HttpError(403, `enrolment token ${consumed.reason === 'used' ? 'was already used' : consumed.reason === 'expired' ? 'has expired' : 'is not known'}`);
    }
    const edge = consumed.edge;
    let cert;
    try {
      cert = await issueEdgeCertificate(store, ca, b.csr, edge, opts.certDays);
    } catch (e) {
      void audit(`edge:${edge}`, 'edge.enrol', `edge:${edge}`, 'error', { reason: (e as Error).message });
      if (isPkiError(e)) throw new HttpError(400, `${(e as Error).message} (the token is spent; ask for a new one)`);
      throw e;
    }
    const t0 = now();
    await store.upsertEdge(edge, { enrolledAt: t0, lastSeen: t0, ...(b.inventory !== undefined && { inventory: b.inventory, inventoryAt: t0 }) });
    void audit(`edge:${edge}`, 'edge.enrol', `edge:${edge}`, 'ok', { serial: cert.serial, notAfter: cert.notAfter, remote });
    emitEdgeEvent(store, { kind: 'enrolled', edge });
    return { edge, certificate: cert.pem, serial: cert.serial, notAfter: cert.notAfter, caCertificate: ca.certPem, signingKeys };
  }

  /** The version and hash of the bundle the edge should run, without reading its envelope; null when none. */
  async function desiredHash(edge: string): Promise<{ version: number; hash: string } | null> {
    const e = await store.getEdge(edge);
    if (!e || e.desiredVersion === null) return null;
    const hash = await store.getBundleHash(e.desiredVersion, edge);
    return hash === null ? null : { version: e.desiredVersion, hash };
  }

  /** The edge's desired envelope when its hash differs from `have`, else null. */
  async function desiredFor(edge: string, have: string | null): Promise<{ version: number; hash: string; envelope: Buffer } | null> {
    // The hash first: a poll that already has the bundle reads no envelope.
    const h = await desiredHash(edge);
    if (!h || h.hash === have) return null;
    // The stored JSON goes out as it is: parsing and re-serialising 0.1-0.6 MB envelopes was ~10 % of the CPU at 1,000 edges.
    const b = await store.getBundleBytes(h.version, edge);
    if (!b || b.hash === have) return null;
    return { version: h.version, hash: b.hash, envelope: b.envelope };
  }

  async function bundle(req: IncomingMessage, res: ServerResponse, edge: string, url: URL): Promise<void> {
    const have = url.searchParams.get('have');
    const waitS = Math.min(MAX_WAIT_S, Math.max(0, Number(url.searchParams.get('wait') ?? 0) || 0));
    const send = (d: { version: number; hash: string; envelope: Buffer } | null) => {
      if (res.writableEnded) return;
      if (!d) { res.writeHead(204, { 'x-patronus-have': have ?? '' }); res.end(); return; }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': d.envelope.length + 1, 'x-patronus-version': String(d.version), etag: `"${d.hash}"` });
      res.write(d.envelope);
      res.end('\n');
    };
    /** A bundle body waits for a send slot, then is read (the newest desired one) and sent. */
    const sendBundle = async (): Promise<boolean> => {
      const release = await slot();
      try {
        if (res.writableEnded || res.destroyed) { release(); return true; }
        const d = await desiredFor(edge, have);
        if (!d) { release(); return false; }
        res.once('finish', release);
        res.once('close', release);
        send(d);
        return true;
      } catch (e) { release(); throw e; }
    };
    contacts.note(edge, now());
    // Only a poll with something to send takes a send slot.
    const h = await desiredHash(edge);
    if (h && h.hash !== have && await sendBundle()) return;
    if (waitS === 0) return send(null);
    // Long-poll: answer on the first desired-version change for this edge, or 204 after `wait` seconds.
    await new Promise<void>((resolve) => {
      const mine = waiters.get(edge) ?? waiters.set(edge, new Set()).get(edge)!;
      const finish = () => {
        clearTimeout(timer); mine.delete(onDesired); if (!mine.size) waiters.delete(edge);
        req.off('close', finish); polls.delete(res); resolve();
      };
      const onDesired = () => void sendBundle().then((sent) => { if (sent) finish(); }, () => undefined);
      const timer = setTimeout(() => { send(null); finish(); }, waitS * 1000);
      mine.add(onDesired);
      req.on('close', finish);
      polls.add(res);
    });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
    const url = new URL(req.url ?? '/', 'https://edge-api');
    const key = `${req.method} ${url.pathname}`;
    if (key === 'POST /v1/enrol') return enrol(req);
    const known = ['POST /v1/renew', 'PUT /v1/inventory', 'GET /v1/bundle', 'POST /v1/ack', 'POST /v1/health'];
    if (!known.includes(key)) throw new HttpError(404, `no endpoint ${key} (known: POST /v1/enrol, ${known.join(', ')})`);
    const edge = await authenticate(req, key);
    switch (key) {
      case 'POST /v1/renew': {
        const b = await body(req, RenewRequest);
        try {
          const cert = await issueEdgeCertificate(store, ca, b.csr, edge, opts.certDays);
          void audit(`edge:${edge}`, 'cert.renew', `edge:${edge}`, 'ok', { serial: cert.serial, notAfter: cert.notAfter });
          return { edge, certificate: cert.pem, serial: cert.serial, notAfter: cert.notAfter, caCertificate: ca.certPem };
        } catch (e) {
          if (isPkiError(e)) throw new HttpError(400, (e as Error).message);
          throw e;
        }
      }
      case 'PUT /v1/inventory': {
        const b = await body(req, InventoryRequest);
        const t = now();
        await store.updateEdge(edge, { inventory: b.inventory, inventoryAt: t, lastSeen: t });
        return { ok: true };
      }
      case 'GET /v1/bundle':
        await bundle(req, res, edge, url);
        return undefined;
      case 'POST /v1/ack': {
        const b = await body(req, AckRequest);
        const t = now();
        const version = b.version ?? null;
        await write(async (tx) => {
          await tx.updateEdge(edge, { lastSeen: t, ...(b.ok && { appliedHash: b.hash, appliedVersion: version, appliedAt: t }) });
          await tx.appendAudit({ at: t, actor: `edge:${edge}`, action: 'bundle.ack', target: `edge:${edge}`, outcome: b.ok ? 'ok' : 'error', detail: { hash: b.hash, version, reason: b.reason ?? null } });
        });
        emitEdgeEvent(store, { kind: 'ack', edge, version, hash: b.hash, ok: b.ok, reason: b.reason ?? null });
        return { ok: true };
      }
      case 'POST /v1/health': {
        const b = await body(req, HealthRequest);
        const t = now();
        if (opts.healthSink) {
          try { opts.healthSink({ edge, receivedAt: t, health: b.health, telemetry: b.telemetry ?? [] }); } catch (e) { throw new HttpError(503, `health report not accepted: ${(e as Error).message}`); }
        }
        contacts.note(edge, t, JSON.stringify({ ...b.health, receivedAt: t }));
        if (b.telemetry?.length && !opts.healthSink) {
          const lines = b.telemetry.map((r) => ({ edge, receivedAt: t, ...r }));
          if (opts.telemetryFile) appendFileSync(opts.telemetryFile, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
          else { memTelemetry.push(...lines); if (memTelemetry.length > 10_000) memTelemetry.splice(0, memTelemetry.length - 10_000); }
        }
        emitEdgeEvent(store, { kind: 'health', edge });
        return { ok: true };
      }
    }
    return undefined;
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    route(req, res).then((out) => {
      if (out === undefined || res.writableEnded) return;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out) + '\n');
    }, (e: unknown) => {
      if (res.headersSent) { res.destroy(); return; }
      const status = e instanceof HttpError ? e.status : 500;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: (e as Error).message }) + '\n');
    });
  });

  // setDesired in this process wakes polls at once; changes written by other processes are found by this scan,
  // which reads the edges only when another connection has committed since the last look.
  const seen = new Map<string, number | null>();
  let scanning = false;
  let lastData: number | null = null;
  const scan = async () => {
    if (scanning) return;
    scanning = true;
    try {
      const data = await store.externalChanges();
      if (data === lastData) return;
      lastData = data;
      for (const e of await store.listDesiredVersions()) {
        const before = seen.get(e.edge);
        seen.set(e.edge, e.desiredVersion);
        if (before !== undefined && before !== e.desiredVersion && e.desiredVersion !== null) emitEdgeEvent(store, { kind: 'desired', edge: e.edge, version: e.desiredVersion });
      }
    } catch { lastData = null; /* store closing; the next scan tries again */ } finally { scanning = false; }
  };
  await scan();
  const scanTimer = (opts.scanMs ?? 500) > 0 ? setInterval(() => void scan(), opts.scanMs ?? 500) : undefined;
  scanTimer?.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: opts.port ?? 0, host: opts.host ?? '127.0.0.1', backlog: LISTEN_BACKLOG }, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host ?? '127.0.0.1';
  return {
    server, port,
    url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    telemetry: () => memTelemetry.slice(),
    flushContacts: () => contacts.flush(),
    close: () => new Promise<void>((resolve) => {
      if (scanTimer) clearInterval(scanTimer);
      edgeBus(store).off('event', onDesired);
      for (const r of polls) { r.writeHead(503, { 'content-type': 'application/json' }); r.end(JSON.stringify({ error: 'controller shutting down' }) + '\n'); }
      server.close(() => void contacts.stop().then(resolve, () => resolve()));
      server.closeAllConnections();
    }),
  };
}
