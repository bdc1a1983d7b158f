// timeout: 120
/**
 * Edge health over the real mTLS edge API into the analytics store (through the write-ahead log), promotion
 * transitions copied from the audit log, and the analytics routes of the operator API: roles, read-only
 * queries, run-file upload — also through `patronus analytics query` finding the running controller.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { generateKeyPairSync, webcrypto } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority, EC_ALG, x509 } from '../../controller/pki/index.ts';
import { createEnrolmentToken, startEdgeApi, type EdgeApi } from '../../controller/edgeapi/index.ts';
import { openStore, stateFiles, type Store } from '../../controller/store/index.ts';
import { createOpApiHandler, createOperatorToken } from '../../controller/opapi/index.ts';
import { startAnalytics, healthRows, TelemetryBackpressureError, TelemetryLog, AnalyticsStore, withAnalyticsRoutes, type ControllerAnalytics } from '../../controller/analytics/index.ts';
import { RunStore } from '../../scenarios/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'pt-analytics-tel-'));
const files = stateFiles(dir);
let store: Store, ca: CertificateAuthority, api: EdgeApi, a: ControllerAnalytics, op: Server, opUrl: string;
let edgeKey = '', edgeCert = '', viewer = '', operator = '';

function call(base: string, method: string, path: string, o: { body?: Buffer | unknown; key?: string; cert?: string; token?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: any }> {
  const data = o.body === undefined ? undefined : Buffer.isBuffer(o.body) ? o.body : Buffer.from(JSON.stringify(o.body));
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), {
      method, agent: false, ca: ca.certPem, ...(o.key && { key: o.key, cert: o.cert }),
      headers: { ...(data && !Buffer.isBuffer(o.body) && { 'content-type': 'application/json' }), ...(o.token && { authorization: `Bearer ${o.token}` }), ...o.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => { const t = Buffer.concat(chunks).toString('utf8'); resolve({ status: res.statusCode ?? 0, body: t ? JSON.parse(t) : null }); });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

const health = (n: number) => ({
  at: `n:${n}`, node: 'edge1', healthy: n !== 2, reason: n === 2 ? 'no path to edge2 is up (down)' : null, slaCompliance: 0.99,
  bundle: { hash: 'ab'.repeat(32), source: 'pushed' }, lastError: null, commitConfirmed: { hash: 'ab'.repeat(32), version: 1, ok: true, reason: null },
  paths: [{ id: 1, peer: 'edge2', transport: 'inet', state: n === 2 ? 'down' : 'up', rttMs: 20 + n, loss: 0 }, { id: 2, peer: 'edge2', transport: 'mpls', state: 'up', rttMs: 8, loss: 0.01 }],
  bgp: [{ address: '10.0.0.1', asn: 65001, state: 'Established' }],
});

test.before(async () => {
  store = await openStore(':memory:');
  ca = await CertificateAuthority.open(dir);
  a = await startAnalytics({ file: files.analytics, store, walFile: files.telemetryWal, flushMs: 60_000 });
  const server = await ca.issueServerCertificate(['127.0.0.1']);
  const tls = { key: server.keyPem, cert: server.pem + ca.certPem };
  api = await startEdgeApi({ store, ca, tls, signingKeys: [generateKeyPairSync('ed25519').publicKey], healthSink: a.healthSink });
  const signing = generateKeyPairSync('ed25519');
  op = createHttpsServer(tls, withAnalyticsRoutes(a, store, createOpApiHandler({ store, signingKey: signing.privateKey, inventory: () => Promise.reject(new Error('no inventory')) })));
  await new Promise<void>((r) => op.listen(0, '127.0.0.1', () => r()));
  opUrl = `https://127.0.0.1:${(op.address() as AddressInfo).port}`;
  viewer = (await createOperatorToken(store, 'v', 'viewer', { actor: 'test' })).token;
  operator = (await createOperatorToken(store, 'o', 'operator', { actor: 'test' })).token;
  // Enrol edge1 the way an edge does: its own key, a CSR, the one-time token.
  const keys = await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const csr = (await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=edge1', keys, signingAlgorithm: EC_ALG })).toString('pem');
  const token = await createEnrolmentToken(store, ca, 'edge1');
  const r = await call(api.url, 'POST', '/v1/enrol', { body: { token, csr } });
  assert.is(r.status, 200, JSON.stringify(r.body));
  edgeCert = r.body.certificate;
  edgeKey = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END PRIVATE KEY-----\n`;
});
test.after(async () => {
  await new Promise<void>((r) => { op?.close(() => r()); op?.closeAllConnections(); });
  await api?.close();
  await a?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('health reports posted over mTLS are in the write-ahead log at once and in the analytics tables after a flush', async () => {
  for (let n = 1; n <= 3; n++) {
    const r = await call(api.url, 'POST', '/v1/health', { key: edgeKey, cert: edgeCert, body: { health: health(n), telemetry: [{ kind: 'counter', path: 1, bytes: n * 1000 }] } });
    assert.is(r.status, 200, JSON.stringify(r.body));
  }
  // Acknowledged means written: three lines in the log before any flush (the tick is a minute here).
  assert.is(readFileSync(files.telemetryWal, 'utf8').trim().split('\n').length, 3);
  await a.flush();
  assert.not.ok(existsSync(files.telemetryWal) && statSync(files.telemetryWal).size > 0, 'the log is emptied after the flush');
  const h = await a.analytics.query('select seq, edge, reported_at, healthy, reason, sla_compliance, paths_up, paths_down, bgp_established, commit_ok from edge_health order by seq');
  assert.equal(h.rows, [
    { seq: 1, edge: 'edge1', reported_at: 'n:1', healthy: true, reason: null, sla_compliance: 0.99, paths_up: 2, paths_down: 0, bgp_established: 1, commit_ok: true },
    { seq: 2, edge: 'edge1', reported_at: 'n:2', healthy: false, reason: 'no path to edge2 is up (down)', sla_compliance: 0.99, paths_up: 1, paths_down: 1, bgp_established: 1, commit_ok: true },
    { seq: 3, edge: 'edge1', reported_at: 'n:3', healthy: true, reason: null, sla_compliance: 0.99, paths_up: 2, paths_down: 0, bgp_established: 1, commit_ok: true },
  ]);
  const p = await a.analytics.query("select seq, state, rtt_ms from edge_paths where transport = 'inet' order by seq");
  assert.equal(p.rows, [{ seq: 1, state: 'up', rtt_ms: 21 }, { seq: 2, state: 'down', rtt_ms: 22 }, { seq: 3, state: 'up', rtt_ms: 23 }]);
  const t = await a.analytics.query('select kind, record from edge_telemetry order by seq');
  assert.equal(t.rows.map((r) => [r.kind, JSON.parse(String(r.record)).bytes]), [['counter', 1000], ['counter', 2000], ['counter', 3000]]);
  // The edge's latest health is still stored on the edge, as before.
  await api.flushContacts();
  assert.is(((await store.getEdge('edge1'))!.health as { at: string }).at, 'n:3');
});

test('a full write-ahead log refuses reports (the edge API answers 503) instead of growing', async () => {
  const s = await AnalyticsStore.open(join(dir, 'small.duckdb'));
  try {
    const log = await TelemetryLog.open(s, join(dir, 'small.wal'), { maxLogBytes: 2000 });
    let taken = 0;
    try { for (;;) { log.append({ edge: 'e', receivedAt: 1, health: health(1) }); taken++; } } catch (e) { assert.instance(e, TelemetryBackpressureError); }
    assert.ok(taken >= 1 && taken < 10, `took ${taken}`);
    assert.is(await log.flush(), taken);
    log.append({ edge: 'e', receivedAt: 2, health: health(2) });
    assert.is((await s.query('select count(*) n from edge_health')).rows[0]!.n, taken);
  } finally { await s.close(); }
});

test('a log file replayed after its rows were committed (a crash before its delete) adds nothing twice, and numbering continues', async () => {
  const s = await AnalyticsStore.open(join(dir, 'replay.duckdb'));
  try {
    const wal = join(dir, 'replay.wal');
    const log = await TelemetryLog.open(s, wal);
    for (let i = 1; i <= 5; i++) log.append({ edge: 'e', receivedAt: i, health: health(i) });
    const saved = readFileSync(wal);
    assert.is(await log.flush(), 5);
    writeFileSync(`${wal}.9`, saved);
    const again = await TelemetryLog.open(s, wal);
    assert.is(again.append({ edge: 'e', receivedAt: 6, health: health(6) }), 6);
    assert.is(await again.flush(), 1);
    assert.equal((await s.query('select count(*) n, count(distinct seq) d, max(seq) m from edge_health')).rows[0], { n: 6, d: 6, m: 6 });
    assert.not.ok(existsSync(`${wal}.9`));
  } finally { await s.close(); }
});

test('the import in SQL (healthImportSql) gives the rows healthRows defines, on odd input too; a torn last line is skipped', async () => {
  const s = await AnalyticsStore.open(join(dir, 'equiv.duckdb'));
  try {
    const wal = join(dir, 'equiv.wal');
    const log = await TelemetryLog.open(s, wal, { log: () => undefined });
    const odd: Record<string, unknown>[] = [
      health(1),
      {}, // nothing at all
      { at: 5, healthy: 'yes', reason: { why: ['x'] }, slaCompliance: '0.5', bundle: 'not-an-object', commitConfirmed: 7, lastError: 'boom',
        paths: [5, { id: 2.4, peer: null, state: 'up', rttMs: 'slow', compliant: ['voice', 'video'] }, { state: 'down', compliant: 'voice' }], bgp: 'none' },
      { at: null, healthy: false, commitConfirmed: { ok: 'true' }, paths: { state: 'up' }, bgp: [{ state: 'Idle', asn: 65000.0, address: 7 }, {}] },
    ];
    const entries = odd.map((h, i) => ({ edge: `e${i}`, receivedAt: 1000 + i, health: h, telemetry: i === 2 ? [{ kind: 'x', v: [1, 2] }, 'str' as unknown as Record<string, unknown>, { kind: 3 }] : i === 0 ? [{ kind: 'counter', bytes: 1 }] : [] }));
    const seqs = entries.map((e) => log.append(e));
    writeFileSync(wal, readFileSync(wal, 'utf8') + '{"seq":99,"edge":"e9","rec'); // a write cut short by a crash
    assert.is(await log.flush(), entries.length);
    const want = entries.map((e, i) => healthRows({ ...e, seq: seqs[i]! }));
    for (const t of ['edge_health', 'edge_paths', 'edge_bgp', 'edge_telemetry'] as const) {
      const got = (await s.query(`select * from ${t}`)).rows;
      // An INTEGER column rounds a fractional id; JSON text columns are compared parsed (DuckDB writes them back
      // minified, key order kept); rows as a sorted multiset.
      const norm = (rows: Record<string, unknown>[]) => rows.map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k,
        (k === 'health' || k === 'record') && typeof v === 'string' ? JSON.parse(v) : k === 'path_id' && typeof v === 'number' ? Math.round(v) : v])))).sort();
      assert.equal(norm(got), norm(want.flatMap((w) => w[t])), t);
      assert.ok(got.length > 0, `${t} has rows`);
    }
  } finally { await s.close(); }
});

test('promotion transitions are copied from the audit log once, with their times', async () => {
  for (const id of [1, 2]) await store.insertVersion({ parent: id === 1 ? null : 1, author: 't', message: '', intentYaml: `v${id}`, intentHash: String(id).repeat(64), restores: null, report: null }, []);
  await store.createPromotion({ id: 'p1', version: 2, fromVersion: 1, status: 'validating', snapshot: null });
  await store.appendAudit({ at: 1000, actor: 'ci', action: 'promotion.start', target: 'promotion:p1', outcome: 'ok', detail: { version: 2 } });
  await store.appendAudit({ at: 2000, actor: 'controller', action: 'promotion.step', target: 'promotion:p1', outcome: 'ok', detail: { status: 'canary' } });
  await store.appendAudit({ at: 3000, actor: 'controller', action: 'promotion.step', target: 'promotion:p1', outcome: 'error', detail: { status: 'rolled-back', reason: 'edge1 unhealthy' } });
  await a.flush();
  await a.flush();
  const r = await a.analytics.query('select at_ms, promotion_id, version, from_version, status, outcome from promotion_events order by audit_id');
  assert.equal(r.rows, [
    { at_ms: 1000, promotion_id: 'p1', version: 2, from_version: 1, status: 'started', outcome: 'ok' },
    { at_ms: 2000, promotion_id: 'p1', version: 2, from_version: 1, status: 'canary', outcome: 'ok' },
    { at_ms: 3000, promotion_id: 'p1', version: 2, from_version: 1, status: 'rolled-back', outcome: 'error' },
  ]);
});

test('the operator API: viewers query (reads only), operators upload run files (idempotent), others are refused and audited', async () => {
  const q = (token: string | undefined, sql: string) => call(opUrl, 'POST', '/api/v1/analytics/query', { token, body: { sql } });
  const ok = await q(viewer, 'select count(*) n from edge_health');
  assert.is(ok.status, 200);
  assert.equal(ok.body, { columns: ['n'], rows: [{ n: 3 }], truncated: false });
  assert.is((await q(undefined, 'select 1')).status, 401);
  assert.is((await q('ptk_nope', 'select 1')).status, 401);
  const del = await q(viewer, 'delete from edge_health');
  assert.is(del.status, 400);
  assert.match(del.body.error, /only SELECT/);
  assert.match((await q(viewer, "select * from read_text('/etc/hostname')")).body.error, /disabled by configuration/);
  assert.is((await q(viewer, 'select count(*) n from edge_health')).body.rows[0].n, 3);

  const run = join(dir, 'up.duckdb');
  const s = await RunStore.create(run);
  await s.append('runs', [{ run_id: 'up1', scenario: 'isp-cut', verdict: 'pass' }]);
  await s.append('events', [{ run_id: 'up1', t_ms: 1, fired_ms: 1, kind: 'cut', target: 'x', detail: '{}', error: null }]);
  s.close();
  const upload = (token: string, body: Buffer, name: string) => call(opUrl, 'POST', '/api/v1/analytics/runs', { token, body, headers: { 'content-type': 'application/octet-stream', 'x-patronus-file': name } });
  const denied = await upload(viewer, readFileSync(run), 'up.duckdb');
  assert.is(denied.status, 403);
  assert.match(denied.body.error, /needs role operator/);
  const first = await upload(operator, readFileSync(run), 'up.duckdb');
  assert.is(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body.runs, [{ runId: 'up1', scenario: 'isp-cut', imported: true, rows: 2 }]);
  assert.is((await upload(operator, readFileSync(run), 'up.duckdb')).body.runs[0].imported, false);
  const junk = await upload(operator, Buffer.from('garbage'.repeat(1000)), 'junk.duckdb');
  assert.is(junk.status, 400);
  assert.match(junk.body.error, /^junk\.duckdb: \(top level\): not a DuckDB database file/);
  assert.is((await q(viewer, 'select count(*) n from runs')).body.rows[0].n, 1);
  const audit = await store.listAudit({ action: 'analytics.import' });
  assert.equal(audit.map((e) => e.outcome).sort(), ['denied', 'error', 'ok', 'ok']);
});

test('patronus analytics query goes through the running controller (found in operator-api.json) and needs a token', async () => {
  writeFileSync(files.operatorEndpoint, JSON.stringify({ pid: process.pid, url: `${opUrl}/api/v1/` }));
  const cli = (env: Record<string, string>, ...args: string[]) => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    // Async spawn: this process serves the API the CLI calls.
    const p = spawn(process.execPath, ['--import', 'tsx', 'controller/cli/main.ts', 'analytics', ...args, '--state', dir], { env: { ...process.env, PATRONUS_TOKEN: '', ...env } });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
  const r = await cli({ PATRONUS_TOKEN: viewer }, 'query', 'select edge, count(*) n from edge_health group by 1', '--json');
  assert.is(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).rows, [{ edge: 'edge1', n: 3 }]);
  const none = await cli({}, 'query', 'select 1');
  assert.is(none.status, 2);
  assert.match(none.stderr, /owns the analytics store; give an operator API token/);
  rmSync(files.operatorEndpoint);
});

test.run();
