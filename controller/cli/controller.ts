/**
 * `patronus controller serve|enrol-token|certs|revoke|set-desired`: the edge API server (mTLS, docs/edge-api.md)
 * and its credentials, on the controller state directory (`--state DIR`, default .patronus/controller).
 *
 * `serve` also serves the operator API (controller/opapi: bearer tokens, no client certificates) on its own
 * port, HTTPS with the same server certificate, from the same store and signing key, and runs the promotion
 * workflows (controller/promotion: `runPromotions` resumes unfinished ones and picks up new ones; verification
 * runs the `--suite` scenarios on the twin).
 */
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { InputError } from '../../dataplane/errors.ts';
import { openStore, withStateStore, stateFiles, DEFAULT_STATE_DIR, type Store } from '../store/index.ts';
import { evictAfterRevocation, loadOrCreateSigningKey } from '../versions/index.ts';
import { CertificateAuthority, checkEdgeName, revokeEdgeCertificate } from '../pki/index.ts';
import { createEnrolmentToken, setDesired, startEdgeApi } from '../edgeapi/index.ts';
import { createOpApiHandler } from '../opapi/index.ts';
import { startAnalytics, withAnalyticsRoutes } from '../analytics/index.ts';
import { promotionActions, runPromotions, storeFleet, twinVerifier } from '../promotion/index.ts';
import { inventoryFromStore, noInventoryError } from '../versions/inventory.ts';
import { registerCommand } from './cli.ts';
import { table } from './format.ts';

const USAGE = `usage:
  patronus controller serve [--listen ADDR:PORT] [--operator-listen ADDR:PORT|none] [--san HOST]... [--cert-days N] [--telemetry FILE] [--suite DIR] [--state DIR]
  patronus controller enrol-token EDGE [--site SITE] [--ttl SECONDS] [--state DIR]
  patronus controller certs [EDGE] [--state DIR] [--json]
  patronus controller revoke SERIAL [--reason TEXT] [--state DIR]
  patronus controller set-desired VERSION EDGE... [--state DIR]
Defaults: --listen 127.0.0.1:8443, --operator-listen 127.0.0.1:8444, --cert-days 30, --ttl 86400, --telemetry <state>/telemetry.wal (the analytics write-ahead log), --suite scenarios.
`;

const OPTIONS = {
  state: { type: 'string' }, listen: { type: 'string' }, 'operator-listen': { type: 'string' }, san: { type: 'string', multiple: true }, 'cert-days': { type: 'string' },
  telemetry: { type: 'string' }, suite: { type: 'string' }, site: { type: 'string' }, ttl: { type: 'string' }, reason: { type: 'string' },
  json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

const actor = () => { try { return `cli:${userInfo().username}`; } catch { return 'cli:unknown'; } };
const bad = (flag: string, message: string) => new InputError(`patronus controller ${flag}`, [{ path: [], message }]);

/** `ADDR:PORT` or `[V6]:PORT` → host and port; InputError naming --listen otherwise. */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw bad('--listen', `expected ADDR:PORT (e.g. 0.0.0.0:8443 or [::1]:8443), got "${s}"`);
  return { host: m[1]!, port };
}

function positive(flag: string, s: string | undefined, dflt: number): number {
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) throw bad(flag, `expected a positive number, got "${s}"`);
  return n;
}

const withStore = withStateStore;

async function serve(v: Record<string, unknown>, state: string): Promise<number> {
  const { host, port } = parseListen((v.listen as string | undefined) ?? '127.0.0.1:8443');
  const opRaw = (v['operator-listen'] as string | undefined) ?? '127.0.0.1:8444';
  const op = opRaw === 'none' ? null : parseListen(opRaw);
  const certDays = positive('--cert-days', v['cert-days'] as string | undefined, 30);
  // The server certificate is issued afresh at every start, for the listen address and any --san names;
  // a wildcard listen address is not a name a client can check, so it is left out.
  const named = (h: string) => (h === '0.0.0.0' || h === '::' ? [] : [h]);
  const sans = [...new Set([...named(host), ...(op ? named(op.host) : []), ...((v.san as string[] | undefined) ?? [])])];
  if (sans.length === 0) sans.push('localhost');
  for (const s of sans) if (!isIP(s) && !/^[A-Za-z0-9.-]+$/.test(s)) throw bad('--san', `expected a host name or IP address, got "${s}"`);
  // Every flag is checked above, before the state directory is touched.
  const files = stateFiles(state);
  const store = await openStore(files.store);
  const ca = await CertificateAuthority.open(files.root);
  const signing = loadOrCreateSigningKey(files.root);
  const server = await ca.issueServerCertificate(sans);
  const dir = join(files.root, 'edgeapi');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(`${dir}/server-key.pem.tmp`, server.keyPem, { mode: 0o600 });
  chmodSync(`${dir}/server-key.pem.tmp`, 0o600);
  renameSync(`${dir}/server-key.pem.tmp`, `${dir}/server-key.pem`);
  writeFileSync(`${dir}/server-cert.pem`, server.pem + ca.certPem);
  // The analytics store's single writer is this process; it replays what a killed predecessor left in the log.
  const analytics = await startAnalytics({ file: files.analytics, store, walFile: (v.telemetry as string | undefined) ?? files.telemetryWal });
  const api = await startEdgeApi({
    store, ca, tls: { key: server.keyPem, cert: server.pem + ca.certPem }, signingKeys: [signing.publicKey], host, port, certDays,
    healthSink: analytics.healthSink,
  });
  let opUrl: string | null = null;
  const log = (line: string) => process.stderr.write(`patronus controller: ${line}\n`);
  const ropts = { fleet: storeFleet(store), verify: twinVerifier({
    suite: (v.suite as string | undefined) ?? 'scenarios', log,
    onRuns: async (runFiles, version) => { for (const f of runFiles) await analytics.importRun(f, `verify:v${version}`); },
  }), log };
  const opServer = op ? createHttpsServer({ key: server.keyPem, cert: server.pem + ca.certPem }, withAnalyticsRoutes(analytics, store, createOpApiHandler({
    store, signingKey: signing.privateKey, promotions: promotionActions(store, ropts),
    inventory: async () => (await inventoryFromStore(store)) ?? Promise.reject(noInventoryError('operator API')),
  }))) : null;
  if (opServer && op) {
    await new Promise<void>((resolve, reject) => { opServer.once('error', reject); opServer.listen(op.port, op.host, () => resolve()); });
    opUrl = `https://${op.host.includes(':') ? `[${op.host}]` : op.host}:${(opServer.address() as AddressInfo).port}/api/v1/`;
    writeFileSync(files.operatorEndpoint, `${JSON.stringify({ pid: process.pid, url: opUrl })}\n`);
  }
  await store.appendAudit({ actor: actor(), action: 'controller.serve', target: null, outcome: 'ok', detail: { listen: api.url, operator: opUrl, sans, signingKey: signing.keyId } });
  process.stdout.write(`patronus controller: edge API on ${api.url}${opUrl ? `, operator API on ${opUrl}` : ''} (server certificate for ${sans.join(', ')}; signing key ${signing.keyId})\n`);
  const promotions = new AbortController();
  const loop = runPromotions(store, ropts.fleet, { ...ropts, signal: promotions.signal });
  await new Promise<void>((resolve) => { for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, () => resolve()); });
  promotions.abort();
  await loop.catch((e) => log(`promotion loop: ${(e as Error).message}`));
  const opClosed = new Promise<void>((resolve) => (opServer ? opServer.close(() => resolve()) : resolve()));
  opServer?.closeAllConnections();
  await opClosed;
  await api.close();
  await analytics.close();
  rmSync(files.operatorEndpoint, { force: true });
  await store.close();
  return 0;
}

async function runController(argv: string[]): Promise<number> {
  let parsed;
  try { parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }); } catch (e) {
    process.stderr.write(`patronus controller: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values: v, positionals: [sub, ...args] } = parsed;
  if (v.help || !sub) { (v.help ? process.stdout : process.stderr).write(USAGE); return v.help ? 0 : 2; }
  const state = v.state ?? DEFAULT_STATE_DIR;
  switch (sub) {
    case 'serve': return serve(v, state);
    case 'enrol-token': {
      if (args.length !== 1) throw bad('EDGE', 'expected exactly one edge name');
      try { checkEdgeName(args[0]!); } catch (e) { throw bad('EDGE', (e as Error).message); }
      const ttl = positive('--ttl', v.ttl, 86_400);
      const files = stateFiles(state);
      const ca = await CertificateAuthority.open(files.root);
      const token = await withStore(state, (s) => createEnrolmentToken(s, ca, args[0]!, { ttlMs: ttl * 1000, actor: actor(), ...(v.site && { site: v.site }) }));
      process.stdout.write(`${token}\n`);
      return 0;
    }
    case 'certs': return withStore(state, async (s) => {
      const certs = await s.listCertificates(args[0]);
      if (v.json) { process.stdout.write(`${JSON.stringify(certs.map(({ pem: _pem, ...c }) => c))}\n`); return 0; }
      const iso = (ms: number | null) => (ms === null ? '' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'));
      process.stdout.write(table([['SERIAL', 'EDGE', 'NOT AFTER', 'REVOKED', 'REASON'], ...certs.map((c) => [c.serial, c.edge, iso(c.notAfter), iso(c.revokedAt), c.reason ?? ''])]));
      return 0;
    });
    case 'revoke': {
      if (args.length !== 1 || !/^[0-9A-Fa-f]+$/.test(args[0]!)) throw bad('SERIAL', `expected one hex certificate serial, got "${args.join(' ')}"`);
      const serial = args[0]!.toUpperCase();
      return withStore(state, async (s) => {
        const done = await revokeEdgeCertificate(s, serial, v.reason ?? 'revoked by operator', actor());
        if (!done) { process.stdout.write(`not revoked: ${args[0]} is unknown or already revoked\n`); return 1; }
        process.stdout.write(`revoked ${serial}\n`);
        // The edge's last valid certificate: its peers drop it now, through a version desired fleet-wide.
        const ev = await evictAfterRevocation(s, serial, { signingKey: loadOrCreateSigningKey(stateFiles(state).root).privateKey, actor: actor() });
        if (ev) process.stdout.write(`version ${ev.version} evicts ${ev.edge}: desired on ${ev.edges.length} edge(s)${ev.blast ? `; ${ev.blast.summary}` : ''}\n`);
        return 0;
      });
    }
    case 'set-desired': {
      const [version, ...edges] = args;
      if (!version || !/^\d+$/.test(version) || edges.length === 0) throw bad('VERSION', 'expected a version number and at least one edge');
      await withStore(state, async (s) => {
        try {
          await setDesired(s, edges, Number(version));
          await s.appendAudit({ actor: actor(), action: 'edge.set-desired', target: `version:${version}`, outcome: 'ok', detail: { edges } });
        } catch (e) {
          await s.appendAudit({ actor: actor(), action: 'edge.set-desired', target: `version:${version}`, outcome: 'error', detail: { edges, error: (e as Error).message } });
          throw e;
        }
      });
      process.stdout.write(`version ${version} desired on ${edges.join(', ')}\n`);
      return 0;
    }
    default:
      process.stderr.write(`patronus controller: unknown sub-command "${sub}" (known: serve, enrol-token, certs, revoke, set-desired)\n${USAGE}`);
      return 2;
  }
}

registerCommand({ name: 'controller', summary: 'the edge API server (mTLS), enrolment tokens, certificates', run: runController });
