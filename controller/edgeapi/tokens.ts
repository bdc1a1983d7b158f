/**
 * One-time enrolment tokens: `pt1.<secret>.<ca-pin>`. Only sha256(secret) is stored; the pin (sha256 of the
 * CA certificate's DER, hex) lets the edge check, before it sends the secret, that it talks to the controller
 * that made the token — the edge has no CA certificate yet (the idea of kubeadm's discovery hash).
 */
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import type { Store } from '../store/index.ts';
import { checkEdgeName, type CertificateAuthority } from '../pki/index.ts';

/** Default lifetime of an enrolment token, ms (24 h). */
export const DEFAULT_TOKEN_TTL_MS = 86_400_000;

/** sha256 hex of a token's secret part: what the store keeps. */
export const tokenSecretHash = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('hex');

/** sha256 hex of a certificate's DER (the CA pin in tokens). */
export const certificatePin = (pem: string) => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');

/** The parts of a token; null when `token` does not have the `pt1.<secret>.<pin>` shape. */
export function parseEnrolmentToken(token: string): { secret: string; pin: string } | null {
  const m = /^pt1\.([A-Za-z0-9_-]{20,})\.([0-9a-f]{64})$/.exec(token.trim());
  return m ? { secret: m[1]!, pin: m[2]! } : null;
}

/**
 * Creates a one-time enrolment token for `edge` (the edge record is created when missing; `site` sets its site)
 * and records the token's hash. `ttlMs`: lifetime in ms, default 24 h.
 * @example const token = await createEnrolmentToken(store, ca, 'edge1'); // 'pt1.q2V…Zs.9f3c…'
 */
export async function createEnrolmentToken(store: Store, ca: CertificateAuthority, edge: string, opts: { ttlMs?: number; now?: number; actor?: string; site?: string } = {}): Promise<string> {
  checkEdgeName(edge);
  const now = opts.now ?? Date.now();
  const secret = randomBytes(32).toString('base64url');
  await store.tx(async (tx) => {
    if (!(await tx.getEdge(edge)) || opts.site !== undefined) await tx.upsertEdge(edge, opts.site !== undefined ? { site: opts.site } : {});
    await tx.addEnrolmentToken({ tokenHash: tokenSecretHash(secret), edge, expiresAt: now + (opts.ttlMs ?? DEFAULT_TOKEN_TTL_MS), createdAt: now });
    await tx.appendAudit({ at: now, actor: opts.actor ?? 'controller', action: 'enrol-token.create', target: `edge:${edge}`, outcome: 'ok', detail: { expiresAt: now + (opts.ttlMs ?? DEFAULT_TOKEN_TTL_MS) } });
  });
  return `pt1.${secret}.${certificatePin(ca.certPem)}`;
}
