/**
 * bench/lib/edge-sim.ts — one worker process of simulated edges for bench/controller-load.ts, forked with an
 * IPC channel. Each edge speaks the edge API (docs/edge-api.md) the way dataplane/agent/controller-client.ts
 * does: its own client certificate and keep-alive HTTPS agent (maxSockets 4, so the held long-poll and the
 * health reports use their own TLS connections), `GET /v1/bundle?have=…&wait=…` held as a long-poll, a
 * signature check with `verifySignedBundle` before acking the hash (in a worker thread,
 * bench/lib/verify-thread.ts), and a health report — here with telemetry records — once per `healthIntervalMs`, fired on a fixed schedule (not after the previous answer) so a slow
 * server cannot lower the offered load (no coordinated omission). Every request's latency (request start to
 * last body byte, ms) is recorded under the phase the orchestrator last announced. `start` takes `rampMs`: edge i
 * starts its loops i/n of it later, as `sync` does, so the second TLS connection every edge opens then (its
 * held poll takes the first) is not a connect storm. With PT_SIM_TRACE=PREFIX in the environment each worker
 * writes PREFIX.<pid>.json on `stop`: every request over 200 ms (start time, ms, reused socket or not, ms to
 * the socket and to the TLS handshake) and the worker's event-loop stalls over 100 ms — where a tail comes from.
 *
 * Messages in (from the orchestrator): `init`, `sync`, `start`, `phase`, `stop`. Out: `ready`, `synced`,
 * `acked` (one per edge that verified and acked a bundle it got on its long-poll), `warm` (every edge had a
 * health report answered since `start`: its connections are open), `result`.
 */
import { Agent as HttpsAgent, request } from 'node:https';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

/** One simulated edge: its name and its client key and certificate (PEM). */
export interface SimEdge { name: string; keyPem: string; certPem: string }

/** The first message a worker gets. */
export interface InitMessage {
  type: 'init';
  /** Edge API origin, e.g. `https://127.0.0.1:8443`. */
  url: string;
  /** The controller CA (PEM): clients check the server against it. */
  caPem: string;
  /** Bundle-signing public keys (SPKI PEM) the edges trust. */
  signingKeys: string[];
  edges: SimEdge[];
  /** Long-poll wait the edges ask for, s (the agent's default is 25). */
  pollWaitS: number;
  /** Health + telemetry report period per edge, ms. */
  healthIntervalMs: number;
  /** Period of the full bundle fetch (`wait=0`, no `have`) per edge during the steady phase, ms; 0 = none. */
  fetchIntervalMs: number;
  /** Telemetry records per health report. */
  telemetryRecords: number;
}

/** Latency samples (ms) of one phase, by request kind. */
export type PhaseSamples = Record<'connect' | 'health' | 'fetch' | 'ack' | 'poll', number[]>;

/** The last message a worker sends. */
export interface ResultMessage {
  type: 'result';
  samples: Record<string, PhaseSamples>;
  /** Failed requests per `phase/kind`, and the first few messages. */
  errors: Record<string, number>;
  errorSamples: string[];
  /** This process's CPU over its life, µs, and its event-loop delay, ms. */
  cpu: { user: number; system: number };
  lag: { p50: number; p99: number; max: number };
  /** Requests sent again after the server closed the idle keep-alive socket they went out on. */
  resets: number;
  /** Time to parse and verify each envelope, ms. */
  verifyMs: number[];
}

interface EdgeState extends SimEdge {
  agent: HttpsAgent;
  have: string | null;
}

const KINDS = ['connect', 'health', 'fetch', 'ack', 'poll'] as const;
let cfg: InitMessage;
let edges: EdgeState[] = [];
let phase = 'idle';
let running = false;
const samples: Record<string, PhaseSamples> = {};
const errors: Record<string, number> = {};
const errorSamples: string[] = [];
const lag = monitorEventLoopDelay({ resolution: 10 });

const send = (m: unknown) => process.send!(m);

function record(kind: (typeof KINDS)[number], ms: number): void {
  const p = (samples[phase] ??= { connect: [], health: [], fetch: [], ack: [], poll: [] });
  p[kind].push(ms);
}

function fail(kind: string, edge: string, e: unknown): void {
  const k = `${phase}/${kind}`;
  errors[k] = (errors[k] ?? 0) + 1;
  if (errorSamples.length < 10) errorSamples.push(`${k} ${edge}: ${(e as Error).message}`);
}

interface Reply { status: number; body: Buffer; headers: Record<string, string | string[] | undefined>; ms: number }

function call(e: EdgeState, method: string, path: string, body: unknown, timeoutMs: number, retry = true): Promise<Reply> {
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const u = new URL(path, cfg.url);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(u, {
      method, agent: e.agent, timeout: timeoutMs,
      headers: { accept: 'application/json', ...(data && { 'content-type': 'application/json', 'content-length': data.length }) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const ms = performance.now() - t0;
        if (process.env.PT_SIM_TRACE && ms > 200) slowTrace.push({ at: Math.round(t0 + performance.timeOrigin), ms: Math.round(ms), path: u.pathname, method, reused: req.reusedSocket, sock: tSock === null ? null : Math.round(tSock - t0), conn: tConn === null ? null : Math.round(tConn - t0), phase });
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers, ms });
      });
      res.on('error', reject);
    });
    let tSock: number | null = null, tConn: number | null = null;
    req.on('socket', (sk) => { tSock = performance.now(); if ((sk as unknown as { connecting: boolean }).connecting) sk.once('secureConnect', () => { tConn = performance.now(); }); });
    req.on('timeout', () => req.destroy(new Error(`${method} ${u.pathname}: no answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      // The server closed an idle keep-alive socket as this request went out on it: Node's documented
      // remedy is to send again on a fresh socket. Counted, so the report shows how often it happened.
      if (req.reusedSocket && (err.code === 'ECONNRESET' || err.message === 'socket hang up') && retry) {
        resets++;
        call(e, method, path, body, timeoutMs, false).then(resolve, reject);
        return;
      }
      reject(err);
    });
    req.end(data);
  });
}
let resets = 0;
const slowTrace: unknown[] = [];
/** With PT_SIM_TRACE: every event-loop stall over 100 ms (when it ended, how long, the phase). */
const stalls: { at: number; ms: number; phase: string }[] = [];
if (process.env.PT_SIM_TRACE) {
  let last = performance.now();
  setInterval(() => {
    const t = performance.now();
    if (t - last > 150) stalls.push({ at: Math.round(t + performance.timeOrigin), ms: Math.round(t - last - 50), phase });
    last = t;
  }, 50).unref();
}
/** Parse + signature check + bundle schema check per verified envelope, ms (client-side work in the fan-out). */
const verifyMs: number[] = [];

function expect(r: Reply, ...ok: number[]): Reply {
  if (!ok.includes(r.status)) throw new Error(`status ${r.status}: ${r.body.toString('utf8').slice(0, 200)}`);
  return r;
}

/** The verification thread (bench/lib/verify-thread.ts) and its pending envelopes. */
let verifier: Worker | null = null;
const pendingVerify = new Map<number, { resolve: (hash: string) => void; reject: (e: Error) => void }>();
let verifyId = 0;
function verifyInThread(body: Buffer): Promise<string> {
  if (!verifier) {
    // A TypeScript worker: the thread registers tsx's loader itself (Node 20 does not apply --import to threads).
    const api = JSON.stringify(import.meta.resolve('tsx/esm/api')), file = JSON.stringify(new URL('./verify-thread.ts', import.meta.url).href);
    verifier = new Worker(`import(${api}).then((t) => { t.register(); return import(${file}); })`, { eval: true });
    verifier.unref();
    verifier.on('message', (m: { id: number; hash?: string; ms?: number; error?: string }) => {
      const p = pendingVerify.get(m.id);
      pendingVerify.delete(m.id);
      if (m.error !== undefined) p?.reject(new Error(`envelope refused: ${m.error}`));
      else { verifyMs.push(m.ms!); p?.resolve(m.hash!); }
    });
  }
  const id = ++verifyId;
  // A copy the thread owns (the reply Buffer may share a pooled ArrayBuffer), transferred, not cloned again.
  const ab = (body.buffer as ArrayBuffer).slice(body.byteOffset, body.byteOffset + body.byteLength);
  return new Promise((resolve, reject) => {
    pendingVerify.set(id, { resolve, reject });
    verifier!.postMessage({ id, body: ab, keys: cfg.signingKeys }, [ab]);
  });
}

/** Verifies an envelope as the agent does (in the verification thread) and acks its hash; returns the hash. */
async function verifyAndAck(e: EdgeState, r: Reply): Promise<{ hash: string; version: number | null }> {
  const hash = await verifyInThread(r.body);
  const v = Number(r.headers['x-patronus-version']);
  const version = Number.isInteger(v) ? v : null;
  const a = expect(await call(e, 'POST', '/v1/ack', { hash, version, ok: true, reason: null }, 10_000), 200);
  record('ack', a.ms);
  e.have = hash;
  return { hash, version };
}

function healthBody(e: EdgeState, seq: number): unknown {
  const t = Date.now();
  const paths = [1, 2, 3, 4].map((id) => ({ id, peer: id <= 2 ? 'hub' : 'e1', transport: id % 2 ? 'mpls' : 'inet', state: 'up', rttMs: 10 + (seq % 7), loss: 0 }));
  return {
    health: {
      at: new Date(t).toISOString(), node: e.name, healthy: true, reason: null, bundle: { hash: e.have }, lastError: null,
      paths, bgp: null, commitConfirmed: null,
    },
    telemetry: Array.from({ length: cfg.telemetryRecords }, (_, i) => ({
      kind: 'path', t, path: (i % 4) + 1, rttMs: 10 + ((seq + i) % 5), jitterMs: 0.5, loss: 0, txBytes: seq * 1000 + i, rxBytes: seq * 900 + i,
    })),
  };
}

async function syncEdge(e: EdgeState): Promise<boolean> {
  try {
    const h = expect(await call(e, 'POST', '/v1/health', healthBody(e, 0), 10_000), 200);
    record('connect', h.ms);
    const f = expect(await call(e, 'GET', '/v1/bundle?wait=0', undefined, 10_000), 200);
    record('fetch', f.ms);
    await verifyAndAck(e, f);
    return true;
  } catch (err) {
    fail('sync', e.name, err);
    return false;
  }
}

async function pollLoop(e: EdgeState): Promise<void> {
  while (running) {
    try {
      const r = expect(await call(e, 'GET', `/v1/bundle?wait=${cfg.pollWaitS}${e.have ? `&have=${e.have}` : ''}`, undefined, (cfg.pollWaitS + 15) * 1000), 200, 204);
      if (!running) return;
      if (r.status === 204) continue;
      const recvAt = Date.now();
      record('poll', r.ms);
      const { hash, version } = await verifyAndAck(e, r);
      send({ type: 'acked', edge: e.name, hash, version, recvAt, ackAt: Date.now() });
    } catch (err) {
      if (!running) return;
      fail('poll', e.name, err);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** Calls `fn` every `period` ms from a random offset, on a fixed schedule, until stop(). */
function every(period: number, fn: (seq: number) => void): void {
  let next = performance.now() + Math.random() * period;
  let seq = 0;
  let timer: NodeJS.Timeout;
  const tick = () => {
    if (!running) return;
    fn(seq++);
    next += period;
    timer = setTimeout(tick, Math.max(0, next - performance.now()));
  };
  timer = setTimeout(tick, Math.max(0, next - performance.now()));
  stoppers.push(() => clearTimeout(timer));
}
const stoppers: (() => void)[] = [];

/** Edges that had a health report answered since their loops started; `warm` goes out when all have. */
const warm = new Set<string>();
function warmed(e: EdgeState): void {
  if (warm.has(e.name)) return;
  warm.add(e.name);
  if (warm.size === edges.length) send({ type: 'warm' });
}

/** Starts every edge's long-poll, health and fetch loops, edge i after i/n of `rampMs`. */
function start(rampMs: number): void {
  running = true;
  warm.clear();
  edges.forEach((e, i) => {
    const t = setTimeout(() => startEdge(e), (i * rampMs) / edges.length);
    stoppers.push(() => clearTimeout(t));
  });
}

function startEdge(e: EdgeState): void {
  if (!running) return;
  void pollLoop(e);
  every(cfg.healthIntervalMs, (seq) => {
    call(e, 'POST', '/v1/health', healthBody(e, seq), 10_000).then((r) => { expect(r, 200); record('health', r.ms); warmed(e); })
      .catch((err) => fail('health', e.name, err));
  });
  if (cfg.fetchIntervalMs > 0) {
    every(cfg.fetchIntervalMs, () => {
      call(e, 'GET', '/v1/bundle?wait=0', undefined, 10_000).then((r) => { expect(r, 200); record('fetch', r.ms); })
        .catch((err) => fail('fetch', e.name, err));
    });
  }
}

function stop(): void {
  running = false;
  for (const s of stoppers) s();
  for (const e of edges) e.agent.destroy();
}

process.on('message', (m: { type: string; [k: string]: unknown }) => {
  void (async () => {
    switch (m.type) {
      case 'init': {
        cfg = m as unknown as InitMessage;
        edges = cfg.edges.map((s) => ({
          ...s, have: null,
          agent: new HttpsAgent({ key: s.keyPem, cert: s.certPem, ca: cfg.caPem, keepAlive: true, maxSockets: 4 }),
        }));
        lag.enable();
        send({ type: 'ready' });
        return;
      }
      case 'phase': phase = String(m.name); return;
      case 'sync': {
        // Spread over rampMs so the connect storm is not what is measured.
        const ramp = Number(m.rampMs);
        const ok = await Promise.all(edges.map((e, i) => new Promise<boolean>((r) => setTimeout(() => void syncEdge(e).then(r), (i * ramp) / edges.length))));
        send({ type: 'synced', ok: ok.filter(Boolean).length });
        return;
      }
      case 'start': start(Number(m.rampMs ?? 0)); return;
      case 'stop': {
        stop();
        lag.disable();
        const cpu = process.cpuUsage();
        const r: ResultMessage = {
          type: 'result', samples, errors, errorSamples, cpu: { user: cpu.user, system: cpu.system },
          lag: { p50: lag.percentile(50) / 1e6, p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 }, resets, verifyMs,
        };
        // Disconnect only once the (multi-megabyte) result has been written to the channel: disconnecting right
        // after send() lost it — the parent saw the worker exit without a result.
        if (process.env.PT_SIM_TRACE) (await import('node:fs')).writeFileSync(`${process.env.PT_SIM_TRACE}.${process.pid}.json`, JSON.stringify({ slowTrace, stalls, lagMax: lag.max / 1e6 }));
        process.send!(r, () => process.disconnect());
        return;
      }
    }
  })().catch((e) => { process.stderr.write(`edge-sim: ${(e as Error).stack}\n`); process.exit(1); });
});
process.on('disconnect', () => { stop(); setTimeout(() => process.exit(0), 100).unref(); });
