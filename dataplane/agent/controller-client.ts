/**
 * The agent's side of the controller's edge API (docs/edge-api.md): enrol once with a one-time token (the
 * key is generated here and never leaves the edge; the controller signs a CSR), report inventory, then loop —
 * long-poll the desired signed bundle, verify its signature, apply it, and **commit-confirm** it: within a
 * deadline the agent must find itself healthy (probed paths up to every peer, configured BGP neighbours
 * Established, the controller reachable) or it re-applies its last-good bundle by itself and acks
 * `ok:false` with the reason. Health is streamed every few seconds. Losing the controller never touches
 * forwarding: the agent keeps its bundle and retries with backoff.
 *
 * Files in `<stateDir>/controller/` (0600): key.pem, cert.pem, ca.pem, signing-keys.pem, enrolment.json.
 */
import { X509Certificate, createHash, createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request, Agent as HttpsAgent } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { verifySignedBundle } from '../bundle/signature.ts';
import type { Bundle } from '../bundle/schema.ts';
import type { AgentStatus } from './agent.ts';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { InventoryInterface } from '../inventory.ts';
import type { ReflexiveStatus } from './reflexive.ts';
import { InputError, validate } from '../errors.ts';

/** Commit-confirmed deadline (ms) when neither the bundle nor the agent's flag names one. */
export const DEFAULT_COMMIT_CONFIRM_MS = 30_000;

const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/**
 * A new P-256 key and a CSR for it (CN = the node). @peculiar/x509 (Node cannot build CSRs) is loaded only
 * here — enrolment and renewal — so an agent that is not renewing does not pay for it at start.
 */
async function newKeyAndCsr(node: string): Promise<{ keyPem: string; csrPem: string }> {
  await import('reflect-metadata'); // the library's dependency injection needs it evaluated first
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const keys = await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${node}`, keys, signingAlgorithm: EC_ALG });
  const keyPem = x509.PemConverter.encode(Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), 'PRIVATE KEY');
  return { keyPem, csrPem: csr.toString('pem') };
}

/** What the client needs from the agent (Agent implements it). */
export interface ControlledAgent {
  applyTentative(raw: unknown): Promise<string>;
  confirm(): void;
  revertToLastGood(): Promise<string | null>;
  currentBundle(): Bundle | undefined;
  getStatus(): AgentStatus;
  /** The edge's WireGuard keys (current, generation, next during a rotation), reported with the inventory. */
  wireguardKeys?(): { publicKey: string; generation: number; next?: { publicKey: string } };
  /** The WAN interfaces' reflexive endpoints (agent status `reflexive[]`), reported with the inventory. */
  reflexiveEndpoints?(): ReflexiveStatus[];
}

export interface ControllerClientOptions {
  /** `https://ADDR:PORT` of the edge API. */
  url: string;
  node: string;
  /** The agent's state dir; credentials go to `<stateDir>/controller/`. */
  stateDir: string;
  /** One-time token (`pt1.…`), needed only for the first start. */
  enrolToken?: string;
  agent: ControlledAgent;
  /**
   * Commit-confirmed deadline after an apply, ms, for bundles that name none themselves (a bundle's
   * `commitConfirmMs`, from the intent's `rollout.commitConfirm`, wins). Default 30,000.
   */
  commitConfirmMs?: number;
  /** Health report interval, ms. Default 5,000. A report waits at most 4 intervals (2 s … 10 s) for its answer. */
  healthIntervalMs?: number;
  /** Health reports kept while the controller cannot be reached, sent in order once it can (oldest dropped beyond). Default 2,000. */
  healthQueueMax?: number;
  /** Long-poll wait per request, s. Default 25. */
  pollWaitS?: number;
  /** Retry backoff bounds after a failed request, ms. Defaults 500 and 30,000. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Interface roles and transports the kernel cannot tell (see {@link DeclaredInventory}). */
  declared?: DeclaredInventory;
  /** Where progress lines go. Default stderr. */
  log?: (line: string) => void;
}

/** Result of the last commit-confirmed check, reported in health. */
export interface CommitResult {
  hash: string;
  version: number | null;
  ok: boolean;
  reason: string | null;
  at: string;
}

/**
 * Whether an agent is healthy enough to keep a new bundle: every peer with probed paths has at least one path
 * up (degraded counts as up: it forwards), every configured BGP neighbour is Established, and the controller
 * answered since the apply. Pure; `reasons` says what is missing.
 */
export function commitHealth(status: Pick<AgentStatus, 'paths' | 'bgp'>, bundle: Bundle, controllerReachable: boolean): { healthy: boolean; reasons: string[] } {
  const reasons: string[] = [];
  const peers = new Set(bundle.paths.filter((p) => p.probe).map((p) => p.peerNode));
  for (const peer of [...peers].sort()) {
    const states = status.paths.filter((p) => p.peer === peer).map((p) => p.state);
    if (!states.some((s) => s === 'up' || s === 'degraded')) reasons.push(`no path to ${peer} is up (${states.join(', ') || 'none probed'})`);
  }
  for (const n of status.bgp?.neighbors ?? []) {
    if (n.state !== 'Established') reasons.push(`BGP neighbour ${n.address} is ${n.state}`);
  }
  const configured = bundle.bgp.neighbors?.length ?? 0;
  if (configured > 0 && !status.bgp) reasons.push('BGP speaker not running');
  if (!controllerReachable) reasons.push('controller not reachable since the apply');
  return { healthy: reasons.length === 0, reasons };
}

interface Credentials { key: string; cert: string; ca: string; signingKeys: KeyObject[] }

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());

function writeSecret(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/**
 * What the operator declares about an edge's interfaces (the `--inventory FILE` of `patronus edge`): roles,
 * transports and gateways, which the kernel cannot tell. Addresses and MTU always come from the kernel.
 * @example { "interfaces": [{ "name": "wan0", "role": "wan", "transport": "inet", "gateway": "100.64.0.1" }, { "name": "lan0", "role": "lan" }] }
 */
export const DeclaredInventory = z.strictObject({
  interfaces: z.array(InventoryInterface.pick({ name: true, role: true, transport: true, gateway: true, vlan: true })),
});
export type DeclaredInventory = z.output<typeof DeclaredInventory>;

/** Reads and validates a declaration file (JSON or YAML); InputError naming the file and key path. */
export function loadDeclaredInventory(file: string): DeclaredInventory {
  let raw: unknown;
  try { raw = parseYaml(readFileSync(file, 'utf8')); } catch (e) {
    throw new InputError(file, [{ path: [], message: `cannot read or parse: ${(e as Error).message}` }]);
  }
  return validate(DeclaredInventory, raw, file);
}

/**
 * The edge's inventory report in the shape of {@link InventoryEdge} without node and site (the controller
 * adds those): interfaces with their addresses and MTU from `ip -j addr`; role, transport and gateway from
 * `declared`. Undeclared interfaces are reported as `mgmt` (the compiler leaves them alone); loopback and
 * interfaces with an MTU outside 576..9216 are left out.
 */
export async function localInventory(declared?: DeclaredInventory): Promise<{ interfaces: InventoryInterface[] }> {
  const { stdout } = await promisify(execFile)('ip', ['-j', 'addr', 'show']);
  const links = JSON.parse(stdout) as { ifname: string; mtu: number; addr_info?: { family: string; local: string; prefixlen: number }[] }[];
  const decl = new Map((declared?.interfaces ?? []).map((i) => [i.name, i]));
  return {
    interfaces: links.filter((l) => l.ifname !== 'lo' && l.mtu >= 576 && l.mtu <= 9216 && /^[A-Za-z0-9_.-]{1,15}$/.test(l.ifname)).map((l) => {
      const d = decl.get(l.ifname);
      return {
        name: l.ifname, role: d?.role ?? 'mgmt', mtu: l.mtu,
        ipv4: (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
        ipv6: (l.addr_info ?? []).filter((a) => a.family === 'inet6' && !a.local.startsWith('fe80:')).map((a) => `${a.local}/${a.prefixlen}`),
        ...(d?.transport !== undefined && { transport: d.transport }),
        ...(d?.gateway !== undefined && { gateway: d.gateway }),
        ...(d?.vlan !== undefined && { vlan: d.vlan }),
      };
    }),
  };
}

/** One change of the controller's reachability as this edge saw it: `at` (Unix ms, host clock), `reachable` after it. */
export interface ReachabilityChange { at: number; reachable: boolean; reason: string | null }

/** The controller link in the agent's status (`controller` in `GET /status`). */
export interface ControllerLinkStatus {
  url: string;
  enrolled: boolean;
  lastContactMs: number | null;
  lastCommit: CommitResult | null;
  /**
   * Whether the last request reached the controller (any HTTP answer) — false from the first request that got
   * no answer (refused, unroutable, timed out) until one gets an answer again; null before the first request.
   */
  reachable: boolean | null;
  /** When `reachable` last changed (Unix ms). */
  since: number | null;
  /** The last 20 changes, oldest first. */
  changes: ReachabilityChange[];
  /** Health reports waiting for the controller; delivered late after an outage (in order); dropped (queue full). */
  health: { queued: number; deliveredLate: number; dropped: number };
}

/** An HTTP failure from the controller (status 0 = no answer); `fatal`: retrying cannot help (wrong controller). */
export class ControllerError extends Error {
  override name = 'ControllerError';
  constructor(readonly status: number, message: string, readonly fatal = false) { super(message); }
}

/**
 * The edge API client loop.
 * @example
 * const c = new ControllerClient({ url: 'https://10.0.0.1:8443', node: 'edge1', stateDir, enrolToken, agent });
 * await c.start();   // enrols if needed, then runs until stop()
 */
export class ControllerClient {
  private creds?: Credentials;
  private tls?: HttpsAgent;
  private stopped = false;
  private lastContact = 0;
  private lastCommit: CommitResult | null = null;
  private loops: Promise<void>[] = [];
  private readonly dir: string;
  private readonly log: (line: string) => void;
  /** The hash the agent runs by the controller's word (confirmed or reverted-to), sent as `have`. */
  private have: string | null = null;
  /** Hashes refused (bad signature, failed commit), not retried until the controller changes its mind. */
  private refused = new Set<string>();
  private reachable: boolean | null = null;
  private since: number | null = null;
  private changes: ReachabilityChange[] = [];
  /** Health reports not yet accepted by the controller, oldest first (each flagged when it waited for a later tick). */
  private healthQueue: { body: Record<string, unknown>; late: boolean }[] = [];
  private healthStats = { deliveredLate: 0, dropped: 0 };
  private healthFlush: Promise<void> | null = null;
  private healthSeq = 0;

  constructor(private readonly opts: ControllerClientOptions) {
    this.dir = join(opts.stateDir, 'controller');
    this.log = opts.log ?? ((l) => process.stderr.write(`${l}\n`));
  }

  /** Status for the agent's own API. */
  status(): ControllerLinkStatus {
    return { url: this.opts.url, enrolled: !!this.creds, lastContactMs: this.lastContact || null, lastCommit: this.lastCommit,
      reachable: this.reachable, since: this.since, changes: [...this.changes], health: { queued: this.healthQueue.length, ...this.healthStats } };
  }

  /** Records an answer (true) or a request that got none (false); logs and keeps each change. */
  private reached(ok: boolean, reason: string | null): void {
    if (this.reachable === ok) return;
    const first = this.reachable === null;
    this.reachable = ok;
    this.since = Date.now();
    this.changes.push({ at: this.since, reachable: ok, reason });
    if (this.changes.length > 20) this.changes.shift();
    if (!first || !ok) this.log(`controller: ${ok ? 'reachable again' : `unreachable (${reason})`}; ${this.healthQueue.length} health reports queued`);
  }

  /** Enrol (first start) or load credentials, report inventory, and start the pull and health loops. */
  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.creds = this.load() ?? (await this.enrolWithRetry());
    this.tls = new HttpsAgent({ key: this.creds.key, cert: this.creds.cert, ca: this.creds.ca, keepAlive: true, maxSockets: 4 });
    this.have = this.opts.agent.getStatus().bundle?.hash ?? null;
    this.loops = [this.pullLoop(), this.healthLoop()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.tls?.destroy();
    await Promise.allSettled(this.loops);
  }

  private load(): Credentials | undefined {
    const f = (n: string) => join(this.dir, n);
    if (!['key.pem', 'cert.pem', 'ca.pem', 'signing-keys.pem'].every((n) => existsSync(f(n)))) return undefined;
    const pems = readFileSync(f('signing-keys.pem'), 'utf8').match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
    return { key: readFileSync(f('key.pem'), 'utf8'), cert: readFileSync(f('cert.pem'), 'utf8'), ca: readFileSync(f('ca.pem'), 'utf8'), signingKeys: pems.map((p) => createPublicKey(p)) };
  }

  private async enrolWithRetry(): Promise<Credentials> {
    const token = this.opts.enrolToken;
    if (!token) throw new ControllerError(0, `not enrolled (no credentials in ${this.dir}) and no --enrol-token given`);
    const m = /^pt1\.([A-Za-z0-9_-]+)\.([0-9a-f]{64})$/.exec(token.trim());
    if (!m) throw new ControllerError(0, 'enrolment token is malformed (expected pt1.<secret>.<pin> from "patronus controller enrol-token")');
    const { keyPem, csrPem } = await newKeyAndCsr(this.opts.node);
    const inventory = await this.inventoryReport().catch(() => undefined);
    for (let delay = this.opts.backoffMinMs ?? 500; ; delay = Math.min(delay * 2, this.opts.backoffMaxMs ?? 30_000)) {
      try {
        const r = await this.call('POST', '/v1/enrol', { token: token.trim(), csr: csrPem, inventory }, { pin: m[2]! }) as { certificate: string; caCertificate: string; signingKeys: string[]; serial: string };
        if (createHash('sha256').update(new X509Certificate(r.caCertificate).raw).digest('hex') !== m[2]) throw new ControllerError(0, 'the CA certificate in the reply does not match the token\'s pin', true);
        writeSecret(join(this.dir, 'key.pem'), keyPem);
        writeSecret(join(this.dir, 'cert.pem'), r.certificate);
        writeSecret(join(this.dir, 'ca.pem'), r.caCertificate);
        writeSecret(join(this.dir, 'signing-keys.pem'), r.signingKeys.join('\n'));
        writeSecret(join(this.dir, 'enrolment.json'), JSON.stringify({ url: this.opts.url, serial: r.serial, at: new Date().toISOString() }) + '\n');
        this.log(`controller: enrolled ${this.opts.node} at ${this.opts.url} (certificate ${r.serial})`);
        return { key: keyPem, cert: r.certificate, ca: r.caCertificate, signingKeys: r.signingKeys.map((p) => createPublicKey(p)) };
      } catch (e) {
        // A refused token will not become good by retrying.
        if (e instanceof ControllerError && (e.fatal || (e.status >= 400 && e.status < 500))) throw e;
        if (this.stopped) throw e;
        this.log(`controller: enrolment failed (${(e as Error).message}); retrying in ${delay} ms`);
        await sleep(delay);
      }
    }
  }

  /**
   * One JSON request. `pin`: enrolment, before the client trusts a CA — the server's chain must contain the
   * certificate with that sha256, checked before the body (the token) is sent.
   */
  private call(method: string, path: string, body?: unknown, o: { pin?: string; timeoutMs?: number; headers?: (h: Record<string, string | string[] | undefined>) => void; retried?: boolean } = {}): Promise<unknown> {
    const u = new URL(path, this.opts.url);
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const req = request(u, {
        method, timeout: o.timeoutMs ?? 10_000,
        headers: { accept: 'application/json', ...(data && { 'content-type': 'application/json', 'content-length': data.length }) },
        ...(o.pin ? { rejectUnauthorized: false, agent: false } : { agent: this.tls }),
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          this.lastContact = Date.now();
          this.reached(true, null);
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          o.headers?.(res.headers);
          if (status === 204) return resolve(null);
          let json: unknown = null;
          try { json = text ? JSON.parse(text) : null; } catch { return reject(new ControllerError(status, `${method} ${path}: reply is not JSON`)); }
          if (status >= 300) return reject(new ControllerError(status, `${method} ${path}: ${status} ${(json as { error?: string })?.error ?? ''}`));
          resolve(json);
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new ControllerError(0, `${method} ${path}: no answer within ${o.timeoutMs ?? 10_000} ms`)));
      req.on('error', (e) => {
        // A kept-alive connection the controller (or an outage) closed meanwhile fails at once when reused: that
        // says nothing about reachability. Send once more on a fresh connection (the request never got through).
        const code = (e as NodeJS.ErrnoException).code;
        if (req.reusedSocket && !o.retried && (code === 'ECONNRESET' || code === 'EPIPE') && !this.stopped) {
          this.call(method, path, body, { ...o, retried: true }).then(resolve, reject);
          return;
        }
        const err = e instanceof ControllerError ? e : new ControllerError(0, `${method} ${path}: ${e.message}`);
        // No answer at all (refused, unroutable, timed out): the controller is not reachable from here — unless
        // another request got an answer since this one started (a long-poll or report stuck from an outage).
        if (err.status === 0 && !err.fatal && !this.stopped && this.lastContact < started) this.reached(false, err.message);
        reject(err);
      });
      if (!o.pin) { req.end(data); return; }
      req.on('socket', (s) => (s as TLSSocket).once('secureConnect', () => {
        if (pinned(s as TLSSocket, o.pin!)) req.end(data);
        else req.destroy(new ControllerError(0, 'the controller\'s certificate chain does not contain the CA pinned by the token (wrong controller?); the token was not sent', true));
      }));
    });
  }

  private async pullLoop(): Promise<void> {
    let delay = this.opts.backoffMinMs ?? 500;
    const waitS = this.opts.pollWaitS ?? 25;
    while (!this.stopped) {
      try {
        const q = `/v1/bundle?wait=${waitS}${this.have ? `&have=${this.have}` : ''}`;
        let version: number | null = null;
        const env = await this.call('GET', q, undefined, { timeoutMs: (waitS + 15) * 1000, headers: (h) => { const v = Number(h['x-patronus-version']); version = Number.isInteger(v) ? v : null; } });
        delay = this.opts.backoffMinMs ?? 500;
        if (env === null) continue;
        await this.handleEnvelope(env, version);
      } catch (e) {
        if (this.stopped) return;
        this.log(`controller: ${(e as Error).message}; keeping the current bundle, retry in ${delay} ms`);
        await sleep(delay);
        delay = Math.min(delay * 2, this.opts.backoffMaxMs ?? 30_000);
      }
    }
  }

  private async handleEnvelope(env: unknown, version: number | null): Promise<void> {
    const claimed = typeof (env as { hash?: unknown })?.hash === 'string' ? (env as { hash: string }).hash : '0'.repeat(64);
    if (this.refused.has(claimed)) { await sleep(this.opts.backoffMaxMs ?? 30_000); return; }
    let bundle: Bundle;
    try {
      bundle = verifySignedBundle(env, this.creds!.signingKeys);
    } catch (e) {
      this.refused.add(claimed);
      this.log(`controller: refused bundle ${claimed.slice(0, 12)}: ${(e as Error).message}`);
      await this.ack(claimed, version, false, `not applied: ${(e as Error).message}`);
      return;
    }
    const applyAt = Date.now();
    try {
      await this.opts.agent.applyTentative(bundle);
    } catch (e) {
      this.refused.add(claimed);
      const back = await this.opts.agent.revertToLastGood().catch(() => null);
      await this.ack(claimed, version, false, `apply failed: ${(e as Error).message}${back ? `; reverted to ${back.slice(0, 12)}` : ''}`);
      return;
    }
    const result = await this.confirmWithin(bundle, applyAt);
    if (result.healthy) {
      this.opts.agent.confirm();
      this.have = claimed;
      this.record(claimed, version, true, null);
      // The last report the controller holds may be from inside the window (paths still down); the promotion's
      // soak starts on the ack and judges that report, so a fresh one goes first.
      await this.sendHealth().catch(() => undefined);
      await this.ack(claimed, version, true, null);
      this.log(`controller: bundle ${claimed.slice(0, 12)} applied and confirmed`);
      return;
    }
    const reason = `commit-confirmed failed after ${this.deadlineMs(bundle)} ms: ${result.reasons.join('; ')}`;
    const back = await this.opts.agent.revertToLastGood().catch((e) => { this.log(`controller: revert failed: ${(e as Error).message}`); return null; });
    this.refused.add(claimed);
    this.record(claimed, version, false, `${reason}; ${back ? `reverted to last-good ${back.slice(0, 12)}` : 'no last-good bundle to revert to'}`);
    this.log(`controller: ${this.lastCommit!.reason}`);
    await this.sendHealth().catch(() => undefined);
    await this.ack(claimed, version, false, this.lastCommit!.reason);
  }

  /** The commit-confirmed deadline of `bundle`: its own setting (the intent's), else the flag, else 30 s. */
  private deadlineMs(bundle: Bundle): number {
    return bundle.commitConfirmMs ?? this.opts.commitConfirmMs ?? DEFAULT_COMMIT_CONFIRM_MS;
  }

  /** Polls the agent's health every 250 ms until healthy or the deadline. */
  private async confirmWithin(bundle: Bundle, applyAt: number): Promise<{ healthy: boolean; reasons: string[] }> {
    const deadline = applyAt + this.deadlineMs(bundle);
    let last = { healthy: false, reasons: ['not checked'] };
    while (!this.stopped) {
      // The controller is reachable when a request went through after the apply; health reports keep trying.
      if (this.lastContact <= applyAt) await this.sendHealth().catch(() => undefined);
      last = commitHealth(this.opts.agent.getStatus(), bundle, this.lastContact > applyAt);
      if (last.healthy || Date.now() >= deadline) return last;
      await sleep(250);
    }
    return last;
  }

  private record(hash: string, version: number | null, ok: boolean, reason: string | null): void {
    this.lastCommit = { hash, version, ok, reason, at: new Date().toISOString() };
  }

  private async ack(hash: string, version: number | null, ok: boolean, reason: string | null): Promise<void> {
    for (let delay = this.opts.backoffMinMs ?? 500, i = 0; i < 6 && !this.stopped; i++, delay *= 2) {
      try { await this.call('POST', '/v1/ack', { hash, version, ok, reason }); return; } catch (e) {
        this.log(`controller: ack failed (${(e as Error).message}); retry in ${delay} ms`);
        await sleep(delay);
      }
    }
  }

  /**
   * Queues a fresh health report behind any the controller has not taken yet and sends the queue in order
   * (one request each, the protocol is unchanged); rejects at the first that gets no answer, keeping it and
   * the rest for the next try. Reports made while the controller is unreachable thus arrive after it, oldest
   * first, and the freshest is the edge's stored health at the end.
   */
  private sendHealth(): Promise<void> {
    this.healthQueue.push({ body: this.healthReport(), late: false });
    const max = this.opts.healthQueueMax ?? 2000;
    while (this.healthQueue.length > max) { this.healthQueue.shift(); this.healthStats.dropped++; }
    // One sender at a time; a running one takes the new report too (it sends until the queue is empty).
    this.healthFlush ??= this.flushHealth().finally(() => { this.healthFlush = null; });
    return this.healthFlush;
  }

  private async flushHealth(): Promise<void> {
    const timeoutMs = Math.min(10_000, Math.max(2000, 4 * (this.opts.healthIntervalMs ?? 5000)));
    while (this.healthQueue.length && !this.stopped) {
      const head = this.healthQueue[0]!;
      try {
        await this.call('POST', '/v1/health', { health: head.body }, { timeoutMs });
      } catch (e) {
        for (const q of this.healthQueue) q.late = true;
        throw e;
      }
      if (this.healthQueue[0] === head) this.healthQueue.shift();
      if (head.late) this.healthStats.deliveredLate++;
    }
  }

  private healthReport(): Record<string, unknown> {
    const s = this.opts.agent.getStatus();
    const bundle = this.opts.agent.currentBundle();
    // The same rule as commit-confirmed, minus the controller (this report reaching it is the proof).
    const h = bundle ? commitHealth(s, bundle, true) : { healthy: false, reasons: ['no bundle applied'] };
    return {
      // seq counts this process's reports from 1 (with pid): the controller's store shows whether any was lost.
      at: new Date().toISOString(), node: s.node, pid: s.pid, seq: ++this.healthSeq, healthy: h.healthy, reason: h.reasons.join('; ') || null,
      bundle: s.bundle, lastError: s.lastError,
      paths: s.paths.map((p) => ({ id: p.id, peer: p.peer, transport: p.transport, state: p.state, rttMs: p.srttMs, loss: p.loss })),
      bgp: s.bgp?.neighbors.map((n) => ({ address: n.address, asn: n.asn, state: n.state })) ?? null,
      commitConfirmed: this.lastCommit,
      // The soak gate reads slaCompliance (the worst class, 0..1); sla names every class (compliance.ts).
      // (An agent status without it — an older agent object — reports no figure rather than failing the report.)
      slaCompliance: s.sla?.slaCompliance ?? null, sla: s.sla ?? null,
    };
  }

  /**
   * Renews the client certificate with a fresh key (both replace the files only once the controller answered);
   * later requests use the new pair. The health loop calls it when two thirds of the lifetime have passed.
   * @returns the new certificate's serial.
   */
  async renew(): Promise<string> {
    const { keyPem, csrPem } = await newKeyAndCsr(this.opts.node);
    const r = await this.call('POST', '/v1/renew', { csr: csrPem }) as { certificate: string; serial: string };
    writeSecret(join(this.dir, 'key.pem'), keyPem);
    writeSecret(join(this.dir, 'cert.pem'), r.certificate);
    this.creds = { ...this.creds!, key: keyPem, cert: r.certificate };
    const old = this.tls;
    this.tls = new HttpsAgent({ key: keyPem, cert: r.certificate, ca: this.creds.ca, keepAlive: true, maxSockets: 4 });
    // Requests in flight (the long-poll) finish on the old agent's sockets.
    setTimeout(() => old?.destroy(), 60_000).unref();
    this.log(`controller: certificate renewed (${r.serial})`);
    return r.serial;
  }

  private renewDue(): boolean {
    const c = new X509Certificate(this.creds!.cert);
    const from = Date.parse(c.validFrom), to = Date.parse(c.validTo);
    return Date.now() > from + ((to - from) * 2) / 3;
  }

  /** The inventory's WireGuard fields (dataplane/inventory.ts) from the agent's key ring; none when it has no keys. */
  private keyReport(): { wireguardKey?: string; wireguardKeyGeneration?: number; wireguardKeyNext?: string } {
    const k = this.opts.agent.wireguardKeys?.();
    return k ? { wireguardKey: k.publicKey, wireguardKeyGeneration: k.generation, ...(k.next && { wireguardKeyNext: k.next.publicKey }) } : {};
  }

  /**
   * The WAN interfaces' reflexive endpoints as the agent learned them from its peers' probe echoes (status
   * `reflexive[]`), in the inventory's shape: the controller compiles peers to dial them (NAT traversal).
   */
  private reflexiveReport(): Map<string, NonNullable<InventoryInterface['reflexive']>> {
    const out = new Map<string, NonNullable<InventoryInterface['reflexive']>>();
    // Not getStatus(): the full status (BPF counters, events) every health interval twice was measurable lag.
    for (const r of this.opts.agent.reflexiveEndpoints?.() ?? []) {
      if (r.state !== 'learned' || r.address === null || r.port === null || r.mapping === null) continue;
      out.set(r.interface, { address: r.address, port: r.port, mapping: r.mapping, portPreserving: !!r.portPreserving });
    }
    return out;
  }

  /** The inventory report: the kernel's interfaces (with the operator's declarations), reflexive endpoints and WireGuard keys. */
  private async inventoryReport(): Promise<{ interfaces: InventoryInterface[] } & ReturnType<ControllerClient['keyReport']>> {
    const local = await localInventory(this.opts.declared);
    const refl = this.reflexiveReport();
    return { interfaces: local.interfaces.map((i) => (refl.has(i.name) ? { ...i, reflexive: refl.get(i.name)! } : i)), ...this.keyReport() };
  }

  private async healthLoop(): Promise<void> {
    let inventorySent = false, learnedSent = '';
    while (!this.stopped) {
      try {
        // Sent again when what the edge learned changes — WireGuard keys (a rotation started or ended), a reflexive
        // endpoint (a NAT mapping learned or moved): the controller compiles them into peers' bundles.
        const learned = JSON.stringify([this.keyReport(), [...this.reflexiveReport()]]);
        if (!inventorySent || learned !== learnedSent) { await this.call('PUT', '/v1/inventory', { inventory: await this.inventoryReport() }); inventorySent = true; learnedSent = learned; }
        if (this.renewDue()) await this.renew();
        // Not awaited: a report is made every interval even while the controller does not answer (they queue).
        const running = this.healthFlush !== null;
        const sent = this.sendHealth();
        if (!running) sent.catch((e) => { if (!this.stopped) this.log(`controller: health report failed: ${(e as Error).message}`); });
      } catch (e) {
        if (!this.stopped) this.log(`controller: health report failed: ${(e as Error).message}`);
      }
      await sleep(this.opts.healthIntervalMs ?? 5000);
    }
  }
}

/** True when the peer's presented chain holds a certificate whose DER sha256 is `pin` and that signed the leaf. */
function pinned(socket: TLSSocket, pin: string): boolean {
  let c = socket.getPeerCertificate(true);
  const leaf = c?.raw ? new X509Certificate(c.raw) : undefined;
  for (let i = 0; c && c.raw && i < 5; i++) {
    if (createHash('sha256').update(c.raw).digest('hex') === pin) {
      const ca = new X509Certificate(c.raw);
      return !!leaf && leaf.verify(ca.publicKey);
    }
    if (c.issuerCertificate === c) break;
    c = c.issuerCertificate;
  }
  return false;
}
