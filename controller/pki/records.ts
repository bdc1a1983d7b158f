/**
 * Certificates in the store: issue (and renew) records every certificate, revoke marks it, and
 * {@link checkPeerCertificate} is what the edge API asks on every connection and request — a certificate
 * the CA signed is still refused when the store does not know its serial, it is revoked or it has expired.
 */
import type { Store } from '../store/index.ts';
import type { CertificateAuthority, IssuedCertificate } from './ca.ts';

/**
 * Issues a certificate for `edge` from its CSR and records it in the store. Renewal is the same call for an
 * enrolled edge: the earlier certificate stays valid until it expires (an edge that crashes before saving
 * the new one is not locked out); revoke it explicitly to cut it off.
 */
export async function issueEdgeCertificate(store: Store, ca: CertificateAuthority, csrPem: string, edge: string, validityDays?: number): Promise<IssuedCertificate> {
  const cert = await ca.issueFromCsr(csrPem, { edge, ...(validityDays !== undefined && { validityDays }) });
  await store.addCertificate({ serial: cert.serial, edge, notBefore: cert.notBefore, notAfter: cert.notAfter, pem: cert.pem });
  return cert;
}

/**
 * Revokes a certificate by serial (upper-case hex; lower case is accepted) and writes an audit entry.
 * @returns false when the serial is unknown or already revoked.
 */
export async function revokeEdgeCertificate(store: Store, serial: string, reason: string, actor = 'controller', at = Date.now()): Promise<boolean> {
  const s = serial.toUpperCase();
  const cert = await store.getCertificate(s);
  const done = await store.revokeCertificate(s, reason, at);
  await store.appendAudit({
    at, actor, action: 'cert.revoke', target: cert ? `edge:${cert.edge}` : `cert:${s}`,
    outcome: done ? 'ok' : 'error', detail: { serial: s, reason, ...(!done && { error: cert ? 'already revoked' : 'unknown serial' }) },
  });
  return done;
}

/** Result of {@link checkPeerCertificate}. */
export type PeerCheck = { ok: true; edge: string; serial: string } | { ok: false; serial: string; reason: 'unknown' | 'revoked' | 'expired' | 'not-yet-valid' };

/**
 * Looks a presented certificate's serial up in the store: it must be known, not revoked and within its
 * validity at `now` (ms).
 */
export async function checkPeerCertificate(store: Store, serial: string, now = Date.now()): Promise<PeerCheck> {
  const s = serial.toUpperCase();
  const c = await store.getCertificate(s);
  if (!c) return { ok: false, serial: s, reason: 'unknown' };
  if (c.revokedAt !== null) return { ok: false, serial: s, reason: 'revoked' };
  if (now >= c.notAfter) return { ok: false, serial: s, reason: 'expired' };
  if (now < c.notBefore) return { ok: false, serial: s, reason: 'not-yet-valid' };
  return { ok: true, edge: c.edge, serial: s };
}
