// timeout: 90
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { X509Certificate, generateKeyPairSync, webcrypto } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority, EC_ALG, revokeEdgeCertificate, x509 } from '../../controller/pki/index.ts';
import { createEnrolmentToken, onEdgeEvent, setDesired, startEdgeApi, type EdgeApi, type EdgeEvent } from '../../controller/edgeapi/index.ts';
import { openStore, type Store } from '../../controller/store/index.ts';
import { ControllerClient, type ControlledAgent } from '../../dataplane/agent/controller-client.ts';
import { contentHash, signBundle, type AgentStatus, type Bundle } from '../../dataplane/index.ts';
import { edge1Bundle } from '../dataplane/bundle-fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'pt-edgeapi-'));
const signing = generateKeyPairSync('ed25519');
let store: Store, ca: CertificateAuthority, api: EdgeApi, client: ControllerClient;
const events: EdgeEvent[] = [];

/**
 * The agent seen through the interface the client drives. The real Agent writes kernel routes into the
 * namespace it runs in, so here (the test's own namespace) it is replaced by this recorder; the end-to-end
 * test (test/labs/enrol.test.ts) runs the real agent in its own namespace.
 */
class RecordingAgent implements ControlledAgent {
  applied: Bundle[] = [];
  confirmed: string[] = [];
  bundle?: Bundle;
  async applyTentative(raw: unknown) { this.bundle = raw as Bundle; this.applied.push(this.bundle); return contentHash(raw); }
  confirm() { if (this.bundle) this.confirmed.push(contentHash(this.bundle)); }
  async revertToLastGood() { return null; }
  currentBundle() { return this.bundle; }
  reflexive: unknown[] = [];
  getStatus() { return { node: 'edge1', paths: [], bgp: null, bundle: null, lastError: null, reflexive: this.reflexive } as unknown as AgentStatus; }
  reflexiveEndpoints() { return this.reflexive as ReturnType<NonNullable<ControlledAgent['reflexiveEndpoints']>>; }
}
const agent = new RecordingAgent();

/** A bundle for edge1 without probed paths, so its commit-confirmed check needs only the controller. */
function bundle(intent: string): Bundle { return { ...edge1Bundle(), paths: [], intent }; }

async function newCsr(cn: string) {
  const keys = await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  return (await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${cn}`, keys, signingAlgorithm: EC_ALG })).toString('pem');
}

/** One request on a fresh TLS connection. */
function call(method: string, path: string, o: { body?: unknown; key?: string; cert?: string } = {}): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  const data = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, api.url), { method, agent: false, ca: ca.certPem, ...(o.key && { key: o.key, cert: o.cert }), headers: data ? { 'content-type': 'application/json' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => { const t = Buffer.concat(chunks).toString('utf8'); resolve({ status: res.statusCode ?? 0, body: t ? JSON.parse(t) : null, headers: res.headers }); });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

const creds = () => ({ key: readFileSync(join(dir, 'edge1', 'controller', 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'edge1', 'controller', 'cert.pem'), 'utf8') });
const waitFor = (pred: (e: EdgeEvent) => boolean, ms = 20_000) => new Promise<EdgeEvent>((resolve, reject) => {
  const hit = events.find(pred);
  if (hit) return resolve(hit);
  const t = setTimeout(() => { off(); reject(new Error(`no matching edge event within ${ms} ms (saw ${JSON.stringify(events)})`)); }, ms);
  const off = onEdgeEvent(store, (e) => { if (pred(e)) { clearTimeout(t); off(); resolve(e); } });
});

test.before(async () => {
  store = await openStore(':memory:');
  ca = await CertificateAuthority.open(join(dir, 'controller'));
  const server = await ca.issueServerCertificate(['127.0.0.1']);
  api = await startEdgeApi({ store, ca, tls: { key: server.keyPem, cert: server.pem + ca.certPem }, signingKeys: [signing.publicKey] });
  onEdgeEvent(store, (e) => events.push(e));
});
test.after(async () => {
  await client?.stop();
  await api?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('an edge enrols with a one-time token and keeps its key, certificate and the signing keys 0600', async () => {
  const token = await createEnrolmentToken(store, ca, 'edge1');
  client = new ControllerClient({ url: api.url, node: 'edge1', stateDir: join(dir, 'edge1'), enrolToken: token, agent, pollWaitS: 20, healthIntervalMs: 200, commitConfirmMs: 5000, backoffMinMs: 50, backoffMaxMs: 500, log: () => undefined });
  await client.start();
  for (const f of ['key.pem', 'cert.pem', 'ca.pem', 'signing-keys.pem']) assert.is(statSync(join(dir, 'edge1', 'controller', f)).mode & 0o777, 0o600, f);
  const edge = await store.getEdge('edge1');
  assert.ok(edge?.enrolledAt);
  assert.ok(Array.isArray((edge?.inventory as { interfaces: unknown[] }).interfaces), 'inventory reported');
  assert.is((await store.listCertificates('edge1')).length, 1);
  const audit = await store.listAudit({ action: 'edge.enrol' });
  assert.equal(audit.map((a) => a.outcome), ['ok']);
  (globalThis as { token?: string }).token = token;
});

test('a reused enrolment token is refused with 403 and audited', async () => {
  const token = (globalThis as { token?: string }).token!;
  const r = await call('POST', '/v1/enrol', { body: { token, csr: await newCsr('edge1') } });
  assert.is(r.status, 403);
  assert.match(r.body.error, /already used/);
  const denied = await store.listAudit({ action: 'edge.enrol', outcome: 'denied' });
  assert.is(denied.length, 1);
  assert.is((await store.listCertificates('edge1')).length, 1, 'no certificate issued');
});

test('a body that is not JSON gets 400; one over 1 MiB is cut off (413 or a closed connection) and enrols nothing', async () => {
  const bad = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(new URL('/v1/enrol', api.url), { method: 'POST', agent: false, ca: ca.certPem }, (res) => {
      let t = ''; res.on('data', (c) => { t += c; }); res.on('end', () => resolve({ status: res.statusCode ?? 0, body: t }));
    });
    req.on('error', reject);
    req.end('{"token": ');
  });
  assert.is(bad.status, 400);
  assert.match(bad.body, /body is not JSON/);
  const certs = (await store.listCertificates()).length;
  const big = await call('POST', '/v1/enrol', { body: { token: 'pt1.x.y', csr: 'A'.repeat(2 << 20) } }).then((r) => r.status, (e: Error) => e.message);
  assert.ok(big === 413 || /ECONNRESET|EPIPE|socket hang up/.test(String(big)), `got ${big}`);
  assert.is((await store.listCertificates()).length, certs, 'no certificate issued');
});

test('two edges racing with one token: one certificate, one 403', async () => {
  const token = await createEnrolmentToken(store, ca, 'edge2');
  const [a, b] = await Promise.all([newCsr('edge2'), newCsr('edge2')]);
  const rs = await Promise.all([a, b].map((csr) => call('POST', '/v1/enrol', { body: { token, csr } })));
  assert.equal(rs.map((r) => r.status).sort(), [200, 403]);
  assert.is((await store.listCertificates('edge2')).length, 1);
});

test('an edge whose token pins another CA does not send the token and gives up', async () => {
  const token = await createEnrolmentToken(store, ca, 'edge3');
  const wrongPin = token.replace(/\.[0-9a-f]{64}$/, `.${'ab'.repeat(32)}`);
  const c = new ControllerClient({ url: api.url, node: 'edge3', stateDir: join(dir, 'edge3'), enrolToken: wrongPin, agent: new RecordingAgent(), backoffMinMs: 10, log: () => undefined });
  try { await c.start(); assert.unreachable('enrolled'); } catch (e) { assert.match((e as Error).message, /does not contain the CA pinned by the token/); }
  const [t] = await store.listEnrolmentTokens('edge3');
  assert.is(t?.usedAt, null, 'the token is still unused: the server never saw it');
});

test('a client certificate from another CA is refused at the handshake and audited', async () => {
  const otherDir = mkdtempSync(join(tmpdir(), 'pt-edgeapi-other-'));
  try {
    const other = await CertificateAuthority.open(otherDir);
    const keys = await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=edge1', keys, signingAlgorithm: EC_ALG });
    const cert = await other.issueFromCsr(csr.toString('pem'), { edge: 'edge1' });
    const key = x509.PemConverter.encode(Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), 'PRIVATE KEY');
    let failed = '';
    try { await call('GET', '/v1/bundle?wait=0', { key, cert: cert.pem }); } catch (e) { failed = (e as Error).message; }
    assert.ok(failed, 'the request must not get an answer');
    const denied = await store.listAudit({ action: 'edge.connect', outcome: 'denied' });
    assert.ok(denied.some((a) => /not from this CA/.test(JSON.stringify(a.detail))), JSON.stringify(denied));
    const anon = await call('GET', '/v1/bundle?wait=0');
    assert.is(anon.status, 401, 'no certificate: only enrolment is open');
  } finally { rmSync(otherDir, { recursive: true, force: true }); }
});

test('the long-poll answers when setDesired names the edge, and the client verifies, applies and acks', async () => {
  const b = bundle('v1');
  const env = signBundle(b, signing.privateKey);
  const v = await store.insertVersion({ parent: null, author: 't', message: 'one', intentYaml: 'x', intentHash: 'h' }, [{ edge: 'edge1', hash: env.hash, envelope: env }]);
  const poll = call('GET', '/v1/bundle?wait=30', creds());
  await new Promise((r) => setTimeout(r, 300));
  await setDesired(store, ['edge1'], v.id);
  const r = await poll;
  assert.is(r.status, 200);
  assert.is(r.body.hash, env.hash);
  assert.is(r.headers['x-patronus-version'], String(v.id));
  const ack = await waitFor((e) => e.kind === 'ack' && e.hash === env.hash);
  assert.equal(ack, { kind: 'ack', edge: 'edge1', version: v.id, hash: env.hash, ok: true, reason: null });
  const edge = await store.getEdge('edge1');
  assert.is(edge?.appliedHash, env.hash);
  assert.is(edge?.appliedVersion, v.id);
  assert.equal(agent.confirmed, [env.hash]);
  const unchanged = await call('GET', `/v1/bundle?wait=0&have=${env.hash}`, creds());
  assert.is(unchanged.status, 204);
});

test('a tampered envelope is refused by the agent client: nothing applied, ack ok:false', async () => {
  const env = signBundle(bundle('v2'), signing.privateKey);
  const tampered = { ...env, bundle: { ...env.bundle, intent: 'v2-evil' } };
  tampered.hash = contentHash(tampered.bundle); // a consistent hash, but the signature covers the old one
  const v = await store.insertVersion({ parent: 1, author: 't', message: 'two', intentYaml: 'y', intentHash: 'h2' }, [{ edge: 'edge1', hash: tampered.hash, envelope: tampered }]);
  const before = agent.applied.length;
  await setDesired(store, ['edge1'], v.id);
  const ack = await waitFor((e) => e.kind === 'ack' && e.hash === tampered.hash);
  assert.is((ack as { ok: boolean }).ok, false);
  assert.match((ack as { reason: string }).reason, /signature does not verify/);
  assert.is(agent.applied.length, before, 'nothing applied');
  assert.is((await store.getEdge('edge1'))?.appliedVersion, 1);
});

test('health reports land in the store', async () => {
  await waitFor((e) => e.kind === 'health');
  await api.flushContacts(); // the latest contact is written every 500 ms; this writes it now
  const h = (await store.getEdge('edge1'))?.health as { node: string; commitConfirmed: { ok: boolean } };
  assert.is(h.node, 'edge1');
});

test('the latest contact keeps being written on its own, every 500 ms, also after a flush that found nothing', async () => {
  await api.flushContacts();
  await api.flushContacts(); // nothing pending: must not stop later writes
  const before = (await store.getEdge('edge1'))!.lastSeen!;
  const t0 = Date.now();
  let after = before;
  while (after === before && Date.now() - t0 < 3000) {
    await new Promise((r) => setTimeout(r, 100));
    after = (await store.getEdge('edge1'))!.lastSeen!;
  }
  assert.ok(after > before, `last seen moved without an explicit flush (${before} → ${after})`);
  assert.ok(Date.now() - t0 < 1500, `within about one interval (${Date.now() - t0} ms)`);
});

test('a reflexive endpoint the agent learns reaches the controller in the edge\'s inventory report', async () => {
  const before = (await store.getEdge('edge1'))?.inventory as { interfaces: { name: string; reflexive?: unknown }[] };
  const ifname = before.interfaces[0]?.name;
  assert.ok(ifname, 'the host has an interface to report');
  assert.not.ok(before.interfaces.some((i) => i.reflexive), 'nothing learned yet');
  // What dataplane/agent/reflexive.ts shows once its peers' probe echoes answered (one pending interface too).
  agent.reflexive = [
    { interface: ifname, transport: 'inet', localAddress: '10.0.0.2', localPort: 4785, state: 'learned', address: '198.51.100.7', port: 40001, mapping: 'endpoint-dependent', portPreserving: false, seenBy: {} },
    { interface: 'nope0', transport: 'lte', localAddress: '10.0.1.2', localPort: 4785, state: 'pending', address: null, port: null, mapping: null, portPreserving: null, seenBy: {} },
  ];
  const t0 = Date.now();
  let inv = before;
  while (Date.now() - t0 < 5000 && !inv.interfaces.some((i) => i.reflexive)) {
    await new Promise((r) => setTimeout(r, 100));
    inv = (await store.getEdge('edge1'))?.inventory as typeof before;
  }
  assert.equal(inv.interfaces.find((i) => i.name === ifname)?.reflexive, { address: '198.51.100.7', port: 40001, mapping: 'endpoint-dependent', portPreserving: false });
  assert.is(inv.interfaces.filter((i) => i.reflexive).length, 1, 'a pending interface reports nothing');
  agent.reflexive = [];
});

test('the client renews its certificate with a new key; the new one is recorded and accepted', async () => {
  const before = new X509Certificate(creds().cert).serialNumber;
  const serial = await client.renew();
  const now = creds();
  assert.is(new X509Certificate(now.cert).serialNumber, serial);
  assert.is.not(serial, before);
  assert.ok(new X509Certificate(now.cert).verify(ca.certificate.publicKey));
  assert.equal((await store.listCertificates('edge1')).map((c) => c.serial).sort(), [before, serial].sort());
  assert.is((await call('GET', '/v1/bundle?wait=0&have=x', now)).status, 200);
  assert.equal((await store.listAudit({ action: 'cert.renew' })).map((a) => a.outcome), ['ok']);
});

test('a revoked certificate is refused on the next connection and audited', async () => {
  const c = creds();
  assert.is((await call('GET', '/v1/bundle?wait=0&have=x', c)).status, 200);
  const serial = new X509Certificate(c.cert).serialNumber;
  await revokeEdgeCertificate(store, serial, 'test');
  let failed = '';
  try { const r = await call('GET', '/v1/bundle?wait=0', c); failed = r.status === 403 ? 'refused' : ''; } catch (e) { failed = (e as Error).message; }
  assert.ok(failed, 'refused');
  const denied = await store.listAudit({ action: 'edge.connect', outcome: 'denied' });
  assert.ok(denied.some((a) => /revoked/.test(JSON.stringify(a.detail))), JSON.stringify(denied));
});

test.run();
