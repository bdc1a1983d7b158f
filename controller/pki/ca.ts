/**
 * The controller's certificate authority: one ECDSA P-256 key and a self-signed CA certificate in
 * `<stateDir>/ca/` (key.pem mode 0600, cert.pem), created on first use. It issues edge client certificates
 * from CSRs (the edge's key never leaves the edge) and the edge API's server certificate.
 */
import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { CsrError, PkiError } from './errors.ts';
import { EC_ALG, x509 } from './x509.ts';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const DAY_MS = 86_400_000;
/** Default validity of an edge certificate, days. */
export const DEFAULT_EDGE_CERT_DAYS = 30;
const CA_DAYS = 3650;
/** Edge names as they appear in certificates: DNS-label-like, so they fit a SAN. */
const EDGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** One certificate the CA issued. Times are ms since the epoch; `serial` is upper-case hex as Node prints it. */
export interface IssuedCertificate {
  serial: string;
  edge: string;
  pem: string;
  notBefore: number;
  notAfter: number;
}

export interface CaOptions {
  /** Wall clock, ms (tests inject one). Default Date.now. */
  now?: () => number;
  /** Subject CN of a newly created CA. Default "Patronus controller CA". */
  commonName?: string;
}

/**
 * A 128-bit random serial as upper-case hex. The top bit is cleared (DER integers are signed) and the next
 * one set, so the hex never loses a leading zero and matches `X509Certificate.serialNumber` exactly.
 */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x3f) | 0x40;
  return b.toString('hex').toUpperCase();
}

/** Throws a PkiError unless `name` can be an edge name in a certificate. */
export function checkEdgeName(name: string): void {
  if (!EDGE_NAME.test(name)) throw new PkiError(`edge name "${name}" is not usable in a certificate (expected letters, digits, ".", "_", "-", at most 63)`);
}

/**
 * Parses a PEM CSR and checks its self-signature (proof the requester holds the key).
 * @returns the request and its subject CN (null when it has none).
 * @throws CsrError when it is not a CSR or the signature does not verify.
 */
export async function readCsr(csrPem: string): Promise<{ csr: x509.Pkcs10CertificateRequest; commonName: string | null }> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (e) {
    throw new CsrError(`CSR: not a PEM/DER PKCS#10 certificate request (${(e as Error).message})`);
  }
  let ok = false;
  try { ok = await csr.verify(); } catch (e) { throw new CsrError(`CSR: its signature cannot be checked (${(e as Error).message})`); }
  if (!ok) throw new CsrError('CSR: its self-signature does not verify (the request was altered or not signed by its key)');
  return { csr, commonName: csr.subjectName.getField('CN')[0] ?? null };
}

function writeSecret(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/**
 * The controller CA.
 * @example
 * const ca = await CertificateAuthority.open('.patronus/controller');
 * const cert = await ca.issueFromCsr(csrPem, { edge: 'edge1' });   // 30 days
 * new X509Certificate(cert.pem).verify(ca.certificate.publicKey);  // true
 */
export class CertificateAuthority {
  private constructor(
    private readonly key: CryptoKey,
    /** The CA certificate in PEM. */
    readonly certPem: string,
    private readonly now: () => number,
  ) {}

  /** The CA certificate (node:crypto), e.g. for `verify(ca.certificate.publicKey)`. */
  get certificate(): X509Certificate { return new X509Certificate(this.certPem); }

  /** Loads the CA from `<stateDir>/ca/`, creating key and certificate when they do not exist. */
  static async open(stateDir: string, opts: CaOptions = {}): Promise<CertificateAuthority> {
    const now = opts.now ?? Date.now;
    const dir = join(stateDir, 'ca');
    const keyPath = join(dir, 'key.pem'), certPath = join(dir, 'cert.pem');
    if (existsSync(keyPath) && existsSync(certPath)) {
      const keyPem = readFileSync(keyPath, 'utf8');
      const der = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
      const key = await webcrypto.subtle.importKey('pkcs8', der, EC_ALG, false, ['sign']);
      return new CertificateAuthority(key, readFileSync(certPath, 'utf8'), now);
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const keys = await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify']) as CryptoKeyPair;
    const t = now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(), name: `CN=${opts.commonName ?? 'Patronus controller CA'}`,
      notBefore: new Date(t - 60_000), notAfter: new Date(t + CA_DAYS * DAY_MS), keys, signingAlgorithm: EC_ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    writeSecret(keyPath, x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'));
    writeFileSync(certPath, cert.toString('pem') + '\n');
    return new CertificateAuthority(keys.privateKey, cert.toString('pem') + '\n', now);
  }

  /**
   * Issues an edge client certificate for the key in `csrPem`: subject CN and DNS SAN = the edge name,
   * extended key usage clientAuth, a random 128-bit serial, valid from a minute ago for `validityDays`
   * (default 30). The CSR's own signature must verify; a CSR whose subject names another CN is refused.
   * @throws CsrError for an unusable CSR; PkiError for a bad edge name.
   */
  async issueFromCsr(csrPem: string, opts: { edge: string; validityDays?: number }): Promise<IssuedCertificate> {
    checkEdgeName(opts.edge);
    const { csr, commonName } = await readCsr(csrPem);
    if (commonName !== null && commonName !== opts.edge) throw new CsrError(`CSR: subject CN "${commonName}" does not match the edge "${opts.edge}"`);
    return this.issue(opts.edge, await csr.publicKey.export(), opts.validityDays ?? DEFAULT_EDGE_CERT_DAYS, [x509.ExtendedKeyUsage.clientAuth], [{ type: 'dns', value: opts.edge }]);
  }

  /**
   * The edge API's TLS server key and certificate, for the given host names / IP addresses (each becomes a
   * SAN of its kind). The key is made here and returned in PEM; the caller keeps it (0600).
   */
  async issueServerCertificate(hosts: string[], validityDays = 365): Promise<IssuedCertificate & { keyPem: string }> {
    if (hosts.length === 0) throw new PkiError('server certificate: at least one host name or address is needed');
    const keys = await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify']) as CryptoKeyPair;
    const sans = hosts.map((h) => (isIP(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h }));
    const cert = await this.issue('patronus-controller', keys.publicKey, validityDays, [x509.ExtendedKeyUsage.serverAuth], sans);
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    return { ...cert, keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
  }

  /** True when `pem` was issued by this CA (signature checks out); validity dates and revocation are not checked here. */
  issued(pem: string): boolean {
    try {
      const c = new X509Certificate(pem);
      return c.checkIssued(this.certificate) && c.verify(this.certificate.publicKey);
    } catch {
      return false;
    }
  }

  private async issue(cn: string, publicKey: CryptoKey, validityDays: number, eku: string[], sans: x509.JsonGeneralName[]): Promise<IssuedCertificate> {
    if (!(validityDays > 0)) throw new PkiError(`certificate validity must be a positive number of days, got ${validityDays}`);
    const ca = new x509.X509Certificate(this.certPem);
    const t = this.now();
    const notBefore = new Date(Math.floor((t - 60_000) / 1000) * 1000);
    const notAfter = new Date(Math.floor((t + validityDays * DAY_MS) / 1000) * 1000);
    const serial = randomSerial();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial, subject: `CN=${cn}`, issuer: ca.subject, notBefore, notAfter,
      signingKey: this.key, publicKey, signingAlgorithm: EC_ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
        new x509.ExtendedKeyUsageExtension(eku, false),
        new x509.SubjectAlternativeNameExtension(sans, false),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(ca),
      ],
    });
    return { serial, edge: cn, pem: cert.toString('pem') + '\n', notBefore: notBefore.getTime(), notAfter: notAfter.getTime() };
  }
}
