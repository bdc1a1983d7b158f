// timeout: 60
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { X509Certificate, webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority, CsrError, EC_ALG, checkPeerCertificate, issueEdgeCertificate, revokeEdgeCertificate, x509 } from '../../controller/pki/index.ts';
import { openStore } from '../../controller/store/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'pt-pki-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

async function csrFor(cn: string): Promise<string> {
  const keys = await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  return (await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${cn}`, keys, signingAlgorithm: EC_ALG })).toString('pem');
}

test('the CA is created once with its key readable only by its owner and loaded again unchanged', async () => {
  const a = await CertificateAuthority.open(dir);
  assert.is(statSync(join(dir, 'ca', 'key.pem')).mode & 0o777, 0o600);
  const b = await CertificateAuthority.open(dir);
  assert.is(b.certPem, a.certPem);
  assert.ok(a.certificate.ca);
  assert.ok(a.certificate.verify(a.certificate.publicKey), 'self-signed');
});

test('an edge certificate from a CSR chains to the CA and names the edge, with a 128-bit serial and 30 days', async () => {
  const now = Date.UTC(2026, 0, 1);
  const ca = await CertificateAuthority.open(dir, { now: () => now });
  const c = await ca.issueFromCsr(await csrFor('edge1'), { edge: 'edge1' });
  const cert = new X509Certificate(c.pem);
  assert.ok(cert.checkIssued(ca.certificate));
  assert.ok(cert.verify(ca.certificate.publicKey));
  assert.is(cert.serialNumber, c.serial);
  assert.is(c.serial.length, 32);
  assert.match(cert.subject, /CN=edge1/);
  assert.is(cert.subjectAltName, 'DNS:edge1');
  assert.is(Math.round((c.notAfter - now) / 86_400_000), 30);
  assert.is(new Date(cert.validTo).getTime(), c.notAfter);
  assert.ok(ca.issued(c.pem));
  const short = await ca.issueFromCsr(await csrFor('edge1'), { edge: 'edge1', validityDays: 2 });
  assert.is(Math.round((short.notAfter - now) / 86_400_000), 2);
  assert.is.not(short.serial, c.serial);
});

test('a CSR for another edge or with a broken signature is refused', async () => {
  const ca = await CertificateAuthority.open(dir);
  try { await ca.issueFromCsr(await csrFor('edge2'), { edge: 'edge1' }); assert.unreachable(); } catch (e) {
    assert.instance(e, CsrError); assert.match((e as Error).message, /CN "edge2" does not match the edge "edge1"/);
  }
  const pem = await csrFor('edge1');
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 5] = der[der.length - 5]! ^ 0xff; // inside the signature
  try { await ca.issueFromCsr(x509.PemConverter.encode(der, 'CERTIFICATE REQUEST'), { edge: 'edge1' }); assert.unreachable(); } catch (e) {
    assert.instance(e, CsrError);
  }
  try { await ca.issueFromCsr('not a csr', { edge: 'edge1' }); assert.unreachable(); } catch (e) { assert.instance(e, CsrError); }
});

test('a certificate from another CA does not verify against this one', async () => {
  const other = mkdtempSync(join(tmpdir(), 'pt-pki-other-'));
  try {
    const ca = await CertificateAuthority.open(dir), ca2 = await CertificateAuthority.open(other);
    const foreign = await ca2.issueFromCsr(await csrFor('edge1'), { edge: 'edge1' });
    assert.not.ok(ca.issued(foreign.pem));
    assert.not.ok(new X509Certificate(foreign.pem).verify(ca.certificate.publicKey));
  } finally { rmSync(other, { recursive: true, force: true }); }
});

test('the server certificate carries the listen addresses as SANs', async () => {
  const ca = await CertificateAuthority.open(dir);
  const s = await ca.issueServerCertificate(['127.0.0.1', 'controller.example']);
  const cert = new X509Certificate(s.pem);
  assert.ok(cert.verify(ca.certificate.publicKey));
  assert.ok(cert.checkIP('127.0.0.1'));
  assert.is(cert.checkHost('controller.example'), 'controller.example');
  assert.match(s.keyPem, /BEGIN PRIVATE KEY/);
});

test('renewal records a second certificate; revocation marks it and is audited', async () => {
  const store = await openStore(':memory:');
  try {
    const ca = await CertificateAuthority.open(dir);
    await store.upsertEdge('edge1');
    const first = await issueEdgeCertificate(store, ca, await csrFor('edge1'), 'edge1');
    const renewed = await issueEdgeCertificate(store, ca, await csrFor('edge1'), 'edge1');
    assert.equal((await store.listCertificates('edge1')).map((c) => c.serial).sort(), [first.serial, renewed.serial].sort());
    assert.equal(await checkPeerCertificate(store, first.serial), { ok: true, edge: 'edge1', serial: first.serial });
    assert.ok(await revokeEdgeCertificate(store, first.serial, 'key compromised', 'alice'));
    assert.equal(await checkPeerCertificate(store, first.serial), { ok: false, serial: first.serial, reason: 'revoked' });
    assert.ok((await checkPeerCertificate(store, renewed.serial)).ok, 'the renewed one stays good');
    assert.equal(await checkPeerCertificate(store, '4' + '0'.repeat(31)), { ok: false, serial: '4' + '0'.repeat(31), reason: 'unknown' });
    assert.equal((await checkPeerCertificate(store, renewed.serial, renewed.notAfter + 1)), { ok: false, serial: renewed.serial, reason: 'expired' });
    assert.not.ok(await revokeEdgeCertificate(store, first.serial, 'again'));
    const audit = await store.listAudit({ action: 'cert.revoke' });
    assert.equal(audit.map((a) => [a.actor, a.outcome, a.target]), [['controller', 'error', 'edge:edge1'], ['alice', 'ok', 'edge:edge1']]);
  } finally { await store.close(); }
});

test.run();
