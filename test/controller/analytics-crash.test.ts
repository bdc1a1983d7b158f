// timeout: 180
/**
 * Faults lose no data: an edge streams health reports to a real `patronus controller serve` over mTLS while
 * the controller is SIGKILLed three times at random moments and started again. Every report the controller
 * answered 200 must end up in the analytics store exactly once — replayed from the write-ahead log the
 * killed process left behind, never duplicated.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EC_ALG, x509 } from '../../controller/pki/index.ts';
import { stateFiles } from '../../controller/store/index.ts';
import { AnalyticsStore } from '../../controller/analytics/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'pt-analytics-crash-'));
const files = stateFiles(dir);
let child: ChildProcess | null = null;
test.after(() => { child?.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); });

const freePort = () => new Promise<number>((resolve) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); }); });

/** Starts `controller serve` and waits for its "edge API on" line. */
function serve(port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'controller/cli/main.ts', 'controller', 'serve', '--state', dir, '--listen', `127.0.0.1:${port}`, '--operator-listen', 'none'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`serve did not start: ${out} ${err}`)); }, 60_000);
    p.stdout!.on('data', (d) => { out += d; if (out.includes('edge API on')) { clearTimeout(t); resolve(p); } });
    p.stderr!.on('data', (d) => { err += d; });
    p.on('exit', (code) => { clearTimeout(t); if (!out.includes('edge API on')) reject(new Error(`serve exited ${code}: ${err}`)); });
  });
}

function post(port: number, path: string, body: unknown, tls: { ca: string; key?: string; cert?: string }): Promise<{ status: number; body: any }> {
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, ...tls, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => { try { resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }); } catch (e) { reject(e); } });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

const leftovers = () => readdirSync(dir).filter((n) => n.startsWith('telemetry.wal') && statSync(join(dir, n)).size > 0);

test('health reports acknowledged before three SIGKILLs of the controller are all in the analytics store, once each', async () => {
  const token = spawnSync(process.execPath, ['--import', 'tsx', 'controller/cli/main.ts', 'controller', 'enrol-token', 'edge1', '--state', dir], { encoding: 'utf8' }).stdout.trim();
  assert.match(token, /^pt1\./);
  const ca = readFileSync(join(files.ca, 'cert.pem'), 'utf8');
  const port = await freePort();
  child = await serve(port);
  const keys = await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const csr = (await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=edge1', keys, signingAlgorithm: EC_ALG })).toString('pem');
  const enrolled = await post(port, '/v1/enrol', { token, csr }, { ca });
  assert.is(enrolled.status, 200, JSON.stringify(enrolled.body));
  const key = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END PRIVATE KEY-----\n`;
  const tls = { ca, key, cert: enrolled.body.certificate as string };

  const acked = new Set<number>();
  let n = 0, leftoverRounds = 0;
  for (let round = 0; round < 4; round++) {
    const last = round === 3;
    const stopAt = Date.now() + 1200 + Math.random() * 1500;
    const victim = child!;
    const exited = new Promise<void>((r) => victim.once('exit', () => r()));
    // Kill from a timer so the kill lands in the middle of the stream, whatever request is in flight.
    const killer = setTimeout(() => victim.kill(last ? 'SIGTERM' : 'SIGKILL'), stopAt - Date.now());
    for (;;) {
      const i = ++n;
      try {
        const r = await post(port, '/v1/health', { health: { at: `n:${i}`, healthy: true, paths: [{ id: 1, peer: 'edge2', transport: 'inet', state: 'up', rttMs: i, loss: 0 }] } }, tls);
        if (r.status === 200) acked.add(i);
      } catch { break; } // the controller is gone
    }
    clearTimeout(killer);
    await exited;
    if (last) break;
    if (leftovers().length) leftoverRounds++;
    child = await serve(port);
  }
  child = null;
  assert.ok(acked.size > 20, `only ${acked.size} reports were acknowledged`);
  assert.ok(leftoverRounds >= 1, 'no kill left unflushed reports behind, so nothing was replayed');
  const a = await AnalyticsStore.open(files.analytics, { readOnly: true });
  try {
    const rows = (await a.query('select reported_at, count(*) c, count(distinct seq) s from edge_health group by 1')).rows as { reported_at: string; c: number; s: number }[];
    const seen = new Map(rows.map((r) => [Number(r.reported_at.slice(2)), r.c]));
    const missing = [...acked].filter((i) => !seen.has(i));
    assert.equal(missing, [], `${missing.length} acknowledged reports lost`);
    const twice = rows.filter((r) => r.c !== 1);
    assert.equal(twice, [], 'reports stored more than once');
    const paths = (await a.query('select count(*) n from edge_paths')).rows[0]!.n;
    assert.is(paths, rows.length);
  } finally { await a.close(); }
  assert.not.ok(leftovers().length, 'the graceful stop left the log unflushed');
  assert.not.ok(existsSync(files.operatorEndpoint));
});

test.run();
